#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cli.deep_report: `osprofiler trace show` on traces as deep as a sender
makes them (issue 12, item 11).

A chain of 100,000 points (each the parent of the next) in an SQLite store,
shown with a 1 MiB stack (RLIMIT_STACK) and, outside sanitizer builds, a
1 GiB address space (RLIMIT_AS; ASan reserves terabytes of shadow, so there
the peak RSS is measured instead):

  * --json, --html and --dot stop with a clear error and exit 1 past the
    default --max-depth (1000): no crash, nothing on stdout;
  * --dot --max-depth 100000 writes the whole graph (no recursion per level);
  * --json --max-depth 100000 streams: read for 64 MiB and closed, its peak
    memory is the report's, not the output's (which would be ~300 GB);
  * trace tree prints a 20,000-level points file whole (no recursion);
  * chains Python's CLI can print (400 levels; it fails past 495) are
    byte-identical to Debian's python3-osprofiler for --json and --dot, also
    when read back from a --json report file; 1000 levels is the last depth
    written by default, 1001 the first refused.

usage: test_deep_report.py OSPROFILER STORE_TOOL
"""
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile

from osprofiler.cmd import commands
from osprofiler.drivers import base

OSP, STORE_TOOL = sys.argv[1], sys.argv[2]
SANITIZED = bool(os.environ.get("OSP_SANITIZE"))
STACK = 1 << 20
MEMORY = 1 << 30
DEEP = 100_000
FAILS = []


def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        print("  " + str(detail)[:2000])
        FAILS.append(name)


def limits():
    resource.setrlimit(resource.RLIMIT_STACK, (STACK, STACK))
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args, stdout=subprocess.PIPE, read_at_most=None):
    """Runs the CLI under the limits: (exit status or -signal, stdout bytes
    (at most read_at_most), stderr text, peak RSS in MiB)."""
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([OSP] + args, stdout=stdout, stderr=err,
                         preexec_fn=limits)
    if read_at_most is None:
        out = p.stdout.read()
    else:
        out = bytearray()
        while len(out) < read_at_most:
            chunk = p.stdout.read1(1 << 20)
            if not chunk:
                break
            out += chunk
        out = bytes(out)
    p.stdout.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    return p.returncode, out, err.read().decode(errors="replace"), usage.ru_maxrss // 1024


def uuid(n):
    return "5e1c7a70-0000-4000-8000-%012x" % n


def chain(base_id, depth, first):
    """Points 1..depth, point i the parent of point i + 1, nested in time;
    wsgi, rpc, driver and db points so the DOT labels vary."""
    kinds = ["wsgi", "rpc", "driver", "db"]
    for phase in ("start", "stop"):
        for i in range(1, depth + 1):
            kind = kinds[min(i - 1, 3)] if i < 4 else kinds[i % 4]
            info = {"host": "h%d" % (i % 3)}
            if phase == "start" and kind == "wsgi":
                info["request"] = {"path": "/v2.1/servers/%d/action/reboot" % i,
                                   "query": "", "method": "POST", "scheme": "http"}
            elif phase == "start" and kind in ("rpc", "driver"):
                info["function"] = {"name": "nova.compute.manager.op_%d" % i,
                                    "args": "()", "kwargs": "{}"}
            elif phase == "start":
                info["db"] = {"statement": "SELECT %d" % i, "params": {}}
            # start i at i ms, stop at (2 * depth - i) ms: properly nested
            ms = i if phase == "start" else 2 * depth - i
            ts = "2024-01-01T%02d:%02d:%02d.%06d" % (
                ms // 3_600_000 % 24, ms // 60_000 % 60, ms // 1000 % 60, ms % 1000 * 1000)
            yield json.dumps({
                "name": "%s-%s" % (kind, phase), "base_id": base_id,
                "trace_id": uuid(first + i),
                "parent_id": base_id if i == 1 else uuid(first + i - 1),
                "timestamp": ts, "info": info, "project": "nova",
                "service": "api" if i % 2 else "compute"})


class Driver(base.Driver):
    def __init__(self):
        super().__init__(None)


def python_report(url, base_id):
    """What Python's redis driver does with the messages, in the store's
    order (store_tool get yields them as the C CLI reads them)."""
    texts = subprocess.run([STORE_TOOL, "get", url, base_id], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    d = Driver()
    for t in texts:
        n = json.loads(t)
        d._append_results(n["trace_id"], n["parent_id"], n["name"], n["project"],
                          n["service"], n["info"]["host"], n["timestamp"], n)
    return d._parse_results()


def main():
    tmp = tempfile.mkdtemp()
    url = "sqlite:///" + os.path.join(tmp, "deep.db")
    deep, shallow, edge = uuid(0xd0000), uuid(0x40000), uuid(0xe0000)
    with open(os.path.join(tmp, "points.jsonl"), "w") as f:
        for line in chain(deep, DEEP, 0x100000):
            f.write(line + "\n")
        for line in chain(shallow, 400, 0x300000):
            f.write(line + "\n")
        for line in chain(edge, 1001, 0x400000):
            f.write(line + "\n")
    with open(os.path.join(tmp, "points.jsonl")) as f:
        subprocess.run([STORE_TOOL, "put", "--batch", "5000", url], stdin=f, check=True)
    conn = ["--connection-string", url]

    # Past the default bound: a clear error, before anything is written.
    peaks = {}
    for fmt in ("--json", "--html", "--dot"):
        rc, out, err, peak = run(["trace", "show", fmt, deep] + conn)
        peaks[fmt] = peak
        check("%s of 100,000 levels: exit 1" % fmt, rc == 1, (rc, err))
        check("%s: says how deep and the bound" % fmt,
              "is 100000 points deep" in err and "--max-depth 1000" in err, err)
        check("%s: nothing on stdout" % fmt, out == b"", out[:200])
        if SANITIZED:
            check("%s: peak RSS %d MiB under 1.5 GiB (ASan)" % (fmt, peak), peak < 1536, peak)
    print("# peak RSS past the bound: %s MiB" % peaks)

    # --dot with the bound raised: the whole chain, walked without recursion.
    rc, out, err, peak = run(["trace", "show", "--dot", "--max-depth", "100000", deep] + conn)
    lines = out.decode().splitlines()
    check("--dot --max-depth 100000: exit 0", rc == 0, (rc, err))
    check("--dot: 100,001 nodes and 100,000 edges",
          sum("[label=" in x for x in lines) == DEEP + 1
          and sum(" -> " in x for x in lines) == DEEP, len(lines))
    check("--dot: edges after each subtree, deepest first",
          lines[DEEP + 2:DEEP + 4] == ["\t99999 -> 100000", "\t99998 -> 99999"]
          and lines[-3:] == ["\t0 -> 1", "}", ""], (lines[DEEP + 2:DEEP + 4], lines[-3:]))
    print("# --dot of 100,000 levels: %d bytes, peak RSS %d MiB" % (len(out), peak))

    # --json with the bound raised streams: ~300 GB in full, so read 64 MiB.
    rc, out, err, peak = run(["trace", "show", "--json", "--max-depth", "100000", deep] + conn,
                             read_at_most=64 << 20)
    check("--json --max-depth 100000: stopped by the closed pipe, no crash",
          rc in (-signal.SIGPIPE, 1), (rc, err))
    check("--json: streamed the report's beginning",
          len(out) >= 64 << 20 and out.startswith(b'{\n  "info": {\n    "name": "total"'),
          out[:100])
    check("--json: peak RSS %d MiB stays near the report's own (%d MiB), not the output's"
          % (peak, peaks["--json"]), peak < peaks["--json"] + 64, peak)

    # trace tree (a points file) walks without recursion too; its
    # indentation also grows with the square of the depth: 20,000 levels.
    tree_file = os.path.join(tmp, "tree.jsonl")
    tree_id = uuid(0x70000)
    with open(tree_file, "w") as f:
        for line in chain(tree_id, 20_000, 0x500000):
            f.write(line + "\n")
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([OSP, "trace", "tree", tree_file], stdout=subprocess.PIPE,
                         stderr=err, preexec_fn=limits)
    nlines, size, last = 0, 0, b""
    for line in p.stdout:
        nlines, size, last = nlines + 1, size + len(line), line
    rc = p.wait()
    err.seek(0)
    check("trace tree of 20,000 levels: exit 0, every level printed",
          rc == 0 and nlines == 20_001 and last.startswith(b" " * 40_000 + b"wsgi  [compute]"),
          (rc, nlines, last[-80:], err.read()[-500:]))
    print("# trace tree of 20,000 levels: %d bytes" % size)

    # Depths Python's CLI prints: byte-identical output.
    trace = python_report(url, shallow)
    want_json = json.dumps(trace, separators=(",", ": "), indent=2) + "\n"
    want_dot = commands.TraceCommands()._create_dot_graph(trace).source + "\n"
    rc, out, err, _ = run(["trace", "show", "--json", shallow] + conn)
    check("--json of 400 levels: exit 0, identical to Python's",
          rc == 0 and out.decode() == want_json, (rc, err, len(out), len(want_json)))
    rc, out, err, _ = run(["trace", "show", "--dot", shallow] + conn)
    check("--dot of 400 levels: identical to Python's",
          rc == 0 and out.decode() == want_dot, (rc, err))
    report = os.path.join(tmp, "report.json")
    rc, out, err, _ = run(["trace", "show", "--json", "--out", report, shallow] + conn)
    rc2, out2, err2, _ = run(["trace", "show", "--dot", report])
    check("a --json report file of 400 levels read back: the same --dot",
          rc == 0 and rc2 == 0 and out2.decode() == want_dot, (rc, err, rc2, err2))
    rc, out, err, _ = run(["trace", "show", "--json", "--max-depth", "399", shallow] + conn)
    check("--max-depth 399 refuses 400 levels", rc == 1 and "is 400 points deep" in err, err)

    # The default bound exactly: 1000 levels written, 1001 refused.
    rc, out, err, _ = run(["trace", "show", "--dot", edge] + conn)
    check("1001 levels refused by default", rc == 1 and "is 1001 points deep" in err, err)
    rc, out, err, _ = run(["trace", "show", "--dot", "--max-depth", "1001", edge] + conn)
    check("1001 levels with --max-depth 1001", rc == 0 and out.count(b" -> ") == 1001, err)
    for bad in ("0", "-1", "x", "1e3"):
        rc, _, err, _ = run(["trace", "show", "--dot", "--max-depth", bad, edge] + conn)
        check("--max-depth %s is a usage error" % bad, rc == 2 and "--max-depth" in err, err)

    print("%d failed" % len(FAILS) if FAILS else "all passed")
    subprocess.run(["rm", "-rf", tmp])
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
