# SPDX-License-Identifier: Apache-2.0
"""interop.payloads: the same calls in C and in Python osprofiler produce
byte-identical trace-point payloads.

Python side: osprofiler.profiler with a notifier that sets
payload["project"] = "p", payload["service"] = "s" (what the messaging driver
adds) and records json.dumps(payload). C side: osp_setup(project "p",
service "s", file:// notifier) and the driver's "sequence" command; the jsonl
lines are compared with Python's.

Only run-specific values are normalised before the byte comparison: each
distinct UUID becomes ID1, ID2, ... in order of appearance (base/parent ids
are given explicitly, so they map identically), and timestamps become "TS".
The host is NOT normalised: C gethostname() and Python socket.gethostname()
must agree. Separately asserted on the raw C lines: timestamp format and UTC
(the driver runs with TZ=Pacific/Kiritimati, UTC+14), non-decreasing order,
fresh UUID4 trace ids, the explicit base/parent ids, and the host.
"""

import datetime
import json
import os
import socket
import sqlite3
import sys
import tempfile
import types

from osprofiler import notifier, profiler
from osprofiler import sqlalchemy as osp_sqlalchemy

import interop_common as ic

KEY = "SECRET_KEY"
BASE = "9c2ae3b3-ca84-481d-adba-a715ecdd2ea2"
PARENT = "00000000-0000-4000-8000-0000000000aa"
REQUEST = {"request": {"path": "/v2/servers", "query": "a=1&b=%C3%A9", "method": "GET",
                       "scheme": "http"}}


def tricky_info():
    """An info dict exercising json.dumps corners. A fresh copy per use:
    Python writes "host" into it in place."""
    return {
        "text": "h\u00e9llo \u2603",
        "tab": "tab\there",
        "controls": "nl\n cr\r bs\b ff\f nul\u0000 soh\u0001 us\u001f del\u007f",
        "quote": "q\"uote \\ back/slash <&>",
        "astral": "\U0001f600 \U00010000 \U0010ffff",
        "separators": "\u2028\u2029\ufeff\uffff",
        "cl\u00e9 \u2603": "non-ASCII key",
        "host": "caller-supplied-host",
        "floats": [1.5, 1e-7, 0.1, -0.0, 0.0, 1e16, 1e15, 123456.789, 1e300, 5e-324,
                   2.5e-5, 1e-4, 1e-5, 1.7976931348623157e308, 2.2250738585072014e-308,
                   0.30000000000000004, 1e22, 9007199254740993.0, 100.0, -2.5],
        "int": 42,
        "ints": [0, -7, 2 ** 63 - 1, -2 ** 63],
        "null": None,
        "bools": [True, False],
        "nested": [1, [2, {"x": None, "y": [[]]}], {}, [], "s"],
        "empty": {},
    }


def python_run(scenario):
    """Run scenario(p) with a messaging-like notifier; return the JSON lines."""
    lines = []

    def notify(payload):
        payload["project"] = "p"
        payload["service"] = "s"
        lines.append(json.dumps(payload))

    previous = notifier.get()
    notifier.set(notify)
    try:
        profiler.init(KEY, base_id=BASE, parent_id=PARENT)
        scenario()
    finally:
        profiler.clean()
        notifier.set(previous)
    return lines


# ---- scenario 1: the brief's sequence (plus a few more error shapes) -------

def py_main():
    profiler.start("wsgi", json.loads(json.dumps(REQUEST)))
    profiler.start("db", {"db": {"statement": "SELECT 1", "params": {}}})
    profiler.stop()
    try:
        with profiler.Trace("rpc", {"k": "v"}):
            raise ValueError("boom")
    except ValueError:
        pass
    try:
        with profiler.Trace("rpc", {"k": "v"}):
            raise ValueError()  # no args: "message": null
    except ValueError:
        pass
    try:
        with profiler.Trace("rpc"):
            raise KeyError("b\u00f6\u00f6m \"quoted\"\n")
    except KeyError:
        pass
    profiler.start("info", tricky_info())
    profiler.stop({"host": "caller", "after": "h\u00e9"})
    profiler.start("caf\u00e9")  # non-ASCII point name, no info
    profiler.start("empty", {})
    profiler.stop({})
    profiler.stop()
    profiler.stop({"extra": 1})


C_MAIN = [
    ["init", KEY, BASE, PARENT],
    ["start", "wsgi", REQUEST],
    ["start", "db", {"db": {"statement": "SELECT 1", "params": {}}}],
    ["stop", None],
    ["start", "rpc", {"k": "v"}],
    ["stop_error", "ValueError", "boom"],
    ["start", "rpc", {"k": "v"}],
    ["stop_error", "ValueError", None],
    ["start", "rpc", None],
    ["stop_error", "KeyError", "b\u00f6\u00f6m \"quoted\"\n"],
    ["start", "info", tricky_info()],
    ["stop", {"host": "caller", "after": "h\u00e9"}],
    ["start", "caf\u00e9", None],
    ["start", "empty", {}],
    ["stop", {}],
    ["stop", None],
    ["stop", {"extra": 1}],
    ["clean"],
]


# ---- scenario 2: SQL helpers (osprofiler.sqlalchemy vs osp_db_*) -----------

DB_PARAMS = {"id": 5, "name": "n\u00e4me", "ratio": 0.25, "none": None}


def py_db():
    before = osp_sqlalchemy._before_cursor_execute("db")
    after = osp_sqlalchemy._after_cursor_execute()
    profiler.start("wsgi", json.loads(json.dumps(REQUEST)))
    before(None, None, "SELECT * FROM t WHERE id = :id", dict(DB_PARAMS), None, False)
    after(None, None, "SELECT * FROM t WHERE id = :id", dict(DB_PARAMS), None, False)
    before(None, None, "SELECT 1", {}, None, False)
    after(None, None, "SELECT 1", {}, None, False)
    before(None, None, "SELECT * FROM missing", {}, None, False)
    osp_sqlalchemy.handle_error(types.SimpleNamespace(
        original_exception=sqlite3.OperationalError("no such table: missing"),
        chained_exception=None))
    profiler.stop()


C_DB = [
    ["init", KEY, BASE, PARENT],
    ["start", "wsgi", REQUEST],
    ["db_start", "SELECT * FROM t WHERE id = :id", DB_PARAMS],
    ["db_stop"],
    ["db_start", "SELECT 1", None],
    ["db_stop"],
    ["db_start", "SELECT * FROM missing", {}],
    ["db_stop_error", "sqlite3.OperationalError", "no such table: missing", None],
    ["stop", None],
]

SCENARIOS = [
    ("main sequence", py_main, C_MAIN, False),
    ("sql helpers", py_db, C_DB, True),
]


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")


def check_raw_c_lines(ck, tag, lines, t0, t1):
    """Properties of the C output that the normalisation hides."""
    host = socket.gethostname()
    stamps = []
    for n, line in enumerate(lines, 1):
        d = json.loads(line)
        m = ic.TIMESTAMP_RE.search(line)
        if ck.ok(m is not None, "%s line %d: timestamp is %%Y-%%m-%%dT%%H:%%M:%%S.%%f"
                 % (tag, n), line):
            stamps.append(parse_ts(m.group(1)))
        ck.eq(BASE, d["base_id"], "%s line %d: base_id" % (tag, n))
        ck.ok(ic.UUID4_RE.match(d["trace_id"]), "%s line %d: trace_id is a UUID4" % (tag, n),
              d["trace_id"])
        ck.eq(host, d.get("info", {}).get("host"),
              "%s line %d: info.host == socket.gethostname()" % (tag, n))
    if stamps:
        slack = datetime.timedelta(seconds=60)
        ck.ok(t0 - slack <= stamps[0] and stamps[-1] <= t1 + slack,
              "%s timestamps are UTC (driver ran with TZ=Pacific/Kiritimati)" % tag,
              "python utcnow window %s .. %s, C %s .. %s" % (t0, t1, stamps[0], stamps[-1]))
        ck.ok(stamps == sorted(stamps), "%s timestamps do not go backwards" % tag, stamps)
    starts = [json.loads(x)["trace_id"] for x in lines if json.loads(x)["name"].endswith("-start")]
    ck.eq(len(starts), len(set(starts)), "%s every start has a fresh trace_id" % tag)
    first = json.loads(lines[0]) if lines else {}
    ck.eq(PARENT, first.get("parent_id"), "%s first point's parent_id is init's parent" % tag)


def main():
    args = ic.parse_args(__doc__)
    ck = ic.Checker("interop.payloads", args.verbose)
    with tempfile.TemporaryDirectory(prefix="osp-interop-") as tmp:
        for i, (label, py_fn, ops, sqlalchemy) in enumerate(SCENARIOS):
            tag = "[%s]" % label
            py_lines = python_run(py_fn)

            path = os.path.join(tmp, "points-%d.jsonl" % i)
            t0 = datetime.datetime.utcnow()
            res = ic.run_driver(args.driver, "sequence", {
                "setup": {"project": "p", "service": "s", "file": path, "hmac_keys": KEY,
                          "trace_sqlalchemy": sqlalchemy},
                "ops": ops}, env={"TZ": "Pacific/Kiritimati"})
            t1 = datetime.datetime.utcnow()
            if not ck.eq("OSP_OK", res["setup"]["name"], "%s osp_setup" % tag):
                continue
            bad = [r for r in res["results"] if r["name"] != "OSP_OK"]
            ck.eq([], bad, "%s every C call returned OSP_OK" % tag)
            c_lines = ic.read_lines(path)
            ck.eq(len(py_lines), res["stats"]["sent"], "%s C stats.sent" % tag)

            check_raw_c_lines(ck, tag, c_lines, t0, t1)
            py_norm, py_ids = ic.normalise_ids(py_lines)
            c_norm, c_ids = ic.normalise_ids(c_lines)
            ck.eq(len(py_ids), len(c_ids), "%s number of distinct ids" % tag)
            ck.lines_eq(ic.normalise_timestamps(py_norm), ic.normalise_timestamps(c_norm),
                        "%s C jsonl == Python json.dumps(payload), byte for byte "
                        "(ids, timestamps normalised)" % tag)
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
