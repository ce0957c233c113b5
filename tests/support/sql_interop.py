# SPDX-License-Identifier: Apache-2.0
"""What the tests of the SQL stores in Python's sqlalchemy layout share
(integration.pg, integration.mysql): the C and Python CLIs side by side,
sidecars storing into a URL kept in a 0600 config file, the golden points,
and Python's own driver writing. The caller puts tests/integration and
tests/support on sys.path."""
import os
import subprocess
import time

import test_sidecar as ts
from tap import SLOW, check

TIMEOUT = 30 * SLOW
PY_CLI = "/usr/bin/osprofiler"


def wait_for(cond, timeout=TIMEOUT, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def golden_points(golden):
    with open(os.path.join(golden, "trace_points.jsonl"), "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def c_cli(args, store, *argv):
    """The C CLI, the url (password) in the environment, not on its command line."""
    return subprocess.run([args.osprofiler, "trace"] + list(argv), capture_output=True,
                          text=True, timeout=60 * SLOW,
                          env=dict(os.environ, OSPROFILER_CONNECTION_STRING=store))


def py_cli(store, *argv):
    """Python's CLI (Debian's python3-osprofiler, SQLAlchemy and psycopg2 or pymysql)."""
    cmd = [PY_CLI, "trace"] + [argv[0], "--connection-string", store] + list(argv[1:])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60 * SLOW)


def same_as_python(args, store, base_id, name, formats=("--json", "--dot")):
    for fmt in formats:
        c = c_cli(args, store, "show", fmt, base_id)
        p = py_cli(store, "show", fmt, base_id)
        check("%s: trace show %s is Python's, byte for byte" % (name, fmt),
              c.returncode == 0 and p.returncode == 0 and c.stdout == p.stdout and
              len(c.stdout) > 100,
              "C %d %s\nPython %d %s\n%s" % (c.returncode, c.stderr, p.returncode,
                                             p.stderr[-800:], diff(c.stdout, p.stdout)))
    c = c_cli(args, store, "list")
    p = py_cli(store, "list")
    check("%s: trace list is Python's, byte for byte" % name,
          c.returncode == 0 and p.returncode == 0 and c.stdout == p.stdout and
          base_id in c.stdout, "C:\n%s%s\nPython:\n%s%s" % (c.stdout, c.stderr, p.stdout,
                                                            p.stderr[-500:]))


def diff(a, b):
    al, bl = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(al, bl)):
        if x != y:
            return "line %d:\n  C:      %s\n  Python: %s" % (i + 1, x, y)
    return "lengths %d, %d" % (len(al), len(bl))


class Direct(ts.Sidecar):
    """A sidecar with no broker: points go to the store. The url (password)
    only in its 0600 config file."""

    def __init__(self, binary, store, workdir, name="direct", extra=""):
        self.binary = binary
        self.sock = os.path.join(workdir, name + ".sock")
        self.conf = os.path.join(workdir, name + ".conf")
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write('listen_socket = "%s"\nstore = "%s"\nspool_dir = ""\n%s'
                    % (self.sock, store, extra))
        self.log = open(os.path.join(workdir, name + ".log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ts.RUNNING.append(self.proc)
        deadline = time.time() + TIMEOUT
        while not os.path.exists(self.sock) and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited:\n" + self.text())
            time.sleep(0.02)


class Collector(ts.Sidecar):
    """A --collect sidecar on its own queue."""

    def __init__(self, binary, url, store, workdir, queue):
        self.binary = binary
        self.sock = os.path.join(workdir, "col.sock")
        self.conf = os.path.join(workdir, "col.conf")
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write('listen_socket = "%s"\nstore = "%s"\ntransport_url = "%s"\n'
                    'collect = true\ncollector_queue = "%s"\nspool_dir = ""\n'
                    'rabbit_retry_interval = 0.2\nrabbit_retry_backoff = 2.0\n'
                    'rabbit_interval_max = 1.0\n' % (self.sock, store, url, queue))
        self.log = open(os.path.join(workdir, "col.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ts.RUNNING.append(self.proc)
        deadline = time.time() + TIMEOUT
        while "consuming" not in self.text() and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("collector exited:\n" + self.text())
            time.sleep(0.05)


PY_WRITER = r"""
import sys
from osprofiler import notifier, profiler
from osprofiler.drivers import base
url, base_id = sys.stdin.read().split()
d = base.get_driver(url, project="py-proj", service="py-svc", host="py-host")
notifier.set(d.notify)
profiler.init("key", base_id=base_id)
with profiler.Trace("wsgi", info={"request": {"path": "/v2/caf\u00e9", "method": "GET"}}):
    with profiler.Trace("db", info={"db": {"statement": "SELECT 1", "params": [1, 2.5]}}):
        pass
    try:
        with profiler.Trace("rpc", info={"function": {"name": "f\u00fc\u00df"}}):
            raise ValueError("boom \u2603")
    except ValueError:
        pass
if len(sys.argv) > 1:
    with profiler.Trace("nan", info={"x": float("nan")}):
        pass
"""


def python_creates(url):
    """Python's sqlalchemy driver creating its table at url."""
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import sys\nfrom osprofiler.drivers import base\n"
                        "base.get_driver(sys.stdin.read().strip())"],
                       input=url, capture_output=True, text=True, timeout=60 * SLOW)
    return r.returncode == 0, r.stderr[-500:]


def python_writes(url, base_id, nan=False):
    """PY_WRITER: Python's profiler into its sqlalchemy driver at url."""
    return subprocess.run(["/usr/bin/python3", "-c", PY_WRITER] + (["nan"] if nan else []),
                          input=url + " " + base_id, capture_output=True, text=True,
                          timeout=60 * SLOW)
