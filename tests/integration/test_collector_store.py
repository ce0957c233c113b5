#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.collector_store_down - the collector waits for its store.

Against the private RabbitMQ (broker fixture) and a private, password-protected
redis-server on 127.0.0.1 that this test starts and stops by pid:

  * started while Redis is down, the collector keeps running, retries with
    backoff, says in --stats that it is not consuming, since when and why
    (naming the store, never its password), and takes nothing from the broker:
    published points wait in its queue, which it declared anyway;
  * once Redis is up it consumes, and the points arrive (and `osprofiler trace
    show` reads them);
  * Redis going away while it runs: the batch it could not store goes back to
    the queue, it stops consuming, and stores it once Redis is back;
  * the password is in no log line and no --stats output.

  test_collector_store.py --sidecar BIN --osprofiler BIN --broker-env FILE
                          --golden DIR
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sidecar as ts  # noqa: E402

from test_sidecar import check, free_port, frame  # noqa: E402
from tap import wait_for  # noqa: E402  (test_sidecar put tests/support on the path)

import amqp  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
QUEUE = "osprofiler-collector-store-down"  # its own: other tests keep theirs
PASSWORD = "s3cret-pw-%d" % os.getpid()
GOLDEN_BASE = "5e1c7a70-0000-4000-8000-000000000000"
SECOND_BASE = "5e1c7a71-0000-4000-8000-000000000000"



class Redis:
    """redis-server on 127.0.0.1:port; the password only in its config file."""

    def __init__(self, work, port):
        self.dir = tempfile.mkdtemp(dir=work, prefix="redis.")
        self.port = port
        self.proc = None
        conf = os.path.join(self.dir, "redis.conf")
        with open(conf, "w") as f:
            f.write('port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/redis.log\nsave ""\n'
                    'appendonly no\ndaemonize no\nrequirepass "%s"\n'
                    % (port, self.dir, self.dir, PASSWORD))
        os.chmod(conf, 0o600)
        self.conf = conf

    def start(self):
        self.proc = subprocess.Popen([REDIS_SERVER, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        ts.RUNNING.append(self.proc)
        if not wait_for(lambda: self.proc.poll() is not None or self.ping()):
            raise RuntimeError("redis-server did not start")
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited: port %d taken?" % self.port)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, password=PASSWORD,
                           socket_timeout=5)

    def ping(self):
        try:
            return self.client().ping()
        except Exception:
            return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def points(self, base_id):
        try:
            return self.client().llen("osprofiler_opt:" + base_id)
        except Exception:
            return -1

    def stored(self, base_id):
        """The stored points, as (name, trace_id, parent_id, timestamp)."""
        return sorted(key(json.loads(p))
                      for p in self.client().lrange("osprofiler_opt:" + base_id, 0, -1))


def key(point):
    return tuple(point[k] for k in ("name", "trace_id", "parent_id", "timestamp"))


def amqp_channel(port):
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    return c, c.channel()


def queue_depth(port):
    """Messages ready in QUEUE, -1 when it does not exist."""
    c, ch = amqp_channel(port)
    try:
        return ch.queue_declare(QUEUE, passive=True).message_count
    except amqp.exceptions.NotFound:
        return -1
    finally:
        try:
            c.close()
        except Exception:
            pass


def delete_queue(port):
    c, ch = amqp_channel(port)
    ch.queue_delete(QUEUE)
    c.close()


def Collector(binary, url, store, work):
    """Started while its store may be down: waits for nothing."""
    return ts.ConfSidecar(binary, work, "col", ts.collector_conf(store, url, QUEUE), ready=None)


def since(state):
    return datetime.strptime(state["since"], "%Y-%m-%dT%H:%M:%S.%fZ")


def golden_points(golden):
    with open(os.path.join(golden, "trace_points.jsonl"), "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def tree(report):
    """The call tree of a trace show --json report, by trace_id."""
    return [(c["trace_id"], tree(c)) for c in report["children"]]


def report(args, base_id, store):
    """trace show --json from the store; the url (password) in the environment."""
    r = subprocess.run([args.osprofiler, "trace", "show", "--json", base_id],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, OSPROFILER_CONNECTION_STRING=store))
    return r.stdout.rstrip("\n") if r.returncode == 0 else "exit %d: %s" % (r.returncode,
                                                                            r.stderr)


def run(args, port, url, work):
    rport = free_port()
    redis = Redis(work, rport)
    store = "redis://:%s@127.0.0.1:%d/0" % (PASSWORD, rport)
    ts.purge(port)
    delete_queue(port)  # a leftover of an earlier run would hide a missing declare

    # 1. Redis down at start
    col = Collector(args.sidecar, url, store, work)
    wait_for(lambda: col.proc.poll() is not None or
             "store:" in ((col.collector_state() or {}).get("reason") or ""))
    st = col.collector_state() or {}
    check("down: the collector runs and says why it is not consuming",
          col.proc.poll() is None and st.get("consuming") is False and
          "store:" in (st.get("reason") or "") and
          "redis at 127.0.0.1:%d" % rport in st.get("reason", ""), str(st) + col.text())
    down_since = since(st) if st.get("since") else None
    check("down: --stats gives since when", down_since is not None, str(st))
    check("down: it retries with backoff (several attempts logged)",
          wait_for(lambda: col.text().count("retrying in") >= 3) and
          col.proc.poll() is None, col.text())
    check("down: the queue is declared while the store is down",
          wait_for(lambda: queue_depth(port) == 0), str(queue_depth(port)))
    pub = ts.Sidecar(args.sidecar, url, os.path.join(work, "pub"))
    pub.send(frame("ctl-1", golden_points(args.golden)))
    check("down: published points wait in the collector's queue",
          wait_for(lambda: queue_depth(port) == 9), str(queue_depth(port)))
    time.sleep(1.5)  # several retry periods: still nothing taken
    st = col.stats() or {}
    check("down: nothing taken from the broker",
          queue_depth(port) == 9 and st.get("collected") == 0 and
          st["collector"]["consuming"] is False, str(st))

    # 2. Redis comes up: consuming, points stored
    redis.start()
    st = wait_for(lambda: (lambda s: s if s and s["consuming"] else None)(col.collector_state()))
    check("up: --stats says consuming, no reason, since later",
          st is not None and st["reason"] is None and down_since is not None and
          since(st) > down_since, str(st) + col.text())
    check("up: the 9 points arrive in Redis",
          wait_for(lambda: redis.points(GOLDEN_BASE) == 9), str(redis.points(GOLDEN_BASE)))
    want = sorted(key(json.loads(p)) for p in golden_points(args.golden))
    check("up: they are the points published", redis.stored(GOLDEN_BASE) == want,
          str(redis.stored(GOLDEN_BASE)))
    rep = report(args, GOLDEN_BASE, store)
    with open(os.path.join(args.golden, "trace_report.json")) as f:
        golden_tree = tree(json.load(f))
    check("up: trace show reads it: the golden report's call tree",
          rep.startswith("{") and tree(json.loads(rep)) == golden_tree, rep[:300])
    check("up: queue drained, stats count them",
          wait_for(lambda: queue_depth(port) == 0) and
          (col.stats() or {}).get("collected") == 9, str(col.stats()))

    # 3. Redis goes away while the collector runs
    redis.stop()
    second = [p.replace(b"5e1c7a70", b"5e1c7a71") for p in golden_points(args.golden)]
    pub.send(frame("ctl-1", second))
    st = wait_for(lambda: (lambda s: s if s and not s["consuming"] else None)(col.collector_state()))
    check("lost: the failed batch stops consuming, with the reason",
          st is not None and "store:" in (st.get("reason") or ""), str(st) + col.text())
    check("lost: the batch it could not store is back in the queue",
          wait_for(lambda: queue_depth(port) == 9), str(queue_depth(port)))
    redis.start()  # same port, empty (no persistence)
    check("back: the 9 points arrive once Redis is back",
          wait_for(lambda: redis.points(SECOND_BASE) == 9), str(redis.points(SECOND_BASE)))
    check("back: consuming again, queue drained",
          wait_for(lambda: (col.collector_state() or {}).get("consuming") and queue_depth(port) == 0),
          str(col.collector_state()))

    # 4. no secret anywhere
    out = subprocess.run([args.sidecar, "--config", col.conf, "--stats"],
                         capture_output=True, text=True, timeout=10)
    check("secrets: the password is in no --stats output",
          out.returncode == 0 and PASSWORD not in out.stdout + out.stderr, out.stdout)
    check("exit 0 on SIGTERM", col.stop() == 0 and pub.stop() == 0)
    check("secrets: the password is in no log line", PASSWORD not in col.text() and
          PASSWORD not in pub.text(), "")
    redis.stop()
    delete_queue(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--golden", required=True)
    args = ap.parse_args()
    if not os.access(REDIS_SERVER, os.X_OK):
        print("no %s: skipped" % REDIS_SERVER)
        sys.exit(77)
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    with tempfile.TemporaryDirectory() as work:
        os.mkdir(os.path.join(work, "pub"))
        try:
            run(args, port, url, work)
        finally:
            ts.stop_leftovers()
    sys.exit(ts.summary())


if __name__ == "__main__":
    main()
