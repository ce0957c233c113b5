#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""store.redis - the Redis store against Debian's redis-server (a private
instance on 127.0.0.1, started and stopped here by pid) and the real Python
osprofiler redis driver, both ways:

  * C writes (osprofiler-sidecar with no broker, store = redis://...):
    Python's `osprofiler trace show --json` and `trace list` print exactly
    what the C CLI prints for the same store;
  * Python writes (its redis driver's notify, filter_error_trace on): the C
    CLI's report and list equal Python's, --error-trace included;
  * a redelivered point is stored once; a password-protected server works;
    a wrong password or no server gives a clear error that never shows the
    password.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import check, free_port, summary  # noqa: E402
PROCS = []




def redis_server(work, password=None):
    port = free_port()
    d = tempfile.mkdtemp(dir=work)
    argv = ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", d, "--daemonize", "no"]
    if password:
        argv += ["--requirepass", password]
    p = subprocess.Popen(argv, stdout=open(os.path.join(d, "log"), "w"),
                         stderr=subprocess.STDOUT)
    PROCS.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def golden_points(golden):
    return [l.rstrip(b"\n") for l in open(os.path.join(golden, "trace_points.jsonl"), "rb")
            if l.strip()]


def sidecar_store(sidecar, store, work, records):
    """A sidecar with no broker storing into store; records sent as one frame."""
    sock = os.path.join(work, "sc%d.sock" % len(PROCS))
    log = open(sock + ".log", "w+")
    p = subprocess.Popen([sidecar, "--socket", sock, "--store", store, "--spool-dir",
                          sock + ".spool"], stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(p)
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline:
        if p.poll() is not None:
            return p, open(sock + ".log").read()
        time.sleep(0.02)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock)
    pub = b"ctl-1"
    s.send(b"OSPH" + bytes([1, 0]) + struct.pack("<H", len(pub)) + pub +
           b"".join(r + b"\n" for r in records))
    s.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        r = subprocess.run([sidecar, "--socket", sock, "--stats"], capture_output=True,
                           text=True)
        if r.returncode == 0 and json.loads(r.stdout)["stored"] >= len(records):
            break
        time.sleep(0.05)
    stop(p)
    return p, open(sock + ".log").read()


def c_cli(osprofiler, *argv):
    return subprocess.run([osprofiler, "trace"] + list(argv), capture_output=True, text=True,
                          timeout=60)


def py_cli(work, *argv):
    # Python's CLI prints errors on stdout; run from work so nothing leaks
    return subprocess.run(["/usr/bin/python3", "-m", "osprofiler.cmd.shell", "trace"] +
                          list(argv), capture_output=True, text=True, timeout=120, cwd=work)


def redis_cli(port, *argv, password=None):
    a = ["/usr/bin/redis-cli", "-p", str(port)]
    if password:
        a += ["--no-auth-warning", "-a", password]
    return subprocess.run(a + list(argv), capture_output=True, text=True, timeout=30).stdout


def python_notify(port, points, filter_error_trace):
    code = r"""
import json, sys
from oslo_config import cfg
from osprofiler import opts
from osprofiler.drivers import base
conf = cfg.ConfigOpts()
opts.set_defaults(conf)
conf([])
conf.set_override("filter_error_trace", sys.argv[2] == "1", group="profiler")
d = base.get_driver(sys.argv[1], project="py-project", service="py-svc", host="py-host",
                    conf=conf)
for line in sys.stdin:
    d.notify(json.loads(line))
"""
    r = subprocess.run(["/usr/bin/python3", "-c", code, "redis://127.0.0.1:%d" % port,
                        "1" if filter_error_trace else "0"],
                       input=b"\n".join(points) + b"\n", capture_output=True, timeout=60)
    return r.returncode == 0, r.stderr.decode()[-800:]


def main():
    sidecar, osprofiler, golden = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="osp-redis-")
    base = "5e1c7a70-0000-4000-8000-000000000000"
    try:
        srv, port = redis_server(work)
        url = "redis://127.0.0.1:%d/0" % port
        _, log = sidecar_store(sidecar, url, work, golden_points(golden))
        check("C writes: every point in osprofiler_opt:<base_id>",
              redis_cli(port, "LLEN", "osprofiler_opt:" + base).strip() == "9", log)
        out_c, out_py = os.path.join(work, "c.json"), os.path.join(work, "py.json")
        r = c_cli(osprofiler, "show", "--connection-string", url, "--json", "--out", out_c,
                  base)
        p = py_cli(work, "show", base, "--connection-string", url, "--json", "--out", out_py)
        check("C writes, Python reads: trace show --json identical, byte for byte",
              r.returncode == 0 and p.returncode == 0 and
              open(out_c).read() == open(out_py).read(), r.stderr + p.stdout + p.stderr)
        r = c_cli(osprofiler, "list", "--connection-string", url)
        p = py_cli(work, "list", "--connection-string", url)
        check("C writes: trace list identical to Python's", r.returncode == 0 and
              r.stdout.strip() == p.stdout.strip(), r.stdout + "\n---\n" + p.stdout)
        dot = c_cli(osprofiler, "show", "--connection-string", url, "--dot", base)
        check("C reads its redis store as --dot", dot.returncode == 0 and
              "api:wsgi" in dot.stdout, dot.stderr)
        # the same points again (a redelivery): stored once
        sidecar_store(sidecar, url, work, golden_points(golden))
        check("a redelivered point is stored once",
              redis_cli(port, "LLEN", "osprofiler_opt:" + base).strip() == "9")
        keys = sorted(redis_cli(port, "KEYS", "*").split())
        check("only Python's keys, plus the dedup set Python never reads",
              keys == ["osprofiler_c_seen:" + base, "osprofiler_opt:" + base], keys)

        # Python writes with its own driver, error index on
        pbase = "6a000000-0000-4000-8000-000000000000"
        pts = [p.replace(base.encode(), pbase.encode()) for p in golden_points(golden)]
        ok, err = python_notify(port, pts, True)
        check("Python's redis driver wrote a trace", ok, err)
        r = c_cli(osprofiler, "show", "--connection-string", url, "--json", "--out", out_c,
                  pbase)
        p = py_cli(work, "show", pbase, "--connection-string", url, "--json", "--out", out_py)
        check("Python writes, C reads: trace show --json identical, byte for byte",
              r.returncode == 0 and p.returncode == 0 and
              open(out_c).read() == open(out_py).read(), r.stderr + p.stdout)
        r = c_cli(osprofiler, "list", "--connection-string", url, "--error-trace", "yes")
        p = py_cli(work, "list", "--connection-string", url, "--error-trace", "yes")
        check("trace list --error-trace identical to Python's (the error index)",
              r.returncode == 0 and pbase in r.stdout and base not in r.stdout and
              r.stdout.strip() == p.stdout.strip(), r.stdout + "\n---\n" + p.stdout)
        r = c_cli(osprofiler, "list", "--connection-string", url)
        check("trace list shows both traces", base in r.stdout and pbase in r.stdout, r.stdout)
        missing = "11111111-2222-4333-8444-555555555555"
        r = c_cli(osprofiler, "show", "--connection-string", url, "--json", missing)
        check("not found names the redis store and its 2 traces",
              r.returncode == 1 and "redis://127.0.0.1:%d/0" % port in r.stderr and
              "2 traces" in r.stderr, r.stderr)
        stop(srv)
        r = c_cli(osprofiler, "list", "--connection-string", url)
        check("no server: a clear error", r.returncode == 1 and "cannot connect to" in
              r.stderr, r.stderr)

        # a password
        pw = "s3cr%t-pw"
        srv, port = redis_server(work, password=pw)
        url = "redis://:s3cr%%25t-pw@127.0.0.1:%d/2" % port
        _, log = sidecar_store(sidecar, url, work, golden_points(golden))
        check("a password-protected server (%-encoded password, db 2)",
              redis_cli(port, "-n", "2", "LLEN", "osprofiler_opt:" + base,
                        password=pw).strip() == "9", log)
        check("the sidecar's log never shows the password", pw not in log and
              "s3cr%25t" not in log, log)
        bad = "redis://:wrong-pass@127.0.0.1:%d/0" % port
        r = c_cli(osprofiler, "list", "--connection-string", bad)
        check("a wrong password: a clear error without the password",
              r.returncode == 1 and "AUTH" in r.stderr and "wrong-pass" not in r.stderr,
              r.stderr)
        r = c_cli(osprofiler, "list", "--connection-string", "redis://127.0.0.1:notaport")
        check("a bad URL: a clear error", r.returncode == 1 and "bad port" in r.stderr,
              r.stderr)
        stop(srv)
    finally:
        for p in PROCS:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
