# SPDX-License-Identifier: Apache-2.0
"""What the tests of the SQL stores in Python's sqlalchemy layout share
(integration.pg, integration.mysql): the C and Python CLIs side by side,
sidecars storing into a URL kept in a 0600 config file, the golden points,
and Python's own driver writing. The caller puts tests/integration and
tests/support on sys.path."""
import os
import subprocess

import test_sidecar as ts
from tap import SLOW, check

TIMEOUT = 30 * SLOW
PY_CLI = "/usr/bin/osprofiler"


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


def Direct(binary, store, workdir, name="direct", extra=""):
    """A sidecar with no broker: points go to the store."""
    return ts.ConfSidecar(binary, workdir, name,
                          'store = "%s"\nspool_dir = ""\n%s' % (store, extra), timeout=TIMEOUT)


def Collector(binary, url, store, workdir, queue):
    """A --collect sidecar on its own queue."""
    return ts.ConfSidecar(binary, workdir, "col", ts.collector_conf(store, url, queue),
                          ready="consuming", timeout=TIMEOUT)


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
