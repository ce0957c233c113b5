#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""store.redis_interop - the C redis back end (through store_tool, the store
API only) against Debian's python3-osprofiler 3.4.3 redis driver, on the
private redis-server of redis_fixture.sh (OSP_REDIS_PORT):

  a) Python writes (its driver's notify, filter_error_trace on): the C get
     yields exactly the texts Python's get_report parses, in its order
     (legacy keys included); C list / list --errors / count equal
     list_traces / list_error_traces.
  b) C writes: Python's `osprofiler trace show --json` prints the golden
     report byte for byte, `trace list` (and --error-trace) list the trace,
     the error record is the one Python's driver writes; a redelivered batch
     changes nothing; a password-protected server works for both.

usage: interop_redis.py STORE_TOOL GOLDEN_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import redis
from oslo_config import cfg
from oslo_serialization import jsonutils
from osprofiler import opts
from osprofiler.drivers import base as drivers
from osprofiler.drivers import redis_driver

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import check, summary  # noqa: E402



def driver(url, filter_error_trace=False):
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    conf.set_override("filter_error_trace", filter_error_trace, group="profiler")
    return drivers.get_driver(url, conf=conf)


def notify(d, point):
    """Python's notify of a stored point (its project/service re-added by the
    driver, in the same place: last)."""
    p = json.loads(point)
    d.project, d.service = p.pop("project"), p.pop("service")
    d.notify(p)


def python_reads(url, base_id):
    """The texts get_report parses, in its order (a new driver: get_report
    keeps its results)."""
    d = driver(url)
    seen = []

    class Spy:
        @staticmethod
        def loads(data):
            seen.append(data.decode() if isinstance(data, bytes) else data)
            return jsonutils.loads(data)

        dumps = staticmethod(jsonutils.dumps)

    saved, redis_driver.jsonutils = redis_driver.jsonutils, Spy
    try:
        d.get_report(base_id)
    finally:
        redis_driver.jsonutils = saved
    return seen


def tool(store_tool, *argv, stdin=None):
    r = subprocess.run([store_tool] + list(argv), input=stdin, capture_output=True,
                       timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def c_rows(store_tool, url, errors=False):
    rc, out, err = tool(store_tool, "list", *(["--errors"] if errors else []), url)
    assert rc == 0, err
    return [tuple(l.split(" ", 1)) for l in out.splitlines()]


def py_rows(traces):
    return [(t["base_id"], t["timestamp"]) for t in traces]


def py_cli(work, *argv):
    # Python's CLI prints errors on stdout; run from work so nothing leaks
    return subprocess.run(["/usr/bin/python3", "-m", "osprofiler.cmd.shell", "trace"] +
                          list(argv), capture_output=True, text=True, timeout=120, cwd=work)


def points_with(points, base_from, base_to):
    return [p.replace(base_from, base_to) for p in points]


def main():
    store_tool, golden = sys.argv[1:3]
    port = int(os.environ["OSP_REDIS_PORT"])
    url = "redis://127.0.0.1:%d/0" % port
    r = redis.StrictRedis(port=port)
    work = tempfile.mkdtemp(prefix="osp-redis-interop-", dir=os.environ.get("OSP_REDIS_DIR"))
    points = [l.rstrip("\n") for l in open(os.path.join(golden, "trace_points.jsonl"),
                                            encoding="utf-8") if l.strip()]
    report = open(os.path.join(golden, "trace_report.json"), encoding="utf-8").read()
    gbase = json.loads(points[0])["base_id"]

    # --- a) Python writes ----------------------------------------------------
    d = driver(url, filter_error_trace=True)
    bases = []
    for i in range(30):  # enough for SCAN's order to be no insertion order
        b = "%08x-0000-4000-8000-%012d" % (0xa0000000 + i * 7919, i)
        bases.append(b)
        # a day per trace: SCAN's order is neither this nor timestamp order
        pts = [p.replace("2024-01-01T", "2024-01-%02dT" % (30 - i))
               for p in points_with(points, gbase, b)]
        if i % 3:  # some traces without their error point (no error record)
            pts = [p for p in pts if "etype" not in p]
        for p in pts:
            notify(d, p)
    # and the legacy layout: one key per message, read only
    legacy = "1e6ac700-0000-4000-8000-000000000000"
    for k, p in enumerate(points_with(points, gbase, legacy)[:4]):
        r.set("osprofiler:%s_%d" % (legacy, k), p)

    for b in (bases[0], bases[1], legacy):
        rc, out, err = tool(store_tool, "get", url, b)
        py = python_reads(url, b)
        check("Python writes %s: C get = the texts get_report parses, in its order" % b[:8],
              rc == 0 and out.splitlines() == py and len(py) in (4, 8, 9),
              err + "\nC: %r\nPy: %r" % (out.splitlines()[:3], py[:3]))
    rc, out, _ = tool(store_tool, "get", url, bases[0])
    check("LRANGE order: the newest first (the reverse of notify)",
          out.splitlines() == [p.replace(gbase, bases[0]).replace("2024-01-01T", "2024-01-30T")
                               for p in reversed(points)])

    c = c_rows(store_tool, url)
    py = py_rows(d.list_traces())
    check("C list = Python's list_traces (legacy first, then SCAN order), %d rows" % len(py),
          c == py and len(py) == 31, "C: %r\nPy: %r" % (c, py))
    check("... which is not sorted by timestamp (the test tells the orders apart)",
          c[1:] != sorted(c[1:], key=lambda x: x[1]) and
          c[1:] != sorted(c[1:], key=lambda x: x[1], reverse=True))
    c = c_rows(store_tool, url, errors=True)
    py = py_rows(d.list_error_traces())
    check("C list --errors = Python's list_error_traces, %d rows" % len(py),
          c == py and len(py) == 10 and c == sorted(c, key=lambda x: x[1]),
          "C: %r\nPy: %r" % (c, py))
    rc, out, err = tool(store_tool, "count", url)
    check("C count = len(list_traces)", rc == 0 and out.strip() == "31", out + err)

    # --- b) C writes ---------------------------------------------------------
    r.flushdb()
    # Python's report reads LRANGE (newest first): pushed in reverse, it
    # reads the golden arrival order
    jsonl = "".join(p + "\n" for p in reversed(points)).encode()
    rc, _, err = tool(store_tool, "put", "--error-index", "--batch", "4", url, stdin=jsonl)
    check("C put of the golden points", rc == 0, err)
    rc, out, err = tool(store_tool, "get", url, gbase)
    check("C get: the golden texts in golden order", out.splitlines() == points, out + err)
    check("... which is what Python's get_report parses",
          python_reads(url, gbase) == points)
    p = py_cli(work, "show", gbase, "--connection-string", url, "--json")
    check("C writes, Python's `trace show --json` prints the golden report byte for byte",
          p.returncode == 0 and p.stdout == report, p.stdout[-2000:] + p.stderr[-2000:])
    p = py_cli(work, "list", "--connection-string", url)
    row = "| %s | %s |" % (gbase, json.loads(points[1])["timestamp"])  # LINDEX 1
    check("Python's `trace list` lists it with list_traces' timestamp",
          p.returncode == 0 and row in p.stdout, p.stdout + p.stderr)
    err_point = json.loads(next(p for p in points if '"etype"' in p))
    want = jsonutils.dumps({"base_id": gbase, "timestamp": err_point["timestamp"]})
    check("the error record is the one Python's notify_error_trace writes",
          r.get("osprofiler_error:" + gbase) == want.encode(),
          "%r != %r" % (r.get("osprofiler_error:" + gbase), want))
    p = py_cli(work, "list", "--connection-string", url, "--error-trace", "yes")
    check("Python's `trace list --error-trace` lists it",
          p.returncode == 0 and "| %s | %s |" % (gbase, err_point["timestamp"]) in p.stdout,
          p.stdout + p.stderr)
    keys = sorted(k.decode() for k in r.keys("*"))
    check("keys: Python's, and the dedup set no Python pattern matches",
          keys == ["osprofiler_c_seen:" + gbase, "osprofiler_error:" + gbase,
                   "osprofiler_opt:" + gbase], keys)
    rc, _, err = tool(store_tool, "put", "--error-index", url, stdin=jsonl)
    p = py_cli(work, "show", gbase, "--connection-string", url, "--json")
    check("a redelivered batch changes nothing",
          rc == 0 and r.llen("osprofiler_opt:" + gbase) == len(points) and
          p.stdout == report, err)
    # Python appends to a C-written trace; C reads both as Python does
    d2 = driver(url)
    extra = points_with(points, gbase, gbase)[0].replace("wsgi-start", "late-start")
    notify(d2, extra)
    rc, out, err = tool(store_tool, "get", url, gbase)
    check("C reads a trace written by both", out.splitlines() == python_reads(url, gbase) and
          len(out.splitlines()) == len(points) + 1, out + err)

    # --- a password ----------------------------------------------------------
    pw = "p@ss:w/rd%x"
    r.config_set("requirepass", pw)
    try:
        purl = "redis://:p%40ss%3Aw%2Frd%25x@127.0.0.1:" + str(port) + "/2"
        rc, _, err = tool(store_tool, "put", purl, stdin=jsonl)
        p = py_cli(work, "show", gbase, "--connection-string", purl, "--json")
        check("a password-protected server: C writes, Python reads",
              rc == 0 and p.stdout == report, err + p.stdout[-500:])
        rc, _, err = tool(store_tool, "list", "redis://:wrong@127.0.0.1:%d/2" % port)
        check("a wrong password: a clear error without it",
              rc == 1 and "AUTH refused" in err and "wrong" not in err.replace("WRONGPASS", ""),
              err)
    finally:
        r.config_set("requirepass", "")  # this connection stays logged in
    return summary()


if __name__ == "__main__":
    sys.exit(main())
