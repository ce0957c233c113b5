#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.collectors - many collectors, one store (issue 13).

Against the private RabbitMQ (broker fixture), for each store engine (a
SQLite file in the test's directory; a private redis-server on 127.0.0.1
started and stopped by pid):

  * a publishing sidecar fed under load by osp_load (4 threads of traced
    start/stop pairs through libosprofiler, many traces) and 3 `collect`
    sidecars sharing one durable collector queue into ONE store;
  * the broker spreads the messages: every collector's --stats `collected`
    is > 0 (for SQLite: three processes write one file, WAL and busy
    handling across processes);
  * one collector is killed with SIGKILL mid-stream, while it holds
    unacknowledged messages (the messages the broker then redelivers are
    counted by the collectors, --stats collector.redelivered, and must be
    > 0); for SQLite it is restarted, for Redis not (the two others take
    its redelivered messages);
  * every point the publisher delivered is stored exactly once as the reader
    shows it (`osprofiler trace list` then `trace show --json` of every
    trace: each point once, none missing, nothing extra), and the physical
    copies in the store are counted and reported (docs/design.md, "Many
    collectors, one store": SQLite may keep a redelivered point twice and
    the reader shows it once; Redis never pushes it twice);
  * nothing is left unacknowledged; every collector that was not killed
    exits 0 on SIGTERM.

An engine is a name, a function that starts it in a directory and returns
an object with .url, .physical() and .stop(): SQLite, Redis, and PostgreSQL
in Python's sqlalchemy layout when --pg-env names a pg.sh cluster, MariaDB
in the same layout when --mysql-env names a mysql.sh server (--store
selects, default all that can run here).

  test_collectors.py --sidecar BIN --osprofiler BIN --load BIN
                     --broker-env FILE --broker-sh SH [--pg-env FILE --pg-sh SH]
                     [--mysql-env FILE --mysql-sh SH]
                     [--store NAME]...
"""
import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import amqp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tap  # noqa: E402
from tap import RUNNING, SLOW, check, free_port, stop_leftovers, summary  # noqa: E402
from sidecar_proc import SidecarProc  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sidecar import frame  # noqa: E402
from pg_cluster import Pg  # noqa: E402
from mysql_server import My  # noqa: E402

COLLECTORS = 3
THREADS, PAIRS, TRACE_PAIRS, RATE = 4, 5000, 250, 0  # 40,000 points, 80 traces, flat out
REPLAY = 2000  # points published a second time
REDIS_SERVER = "/usr/bin/redis-server"


def wait_for(cond, timeout, step=0.1):
    """tap.wait_for with timeout in seconds times SLOW."""
    return tap.wait_for(cond, timeout * SLOW, step)


def point_key(p):
    """What makes a point itself: the reader skips a repeat of it."""
    return (p.get("trace_id"), p.get("name"), p.get("timestamp"))


# ------------------------------------------------------------ engines


class SqliteEngine:
    """One database file; the collectors create it."""

    def __init__(self, work):
        self.path = os.path.join(work, "traces.db")
        self.url = "sqlite:///" + self.path

    def physical(self):
        """(points stored, distinct points) counted in the file itself."""
        with sqlite3.connect(self.path, timeout=30) as c:
            n = 0
            keys = set()
            for (data,) in c.execute("SELECT data FROM chunks"):
                for p in json.loads(data):
                    n += 1
                    keys.add(point_key(p))
            return n, len(keys)

    def stop(self):
        pass


class RedisEngine:
    """redis-server on a free loopback port, no persistence, stopped by pid."""

    def __init__(self, work):
        self.dir = os.path.join(work, "redis")
        os.mkdir(self.dir)
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        conf = os.path.join(self.dir, "redis.conf")
        with open(conf, "w") as f:
            f.write('port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/redis.log\nsave ""\n'
                    'appendonly no\ndaemonize no\n' % (self.port, self.dir, self.dir))
        self.proc = subprocess.Popen([REDIS_SERVER, conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        RUNNING.append(self.proc)
        if not wait_for(lambda: self.proc.poll() is not None or self.ping(), 30):
            raise RuntimeError("redis-server did not start")
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited: port %d taken?" % self.port)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10 * SLOW)

    def ping(self):
        try:
            return self.client().ping()
        except Exception:
            return False

    def physical(self):
        c = self.client()
        n, keys = 0, set()
        for k in c.scan_iter("osprofiler_opt:*", count=1000):
            for p in c.lrange(k, 0, -1):
                n += 1
                keys.add(point_key(json.loads(p)))
        return n, len(keys)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class PgEngine:
    """A database of its own on the pg.sh cluster (fixture `pg`); the
    collectors create the `data` table, in Python's sqlalchemy layout."""

    DB = "osp_collectors"

    def __init__(self, work):
        self.pg = Pg(PG["sh"], PG["env"])
        self.pg.create_db(self.DB)
        self.url = self.pg.url(self.DB)

    def physical(self):
        rows = self.pg.sql(self.DB, "SELECT trace_id, name, timestamp FROM data") or []
        return len(rows), len(set(rows))

    def points(self, n):
        """n stored points as they were sent: the columns put back."""
        rows = self.pg.sql(self.DB, "SELECT base_id, parent_id, trace_id, name, timestamp,"
                           " data FROM data ORDER BY id LIMIT %s", n) or []
        out = []
        for base, parent, trace, name, ts, data in rows:
            p = json.loads(data) if isinstance(data, str) else dict(data)
            p.update(base_id=base, parent_id=parent, trace_id=trace, name=name, timestamp=ts)
            out.append(p)
        return out

    def stop(self):
        pass


class MyEngine(PgEngine):
    """A database of its own on the mysql.sh server (fixture `mysql`), the
    same layout on MariaDB."""

    def __init__(self, work):
        self.pg = My(MYSQL["sh"], MYSQL["env"])
        self.pg.create_db(self.DB)
        self.url = self.pg.url(self.DB)

    def points(self, n):
        """As PgEngine's; pymysql hands the JSON column over as its text."""
        rows = self.pg.sql(self.DB, "SELECT base_id, parent_id, trace_id, name, timestamp,"
                           " data FROM data ORDER BY id LIMIT %s", n) or []
        out = []
        for base, parent, trace, name, ts, data in rows:
            p = json.loads(json.loads(data))
            p.update(base_id=base, parent_id=parent, trace_id=trace, name=name, timestamp=ts)
            out.append(p)
        return out


def my_ok():
    return bool(MYSQL.get("env")) and os.path.exists(MYSQL["env"])


def pg_ok():
    return bool(PG.get("env")) and os.path.exists(PG["env"])


def redis_ok():
    if not os.access(REDIS_SERVER, os.X_OK):
        return False
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


# name -> (engine starter, can it run here, restart the killed collector?)
ENGINES = {
    "sqlite": (SqliteEngine, lambda: True, True),
    "redis": (RedisEngine, redis_ok, False),
    "postgresql": (PgEngine, pg_ok, True),
    "mysql": (MyEngine, my_ok, True),
}
PG = {}  # --pg-env, --pg-sh
MYSQL = {}  # --mysql-env, --mysql-sh


# ------------------------------------------------------------ processes


class Sidecar(SidecarProc):
    """osprofiler-sidecar with its own directory, config and log."""

    def __init__(self, binary, work, name, conf, url, ready, wait=True):
        self.binary = binary
        self.name = name
        self.sock = os.path.join(work, name + ".sock")
        self.conf = os.path.join(work, name + ".conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nstats_interval = 0\n'
                    'shutdown_grace = 5.0\n%s' % (self.sock, conf))
        self.log = open(os.path.join(work, name + ".log"), "a+")
        self.proc = subprocess.Popen([binary, "--config", self.conf, "--transport-url", url],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        RUNNING.append(self.proc)
        self.ready = ready
        if wait:
            self.wait_ready()

    def wait_ready(self):
        if not wait_for(lambda: self.proc.poll() is not None or self.ready in self.text(),
                        30, 0.05) or self.proc.poll() is not None:
            raise RuntimeError("%s did not start:\n%s" % (self.name, self.text()))


def collector(args, work, name, store, queue, wait=True):
    conf = ('store = "%s"\ncollect = true\ncollector_queue = "%s"\nspool_dir = ""\n'
            'rabbit_retry_interval = 0.2\nrabbit_interval_max = 1.0\n' % (store, queue))
    return Sidecar(args.sidecar, work, name, conf, args.url, "consuming", wait)


def publisher(args, work):
    spool = os.path.join(work, "spool")
    os.mkdir(spool)
    return Sidecar(args.sidecar, work, "pub", 'spool_dir = "%s"\n' % spool, args.url,
                   "connected to")


def pub_drops(st):
    d = st["dropped"]
    return d["invalid"] + d["spool"] + d["shutdown"] + d["nomem"]


def pub_settled(pub):
    """The publisher's counters once every point it received is delivered
    (confirmed by the broker) or dropped, and nothing waits."""
    st = pub.stats()
    if st and st["memory"]["points"] == 0 and st["spool"]["points"] == 0 and \
            st["received"] == st["delivered"] + pub_drops(st):
        return st
    return None


# ------------------------------------------------------------ broker


def ctl(args, *argv):
    r = subprocess.run([args.broker_sh, "ctl", os.path.dirname(args.broker_env)] +
                       list(argv), capture_output=True, text=True, timeout=60 * SLOW)
    return r.stdout if r.returncode == 0 else ""


def queue_state(args, queue):
    """(ready, unacknowledged, consumers) of queue, None when unknown."""
    for line in ctl(args, "list_queues", "-q", "name", "messages_ready",
                    "messages_unacknowledged", "consumers").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == queue:
            return tuple(int(x) for x in parts[1:])
    return None


def amqp_do(args, fn):
    c = amqp.Connection("127.0.0.1:%d" % args.port, userid="guest", password="guest")
    c.connect()
    try:
        return fn(c.channel())
    except amqp.exceptions.NotFound:
        return None
    finally:
        try:
            c.close()
        except Exception:
            pass


# ------------------------------------------------------------ reader


def reader_points(args, store, sample=0):
    """{point key: times shown} over every trace `trace list` names, as
    `trace show --json` shows them; the traces listed; and the first
    `sample` points shown (their payloads)."""
    r = subprocess.run([args.osprofiler, "trace", "list", "--connection-string", store],
                       capture_output=True, text=True, timeout=120 * SLOW)
    if r.returncode != 0:
        raise RuntimeError("trace list: " + r.stderr)
    bases = [line.split("|")[1].strip() for line in r.stdout.splitlines()
             if line.startswith("| ") and "-" in line.split("|")[1]]
    shown, payloads = {}, []

    def walk(node):
        for k, v in node["info"].items():
            if k.startswith("meta.raw_payload."):
                # Python's sqlalchemy layout keeps ids, name and timestamp in
                # columns: its raw payload is the rest, so the node says which
                key = point_key(v) if "trace_id" in v else \
                    (node.get("trace_id"), k[len("meta.raw_payload."):], None)
                shown[key] = shown.get(key, 0) + 1
                if len(payloads) < sample:
                    payloads.append(v)
        for child in node["children"]:
            walk(child)

    for base in bases:
        r = subprocess.run([args.osprofiler, "trace", "show", "--json", "--connection-string",
                            store, base], capture_output=True, text=True,
                           timeout=120 * SLOW)
        if r.returncode != 0:
            raise RuntimeError("trace show %s: %s" % (base, r.stderr))
        walk(json.loads(r.stdout))
    return shown, bases, payloads


# ------------------------------------------------------------ the test


def run(args, name, work):
    start, _, restart = ENGINES[name]
    tag = name
    queue = "osprofiler-collectors-" + name  # its own: other tests keep theirs
    amqp_do(args, lambda ch: ch.queue_delete(queue))
    engine = start(work)
    # started together: for SQLite they create the file and its schema and
    # turn WAL on at the same moment
    cols = [collector(args, work, "col%d" % i, engine.url, queue, wait=False)
            for i in range(COLLECTORS)]
    for c in cols:
        c.wait_ready()
    pub = publisher(args, work)
    check("%s: %d collectors consume one queue" % (tag, COLLECTORS),
          wait_for(lambda: (queue_state(args, queue) or (0, 0, 0))[2] == COLLECTORS, 30),
          str(queue_state(args, queue)))

    # the load runs in the background; the test watches the collectors meanwhile
    load_out = {}

    def feed():
        r = subprocess.run([args.load, "pairs", "--socket", pub.sock, "--threads",
                            str(THREADS), "--pairs", str(PAIRS), "--trace-pairs",
                            str(TRACE_PAIRS), "--rate", str(RATE)],
                           capture_output=True, text=True, timeout=600 * SLOW)
        load_out["rc"], load_out["out"], load_out["err"] = r.returncode, r.stdout, r.stderr

    feeder = threading.Thread(target=feed)
    t0 = time.time()
    feeder.start()
    victim = cols[0]
    last = {}

    def collected(c):
        st = c.stats()
        if st:
            last[c.name] = st
        return (st or {}).get("collected", 0)

    # kill mid-stream: once every collector has taken something, while most
    # points are still to come (the load hands its points to the publisher in
    # about a second; the stream to the collectors is the publisher's, then the
    # queue's). A collector in a stream always holds a batch it has not
    # acknowledged (up to 256 messages, and as many prefetched); whether the
    # kill caught some is read afterwards from the redelivered messages the
    # others count (rabbitmqctl takes a second to answer: sampled before the
    # kill, its count is stale).
    total = 2 * THREADS * PAIRS
    counts = [0]
    deadline = time.time() + 120 * SLOW
    while time.time() < deadline and not (all(counts) and sum(counts) >= total // 10):
        counts = [collected(c) for c in cols]
        time.sleep(0.02)
    mid_stream = sum(counts) < total * 3 // 4
    victim_stats = last.get(victim.name, {})
    victim.kill9()
    kill_at = time.time() - t0
    check("%s: the broker spreads messages: every collector collected some before the kill"
          % tag, all(last.get(c.name, {}).get("collected", 0) > 0 for c in cols),
          str({c.name: last.get(c.name, {}).get("collected") for c in cols}))
    check("%s: the kill came mid-stream" % tag, mid_stream,
          "collected %s of %d" % (counts, total))
    print("# %s: killed %s at %.1f s, about %d of %d points collected, %d by it"
          % (tag, victim.name, kill_at, sum(counts), total,
             victim_stats.get("collected", 0)), flush=True)
    feeder.join()
    if restart:
        cols[0] = collector(args, work, victim.name, engine.url, queue)
    survivors = cols if restart else cols[1:]
    load = json.loads(load_out.get("out") or "{}")
    check("%s: osp_load ran" % tag, load_out.get("rc") == 0 and "calls" in load,
          load_out.get("err", "")[-500:])
    pst = wait_for(lambda: pub_settled(pub), 120)
    check("%s: the publisher settled: received = delivered + drops" % tag, pst is not None,
          str(pub.stats()))
    pst = pst or pub.stats() or {"delivered": -1, "received": -1, "dropped": {}}
    lib = load.get("stats", {})
    lib_drops = sum(v for k, v in lib.items() if k.startswith("dropped_"))
    check("%s: every call made reached the broker or was counted dropped" % tag,
          load.get("calls", -1) == pst["delivered"] + lib_drops + pub_drops(pst),
          "calls %s, delivered %s, library drops %d, sidecar drops %s"
          % (load.get("calls"), pst["delivered"], lib_drops, pst.get("dropped")))
    print("# %s: %s calls, %d delivered to the broker, %d library drops, %d sidecar drops"
          % (tag, load.get("calls"), pst["delivered"], lib_drops, pub_drops(pst)), flush=True)

    # the queue drains and nothing stays unacknowledged
    drained = wait_for(lambda: queue_state(args, queue) == (0, 0, len(survivors)), 120, 0.5)
    check("%s: the queue drains, nothing left unacknowledged" % tag, drained,
          str(queue_state(args, queue)))
    redelivered = sum(((c.stats() or {}).get("collector") or {}).get("redelivered", 0)
                      for c in survivors)
    check("%s: the killed collector held unacknowledged messages: redelivered to the others"
          % tag, redelivered > 0, str(redelivered))
    print("# %s: %d message(s) redelivered after the kill" % (tag, redelivered), flush=True)
    shown, bases, again = reader_points(args, engine.url, REPLAY)
    want = pst["delivered"]
    twice = sum(1 for n in shown.values() if n > 1)
    check("%s: every point delivered shown by the reader, each once (%d points, %d traces)"
          % (tag, want, len(bases)), len(shown) == want and twice == 0,
          "%d distinct shown, %d shown more than once, %d delivered"
          % (len(shown), twice, want))
    stored, distinct = engine.physical()
    check("%s: the store holds every delivered point" % tag, distinct == want,
          "%d distinct stored, %d delivered" % (distinct, want))
    print("# %s: %d physical copies of %d points: %d duplicate(s) in the store"
          % (tag, stored, distinct, stored - distinct), flush=True)
    if name == "redis":
        check("redis: no point pushed twice", stored == distinct,
              "%d stored, %d distinct" % (stored, distinct))

    # the same points published again (a publisher replaying its spool after a
    # crash, a client retrying): the copies go to whichever collector the
    # broker gives them, so two processes store the same point
    if hasattr(engine, "points"):  # its reader does not show whole payloads
        again = engine.points(REPLAY)
    before = sum((c.stats() or {}).get("collected", 0) for c in survivors)
    for i in range(0, len(again), 100):
        pub.send(frame("replay", [json.dumps(p).encode() for p in again[i:i + 100]]))
    check("%s: the %d points published again are collected" % (tag, len(again)),
          wait_for(lambda: sum((c.stats() or {}).get("collected", 0) for c in survivors) -
                   before >= len(again) and
                   queue_state(args, queue) == (0, 0, len(survivors)), 120, 0.5),
          str(queue_state(args, queue)))
    shown, bases, _ = reader_points(args, engine.url)
    twice = sum(1 for n in shown.values() if n > 1)
    check("%s: after they came again, the reader still shows each point once" % tag,
          len(shown) == want and twice == 0,
          "%d distinct shown, %d shown more than once, %d delivered"
          % (len(shown), twice, want))
    stored2, distinct2 = engine.physical()
    check("%s: the store still holds each point%s" % (tag, ", none pushed twice"
                                                       if name == "redis" else ""),
          distinct2 == want and (name != "redis" or stored2 == stored),
          "%d stored (%d before), %d distinct" % (stored2, stored, distinct2))
    print("# %s: after the replay: %d physical copies of %d points (%d more)"
          % (tag, stored2, distinct2, stored2 - stored), flush=True)
    per = {c.name: (c.stats() or {}).get("collected") for c in survivors}
    print("# %s: collected per running collector now: %s" % (tag, per), flush=True)
    busy = [c.name for c in cols if "store:" in c.text()]
    check("%s: no collector lost its store (busy, locked) meanwhile" % tag, not busy,
          "\n".join(c.text()[-1500:] for c in cols if c.name in busy))
    check("%s: the running collectors and the publisher exit 0 on SIGTERM" % tag,
          all(c.stop() == 0 for c in survivors) and pub.stop() == 0)
    engine.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--broker-sh", required=True)
    ap.add_argument("--store", action="append", choices=sorted(ENGINES))
    ap.add_argument("--pg-env", help="pg.sh's env file: adds the PostgreSQL store")
    ap.add_argument("--pg-sh")
    ap.add_argument("--mysql-env", help="mysql.sh's env file: adds the MariaDB store")
    ap.add_argument("--mysql-sh")
    args = ap.parse_args()
    PG.update(env=args.pg_env, sh=args.pg_sh)
    MYSQL.update(env=args.mysql_env, sh=args.mysql_sh)
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    args.port = int(env["OSP_BROKER_PORT"])
    args.url = "rabbit://guest:guest@127.0.0.1:%d/" % args.port
    names = args.store or sorted(ENGINES, reverse=True)
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            if not ENGINES[name][1]():
                print("# %s: cannot run here (no server or client): skipped" % name)
                continue
            d = os.path.join(work, name)
            os.mkdir(d)
            try:
                run(args, name, d)
            finally:
                stop_leftovers()
                # the broker is shared: no queue of ours, no points for ceilometer left
                amqp_do(args, lambda ch: ch.queue_delete("osprofiler-collectors-" + name))
                amqp_do(args, lambda ch: ch.queue_purge("profiler.info"))
    sys.exit(summary())


if __name__ == "__main__":
    main()
