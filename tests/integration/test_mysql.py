#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.mysql - the MariaDB store, Python osprofiler's sqlalchemy layout.

Against a private MariaDB (mysql.sh, CTest fixture `mysql`, one database per
part) and, for the collector, the private RabbitMQ (broker fixture):

  * layout: the `data` table the C writer creates is the one Python's
    sqlalchemy driver creates on MariaDB (columns, types, check, indexes,
    character set);
  * a sidecar with no broker stores into MariaDB; `trace show --json`,
    `--dot` and `trace list` of the C CLI are byte for byte what Python's
    `osprofiler trace show|list --connection-string mysql+pymysql://...`
    prints from the same rows (a point sent twice changes neither; text
    beyond the BMP and quotes and backslashes round-trip);
  * a `--collect` sidecar stores what a publishing sidecar sent, the same;
    with the server stopped it stops consuming, says why in --stats, and
    stores the batch once the server is back;
  * what Python's own sqlalchemy driver stores the C CLI reads as Python's
    CLI does, over TCP, the Unix socket (?unix_socket=) and all three
    schemes; rows inserted out of id order come in id order (InnoDB's, as
    Python's SELECT without ORDER BY gets them); NaN reads as null;
  * a point too long for a varchar column is refused alone, counted, and the
    rest of its batch stored;
  * the server stopped, then killed, while points arrive (a server of the
    test's own): nothing is lost, the log says why, the points wait and are
    stored once it is back;
  * the password is in no log line, --stats output, error or command line.

  test_mysql.py --sidecar BIN --osprofiler BIN --broker-env FILE --mysql-env FILE
                --mysql-sh PATH --golden DIR
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

from mysql_server import My, read_env  # noqa: E402
from sql_interop import (Collector, Direct, c_cli, golden_points, py_cli,  # noqa: E402
                         python_creates, python_writes, same_as_python)
from tap import wait_for  # noqa: E402

GOLDEN_BASE = "5e1c7a70-0000-4000-8000-000000000000"
SECOND_BASE = "5e1c7a71-0000-4000-8000-000000000000"
PY_BASE = "7a7a7a7a-0000-4000-8000-000000000000"
QUEUE = "osprofiler-collector-mysql"  # its own: other tests keep theirs

COLUMNS_Q = ("SELECT column_name, column_type, is_nullable, column_default, extra, "
             "character_set_name, collation_name FROM information_schema.columns WHERE "
             "table_schema = DATABASE() AND table_name = 'data' ORDER BY ordinal_position")
INDEX_Q = ("SELECT index_name, column_name, non_unique FROM information_schema.statistics "
           "WHERE table_schema = DATABASE() AND table_name = 'data' ORDER BY 1, 2")
TABLE_Q = ("SELECT engine, table_collation FROM information_schema.tables "
           "WHERE table_schema = DATABASE() AND table_name = 'data'")
CHECK_Q = ("SELECT check_clause FROM information_schema.check_constraints "
           "WHERE constraint_schema = DATABASE() AND table_name = 'data'")


def test_direct(args, my, work):
    my.create_db("direct")
    my.create_db("pyschema")
    store = my.url("direct")
    sc = Direct(args.sidecar, store, work)
    sc.send(frame("ctl-1", golden_points(args.golden)))
    check("direct: 9 points stored", wait_for(lambda: my.rows("direct") == 9),
          "%d rows\n%s" % (my.rows("direct"), sc.text()))
    st = sc.stats() or {}
    check("direct: stats count them as stored", st.get("stored") == 9, str(st))
    ok, err = python_creates(my.url("pyschema"))
    check("direct: Python's driver creates its table", ok, err)
    for what, q, n in (("columns (names, types, defaults, character sets)", COLUMNS_Q, 10),
                       ("indexes", INDEX_Q, 9), ("engine and collation", TABLE_Q, 1),
                       ("JSON check", CHECK_Q, 1)):
        ours, theirs = my.sql("direct", q), my.sql("pyschema", q)
        check("direct: the data table's %s are Python's" % what,
              ours and ours == theirs and len(ours) == n, "%s\n%s" % (ours, theirs))
    row = my.sql("direct", "SELECT host, project, service, name, data FROM data "
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
          wait_for(lambda: my.rows("direct") == 18), str(my.rows("direct")))
    same_as_python(args, store, GOLDEN_BASE, "direct, points sent twice")
    # text SQL must escape, and characters beyond the BMP (utf8mb4)
    odd = [json.loads(p) for p in golden_points(args.golden)]
    odd_base = GOLDEN_BASE.replace("5e1c7a70", "5e1c7a74")
    for p in odd:
        for k in ("base_id", "parent_id", "trace_id"):
            p[k] = p[k].replace("5e1c7a70", "5e1c7a74")
        p["info"]["note"] = "it's \"quoted\" \\ back\\slash \u00e9 \U0001F600 \x1a\n"
    odd[0]["name"] = "wsgi\U0001F600'\\-start"
    odd[1]["project"] = "pro'ject\\"
    sc.send(frame("ctl-1", [json.dumps(p).encode() for p in odd]))
    check("direct: quotes, backslashes, control and 4-byte characters stored",
          wait_for(lambda: my.rows("direct", odd_base) == 9), sc.text()[-1000:])
    r = my.sql("direct", "SELECT name FROM data WHERE base_id = %s ORDER BY id LIMIT 1",
               odd_base)
    check("direct: ... and read back as sent", r and r[0][0] == odd[0]["name"], str(r))
    same_as_python(args, store, odd_base, "direct, odd text", formats=("--json",))
    # one point too long for varchar(255): refused alone, its batch stored
    pts = [p.replace(b"5e1c7a70", b"5e1c7a72") for p in golden_points(args.golden)]
    bad = json.loads(pts[0])
    bad["name"] = "x" * 300 + "-start"
    bad["trace_id"] = "00000099-0000-4000-8000-000000000099"
    sc.send(frame("ctl-1", pts[:4] + [json.dumps(bad).encode()] + pts[4:]))
    base3 = GOLDEN_BASE.replace("5e1c7a70", "5e1c7a72")
    check("direct: a name longer than varchar(255): the other 9 points stored",
          wait_for(lambda: my.rows("direct", base3) == 9), str(my.rows("direct", base3)))
    st = wait_for(lambda: (lambda s: s if s and s["dropped"]["store"] == 1 else None)(
        sc.stats()))
    check("direct: the refused point is counted as dropped by the store, the log says why",
          st is not None and "varchar(255)" in sc.text(), str(sc.stats()) + sc.text())
    missing = "11111111-2222-4333-8444-555555555555"
    r = c_cli(args, store, "show", "--json", missing)
    check("direct: not found: exit 1, names the store (no password) and the count",
          r.returncode == 1 and my.url("direct").replace(":" + my.password(), "") in r.stderr
          and "3 traces" in r.stderr, r.stderr)
    r = c_cli(args, store, "list", "--error-trace", "1")
    check("direct: --error-trace: a clear error (the layout has no error index)",
          r.returncode != 0 and "error index" in r.stderr, r.stdout + r.stderr)
    check("direct: exit 0 on SIGTERM", sc.stop() == 0)
    return sc


def test_collector(args, my, broker_url, work):
    my.create_db("collected")
    store = my.url("collected")
    port = int(read_env(args.broker_env)["OSP_BROKER_PORT"])
    ts.purge(port)
    ts.purge(port, QUEUE)
    col = Collector(args.sidecar, broker_url, store, work, QUEUE)
    pubdir = os.path.join(work, "pub")
    os.mkdir(pubdir)
    pub = ts.Sidecar(args.sidecar, broker_url, pubdir)
    pub.send(frame("ctl-1", golden_points(args.golden)))
    check("collect: 9 points collected into MariaDB",
          wait_for(lambda: my.rows("collected") == 9), col.text())
    same_as_python(args, store, GOLDEN_BASE, "collect")
    st = col.stats() or {}
    check("collect: stats count them", st.get("collected") == 9, str(st))
    # the server goes away: the collector stops consuming and says why; the
    # batch it could not store is redelivered once it is back
    check("collect: the server stops", my.ctl("stop").returncode == 0)
    second = [p.replace(b"5e1c7a70", b"5e1c7a71") for p in golden_points(args.golden)]
    pub.send(frame("ctl-1", second))
    st = wait_for(lambda: (lambda c: c if c and not c["consuming"] else None)(
        (col.stats() or {}).get("collector")))
    check("collect: server down: not consuming, --stats names the store, not the password",
          st is not None and "mysql+pymysql://osp@127.0.0.1" in (st.get("reason") or "")
          and my.password() not in str(st), str(st) + col.text()[-1500:])
    check("collect: the server starts again", my.ctl("again").returncode == 0)
    check("collect: all 9 points of the second trace stored once it is back",
          wait_for(lambda: my.rows("collected", SECOND_BASE) >= 9),
          "%d\n%s" % (my.rows("collected", SECOND_BASE), col.text()[-1500:]))
    check("collect: consuming again",
          wait_for(lambda: ((col.stats() or {}).get("collector") or {}).get("consuming")))
    same_as_python(args, store, SECOND_BASE, "collect, after the outage", formats=("--json",))
    check("collect: exit 0 on SIGTERM", col.stop() == 0 and pub.stop() == 0)
    ts.purge(port)
    return col, pub


def test_python_writes(args, my):
    my.create_db("pywrite")
    r = python_writes(my.url("pywrite"), PY_BASE)
    check("python: its sqlalchemy driver stored 6 rows",
          r.returncode == 0 and my.rows("pywrite") == 6, r.stderr[-800:])
    same_as_python(args, my.url("pywrite"), PY_BASE, "python")
    p = py_cli(my.url("pywrite"), "show", "--json", PY_BASE)
    pys = py_cli(my.socket_url("pywrite"), "show", "--json", PY_BASE)
    check("python: its CLI over the Unix socket gives the same report",
          p.returncode == 0 and pys.stdout == p.stdout, pys.stderr[-500:])
    for scheme in ("mysql+pymysql", "mysql", "mysql+mysqldb"):
        c = c_cli(args, my.socket_url("pywrite", scheme), "show", "--json", PY_BASE)
        check("python: read over the Unix socket (%s://...?unix_socket=), the same report"
              % scheme, c.returncode == 0 and c.stdout == p.stdout, c.stderr)
    c = c_cli(args, my.url("pywrite", "mysql"), "show", "--json", PY_BASE)
    check("python: mysql:// over TCP is the same store",
          c.returncode == 0 and c.stdout == p.stdout, c.stderr)
    rep = json.loads(c.stdout) if c.returncode == 0 else {}
    rpc = [n for n in rep.get("children", [{}])[0].get("children", [])
           if n["info"]["name"] == "rpc"]
    check("python: the exception and the host column are in the report",
          rpc and rpc[0]["info"]["exception"] == "ValueError" and
          rpc[0]["info"]["host"] == "py-host", c.stdout[:500])
    # a big trace, its rows inserted out of id order (explicit ids, later
    # ones first, other traces between), equal timestamps: InnoDB gives
    # Python's SELECT primary-key order, ties in "started" keep it
    big = PY_BASE.replace("7a7a7a7a", "7a7a7a7c")
    other = PY_BASE.replace("7a7a7a7a", "7a7a7a7d")
    rows = []
    for i in range(3000):
        tid = "00000000-0000-4000-8000-%012d" % i
        for j, n in enumerate(("db-start", "db-stop")):
            us = (i // 3) * 10 + j * 5
            info = ({"db": {"statement": "SELECT %s" % ("x" * (i % 97)), "params": {}},
                     "host": "h"} if j == 0 else {"host": "h"})
            rid = 100000 + ((i * 7919) % 3000) * 4 + j * 2  # a permutation of the ids
            rows.append((rid, "2024-01-01T10:00:%02d.%06d" % (us // 1000000, us % 1000000),
                         big, big, tid, "p", "h", "s", n,
                         json.dumps(json.dumps({"info": info}))))
            rows.append((rid + 1, "2024-01-01T09:00:00.000000", other, other, tid, "p", "h",
                         "s", n, json.dumps(json.dumps({"info": {"host": "h"}}))))
    c = my.connect("pywrite")
    with c.cursor() as cur:
        cur.executemany("INSERT INTO data (id, timestamp, base_id, parent_id, trace_id, "
                        "project, host, service, name, data) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    c.close()
    moved = my.sql("pywrite", "SELECT count(*) FROM data WHERE base_id = %s", big)
    check("python: a big trace inserted out of id order", moved and moved[0][0] == 6000,
          str(moved))
    same_as_python(args, my.url("pywrite"), big, "python, 6000 rows", formats=("--json",))
    # NaN: Python writes it inside data; we read it as null (the policy)
    nan_base = PY_BASE.replace("7a7a7a7a", "7a7a7a7b")
    r = python_writes(my.url("pywrite"), nan_base, nan=True)
    c = c_cli(args, my.url("pywrite"), "show", "--json", nan_base)
    check("python: NaN Python stored reads as null, strict JSON",
          r.returncode == 0 and c.returncode == 0 and '"x": null' in c.stdout and
          "NaN" not in c.stdout, c.stdout[-400:] + c.stderr)


def test_outage(args, work):
    """A server of this test's own, stopped and killed while points arrive."""
    # its parents must be searchable by the mysql user (mysql.sh)
    own = os.path.join(tempfile.mkdtemp(prefix="osp-my-own."), "s")
    os.chmod(os.path.dirname(own), 0o755)
    r = subprocess.run([args.mysql_sh, "start", own], capture_output=True, text=True,
                       timeout=120 * SLOW)
    if not check("outage: a private server starts", r.returncode == 0, r.stderr):
        return
    my = My(args.mysql_sh, os.path.join(own, "env"))
    try:
        store = my.url("osprofiler")
        sc = Direct(args.sidecar, store, work, name="outage",
                    extra="rabbit_retry_interval = 0.2\nrabbit_retry_backoff = 2.0\n"
                    "rabbit_interval_max = 1.0\n")
        sc.send(frame("ctl-1", golden_points(args.golden)))
        check("outage: 9 points stored", wait_for(lambda: my.rows("osprofiler") == 9),
              sc.text())
        check("outage: the server stops", my.ctl("stop").returncode == 0)
        second = [p.replace(b"5e1c7a70", b"5e1c7a71") for p in golden_points(args.golden)]
        for i in range(0, 9, 3):  # several batches while it is down
            sc.send(frame("ctl-1", second[i:i + 3]))
            time.sleep(0.3)
        check("outage: the log says why, naming the store without its password",
              wait_for(lambda: "retrying" in sc.text() and "mysql+pymysql://osp@127.0.0.1"
                       in sc.text()), sc.text())
        st = sc.stats() or {}
        check("outage: nothing dropped, the points wait (--stats: queued)",
              st.get("dropped", {}).get("store") == 0 and st.get("queued", 0) > 0 and
              st.get("stored") == 9, str(st))
        time.sleep(1.0 * SLOW)
        check("outage: the server starts again", my.ctl("again").returncode == 0)
        check("outage: all 9 points of the second trace stored once it is back",
              wait_for(lambda: my.rows("osprofiler", SECOND_BASE) == 9),
              "%d\n%s" % (my.rows("osprofiler", SECOND_BASE), sc.text()))
        st = sc.stats() or {}
        check("outage: stats: 18 stored, nothing queued or dropped",
              st.get("stored") == 18 and st.get("queued") == 0 and
              not any(st.get("dropped", {}).values()), str(st))
        check("outage: SIGKILL of the server", my.ctl("kill9").returncode == 0)
        third = [p.replace(b"5e1c7a70", b"5e1c7a73") for p in golden_points(args.golden)]
        sc.send(frame("ctl-1", third))
        time.sleep(0.5 * SLOW)
        check("outage: the killed server starts again (crash recovery)",
              my.ctl("again").returncode == 0)
        base3 = GOLDEN_BASE.replace("5e1c7a70", "5e1c7a73")
        check("outage: the third trace stored once it is back, once",
              wait_for(lambda: my.rows("osprofiler", base3) == 9),
              "%d\n%s" % (my.rows("osprofiler", base3), sc.text()))
        st = sc.stats() or {}
        check("outage: stats: 27 stored, nothing dropped", st.get("stored") == 27 and
              not any(st.get("dropped", {}).values()), str(st))
        check("outage: exit 0 on SIGTERM", sc.stop() == 0)
        check("outage: the password is in no log line", my.password() not in sc.text())
    finally:
        my.ctl("destroy")
        subprocess.run(["rm", "-rf", os.path.dirname(own)])


def test_secrets(args, my, logs):
    pw = my.password()
    for name, sc in logs:
        check("secrets: the password is in no log line of %s" % name, pw not in sc.text())
    sc = Direct(args.sidecar, my.url("direct"), os.path.dirname(logs[0][1].conf),
                name="secrets")
    out = subprocess.run([args.sidecar, "--config", sc.conf, "--stats"], capture_output=True,
                         text=True, timeout=10 * SLOW)
    check("secrets: --stats works and holds no password",
          out.returncode == 0 and pw not in out.stdout + out.stderr, out.stdout + out.stderr)
    cmdline = open("/proc/%d/cmdline" % sc.proc.pid, "rb").read()
    check("secrets: the sidecar's command line holds no password",
          pw.encode() not in cmdline, cmdline)
    check("secrets: exit 0 on SIGTERM", sc.stop() == 0 and pw not in sc.text())
    wrong = my.url("direct").replace(pw, "Wr0ngPassw0rd-xyz")
    r = c_cli(args, wrong, "list")
    check("secrets: a wrong password: the error names the store, not the password",
          r.returncode != 0 and "Access denied" in r.stderr and
          "Wr0ngPassw0rd" not in r.stderr and "osp@127.0.0.1" in r.stderr, r.stderr)
    r = c_cli(args, "mysql+pymysql://osp:Sec%%ret@127.0.0.1/x", "list")
    check("secrets: a bad %-escape in the password: a clear error without the password",
          r.returncode != 0 and "not a valid connection string" in r.stderr and
          "Sec" not in r.stderr, r.stderr)
    r = c_cli(args, my.url("direct") + "?ssl_ca=/x", "list")
    check("secrets: an unsupported parameter is refused by name, no password",
          r.returncode != 0 and "ssl_ca" in r.stderr and pw not in r.stderr, r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--mysql-env", required=True)
    ap.add_argument("--mysql-sh", required=True)
    ap.add_argument("--golden", required=True)
    args = ap.parse_args()
    my = My(args.mysql_sh, args.mysql_env)
    broker_url = "rabbit://guest:guest@127.0.0.1:%s/" % read_env(
        args.broker_env)["OSP_BROKER_PORT"]
    with tempfile.TemporaryDirectory() as work:
        try:
            direct = test_direct(args, my, work)
            col, pub = test_collector(args, my, broker_url, work)
            test_python_writes(args, my)
            test_outage(args, work)
            test_secrets(args, my, [("direct", direct), ("collector", col),
                                    ("publisher", pub)])
        finally:
            ts.stop_leftovers()
    sys.exit(ts.summary())


if __name__ == "__main__":
    main()
