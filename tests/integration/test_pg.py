#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.pg - the PostgreSQL store, Python osprofiler's sqlalchemy layout.

Against a private PostgreSQL (pg.sh, CTest fixture `pg`, one database per
part) and, for the collector, the private RabbitMQ (broker fixture):

  * layout: the `data` table the C writer creates is the one Python's
    sqlalchemy driver creates (columns, types, indexes);
  * a sidecar with no broker stores into PostgreSQL; `trace show --json`,
    `--dot` and `trace list` of the C CLI are byte for byte what Python's
    `osprofiler trace show|list --connection-string postgresql://...` prints
    from the same rows (a point sent twice changes neither);
  * a `--collect` sidecar stores what a publishing sidecar sent, the same;
    with the server stopped it stops consuming, says why in --stats, and
    stores the batch once the server is back;
  * what Python's own sqlalchemy driver stores (its profiler, nested spans,
    an exception, non-ASCII text) the C CLI reads as Python's CLI does, over
    TCP, a Unix socket and postgresql+psycopg2://; NaN reads as null;
  * a point too long for a varchar column is refused alone, counted, and the
    rest of its batch stored;
  * the server stopped while points arrive (a cluster of the test's own):
    nothing is lost, the log says why, the points wait and are stored once it
    is back;
  * the password is in no log line, --stats output, error or command line.

  test_pg.py --sidecar BIN --osprofiler BIN --broker-env FILE --pg-env FILE
             --pg-sh PATH --golden DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import test_sidecar as ts  # noqa: E402

from test_sidecar import SLOW, check, frame  # noqa: E402

import psycopg2  # noqa: E402
import psycopg2.extras  # noqa: E402
from pg_cluster import Pg, read_env  # noqa: E402
from sql_interop import (Collector, Direct, c_cli, golden_points, py_cli,  # noqa: E402
                         python_creates, python_writes, same_as_python)
from tap import wait_for  # noqa: E402

GOLDEN_BASE = "5e1c7a70-0000-4000-8000-000000000000"
SECOND_BASE = "5e1c7a71-0000-4000-8000-000000000000"
PY_BASE = "7a7a7a7a-0000-4000-8000-000000000000"
QUEUE = "osprofiler-collector-pg"  # its own: other tests keep theirs


SCHEMA_Q = ("SELECT column_name, data_type, character_maximum_length, is_nullable, "
            "column_default FROM information_schema.columns WHERE table_name = 'data' "
            "ORDER BY ordinal_position")
INDEX_Q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'data' ORDER BY 1"


def test_direct(args, pg, work):
    pg.create_db("direct")
    pg.create_db("pyschema")
    store = pg.url("direct")
    sc = Direct(args.sidecar, store, work)
    sc.send(frame("ctl-1", golden_points(args.golden)))
    check("direct: 9 points stored", wait_for(lambda: pg.rows("direct") == 9),
          "%d rows\n%s" % (pg.rows("direct"), sc.text()))
    st = sc.stats() or {}
    check("direct: stats count them as stored", st.get("stored") == 9, str(st))
    ok, err = python_creates(pg.url("pyschema"))
    check("direct: Python's driver creates its table", ok, err)
    ours, theirs = pg.sql("direct", SCHEMA_Q), pg.sql("pyschema", SCHEMA_Q)
    check("direct: the data table's columns are Python's (names, types, lengths)",
          ours and ours == theirs and len(ours) == 10, "%s\n%s" % (ours, theirs))
    ours, theirs = pg.sql("direct", INDEX_Q), pg.sql("pyschema", INDEX_Q)
    check("direct: its indexes are Python's", ours and ours == theirs and len(ours) == 9,
          "%s\n%s" % (ours, theirs))
    row = pg.sql("direct", "SELECT host, project, service, name, data::text FROM data "
                 "WHERE name = 'wsgi-start'")
    data = json.loads(json.loads(row[0][4])) if row else None
    check("direct: a row is what Python's driver writes: columns popped, data a JSON "
          "string of the rest",
          row and row[0][:4] == ("ctl-1", "nova", "api", "wsgi-start") and
          list(data) == ["info"] and data["info"]["host"] == "ctl-1", str(row))
    same_as_python(args, store, GOLDEN_BASE, "direct")
    # the same points again (a client retrying): rows twice, the reports unchanged
    sc.send(frame("ctl-1", golden_points(args.golden)))
    check("direct: a point sent twice is stored twice (no unique index)",
          wait_for(lambda: pg.rows("direct") == 18), str(pg.rows("direct")))
    same_as_python(args, store, GOLDEN_BASE, "direct, points sent twice")
    # one point too long for varchar(255): refused alone, its batch stored
    pts = [p.replace(b"5e1c7a70", b"5e1c7a72") for p in golden_points(args.golden)]
    long_name = ("x" * 300 + "-start").encode()
    bad = json.loads(pts[0])
    bad["name"] = long_name.decode()
    bad["trace_id"] = "00000099-0000-4000-8000-000000000099"
    sc.send(frame("ctl-1", pts[:4] + [json.dumps(bad).encode()] + pts[4:]))
    base3 = GOLDEN_BASE.replace("5e1c7a70", "5e1c7a72")
    check("direct: a name longer than varchar(255): the other 9 points stored",
          wait_for(lambda: pg.rows("direct", base3) == 9), str(pg.rows("direct", base3)))
    st = wait_for(lambda: (lambda s: s if s and s["dropped"]["store"] == 1 else None)(
        sc.stats()))
    check("direct: the refused point is counted as dropped by the store, the log says why",
          st is not None and "varchar(255)" in sc.text(), str(sc.stats()) + sc.text())
    missing = "11111111-2222-4333-8444-555555555555"
    r = c_cli(args, store, "show", "--json", missing)
    check("direct: not found: exit 1, names the store (no password) and the count",
          r.returncode == 1 and pg.url("direct").replace(":" + pg.password(), "") in r.stderr
          and "2 traces" in r.stderr, r.stderr)
    r = c_cli(args, store, "list", "--error-trace", "1")
    check("direct: --error-trace: a clear error (the layout has no error index)",
          r.returncode != 0 and "error index" in r.stderr, r.stdout + r.stderr)
    check("direct: exit 0 on SIGTERM", sc.stop() == 0)
    return sc


def test_collector(args, pg, broker_url, work):
    pg.create_db("collected")
    store = pg.url("collected")
    port = int(read_env(args.broker_env)["OSP_BROKER_PORT"])
    ts.purge(port)
    ts.purge(port, QUEUE)
    col = Collector(args.sidecar, broker_url, store, work, QUEUE)
    pubdir = os.path.join(work, "pub")
    os.mkdir(pubdir)
    pub = ts.Sidecar(args.sidecar, broker_url, pubdir)
    pub.send(frame("ctl-1", golden_points(args.golden)))
    check("collect: 9 points collected into PostgreSQL",
          wait_for(lambda: pg.rows("collected") == 9), col.text())
    same_as_python(args, store, GOLDEN_BASE, "collect")
    st = col.stats() or {}
    check("collect: stats count them", st.get("collected") == 9, str(st))
    # the server goes away: the collector stops consuming and says why; the
    # batch it could not store is redelivered once it is back
    check("collect: the server stops", pg.ctl("stop").returncode == 0)
    second = [p.replace(b"5e1c7a70", b"5e1c7a71") for p in golden_points(args.golden)]
    pub.send(frame("ctl-1", second))
    st = wait_for(lambda: (lambda c: c if c and not c["consuming"] else None)(
        (col.stats() or {}).get("collector")))
    check("collect: server down: not consuming, --stats names the store, not the password",
          st is not None and "postgresql://osp@127.0.0.1" in (st.get("reason") or "") and
          pg.password() not in str(st), str(st) + col.text()[-1500:])
    check("collect: the server starts again", pg.ctl("again").returncode == 0)
    check("collect: all 9 points of the second trace stored once it is back",
          wait_for(lambda: pg.rows("collected", SECOND_BASE) >= 9),
          "%d\n%s" % (pg.rows("collected", SECOND_BASE), col.text()[-1500:]))
    check("collect: consuming again",
          wait_for(lambda: ((col.stats() or {}).get("collector") or {}).get("consuming")))
    same_as_python(args, store, SECOND_BASE, "collect, after the outage", formats=("--json",))
    check("collect: exit 0 on SIGTERM", col.stop() == 0 and pub.stop() == 0)
    ts.purge(port)
    return col, pub


def test_python_writes(args, pg):
    pg.create_db("pywrite")
    r = python_writes(pg.url("pywrite"), PY_BASE)
    check("python: its sqlalchemy driver stored 6 rows",
          r.returncode == 0 and pg.rows("pywrite") == 6, r.stderr[-800:])
    same_as_python(args, pg.url("pywrite"), PY_BASE, "python")
    c = c_cli(args, pg.socket_url("pywrite"), "show", "--json", PY_BASE)
    p = py_cli(pg.url("pywrite"), "show", "--json", PY_BASE)
    check("python: read over the Unix socket (?host=DIR), the same report",
          c.returncode == 0 and c.stdout == p.stdout, c.stderr)
    c = c_cli(args, pg.url("pywrite", "postgresql+psycopg2"), "show", "--json", PY_BASE)
    check("python: postgresql+psycopg2:// is the same store",
          c.returncode == 0 and c.stdout == p.stdout, c.stderr)
    rep = json.loads(c.stdout) if c.returncode == 0 else {}
    rpc = [n for n in rep.get("children", [{}])[0].get("children", [])
           if n["info"]["name"] == "rpc"]
    check("python: the exception and the host column are in the report",
          rpc and rpc[0]["info"]["exception"] == "ValueError" and
          rpc[0]["info"]["host"] == "py-host", c.stdout[:500])
    # a big trace: 6000 rows of varied sizes in the driver's format (bulk, for
    # time), where small rows fill gaps of earlier pages: the physical order
    # Python reads is not the order of ids, and ties in "started" keep it
    big = PY_BASE.replace("7a7a7a7a", "7a7a7a7c")
    rows = []
    for i in range(3000):
        tid = "00000000-0000-4000-8000-%012d" % i
        for j, n in enumerate(("db-start", "db-stop")):
            us = i * 10 + j * 5
            info = ({"db": {"statement": "SELECT %s" % ("x" * (i % 97)), "params": {}},
                     "host": "h"} if j == 0 else {"host": "h"})
            rows.append(("2024-01-01T10:00:%02d.%06d" % (us // 1000000, us % 1000000), big,
                         big, tid, "p", "h", "s", n, json.dumps(json.dumps({"info": info}))))
    c = pg.connect("pywrite")
    with c.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, "INSERT INTO data (timestamp, base_id, parent_id, trace_id, project, host, "
            "service, name, data) VALUES %s", rows,
            template="(%s, %s, %s, %s, %s, %s, %s, %s, %s::json)")
    c.close()
    moved = pg.sql("pywrite", "SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY ctid) "
                   "AS prev FROM data WHERE base_id = %s) f WHERE id < prev", big)
    check("python: a big trace whose physical order is not the order of ids",
          moved and moved[0][0] > 0, str(moved))
    same_as_python(args, pg.url("pywrite"), big, "python, 6000 rows", formats=("--json",))
    # NaN: Python writes it inside data; we read it as null (the policy)
    nan_base = PY_BASE.replace("7a7a7a7a", "7a7a7a7b")
    r = python_writes(pg.url("pywrite"), nan_base, nan=True)
    c = c_cli(args, pg.url("pywrite"), "show", "--json", nan_base)
    check("python: NaN Python stored reads as null, strict JSON",
          r.returncode == 0 and c.returncode == 0 and '"x": null' in c.stdout and
          "NaN" not in c.stdout, c.stdout[-400:] + c.stderr)


def test_outage(args, work):
    """A cluster of this test's own, stopped while points arrive."""
    # its parents must be searchable by the postgres user (pg.sh)
    own = os.path.join(tempfile.mkdtemp(prefix="osp-pg-own."), "c")
    os.chmod(os.path.dirname(own), 0o755)
    r = subprocess.run([args.pg_sh, "start", own], capture_output=True, text=True,
                       timeout=120 * SLOW)
    if not check("outage: a private cluster starts", r.returncode == 0, r.stderr):
        return
    pg = Pg(args.pg_sh, os.path.join(own, "env"))
    try:
        store = pg.url("osprofiler")
        sc = Direct(args.sidecar, store, work, name="outage",
                    extra="rabbit_retry_interval = 0.2\nrabbit_retry_backoff = 2.0\n"
                    "rabbit_interval_max = 1.0\n")
        sc.send(frame("ctl-1", golden_points(args.golden)))
        check("outage: 9 points stored", wait_for(lambda: pg.rows("osprofiler") == 9),
              sc.text())
        check("outage: the server stops", pg.ctl("stop").returncode == 0)
        second = [p.replace(b"5e1c7a70", b"5e1c7a71") for p in golden_points(args.golden)]
        for i in range(0, 9, 3):  # several batches while it is down
            sc.send(frame("ctl-1", second[i:i + 3]))
            time.sleep(0.3)
        check("outage: the log says why, naming the store without its password",
              wait_for(lambda: "retrying" in sc.text() and "cannot connect" in sc.text()),
              sc.text())
        st = sc.stats() or {}
        check("outage: nothing dropped, the points wait (--stats: queued)",
              st.get("dropped", {}).get("store") == 0 and st.get("queued", 0) > 0 and
              st.get("stored") == 9, str(st))
        time.sleep(1.0 * SLOW)
        check("outage: the server starts again", pg.ctl("again").returncode == 0)
        check("outage: all 9 points of the second trace stored once it is back",
              wait_for(lambda: pg.rows("osprofiler", SECOND_BASE) == 9),
              "%d\n%s" % (pg.rows("osprofiler", SECOND_BASE), sc.text()))
        st = sc.stats() or {}
        check("outage: stats: 18 stored, nothing queued or dropped",
              st.get("stored") == 18 and st.get("queued") == 0 and
              not any(st.get("dropped", {}).values()), str(st))
        # killed outright: its orphaned backend may still commit what we send
        # (PostgreSQL's behaviour), or we retry; either way nothing is lost
        check("outage: SIGKILL of the server", pg.ctl("kill9").returncode == 0)
        third = [p.replace(b"5e1c7a70", b"5e1c7a73") for p in golden_points(args.golden)]
        sc.send(frame("ctl-1", third))
        time.sleep(0.5 * SLOW)
        check("outage: the killed server starts again", pg.ctl("again").returncode == 0)
        base3 = GOLDEN_BASE.replace("5e1c7a70", "5e1c7a73")
        check("outage: the third trace stored once it is back, once",
              wait_for(lambda: pg.rows("osprofiler", base3) == 9),
              "%d\n%s" % (pg.rows("osprofiler", base3), sc.text()))
        st = sc.stats() or {}
        check("outage: stats: 27 stored, nothing dropped", st.get("stored") == 27 and
              not any(st.get("dropped", {}).values()), str(st))
        check("outage: exit 0 on SIGTERM", sc.stop() == 0)
        check("outage: the password is in no log line", pg.password() not in sc.text())
    finally:
        pg.ctl("destroy")
        subprocess.run(["rm", "-rf", os.path.dirname(own)])


def test_secrets(args, pg, logs):
    pw = pg.password()
    for name, sc in logs:
        check("secrets: the password is in no log line of %s" % name, pw not in sc.text())
    # --stats of a sidecar storing into PostgreSQL
    sc = Direct(args.sidecar, pg.url("direct"), os.path.dirname(logs[0][1].conf),
                name="secrets")
    out = subprocess.run([args.sidecar, "--config", sc.conf, "--stats"], capture_output=True,
                         text=True, timeout=10 * SLOW)
    check("secrets: --stats works and holds no password",
          out.returncode == 0 and pw not in out.stdout + out.stderr, out.stdout + out.stderr)
    cmdline = open("/proc/%d/cmdline" % sc.proc.pid, "rb").read()
    check("secrets: the sidecar's command line holds no password",
          pw.encode() not in cmdline, cmdline)
    check("secrets: exit 0 on SIGTERM", sc.stop() == 0 and pw not in sc.text())
    wrong = pg.url("direct").replace(pw, "Wr0ngPassw0rd-xyz")
    r = c_cli(args, wrong, "list")
    check("secrets: a wrong password: the error names the store, not the password",
          r.returncode != 0 and "password authentication failed" in r.stderr and
          "Wr0ngPassw0rd" not in r.stderr and "osp@127.0.0.1" in r.stderr, r.stderr)
    r = c_cli(args, "postgresql://osp:Sec%%ret@[::1/x?sslmode=require", "list")
    check("secrets: an unparsable URL: a clear error without the password",
          r.returncode != 0 and "not a valid connection string" in r.stderr and
          "Sec" not in r.stderr, r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--pg-env", required=True)
    ap.add_argument("--pg-sh", required=True)
    ap.add_argument("--golden", required=True)
    args = ap.parse_args()
    pg = Pg(args.pg_sh, args.pg_env)
    broker_url = "rabbit://guest:guest@127.0.0.1:%s/" % read_env(
        args.broker_env)["OSP_BROKER_PORT"]
    with tempfile.TemporaryDirectory() as work:
        try:
            direct = test_direct(args, pg, work)
            col, pub = test_collector(args, pg, broker_url, work)
            test_python_writes(args, pg)
            test_outage(args, work)
            test_secrets(args, pg, [("direct", direct), ("collector", col),
                                    ("publisher", pub)])
        finally:
            ts.stop_leftovers()
    sys.exit(ts.summary())


if __name__ == "__main__":
    main()
