#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.cluster: the sidecar against a private three-node RabbitMQ
cluster (cluster.sh) with quorum queues, through a three-host transport_url
(docs/design.md, "A hung cluster node").

A traced service (osp_load) publishes under load through one sidecar while
the test, in turn, kill -9s the node the sidecar is connected to, then the
quorum queue's leader, then SIGSTOPs the node it is connected to (SIGCONT
later); killed nodes are restarted between phases so the cluster keeps its
quorum. Then: every point the service made is in the queue at least once,
duplicates are no more than the confirm window per fail-over, --stats agree,
each fail-over took a bounded time (printed, and written to --times FILE for
docs/benchmarks.md), and the hung node never stalled it on a re-declare.

End to end: a second sidecar publishes to control_exchange openstack, topic
profiler; a --collect sidecar (SQLite store) and Debian's
ceilometer-agent-notification both consume from the cluster through the same
three-host transport_url; every point is a row and an event (the agent
  publishes its events back to the cluster, where the test reads them).

  test_cluster.py --sidecar BIN --load BIN --cluster-env FILE --broker-sh SH
                  [--times FILE]
"""
import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import amqp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from tap import RUNNING, SLOW, check, summary  # noqa: E402
import test_flow as tf  # noqa: E402  (Sidecar, load, drops, lib_drops)
import test_ceilometer as tc  # noqa: E402  (the agent's config, Tracked, point_key)

WINDOW = 1000  # confirm_window (the default)
TIMEOUT = 5.0  # broker_timeout (the default)
CONF = ('rabbit_quorum_queue = true\namqp_durable_queues = true\n'
        'control_exchange = "osp_cluster"\ntopics = {"clu"}\nheartbeat = 10\n'
        'rabbit_retry_interval = 0.2\nrabbit_interval_max = 1.0\nspool_dir = "%s"\n')
CONNECTED = re.compile(r"^(\S+) .*connected to 127\.0\.0\.1:(\d+) ")


class Cluster:
    def __init__(self, env_file, broker_sh):
        env = dict(l.strip().split("=", 1) for l in open(env_file) if "=" in l)
        self.n = int(env["OSP_CLUSTER_N"])
        self.url = env["OSP_CLUSTER_URL"]
        self.ports = [int(env["OSP_CLUSTER_PORT%d" % i]) for i in range(1, self.n + 1)]
        self.dirs = [env["OSP_CLUSTER_DIR%d" % i] for i in range(1, self.n + 1)]
        self.nodes = [env["OSP_CLUSTER_NODE%d" % i] for i in range(1, self.n + 1)]
        self.sh = broker_sh
        self.down = set()  # indexes of nodes killed or stopped

    def run(self, verb, i, *args, timeout=180):
        return subprocess.run([self.sh, verb, self.dirs[i]] + list(args),
                              capture_output=True, text=True, timeout=timeout * SLOW)

    def beam(self, i):
        for line in open(os.path.join(self.dirs[i], "pids")):
            if line.startswith("BEAM_PID="):
                return int(line.split("=", 1)[1])
        return None

    def live(self):
        return [i for i in range(self.n) if i not in self.down]

    def index_of_port(self, port):
        return self.ports.index(port)

    def leader(self, queue):
        """The index of the quorum queue's leader, asked of a live node."""
        r = self.run("ctl", self.live()[0], "list_queues", "-q", "name", "leader", timeout=60)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue and parts[1] in self.nodes:
                return self.nodes.index(parts[1])
        return None

    def kill9(self, i):
        self.down.add(i)
        return self.run("kill9", i).returncode == 0

    def restart(self, i):
        r = self.run("restart", i)
        if r.returncode == 0:
            self.down.discard(i)
        return r.returncode == 0, r.stderr[-800:]


def log_time(ts):
    """Seconds since the epoch of a log line's UTC timestamp."""
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) - time.timezone + float("0." + ts[20:23])


def connections(sc):
    """(time, port) of every 'connected to' line of the sidecar's log."""
    out = []
    for line in sc.text().splitlines():
        m = CONNECTED.match(line)
        if m:
            out.append((log_time(m.group(1)), int(m.group(2))))
    return out


def wait_reconnect(sc, after, timeout):
    """The first connection made after time `after`: (seconds it took, port)."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        later = [c for c in connections(sc) if c[0] > after]
        if later:
            return later[0][0] - after, later[0][1]
        time.sleep(0.05)
    return None, None


def consume(port, queue, want, timeout):
    """Distinct points (trace_id, name) in the queue and all messages."""
    return tf.consume_distinct(port, queue, want, timeout)


def purge(port, queue):
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    try:
        c.channel().queue_purge(queue)
    except amqp.exceptions.NotFound:
        pass
    c.close()


def start_load(args, sock, pairs, rate, out):
    """osp_load in a thread (2 threads of `rate` pairs/s); its result into out."""
    def go():
        try:
            out.append(tf.load(args, sock, 2, pairs, rate=rate))
        except Exception as exc:  # reported by the caller: a missing run
            print("# osp_load: %s" % exc, flush=True)
    t = threading.Thread(target=go)
    t.start()
    return t


def current_port(sc):
    c = connections(sc)
    return c[-1][1] if c else None


def phase(cl, sc, args, name, fault, runs, times):
    """Load for ~6 s; `fault` 1.5 s into it; returns the fault's node."""
    t = start_load(args, sc.sock, 3000, 500, runs)
    time.sleep(1.5)
    victim, t_fault, undo = fault()
    took, port = wait_reconnect(sc, t_fault, 60)
    ok = check("%s: the sidecar connected to another node (%s s after the fault)"
               % (name, "%.2f" % took if took is not None else "never"),
               took is not None and port != cl.ports[victim], sc.text()[-1500:])
    if ok:
        times[name] = took
    t.join(timeout=300 * SLOW)
    if undo:
        undo()
    return victim, took


def test_bad_timeout(args, work):
    """broker_timeout out of its range is refused at start, by name."""
    for bad in ("0", "-1", "1e9"):
        conf = os.path.join(work, "bad.conf")
        with open(conf, "w") as f:
            f.write('listen_socket = "%s/bad.sock"\nbroker_timeout = %s\n' % (work, bad))
        r = subprocess.run([args.sidecar, "--config", conf, "--test-config"],
                           capture_output=True, text=True, timeout=30 * SLOW)
        check("broker_timeout = %s refused with a clear error" % bad,
              r.returncode != 0 and "broker_timeout must be 0.1 to 3600 seconds" in r.stderr,
              "rc %d: %s" % (r.returncode, r.stderr[-500:]))


def test_faults(args, cl, work, times):
    sc = tf.Sidecar(args.sidecar, work, CONF % os.path.join(work, "spool"), cl.url)
    deadline = time.time() + 30 * SLOW
    while current_port(sc) is None and time.time() < deadline:
        time.sleep(0.05)
    check("sidecar connected to a node of the cluster", current_port(sc) in cl.ports,
          sc.text())
    purge(cl.ports[0], "clu.info")
    runs = []

    def kill_connected():
        i = cl.index_of_port(current_port(sc))
        t0 = time.time()
        check("kill -9 of node %d (connected)" % (i + 1), cl.kill9(i))
        return i, t0, None
    v, _ = phase(cl, sc, args, "kill -9 of the connected node", kill_connected, runs, times)
    ok, err = cl.restart(v)
    check("node %d restarted and rejoined" % (v + 1), ok, err)

    lead = cl.leader("clu.info")
    check("the quorum queue has a leader (node %s)" % (lead + 1 if lead is not None else "?"),
          lead is not None)
    conn_i = cl.index_of_port(current_port(sc))
    if lead is not None and lead == conn_i:
        print("# the leader is also the connected node", flush=True)

    def kill_leader():
        t0 = time.time()
        check("kill -9 of node %d (the leader)" % (lead + 1), cl.kill9(lead))
        return lead, t0, None
    if lead is not None:
        # The sidecar sees a leader on another node only as confirms that
        # wait for the new election: it may not need to reconnect at all.
        before = len(connections(sc))
        t = start_load(args, sc.sock, 3000, 500, runs)
        time.sleep(1.5)
        _, t0, _ = kill_leader()
        new = None
        deadline = time.time() + 60 * SLOW
        while time.time() < deadline and new is None:
            new = cl.leader("clu.info")
            new = new if new is not None and new != lead else None
            if new is None:
                time.sleep(0.2)
        took_leader = time.time() - t0 if new is not None else None
        check("a new leader elected (node %s, %s s)"
              % (new + 1 if new is not None else "?",
                 "%.2f" % took_leader if took_leader else "never"), new is not None)
        t.join(timeout=300 * SLOW)
        if took_leader is not None:
            times["kill -9 of the leader: new leader"] = took_leader
        rec = connections(sc)[before:]
        if rec:
            times["kill -9 of the leader: sidecar reconnect"] = rec[0][0] - t0
        ok, err = cl.restart(lead)
        check("node %d restarted and rejoined" % (lead + 1), ok, err)

    def stop_connected():
        i = cl.index_of_port(current_port(sc))
        pid = cl.beam(i)
        t0 = time.time()
        os.kill(pid, signal.SIGSTOP)
        cl.down.add(i)

        def cont():
            time.sleep(max(0, 15 - (time.time() - t0)))  # hung 15 s in all
            os.kill(pid, signal.SIGCONT)
            cl.down.discard(i)
        return i, t0, cont
    _, took = phase(cl, sc, args, "SIGSTOP of the connected node", stop_connected, runs, times)
    check("hung node: fail-over within broker_timeout + 3 s (%s s)"
          % ("%.2f" % took if took is not None else "never"),
          took is not None and took <= (TIMEOUT + 3) * SLOW)
    text = sc.text()
    check("hung node: no re-declare timed out (queue.bind is not redone)",
          "queue.bind" not in text and "timed out" not in text,
          [l for l in text.splitlines() if "timed out" in l or "bind" in l][:5])
    check("hung node: detected by broker_timeout, not the heartbeat",
          "no confirm for" in text and "heartbeat timeout" not in text, text[-1500:])

    st = sc.settled(180)
    check("three loads ran", len(runs) == 3, runs)
    calls = sum(r["calls"] for r in runs)
    ldrops = sum(tf.lib_drops(r) for r in runs)
    sent = sum(r["stats"]["sent"] for r in runs)
    check("the sidecar received what the library sent (%d)" % sent,
          st is not None and st["received"] == sent, st)
    check("--stats: nothing dropped, everything delivered and confirmed",
          st is not None and tf.drops(st) == 0 and st["delivered"] == st["received"] and
          st["confirmed"] == st["delivered"] and st["published"] >= st["confirmed"], st)
    failovers = st["reconnects"] - 1 if st else 0
    check("--stats: at least 2 fail-overs (%d)" % failovers, failovers >= 2, st)
    want = st["delivered"] if st else 0
    distinct, total = consume(cl.ports[cl.live()[0]], "clu.info", want, 180)
    check("every point delivered at least once: %d calls = %d distinct in the queue + %d "
          "library drops" % (calls, distinct, ldrops),
          calls == distinct + ldrops and distinct == want, "%d in all, %r" % (total, st))
    dup = total - distinct
    check("duplicates (%d) within the confirm window per fail-over (%d x %d)"
          % (dup, failovers, WINDOW), dup <= WINDOW * max(failovers, 1))
    check("duplicates no more than the republished (%d)"
          % (st["published"] - st["confirmed"] if st else -1),
          st is not None and dup <= st["published"] - st["confirmed"])
    times["points"] = distinct
    times["duplicates"] = dup
    check("sidecar exit 0", sc.stop() == 0)


EVENTS_TOPIC = "osp_events"  # the agent publishes its events back to the cluster


def agent_events(cl, want, timeout):
    """The agent's profiler.* events, read from EVENTS_TOPIC.sample on a live
    node until `want` distinct points: {(trace_id, name)}, events read."""
    seen, total = set(), 0
    deadline = time.time() + timeout * SLOW
    while len(seen) < want and time.time() < deadline:
        try:
            c = amqp.Connection("127.0.0.1:%d" % cl.ports[cl.live()[0]], userid="guest",
                                password="guest")
            c.connect()
            ch = c.channel()

            def on(m):
                nonlocal total
                msg = json.loads(json.loads(m.body)["oslo.message"])
                for e in msg["payload"]:
                    if str(e.get("event_type", "")).startswith("profiler."):
                        seen.add(tc.point_key({t[0]: t[2] for t in e.get("traits", [])}))
                        total += 1
            ch.basic_consume(EVENTS_TOPIC + ".sample", callback=on, no_ack=True)
            while len(seen) < want and time.time() < deadline:
                try:
                    c.drain_events(timeout=1)
                except OSError:  # socket.timeout
                    pass
            c.close()
        except (OSError, amqp.exceptions.AMQPError):  # not declared yet
            time.sleep(0.5)
    return seen, total


def agent_conf(work, url):
    """ceilometer.conf and pipelines from test_ceilometer's templates, quorum
    queues on (as the sidecar and the collector). Events go back to the
    cluster (ceilometer's notifier:// publisher, oslo retrying until it is
    delivered) rather than to test_ceilometer's HTTP sink: the agent's http
    publisher drops a batch whose POST meets a closed connection, which under
    this test's load it did a few times in a run."""
    subst = {"@DIR@": work, "@BROKER_URL@": url}
    for name in ("ceilometer.conf", "event_pipeline.yaml", "pipeline.yaml"):
        with open(os.path.join(tc.TEMPLATES, name + ".in")) as f:
            text = f.read()
        for k, v in subst.items():
            text = text.replace(k, v)
        if name == "event_pipeline.yaml":
            text = re.sub(r"- http://\S+", "- notifier://?topic=" + EVENTS_TOPIC, text)
            assert "notifier://" in text
        if name == "ceilometer.conf":
            text += ("\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n"
                     "amqp_durable_queues = true\n")
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    import importlib.util
    spec = importlib.util.find_spec("ceilometer")
    shutil.copy(os.path.join(list(spec.submodule_search_locations)[0], "pipeline", "data",
                             "event_definitions.yaml"), os.path.join(work, "event_definitions.yaml"))
    os.mkdir(os.path.join(work, "ceilometer.conf.d"))


def queue_consumers(cl, queue):
    r = cl.run("ctl", cl.live()[0], "list_queues", "-q", "name", "consumers", timeout=60)
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return None


def test_end_to_end(args, cl, work):
    """A sidecar publishes to openstack/profiler; the collector (SQLite) and
    ceilometer's agent both consume from the cluster."""
    if not os.access(tc.AGENT, os.X_OK):
        check("ceilometer-agent-notification installed", False, tc.AGENT)
        return
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "no_proxy": "127.0.0.1,localhost",
           "NO_PROXY": "127.0.0.1,localhost"}
    tracked = tc.Tracked()
    agent_work = os.path.join(work, "agent")
    os.mkdir(agent_work)
    agent_conf(agent_work, cl.url)
    alog = open(os.path.join(agent_work, "agent.out"), "w")
    agent = subprocess.Popen(
        ["/usr/bin/python3", tc.AGENT, "--config-file",
         os.path.join(agent_work, "ceilometer.conf"), "--config-dir",
         os.path.join(agent_work, "ceilometer.conf.d")], cwd=agent_work, env=env,
        stdin=subprocess.DEVNULL, stdout=alog, stderr=subprocess.STDOUT,
        preexec_fn=tc.die_with_parent)
    alog.close()
    tracked.add(agent.pid)
    RUNNING.append(agent)
    db = os.path.join(work, "collected.db")
    col_dir = os.path.join(work, "col")
    os.mkdir(col_dir)
    col = None
    try:
        deadline = time.time() + 90 * SLOW
        while time.time() < deadline and agent.poll() is None:
            tracked.scan()
            if (queue_consumers(cl, "profiler.info") or 0) >= 1:
                break
            time.sleep(0.5)
        check("ceilometer's agent consumes profiler.info from the cluster",
              (queue_consumers(cl, "profiler.info") or 0) == 1,
              tc.tail(os.path.join(agent_work, "agent.log")))
        col = tf.Sidecar(args.sidecar, col_dir,
                         'store = "sqlite:///%s"\ncollect = true\nspool_dir = ""\n'
                         'rabbit_quorum_queue = true\namqp_durable_queues = true\n'
                         'control_exchange = "openstack"\ntopics = {"profiler"}\n' % db, cl.url)
        deadline = time.time() + 30 * SLOW
        while "consuming" not in col.text() and time.time() < deadline:
            time.sleep(0.05)
        check("collector consuming from the cluster", "consuming" in col.text(), col.text())
        r = cl.run("ctl", cl.live()[0], "list_queues", "-q", "name", "type", timeout=60)
        types = dict(l.split()[:2] for l in r.stdout.splitlines() if len(l.split()) >= 2)
        check("the collector's queue is a quorum queue, as the cluster's are (a classic one "
              "lives and dies with one node)", types.get("osprofiler-collector") == "quorum",
              r.stdout)
        pub_dir = os.path.join(work, "pub")
        os.mkdir(pub_dir)
        pub = tf.Sidecar(args.sidecar, pub_dir,
                         'rabbit_quorum_queue = true\namqp_durable_queues = true\n'
                         'control_exchange = "openstack"\ntopics = {"profiler"}\n'
                         'spool_dir = "%s"\n' % os.path.join(pub_dir, "spool"), cl.url)
        runs = [tf.load(args, pub.sock, 2, 100, rate=200)]
        st = pub.settled(60)
        n = st["delivered"] if st else 0
        check("end to end: 400 points published and confirmed",
              n == 400 and runs[0]["calls"] == 400, st)
        deadline = time.time() + 60 * SLOW
        rows = 0
        while time.time() < deadline:
            c = sqlite3.connect(db, timeout=30)
            try:
                rows = c.execute("SELECT count(*) FROM data").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
            finally:
                c.close()
            if rows >= n:
                break
            time.sleep(0.3)
        check("end to end: the collector stored every point (%d rows)" % rows, rows == n)

        got, total = agent_events(cl, n, 90)
        check("end to end: every point became a ceilometer event (%d distinct of %d read)"
              % (len(got), total), len(got) == n,
              tc.tail(os.path.join(agent_work, "agent.log")))
        check("end to end: publisher exit 0", pub.stop() == 0)
    finally:
        if col is not None:
            check("end to end: collector exit 0", col.stop() == 0)
        tracked.scan()
        workers = [p for p in tracked.living() if p != agent.pid]
        gone = tracked.stop(agent.pid, 30, reap=agent)
        for p in workers:
            gone = tracked.stop(p, 10) and gone
        check("ceilometer's agent stopped", gone)
        log = os.path.join(agent_work, "agent.log")
        errors = [l for l in open(log, errors="replace") if " ERROR " in l or
                  "Traceback" in l] if os.path.exists(log) else ["no agent.log"]
        check("no ERROR in the agent's log", not errors, "".join(errors[:10]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--cluster-env", required=True)
    ap.add_argument("--broker-sh", required=True)
    ap.add_argument("--times", help="write the fail-over times (JSON) here")
    args = ap.parse_args()
    cl = Cluster(args.cluster_env, args.broker_sh)
    t0 = time.time()
    times = {}
    with tempfile.TemporaryDirectory() as work:
        for i, t in enumerate([lambda w: test_bad_timeout(args, w),
                               lambda w: test_faults(args, cl, w, times),
                               lambda w: test_end_to_end(args, cl, w)]):
            d = os.path.join(work, str(i))
            os.mkdir(d)
            try:
                t(d)
            except Exception:
                import traceback
                check("no exception in phase %d" % i, False, traceback.format_exc())
            finally:
                for i in list(cl.down):  # a phase that failed half-way
                    pid = cl.beam(i)
                    if pid:
                        try:
                            os.kill(pid, signal.SIGCONT)
                        except OSError:
                            pass
    times["test_seconds"] = round(time.time() - t0, 1)
    print("# fail-over times: %s" % json.dumps(times), flush=True)
    if args.times:
        with open(args.times, "w") as f:
            json.dump(times, f, indent=1)
    sys.exit(summary())


if __name__ == "__main__":
    main()
