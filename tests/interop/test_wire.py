# SPDX-License-Identifier: Apache-2.0
"""interop.wire: the same calls put the same bytes into RabbitMQ, whether
Python osprofiler makes them or a C service does through osprofiler-sidecar.

  test_wire.py --driver BIN --sidecar BIN --broker-env FILE

For each scenario, three runs publish to the private broker's profiler.info
queue, which the test drains (basic.get) after each run:

  python  osprofiler 3.4.3's messaging driver (oslo.messaging, the real
          notifier: init_from_conf's driver) with project/service/host, and
          the scenario's profiler calls;
  c       the same calls through libosprofiler (interop_driver "sequence"),
          handed to a real osprofiler-sidecar (binary point records, rings
          and frames), which publishes;
  json    the payloads Python published, sent to the same sidecar as JSON
          records in hop frames (what other languages and `osprofiler run`
          send), so the sidecar's JSON path is held to Python too.

The AMQP bodies are compared byte for byte once the run-specific values are
replaced: each distinct UUID by ID1, ID2, ... in order of appearance
(message_id and trace ids), timestamps by TS, _unique_id by UID. Bodies are
taken in payload-timestamp order (stable), as points of one thread may
reach the broker through a ring and a socket.

A scenario may also state what the C side must count instead of publishing
(a limit the library enforces), checked in its osp_get_stats() and log.
"""

import argparse
import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import amqp

import interop_common as ic

HOST = "wire-host"
PROJECT = "wire-project"
SERVICE = "wire-service"
KEY = "SECRET_KEY"
BASE = "9c2ae3b3-ca84-481d-adba-a715ecdd2ea2"
PARENT = "00000000-0000-4000-8000-0000000000aa"

UNIQUE_RE = re.compile(r'"_unique_id": "[0-9a-f]{32}"')
ENVELOPE_TS_RE = re.compile(r'"timestamp": "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?"')


# ---------------------------------------------------------------- broker

class Broker:
    def __init__(self, port):
        self.port = port

    def _conn(self):
        c = amqp.Connection("127.0.0.1:%d" % self.port, userid="guest", password="guest")
        c.connect()
        return c

    def purge(self, queue="profiler.info"):
        c = self._conn()
        try:
            c.channel().queue_purge(queue)
        except amqp.exceptions.NotFound:
            pass
        c.close()

    def drain(self, want, timeout=30.0, settle=0.5, queue="profiler.info"):
        """Bodies (bytes) until `want` arrived, then `settle` seconds more to
        see any extra message."""
        c = self._conn()
        ch = c.channel()
        got, deadline, extra_until = [], time.time() + timeout, None
        while time.time() < deadline:
            if len(got) >= want:
                extra_until = extra_until or time.time() + settle
                if time.time() >= extra_until:
                    break
            try:
                m = ch.basic_get(queue, no_ack=True)
            except amqp.exceptions.NotFound:  # not declared yet
                c.close()
                time.sleep(0.1)
                c = self._conn()
                ch = c.channel()
                continue
            if m is None:
                time.sleep(0.02)
                continue
            body = m.body
            got.append(body if isinstance(body, bytes) else body.encode())
        c.close()
        return got


# ---------------------------------------------------------------- sidecar

def frame(publisher, records):
    """A hop frame of JSON records (docs/wire.md)."""
    pub = publisher.encode()
    return (b"OSPH" + bytes([1, 0]) + struct.pack("<H", len(pub)) + pub +
            b"".join(r + b"\n" for r in records))


class Sidecar:
    def __init__(self, binary, url, workdir):
        self.binary = binary
        self.sock = os.path.join(workdir, "sc.sock")
        self.conf = os.path.join(workdir, "sidecar.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nshutdown_grace = 5.0\n'
                    'spool_dir = "%s"\n' % (self.sock, os.path.join(workdir, "spool")))
        self.log = open(os.path.join(workdir, "sidecar.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf, "--transport-url", url],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(self.sock) and
                                              "connected to" in self.text()):
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited %s:\n%s"
                                   % (self.proc.returncode, self.text()))
            time.sleep(0.02)

    def text(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def send_json(self, payloads):
        """Each payload as a JSON record in a frame of its own; one larger
        than a frame in a sealed memfd (docs/wire.md, "Large points")."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.sock)
        for p in payloads:
            f = frame(HOST, [p])
            if len(f) <= 256 * 1024:
                s.send(f)
                continue
            fd = os.memfd_create("osp-wire", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            os.write(fd, p + b"\n")
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK)
            socket.send_fds(s, [frame(HOST, [])[:8 + len(HOST)].replace(
                b"OSPH\x01\x00", b"OSPH\x01\x04", 1)], [fd])
            os.close(fd)
        s.close()

    def stats(self):
        r = subprocess.run([self.binary, "--config", self.conf, "--stats"],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode


# ---------------------------------------------------------------- python

class PythonPublisher:
    """osprofiler's messaging driver, as init_from_conf builds it; records the
    payload text of every notification it was handed."""

    def __init__(self, url):
        from oslo_config import cfg
        from osprofiler.drivers import base
        conf = cfg.ConfigOpts()
        conf([], project="osp-wire")
        self.driver = base.get_driver("messaging://", project=PROJECT, service=SERVICE,
                                      host=HOST, context={}, conf=conf,
                                      transport_url=url)
        self.payloads = []

    def notify(self, info, context=None):
        self.driver.notify(info, context)  # adds project and service in place
        self.payloads.append(json.dumps(info).encode())

    def run(self, scenario):
        from osprofiler import notifier, profiler
        self.payloads = []
        previous = notifier.get()
        notifier.set(self.notify)
        try:
            scenario()
        finally:
            profiler.clean()
            notifier.set(previous)
        return list(self.payloads)


# ---------------------------------------------------------------- comparing

def normalise(bodies):
    """Sorted by payload timestamp (stable), run-specific values replaced."""
    def ts(body):
        return json.loads(body)["payload"]["timestamp"]

    lines = [b.decode("utf-8") for b in sorted(bodies, key=ts)]
    lines = [UNIQUE_RE.sub('"_unique_id": "UID"', x) for x in lines]
    lines = [ENVELOPE_TS_RE.sub('"timestamp": "ENVELOPE_TS"', x) for x in lines]
    lines, _ = ic.normalise_ids(lines)
    return ic.normalise_timestamps(lines)


def shorten(lines, keep=300):
    """Long lines cut for the diff output (the comparison uses them whole)."""
    return [x if len(x) <= keep else x[:keep] + "...(%d bytes)" % len(x) for x in lines]


def compare(ck, label, py_bodies, other_bodies, other):
    a, b = normalise(py_bodies), normalise(other_bodies)
    if a == b:
        return ck.ok(True, "[%s] %s bodies == Python's, byte for byte (%d messages)"
                     % (label, other, len(a)))
    return ck.lines_eq(shorten(a), shorten(b), "[%s] %s bodies == Python's, byte for byte"
                       % (label, other), "python", other)


# ---------------------------------------------------------------- scenarios

def sc_empty_name():
    """A point named "": Python publishes "-start" and "-stop"."""
    from osprofiler import profiler
    profiler.init(KEY, base_id=BASE, parent_id=PARENT)
    profiler.start("")
    profiler.stop()
    profiler.start("", {"k": "v"})
    profiler.start("inner")
    profiler.stop()
    profiler.stop({"after": 1})


C_EMPTY_NAME = [
    ["init", KEY, BASE, PARENT],
    ["start", "", None],
    ["stop", None],
    ["start", "", {"k": "v"}],
    ["start", "inner", None],
    ["stop", None],
    ["stop", {"after": 1}],
]


def sc_ordinary():
    """Ordinary points: the baseline the others are measured against."""
    from osprofiler import profiler
    profiler.init(KEY, base_id=BASE, parent_id=PARENT)
    profiler.start("wsgi", {"request": {"path": "/v2/servers", "query": "", "method": "GET",
                                        "scheme": "http"}})
    profiler.start("db", {"db": {"statement": "SELECT 1", "params": {}}})
    profiler.stop()
    profiler.stop()


C_ORDINARY = [
    ["init", KEY, BASE, PARENT],
    ["start", "wsgi", {"request": {"path": "/v2/servers", "query": "", "method": "GET",
                                   "scheme": "http"}}],
    ["start", "db", {"db": {"statement": "SELECT 1", "params": {}}}],
    ["stop", None],
    ["stop", None],
]

WSGI_PATHS = ["/v2.1/%7Eops/a%2Cb/[x]", "/v2/images/caf%C3%A9/%zz%4/%25", "/a%20b/%2F/"]
WSGI_REQUEST = {"method": "POST", "query": "limit=5&marker=x", "scheme": "https"}


def wsgi_headers():
    from osprofiler import _utils
    info, hmac = _utils.signed_pack({"base_id": BASE, "parent_id": PARENT}, KEY)
    return {"X-Trace-Info": info.decode(), "X-Trace-HMAC": hmac}


def sc_wsgi():
    """Python's WsgiMiddleware (webob's request.path) on requests whose
    paths a WSGI server decoded (eventlet, wsgiref: urllib's unquote)."""
    import urllib.parse
    import webob
    import webob.dec
    from osprofiler import web

    @webob.dec.wsgify
    def app(request):
        return webob.Response("ok")

    mw = web.WsgiMiddleware(app, hmac_keys=KEY, enabled=True)
    for path in WSGI_PATHS:
        req = webob.Request.blank("/", headers=wsgi_headers(), method="POST")
        req.environ.update({"PATH_INFO": urllib.parse.unquote(path, "latin1"),
                            "QUERY_STRING": WSGI_REQUEST["query"],
                            "wsgi.url_scheme": WSGI_REQUEST["scheme"]})
        req.get_response(mw)


def c_wsgi():
    ops = []
    for path in WSGI_PATHS:
        ops += [["web_begin", wsgi_headers(), dict(WSGI_REQUEST, path=path)],
                ["web_end", None, None]]
    return ops


def nest(depth):
    """{"a": {"a": ... {}}}: depth dicts."""
    d = {}
    for _ in range(depth - 1):
        d = {"a": d}
    return d


def sc_points(points, base=BASE, parent=PARENT):
    """A scenario: for each (name, info) a start with that info and a stop."""
    def run():
        from osprofiler import profiler
        profiler.init(KEY, base_id=base, parent_id=parent)
        for name, info in points:
            profiler.start(name, info)
            profiler.stop()
    return run


def c_points(points, base=BASE, parent=PARENT, nested=()):
    ops = [["init", KEY, base, parent]]
    for name, info in points:
        if name in nested:
            ops += [["start_nested", name, nested[name]], ["stop", None]]
        else:
            ops += [["start", name, info], ["stop", None]]
    return ops


def pad(n):
    return {"pad": "x" * n}


LONG_BASE, LONG_PARENT, TOO_LONG = "b" * 300, "p" * 65535, "q" * 70000
DEPTHS = {"deep600": 600, "deep900": 900}
SIZES = [("k300", 300 * 1024), ("m3", 3 * 1024 * 1024), ("m8", 8 * 1024 * 1024 - 4096)]

# label, python scenario, C ops, C setup extras, expectations: what C drops
# ("c_drop": point names, with "c_log" the reason the library logs) and
# what the sidecar refuses from the JSON run ("json_bad_frames").
SCENARIOS = [
    ("ordinary points", sc_ordinary, C_ORDINARY, {}, {}),
    ("point named ''", sc_empty_name, C_EMPTY_NAME, {}, {}),
    ("wsgi request paths", sc_wsgi, c_wsgi(), {}, {}),
    ("ids of 300 and 65535 bytes", sc_points([("x", None)], LONG_BASE, LONG_PARENT),
     c_points([("x", None)], LONG_BASE, LONG_PARENT), {}, {}),
    ("a parent_id of 70000 bytes (over what a record carries)",
     sc_points([("x", None)], BASE, TOO_LONG), c_points([("x", None)], BASE, TOO_LONG), {},
     {"c_drop": ["x-start", "x-stop"], "c_log": "base_id or parent_id is over 65535 bytes"}),
    ("info nested 600 and 900 levels",
     sc_points([(n, {"n": nest(d)}) for n, d in DEPTHS.items()]),
     c_points([(n, None) for n in DEPTHS], nested=DEPTHS), {}, {}),
    ("points of 300 KiB, 3 MiB and 8 MiB - 4 KiB (ring)",
     sc_points([(n, pad(k)) for n, k in SIZES]), c_points([(n, pad(k)) for n, k in SIZES]),
     {}, {}),
    ("points of 300 KiB, 3 MiB and 8 MiB - 4 KiB (socket only)",
     sc_points([(n, pad(k)) for n, k in SIZES]), c_points([(n, pad(k)) for n, k in SIZES]),
     {"ring_size": 0}, {}),
    ("a point of 9 MiB (over the limit)",
     sc_points([("small", None), ("huge", pad(9 * 1024 * 1024))]),
     c_points([("small", None), ("huge", pad(9 * 1024 * 1024))]), {},
     {"c_drop": ["huge-start"], "c_log": "a point over 8 MiB", "json_bad_frames": 1,
      "json_drop": ["huge-start"]}),
]


def c_only(ck, args, broker, sidecar):
    """Beyond what Python can publish (its json.dumps fails at ~960 levels
    through the messaging driver): info nested 999 levels (a payload of
    1000) still goes; 1000 levels are dropped by the library, counted."""
    broker.purge()
    res = run_c(args, sidecar, [["init", KEY, BASE, PARENT],
                                ["start_nested", "ok", 998], ["stop", None],
                                ["start_nested", "over", 999], ["stop", None]], {})
    st = res["stats"]
    ck.eq(1, st["dropped_oversize"], "[c only] info nested 1000 levels: dropped, counted")
    ck.ok(any("nested over 999 levels" in line for line in res["log"]),
          "[c only] the library logs why", res["log"])
    bodies = broker.drain(3)
    # Python's own json.loads cannot read a body this deep at the default
    # recursion limit (the payload's 1000 levels and the body's one): raise it.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2000)
    try:
        names = [json.loads(b)["payload"]["name"] for b in bodies]
        payload = json.loads(bodies[0])["payload"]
    finally:
        sys.setrecursionlimit(limit)
    ck.eq(["ok-start", "ok-stop", "over-stop"], names,
          "[c only] the payload nested 1000 levels is published, the deeper one not")
    depth, d = 0, payload
    while isinstance(d, dict) and d:
        depth += 1
        d = d.get("info", d.get("n", d.get("a")))
    ck.eq(1000, depth + (1 if d == {} else 0), "[c only] its nesting is 1000 levels")


def run_c(args, sidecar, ops, extra):
    setup = {"project": PROJECT, "service": SERVICE, "host": HOST, "hmac_keys": KEY,
             "sidecar": sidecar.sock}
    setup.update(extra)
    return ic.run_driver(args.driver, "sequence", {"setup": setup, "ops": ops})


def named(bodies, drop):
    return [b for b in bodies if json.loads(b)["payload"]["name"] not in drop]


def run_scenario(ck, args, broker, py, sidecar, label, py_fn, ops, extra, expect):
    broker.purge()
    py_payloads = py.run(py_fn)
    py_bodies = broker.drain(len(py_payloads), timeout=60)
    ck.eq(len(py_payloads), len(py_bodies),
          "[%s] python: every notification reached the queue" % label)

    res = run_c(args, sidecar, ops, extra)
    if not ck.eq("OSP_OK", res["setup"]["name"], "[%s] c: osp_setup" % label):
        return
    bad = [r for r in res["results"] if r["name"] != "OSP_OK"]
    ck.eq([], bad, "[%s] c: every call returned OSP_OK" % label)
    st = res["stats"]
    c_drop = expect.get("c_drop", [])
    ck.eq((len(c_drop), st["emitted"]), (st["dropped_oversize"], st["sent"] + len(c_drop)),
          "[%s] c: every point handed to the sidecar but %d counted too large (%r)"
          % (label, len(c_drop), st))
    if "c_log" in expect:
        ck.ok(any(expect["c_log"] in line for line in res["log"]),
              "[%s] c: the library logs why: %s" % (label, expect["c_log"]), res["log"])
    want = named(py_bodies, c_drop)
    c_bodies = broker.drain(len(want), timeout=60)
    compare(ck, label, want, c_bodies, "c")

    before = sidecar.stats()
    sidecar.send_json(py_payloads)
    want = named(py_bodies, expect.get("json_drop", []))
    json_bodies = broker.drain(len(want), timeout=60)
    compare(ck, label, want, json_bodies, "json")
    after = sidecar.stats()
    ck.eq(expect.get("json_bad_frames", 0), after["bad_frames"] - before["bad_frames"],
          "[%s] json: frames the sidecar refused" % label)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("-k", help="run only scenarios whose label contains this")
    args = ap.parse_args()
    env = dict(line.strip().split("=", 1) for line in open(args.broker_env) if "=" in line)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    ck = ic.Checker("interop.wire")
    broker = Broker(port)
    py = PythonPublisher(url)
    with tempfile.TemporaryDirectory(prefix="osp-wire-") as work:
        sidecar = Sidecar(args.sidecar, url, work)
        try:
            for label, py_fn, ops, extra, expect in SCENARIOS:
                if args.k and args.k not in label:
                    continue
                run_scenario(ck, args, broker, py, sidecar, label, py_fn, ops, extra,
                             expect)
            if not args.k or args.k in "c only":
                c_only(ck, args, broker, sidecar)
            st = sidecar.stats()
            ck.eq(0, sum(st["dropped"].values()) if st else None,
                  "sidecar dropped no point (%r)" % (st and st["dropped"]))
            ck.ok("refused a frame: the records' memfd holds 9437" in sidecar.text() or
                  args.k, "the sidecar logs why it refused the 9 MiB frame",
                  sidecar.text()[-1000:])
        finally:
            rc = sidecar.stop()
        ck.eq(0, rc, "sidecar exits 0")
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
