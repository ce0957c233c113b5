#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cli.terminal: stored text reaches the terminal escaped (issue 12, item 16).

Points whose base_id, service and name hold escape sequences (CSI, OSC 52,
8-bit CSI as U+009B, a bidi override, a byte that is not UTF-8 is not
possible through JSON) are stored in SQLite; `trace list`, `trace show
--dot` and `trace tree` must not write a control character from them,
whether stdout is a pipe or a terminal (a pty): we escape in both cases,
since a pipe's bytes reach terminals too (ssh, less -R, tee). Python's CLI
prints them raw. Ordinary rows stay as Python prints them, and the table
stays aligned (widths of the escaped text, one column a character).

usage: test_terminal.py OSPROFILER STORE_TOOL
"""
import json
import os
import pty
import subprocess
import sys
import tempfile

OSP, STORE_TOOL = sys.argv[1], sys.argv[2]
FAILS = []


def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        print("  " + repr(detail)[:2000])
        FAILS.append(name)


def on_pty(args):
    """stdout (and stderr) a terminal: what an operator's shell sees."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(OSP, [OSP] + args)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.replace(b"\r\n", b"\n")


def on_pipe(args):
    p = subprocess.run([OSP] + args, capture_output=True)
    return p.returncode, p.stdout


def raw_controls(out):
    """Control characters other than newline and tab (DOT indents with tabs),
    C1 controls as UTF-8, bidi overrides."""
    text = out.decode("utf-8", errors="replace")
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
            or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]


def point(base_id, trace_id, name, ts, service):
    return json.dumps({"name": name, "base_id": base_id, "trace_id": trace_id,
                       "parent_id": base_id, "timestamp": ts, "project": "p",
                       "service": service, "info": {"host": "h"}})


def main():
    tmp = tempfile.mkdtemp()
    url = "sqlite:///" + os.path.join(tmp, "t.db")
    evil = "\x1b[2J\x1b]52;c;cm0gLXJmIH4K\x07\u009b31m\u202eevil"
    normal = "5e1c7a70-0000-4000-8000-000000000001"
    accent = "caf\u00e9-0000-4000-8000-000000000002"
    t = "5e1c7a70-0000-4000-8000-0000000000aa"
    lines = [point(evil, t, "wsgi\x1b[8m-start", "2024-01-01T10:00:00.000100", "api\x1b]0;x\x07"),
             point(evil, t, "wsgi\x1b[8m-stop", "2024-01-01T10:00:00.000200", "api"),
             point(normal, t, "db-start", "2024-01-01T10:00:01.000100", "api"),
             point(accent, t, "db-start", "2024-01-01T10:00:02.000100", "api")]
    jsonl = os.path.join(tmp, "p.jsonl")
    with open(jsonl, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(jsonl) as f:
        subprocess.run([STORE_TOOL, "put", url], stdin=f, check=True)

    want_evil = ("\\x1b[2J\\x1b]52;c;cm0gLXJmIH4K\\x07\\u009b31m\\u202eevil")
    for how, run in (("pipe", on_pipe), ("pty", on_pty)):
        rc, out = run(["trace", "list", "--connection-string", url])
        rows = out.decode().splitlines()
        check("list on a %s: exit 0" % how, rc == 0, out)
        check("list on a %s: no control character from the store" % how,
              not raw_controls(out), raw_controls(out))
        check("list on a %s: the hostile id shown escaped" % how,
              any(want_evil in r for r in rows), rows)
        check("list on a %s: ordinary ids as Python prints them" % how,
              any(r.startswith("| %s " % normal) for r in rows)
              and any(r.startswith("| %s " % accent) for r in rows), rows)
        widths = {len(r) for r in rows}
        check("list on a %s: every line as wide (escaped widths, a column a character)"
              % how, len(widths) == 1, rows)

        rc, out = run(["trace", "tree", jsonl])
        check("tree on a %s: exit 0, no control character" % how,
              rc == 0 and not raw_controls(out), out)
        check("tree on a %s: names, services and ids escaped" % how,
              b"trace " + want_evil.encode() in out and b"wsgi\\x1b[8m" in out
              and b"[api\\x1b]0;x\\x07]" in out, out)

    # --dot of a uuid trace with a hostile service and name: escaped, with
    # the backslash doubled so graphviz shows it rather than reading it.
    hostile = "5e1c7a70-0000-4000-8000-0000000000bb"
    with open(jsonl, "w") as f:
        f.write(point(hostile, t, "db\x1b[8m-start", "2024-01-01T10:00:00.000100",
                      "api\x1b]0;x\x07") + "\n")
    with open(jsonl) as f:
        subprocess.run([STORE_TOOL, "put", url], stdin=f, check=True)
    for how, run in (("pipe", on_pipe), ("pty", on_pty)):
        rc, out = run(["trace", "show", "--dot", "--connection-string", url, hostile])
        check("show --dot on a %s: exit 0, no control character" % how,
              rc == 0 and not raw_controls(out), out)
        check("show --dot on a %s: the label escaped for graphviz" % how,
              b'[label="api\\\\x1b]0;x\\\\x07:db\\\\x1b[8m - 0 ms"]' in out, out)

    print("%d failed" % len(FAILS) if FAILS else "all passed")
    subprocess.run(["rm", "-rf", tmp])
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
