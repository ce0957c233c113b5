#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.collector_nonfinite - NaN, Infinity and -Infinity in payloads,
and points a store refuses, through the real sidecar, the private RabbitMQ
(broker fixture), Python's oslo.messaging and a private redis-server:

  * the policy (docs/design.md, "Non-finite numbers"): Python's json.dumps
    writes NaN and the infinities; they are accepted and become null, so
    every output is strict JSON. Store mode (SQLite): stored, none dropped
    as invalid, SQLite's JSON functions read the rows, `trace show --json`
    and `--html` are strict JSON. Broker mode: the published body is strict
    JSON. The collector fed by Python osprofiler's messaging driver (which
    writes NaN into the body): collected, none counted invalid, read back
    with null;
  * the SQLite files the sidecar and the collector create (with -wal and
    -shm) are 0600 (store.sqlite_api checks it under umask 0);
  * Redis store mode with a key of the wrong type planted for one trace: that
    trace's points are dropped, counted (dropped.store, not delivered) and
    logged once; the points before and after it, and other traces, are
    stored.

  test_collector_nonfinite.py --sidecar BIN --osprofiler BIN --broker-env FILE
                              --broker-sh FILE --golden DIR
"""
import argparse
import json
import os
import re
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_collector as tc  # noqa: E402  (Direct, Collector, cli, python_publish)
import test_collector_store as tcs  # noqa: E402  (Redis, free_port, wait_for)
import test_sidecar as ts  # noqa: E402

from test_sidecar import check, frame  # noqa: E402

BASE = "6e000000-0000-4000-8000-000000000000"
QUEUE = "osprofiler-collector"  # tc.Collector's


def strict(text):
    """json.loads that refuses NaN and the infinities, as JSON.parse does."""
    def refuse(name):
        raise ValueError("non-finite number " + name)
    return json.loads(text, parse_constant=refuse)


def points(base, extra_info):
    """A start/stop pair of one trace; the start's info carries extra_info
    (JSON text, as Python's json.dumps writes it)."""
    tid = base[:-1] + "1"
    head = ('{"name": "%%s", "base_id": "%s", "trace_id": "%s", "parent_id": "%s", '
            '"timestamp": "2024-05-05T10:00:00.%%s", "info": {"host": "h"%%s}, '
            '"project": "p", "service": "svc"}' % (base, tid, base))
    return [(head % ("db-start", "000000", ", " + extra_info)).encode(),
            (head % ("db-stop", "004000", "")).encode()]


NAN_INFO = '"db": {"params": {"ratio": NaN, "hi": Infinity, "lo": -Infinity, "s": "NaN"}}'


def html_report_json(path):
    html = open(path, encoding="utf-8").read()
    start = html.index('<script type="application/json" id="osp-report">')
    start = html.index(">", start) + 1
    return html[start:html.index("</script>", start)]


def params_of(report):
    """info.db.params of the db-start raw payload in a `--json` report."""
    node = report["children"][0]
    return node["info"]["meta.raw_payload.db-start"]["info"]["db"]["params"]


def test_store_mode(args, work):
    db = os.path.join(work, "traces.db")
    store = "sqlite:///" + db
    sc = tc.Direct(args.sidecar, store, work)
    sc.send(frame("ctl-1", points(BASE, NAN_INFO)))
    check("store mode: both points stored", tc.wait_rows(db, 2) == 2, sc.text())
    st = sc.stats()
    check("store mode: counted stored, none dropped as invalid",
          st and st["stored"] == 2 and st["dropped"]["invalid"] == 0, str(st))
    try:
        with sqlite3.connect(db) as c:
            got = c.execute("SELECT json_extract(data, '$.info.db.params.ratio') IS NULL, "
                            "json_extract(data, '$.info.db.params.s') FROM data "
                            "WHERE name = 'db-start'").fetchall()
    except sqlite3.Error as e:  # "malformed JSON": the view refused the row
        got = repr(e)
    check("store mode: SQLite's JSON functions read the row, NaN is null",
          got == [(1, "NaN")], got)
    r = tc.cli(args, "show", "--connection-string", store, "--json", BASE)
    try:
        params = params_of(strict(r.stdout))
    except (ValueError, KeyError, IndexError) as e:
        params = repr(e)
    check("store mode: trace show --json is strict JSON, NaN and infinities null",
          params == {"ratio": None, "hi": None, "lo": None, "s": "NaN"},
          str(params) + r.stderr)
    page = os.path.join(work, "r.html")
    r = tc.cli(args, "show", "--connection-string", store, "--html", "--out", page, BASE)
    try:
        params = params_of(strict(html_report_json(page)))
    except (ValueError, KeyError, IndexError, OSError) as e:
        params = repr(e)
    check("store mode: the HTML report's JSON is strict (JSON.parse reads it)",
          r.returncode == 0 and isinstance(params, dict) and "ratio" in params
          and params["ratio"] is None, str(params) + r.stderr)
    modes = {n: oct(os.stat(db + n).st_mode & 0o777) for n in ("", "-wal", "-shm")
             if os.path.exists(db + n)}
    check("store mode: traces.db, -wal and -shm are 0600 (payloads hold SQL)",
          modes == {"": "0o600", "-wal": "0o600", "-shm": "0o600"}, str(modes))
    check("store mode: exit 0", sc.stop() == 0)


def test_broker_mode(args, port, url, work):
    ts.purge(port)
    sc = ts.Sidecar(args.sidecar, url, work)
    sc.send(frame("ctl-1", points(BASE, NAN_INFO)))
    got = ts.drain(port, want=2)
    try:
        bodies = [strict(m.body) for m in got]
        params = [b["payload"]["info"]["db"]["params"] for b in bodies
                  if b["payload"]["name"] == "db-start"]
    except (ValueError, KeyError) as e:
        bodies, params = [], repr(e)
    check("broker mode: both published, strict JSON, NaN and infinities null",
          len(bodies) == 2 and params == [{"ratio": None, "hi": None, "lo": None,
                                           "s": "NaN"}], str(params))
    st = sc.stats()
    check("broker mode: none dropped as invalid",
          st and st["dropped"]["invalid"] == 0 and st["delivered"] == 2, str(st))
    check("broker mode: exit 0", sc.stop() == 0)


def test_collector_python(args, port, url, work):
    ts.purge(port)
    ts.purge(port, QUEUE)
    db = os.path.join(work, "collected.db")
    store = "sqlite:///" + db
    col = tc.Collector(args.sidecar, url, store, work, name="nan")
    base = "6f000000-0000-4000-8000-000000000000"
    # Python's messaging driver serialises with json.dumps: NaN in the body
    pts = points(base, NAN_INFO)
    ok, err = tc.python_publish(port, pts)
    check("collector: Python osprofiler published points carrying NaN", ok, err)
    check("collector: both collected", tc.wait_rows(db, 2) == 2, col.text())
    st = col.stats()
    check("collector: counted collected, none invalid",
          st and st["collected"] == 2 and st["dropped"]["collect_invalid"] == 0, str(st))
    r = tc.cli(args, "show", "--connection-string", store, "--json", base)
    try:
        params = params_of(strict(r.stdout))
    except (ValueError, KeyError, IndexError) as e:
        params = repr(e)
    check("collector: read back strict, NaN and infinities null",
          params == {"ratio": None, "hi": None, "lo": None, "s": "NaN"},
          str(params) + r.stderr)
    modes = {n: oct(os.stat(db + n).st_mode & 0o777) for n in ("", "-wal", "-shm")
             if os.path.exists(db + n)}
    check("collector: its database, -wal and -shm are 0600",
          modes == {"": "0o600", "-wal": "0o600", "-shm": "0o600"}, str(modes))
    check("collector: exit 0", col.stop() == 0)


def test_redis_wrong_type(args, work):
    redis = tcs.Redis(work, tcs.free_port())
    redis.start()
    try:
        bad = "6b000000-0000-4000-8000-000000000000"
        redis.client().set("osprofiler_opt:" + bad, "planted: not a list")
        store = "redis://:%s@127.0.0.1:%d" % (tcs.PASSWORD, redis.port)
        sc = tc.Direct(args.sidecar, store, work)
        goods = ["6a%06d-0000-4000-8000-000000000000" % i for i in range(3)]
        # three frames, each good, bad, good: batches mix them
        for g in goods:
            sc.send(frame("ctl-1", points(g, '"k": 1') + points(bad, '"k": 2') +
                          points(g[:-1] + "9", '"k": 3')))
        every = goods + [g[:-1] + "9" for g in goods]
        ok = tcs.wait_for(lambda: all(redis.points(b) == 2 for b in every))
        check("redis: every point of the other traces stored, before and after",
              ok, str({b: redis.points(b) for b in every}))
        st = tcs.wait_for(lambda: (lambda s: s if s and s["dropped"].get("store") == 6
                                   else None)(sc.stats()))
        check("redis: the trace with a wrong-type key: its 6 points dropped, counted",
              st and st["stored"] == 12 and st["delivered"] == 12 and
              st["received"] == st["delivered"] + st["dropped"]["store"], str(st))
        check("redis: the planted key is left as it was",
              redis.client().get("osprofiler_opt:" + bad) == b"planted: not a list")
        time.sleep(0.5)
        st = sc.stats()
        check("redis: not retried (nothing waits, nothing spooled)",
              st and st["memory"]["points"] == 0 and st["spool"]["points"] == 0, str(st))
        lines = [ln for ln in sc.text().splitlines() if "the store refused" in ln]
        check("redis: logged once (per interval), with the reason and the count",
              len(lines) == 1 and "WRONGTYPE osprofiler_opt:" + bad in lines[0]
              and re.search(r"dropped [246] point", lines[0])
              and tcs.PASSWORD not in sc.text(),
              str(lines))
        # a point after them: still stored, nothing stuck behind the bad trace
        late = "6c000000-0000-4000-8000-000000000000"
        sc.send(frame("ctl-1", points(late, '"k": 4')))
        check("redis: a later point is stored",
              tcs.wait_for(lambda: redis.points(late) == 2), str(redis.points(late)))
        check("redis: exit 0", sc.stop() == 0)
    finally:
        redis.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--broker-sh", required=True)
    ap.add_argument("--golden", required=True)
    args = ap.parse_args()
    env = dict(ln.strip().split("=", 1) for ln in open(args.broker_env) if "=" in ln)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    with tempfile.TemporaryDirectory() as work:
        for i, t in enumerate([lambda w: test_store_mode(args, w),
                               lambda w: test_broker_mode(args, port, url, w),
                               lambda w: test_collector_python(args, port, url, w),
                               lambda w: test_redis_wrong_type(args, w)]):
            d = os.path.join(work, str(i))
            os.mkdir(d)
            try:
                t(d)
            finally:
                ts.stop_leftovers()
    sys.exit(ts.summary())


if __name__ == "__main__":
    main()
