#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.collector - retrieval end to end, against a private RabbitMQ
and the real Python osprofiler / oslo.messaging:

  * no broker configured: the sidecar stores points straight into SQLite and
    `osprofiler trace show --json|--dot` prints byte for byte what Python's
    CLI prints for the golden points;
  * collect = true: a second sidecar consumes its own durable queue into the
    store while the profiler.info queue that ceilometer reads keeps every
    message; C- and Python-published points (format 1.0 and 2.0) arrive;
    redelivered and re-published points are stored once; kill -9 of the
    collector loses nothing; messages that are not trace points are counted
    and dropped;
  * `trace list` (and --error-trace), "not found" help, report files.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import amqp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sidecar as ts  # noqa: E402  (Sidecar, frame, check, drain, purge)

from test_sidecar import SLOW, check, frame  # noqa: E402

GOLDEN_BASE = "5e1c7a70-0000-4000-8000-000000000000"


def golden_points(golden):
    with open(os.path.join(golden, "trace_points.jsonl"), "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def cli(args, *argv, env=None):
    return subprocess.run([args.osprofiler, "trace"] + list(argv), capture_output=True,
                          text=True, timeout=60, env=env)


def rows(db):
    """Distinct points stored (a point delivered twice may be stored twice:
    readers show it once; src/store/store_sqlite.c)."""
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM (SELECT DISTINCT base_id, timestamp, trace_id, name "
                         "FROM data)").fetchone()[0]


def stored(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM data").fetchone()[0]


def wait_rows(db, want, timeout=30):
    deadline = time.time() + timeout
    n = -1
    while time.time() < deadline:
        try:
            n = rows(db)
        except sqlite3.Error:
            n = -1
        if n >= want:
            return n
        time.sleep(0.1)
    return n


def same_as_golden(args, store, name):
    out = os.path.join(os.path.dirname(store.split("sqlite:///", 1)[1]), "r.json")
    r = cli(args, "show", "--connection-string", store, "--json", "--out", out, GOLDEN_BASE)
    with open(os.path.join(args.golden, "trace_report.json")) as f:
        want = f.read().rstrip("\n")
    got = open(out).read() if os.path.exists(out) else ""
    check(name + ": trace show --json is Python's report, byte for byte",
          r.returncode == 0 and got == want, r.stderr + got[:300])


class Direct(ts.Sidecar):
    """A sidecar with no broker: points go to the store."""

    def __init__(self, binary, store, workdir):
        self.binary = binary
        self.sock = os.path.join(workdir, "direct.sock")
        self.conf = os.path.join(workdir, "direct.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nstore = "%s"\n' % (self.sock, store))
        self.log = open(os.path.join(workdir, "direct.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ts.RUNNING.append(self.proc)
        deadline = time.time() + 30
        while not os.path.exists(self.sock) and time.time() < deadline:
            time.sleep(0.02)


def test_direct_store(args, work):
    db = os.path.join(work, "traces.db")
    store = "sqlite:///" + db
    sc = Direct(args.sidecar, store, work)
    sc.send(frame("ctl-1", golden_points(args.golden)))
    check("direct: 9 points stored", wait_rows(db, 9) == 9, sc.text())
    st = sc.stats()
    check("direct: stats count them as stored", st and st["stored"] == 9, str(st))
    same_as_golden(args, store, "direct")
    out = os.path.join(work, "r.dot")
    r = cli(args, "show", "--connection-string", store, "--dot", "--out", out, GOLDEN_BASE)
    with open(os.path.join(args.golden, "trace_report.dot")) as f:
        want = f.read()
    check("direct: trace show --dot is Python's graph", r.returncode == 0 and
          open(out).read() == want, r.stderr)
    # the same points again (a client retrying): stored once
    sc.send(frame("ctl-1", golden_points(args.golden)))
    time.sleep(1)
    check("direct: a point sent twice is one point", rows(db) == 9, str(rows(db)))
    same_as_golden(args, store, "direct, a point sent twice")
    # environment variable as the default connection string, stdout + newline
    r = cli(args, "show", "--json", GOLDEN_BASE,
            env=dict(os.environ, OSPROFILER_CONNECTION_STRING=store))
    check("direct: OSPROFILER_CONNECTION_STRING, print adds one newline",
          r.returncode == 0 and r.stdout.endswith("}\n") and not r.stdout.endswith("}\n\n"))
    # a report file instead of an id, as Python
    r = cli(args, "show", "--connection-string", store, "--dot",
            os.path.join(work, "r.json"))
    check("direct: a report file is read as Python reads it",
          r.returncode == 0 and r.stdout == want + "\n", r.stderr)
    r = cli(args, "list", "--connection-string", store)
    check("direct: trace list shows the trace as prettytable",
          r.returncode == 0 and "| %s | 2024-01-01T10:00:00.000000 |" % GOLDEN_BASE in r.stdout
          and r.stdout.startswith("+----"), r.stdout + r.stderr)
    missing = "11111111-2222-4333-8444-555555555555"
    r = cli(args, "show", "--connection-string", store, "--json", missing)
    check("direct: not found: exit 1, names the store, the count and the HMAC key",
          r.returncode == 1 and store in r.stderr and "1 trace" in r.stderr and
          "HMAC key" in r.stderr and r.stdout == "", r.stderr)
    r = cli(args, "show", "--connection-string", "sqlite:///" + work + "/nope.db", "--json",
            missing)
    check("direct: a store that does not exist is named",
          r.returncode == 1 and "no such database" in r.stderr, r.stderr)
    r = cli(args, "show", "--connection-string", store, GOLDEN_BASE)
    check("direct: no format: Python's message, exit 2",
          r.returncode == 2 and "json, html or dot" in r.stderr, r.stderr)
    check("direct: exit 0 on SIGTERM", sc.stop() == 0)


def Collector(binary, url, store, workdir, name="col"):
    return ts.ConfSidecar(binary, workdir, name,
                          ts.collector_conf(store, url, "osprofiler-collector",
                                            "filter_error_trace = true\n"), ready="consuming")


def queue_depth(args, name):
    r = subprocess.run([args.broker_sh, "ctl", os.path.dirname(args.broker_env),
                        "list_queues", "-q", "name", "messages"],
                       capture_output=True, text=True, timeout=60)
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            return int(parts[1])
    return -1


def python_publish(port, points, service="py-api"):
    """Publish points with Python osprofiler's own messaging driver."""
    code = r"""
import json, sys
import oslo_messaging
from oslo_config import cfg
from osprofiler.drivers import base
conf = cfg.ConfigOpts()
conf([])
d = base.get_driver("messaging://", project="py", service=sys.argv[2], host="py-host",
                    context={}, conf=conf, transport_url=sys.argv[1])
for line in sys.stdin:
    d.notify(json.loads(line))
"""
    r = subprocess.run(["/usr/bin/python3", "-c", code,
                        "rabbit://guest:guest@127.0.0.1:%d/" % port, service],
                       input=b"\n".join(points) + b"\n", capture_output=True, timeout=60)
    return r.returncode == 0, r.stderr.decode()[-500:]


def test_collector(args, port, url, work):
    ts.purge(port)
    # the collector's queue is durable: an earlier run on this broker (the
    # valgrind pass) may have left messages in it
    ts.purge(port, "osprofiler-collector")
    db = os.path.join(work, "collected.db")
    store = "sqlite:///" + db
    col = Collector(args.sidecar, url, store, work)
    pub = ts.Sidecar(args.sidecar, url, work)
    pub.send(frame("ctl-1", golden_points(args.golden)))
    check("collect: 9 points collected", wait_rows(db, 9) == 9, col.text())
    same_as_golden(args, store, "collect")
    time.sleep(0.5)
    check("collect: profiler.info (ceilometer's queue) still holds all 9",
          queue_depth(args, "profiler.info") == 9, str(queue_depth(args, "profiler.info")))
    check("collect: the collector's queue is durable and drained",
          queue_depth(args, "osprofiler-collector") == 0)
    # the publisher resends the same points (at-least-once): stored once
    pub.send(frame("ctl-1", golden_points(args.golden)))
    time.sleep(1.5)
    check("collect: a redelivered point is one point", rows(db) == 9 and stored(db) >= 9,
          "%d distinct, %d rows" % (rows(db), stored(db)))
    same_as_golden(args, store, "collect, after a redelivery")
    st = col.stats()
    check("collect: stats count collected messages", st and st["collected"] == 18, str(st))
    # Python osprofiler publishing (format 1.0) lands in the same store
    py_base = "7a000000-0000-4000-8000-000000000000"
    pts = []
    for i, (n, t) in enumerate([("wsgi-start", "00.000000"), ("db-start", "00.001000"),
                                ("db-stop", "00.004000"), ("wsgi-stop", "00.009000")]):
        tid = "7a000000-0000-4000-8000-00000000000%d" % (1 if n.startswith("wsgi") else 2)
        parent = py_base if n.startswith("wsgi") else "7a000000-0000-4000-8000-000000000001"
        info = {"host": "py-host"}
        if n == "db-stop":
            info["etype"] = "OperationalError"
        pts.append(json.dumps({"name": n, "base_id": py_base, "trace_id": tid,
                               "parent_id": parent, "timestamp": "2024-02-02T10:00:" + t,
                               "info": info}).encode())
    ok, err = python_publish(port, pts)
    check("collect: Python osprofiler published", ok, err)
    check("collect: Python's points collected", wait_rows(db, 13) == 13, col.text())
    r = cli(args, "show", "--connection-string", store, "--json", py_base)
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    kids = rep.get("children", [])
    check("collect: Python's trace shows: wsgi 9 ms with a db child 3 ms, error kept",
          len(kids) == 1 and kids[0]["info"]["finished"] == 9 and
          kids[0]["children"][0]["info"]["exception"] == "OperationalError" and
          kids[0]["info"]["service"] == "py-api", r.stdout[:400] + r.stderr)
    # an error-free trace of Python's next to them
    ok_base = "7b000000-0000-4000-8000-000000000000"
    python_publish(port, [p.replace(b"7a000000", b"7b000000").replace(b"OperationalError",
                                                                       b"x")
                          for p in pts if b"etype" not in p])
    check("collect: error-free trace collected", wait_rows(db, 16) == 16, col.text())
    golden_has_error = any(b'"etype"' in p for p in golden_points(args.golden))
    r = cli(args, "list", "--connection-string", store, "--error-trace", "1")
    check("collect: trace list --error-trace lists only the traces with an error",
          r.returncode == 0 and py_base in r.stdout and ok_base not in r.stdout and
          (GOLDEN_BASE in r.stdout) == golden_has_error, r.stdout)
    r = cli(args, "list", "--connection-string", store)
    check("collect: trace list lists them all", r.returncode == 0 and
          all(b in r.stdout for b in (py_base, ok_base, GOLDEN_BASE)), r.stdout)
    # not trace points: counted, acknowledged, nothing else disturbed
    ok, err = python_publish(port, [b'{"no": "name"}'])
    subprocess.run(["/usr/bin/python3", "-c", r"""
import sys, amqp
c = amqp.Connection(host="127.0.0.1:%s" % sys.argv[1]); c.connect(); ch = c.channel()
ch.basic_publish(amqp.Message(b"not json"), exchange="openstack", routing_key="profiler.info")
ch.basic_publish(amqp.Message(b'{"event_type": "compute.instance.create", "payload": {}}'),
                 exchange="openstack", routing_key="profiler.info")
c.close()
""", str(port)], check=False, timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and (col.stats() or {}).get("dropped", {}).get(
            "collect_invalid", 0) < 3:
        time.sleep(0.1)
    st = col.stats()
    check("collect: 3 messages that are no trace point counted and dropped",
          st and st["dropped"]["collect_invalid"] == 3 and rows(db) == 16, str(st))
    check("collect: nothing left unacknowledged",
          queue_depth(args, "osprofiler-collector") == 0)
    # format 2.0 envelopes (driver = messagingv2)
    pub.stop()
    pub2 = ts.Sidecar(args.sidecar, url, work, 'driver = "messagingv2"\n')
    v2 = [p.replace(b"00000000-0000", b"00000002-0000").replace(b"5e1c7a70", b"5e1c7a72")
          for p in golden_points(args.golden)]
    pub2.send(frame("ctl-2", v2))
    check("collect: format 2.0 bodies collected", wait_rows(db, 25) == 25, col.text())
    # kill -9 of the collector while points flow: nothing lost, nothing twice
    burst = [json.dumps({"name": "p%d-%s" % (i, s), "base_id": "9b000000-0000-4000-8000-"
                         "000000000000", "trace_id": "9b000000-0000-4000-8000-%012d" % i,
                         "parent_id": "9b000000-0000-4000-8000-000000000000",
                         "timestamp": "2024-03-03T10:00:00.%06d" % i, "info": {}}).encode()
             for i in range(500) for s in ("start", "stop")]
    for i in range(0, len(burst), 100):
        pub2.send(frame("ctl-2", burst[i:i + 100]))
        if i == 400:
            time.sleep(0.05)
            col.kill9()  # mid-stream: some committed, some not yet acknowledged
    col = Collector(args.sidecar, url, store, work)
    check("collect: after kill -9 and restart every point is stored once",
          wait_rows(db, 1025, timeout=60) == 1025 and (time.sleep(1) or rows(db) == 1025),
          "%d rows" % rows(db))
    check("collect: exit 0", col.stop() == 0 and pub2.stop() == 0)


def test_socket_policy(args, port, url, work):
    """listen_group, and publisher_policy = local: a local process cannot
    publish as another host."""
    import grp
    ts.purge(port)
    group = grp.getgrgid(os.getgid()).gr_name
    sc = ts.Sidecar(args.sidecar, url, work,
                    'listen_group = "%s"\npublisher_policy = "local"\nhost = "sc-host"\n'
                    % group)
    check("policy: the socket has listen_group",
          os.stat(sc.sock).st_gid == grp.getgrnam(group).gr_gid)
    pts = golden_points(args.golden)[:3]
    sc.send(frame("someone-else", pts))
    got = ts.drain(port, want=3)
    pubs = {json.loads(m.body)["publisher_id"] for m in got}
    check("policy: published as this host, not as claimed", pubs == {"sc-host"}, pubs)
    st = sc.stats()
    check("policy: counted", st and st["publisher_replaced"] == 1, str(st))
    check("policy: logged once, with the peer and the claim",
          sc.text().count("'someone-else'") == 1 and "uid %d" % os.getuid() in sc.text(),
          sc.text())
    check("policy: exit 0", sc.stop() == 0)
    conf = os.path.join(work, "bad.conf")
    for body, why in (('listen_group = "no-such-group-xyz"\n', "no such group"),
                      ('publisher_policy = "maybe"\n', "publisher_policy must be")):
        with open(conf, "w") as f:
            f.write('listen_socket = "%s/bad.sock"\nspool_dir = ""\n%s' % (work, body))
        p = subprocess.run([args.sidecar, "--config", conf, "--transport-url", url],
                           capture_output=True, text=True, timeout=30)
        check("policy: refused with a clear error: " + why,
              p.returncode == 1 and why in p.stderr + p.stdout, p.stderr + p.stdout)


def test_queue_type_mismatch(args, port, url, work):
    """A collector_queue declared classic (by an older release) while the
    collector now wants a quorum queue: a 406 the collector names, its
    messages kept; once the operator deletes the queue it consumes again."""
    q = "osp-classic-collector"

    def amqp_do(fn):
        c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
        c.connect()
        try:
            return fn(c.channel())
        finally:
            c.close()
    amqp_do(lambda ch: ch.queue_delete(q))
    amqp_do(lambda ch: ch.queue_declare(q, durable=True, auto_delete=False))
    amqp_do(lambda ch: ch.basic_publish(amqp.Message("kept"), routing_key=q))
    sc = ts.Sidecar(args.sidecar, url, work,
                    'store = "sqlite:///%s/q.db"\ncollect = true\ncollector_queue = "%s"\n'
                    'rabbit_quorum_queue = true\nrabbit_retry_interval = 0.2\n'
                    'rabbit_interval_max = 0.5\n'
                    # its own exchange and topic: the others here are classic
                    'control_exchange = "osp-quorum"\ntopics = {"osp_quorum"}\n'
                    % (work, q), wait_connected=False)
    deadline = time.time() + 30 * SLOW
    while "x-queue-type" not in sc.text() and time.time() < deadline:
        time.sleep(0.1)
    check("quorum wanted, classic found: the collector logs the 406 and its cause",
          "406" in sc.text() and "x-queue-type" in sc.text(), sc.text()[-1500:])
    col = (sc.stats() or {}).get("collector") or {}
    check("quorum wanted, classic found: --stats says it is not consuming, and why",
          col.get("consuming") is False and "406" in str(col.get("reason")), str(col))
    _, msgs, _ = amqp_do(lambda ch: ch.queue_declare(q, passive=True))
    check("quorum wanted, classic found: the queue keeps its message", msgs == 1, str(msgs))
    amqp_do(lambda ch: ch.queue_delete(q))
    while "consuming" not in sc.text().split("x-queue-type")[-1] and time.time() < deadline:
        time.sleep(0.1)
    check("the operator deleted the queue: the collector declares it quorum and consumes",
          ((sc.stats() or {}).get("collector") or {}).get("consuming") is True, sc.text()[-800:])
    check("quorum: exit 0 on SIGTERM", sc.stop() == 0)
    amqp_do(lambda ch: ch.queue_delete(q))
    amqp_do(lambda ch: ch.queue_delete("osp_quorum.info"))
    amqp_do(lambda ch: ch.exchange_delete("osp-quorum"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--broker-sh", required=True)
    ap.add_argument("--golden", required=True)
    args = ap.parse_args()
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    with tempfile.TemporaryDirectory() as work:
        for i, t in enumerate([lambda w: test_direct_store(args, w),
                               lambda w: test_collector(args, port, url, w),
                               lambda w: test_socket_policy(args, port, url, w),
                               lambda w: test_queue_type_mismatch(args, port, url, w)]):
            d = os.path.join(work, str(i))
            os.mkdir(d)
            try:
                t(d)
            finally:
                ts.stop_leftovers()
    sys.exit(ts.summary())


if __name__ == "__main__":
    main()
