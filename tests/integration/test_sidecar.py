#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.sidecar: osprofiler-sidecar against a real RabbitMQ and the
real oslo.messaging, black-box: it speaks the hop (docs/wire.md) itself,
reads the queue with py-amqp and listens with an oslo notification listener.

  test_sidecar.py --sidecar BIN --sample BIN --broker-env FILE --golden DIR
"""
import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import amqp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import FAILS, RUNNING, SLOW, check, free_port, stop_leftovers, summary  # noqa: E402,F401
from sidecar_proc import SidecarProc  # noqa: E402


def frame(publisher, records, flags=0):
    pub = publisher.encode()
    return (b"OSPH" + bytes([1, flags]) + struct.pack("<H", len(pub)) + pub +
            b"".join(r + b"\n" for r in records))


class Sidecar(SidecarProc):
    def __init__(self, binary, url, workdir, extra_conf="", wait_connected=True, env=None):
        self.binary = binary
        self.sock = os.path.join(workdir, "sc.sock")
        self.conf = os.path.join(workdir, "sidecar.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nshutdown_grace = 5.0\n'
                    'spool_dir = ""\n%s' % (self.sock, extra_conf))
        self.log = open(os.path.join(workdir, "sidecar.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf, "--transport-url", url],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        RUNNING.append(self.proc)
        deadline = time.time() + 30
        while not os.path.exists(self.sock) and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited %s:\n%s"
                                   % (self.proc.returncode, self.text()))
            time.sleep(0.02)
        while wait_connected and "connected to" not in self.text() and time.time() < deadline:
            time.sleep(0.02)


class ConfSidecar(Sidecar):
    """A sidecar whose whole configuration, URLs and their passwords too, is
    in a 0600 file: nothing secret on its command line. ready: None (do not
    wait), "socket" (its listen socket exists) or a text its log must show."""

    def __init__(self, binary, workdir, name, conf, ready="socket", timeout=30 * SLOW):
        self.binary = binary
        self.sock = os.path.join(workdir, name + ".sock")
        self.conf = os.path.join(workdir, name + ".conf")
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write('listen_socket = "%s"\n%s' % (self.sock, conf))
        self.log = open(os.path.join(workdir, name + ".log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        RUNNING.append(self.proc)
        deadline = time.time() + timeout
        while ready and time.time() < deadline and not (
                os.path.exists(self.sock) if ready == "socket" else ready in self.text()):
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited %s:\n%s"
                                   % (self.proc.returncode, self.text()))
            time.sleep(0.02)

    def collector_state(self):
        """--stats' collector object, or None."""
        return (self.stats() or {}).get("collector")


def collector_conf(store, url, queue, extra=""):
    """A collector's configuration: quick reconnects, no spool."""
    return ('store = "%s"\ntransport_url = "%s"\ncollect = true\ncollector_queue = "%s"\n'
            'spool_dir = ""\nrabbit_retry_interval = 0.2\nrabbit_retry_backoff = 2.0\n'
            'rabbit_interval_max = 1.0\n%s' % (store, url, queue, extra))


def exit_stats(sc):
    """The counters the sidecar logs when it exits."""
    m = re.search(r"\[stats\] exit: (\{.*\})", sc.text())
    return json.loads(m.group(1)) if m else None


def drain(port, queue="profiler.info", want=1, timeout=30.0):
    """basic.get until `want` messages arrived (or timeout)."""
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    ch = c.channel()
    got, deadline = [], time.time() + timeout
    while len(got) < want and time.time() < deadline:
        try:
            m = ch.basic_get(queue, no_ack=True)
        except amqp.exceptions.NotFound:  # not declared (yet)
            c.close()
            time.sleep(0.2)
            c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
            c.connect()
            ch = c.channel()
            continue
        if m is None:
            time.sleep(0.05)
            continue
        got.append(m)
    c.close()
    return got


def purge(port, queue="profiler.info"):
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    try:
        c.channel().queue_purge(queue)
    except amqp.exceptions.NotFound:
        pass
    c.close()


def test_wire(args, port, url, work):
    """A known payload comes out as the golden message, byte for byte once
    message_id, timestamp and _unique_id are substituted."""
    golden = open(os.path.join(args.golden, "osprofiler_start.body"), "rb").read()
    gmsg = json.loads(golden)
    payload = json.dumps(gmsg["payload"]).encode()  # json.dumps == what the library writes
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(work, "notify"))
    notify.settimeout(15)
    sc = Sidecar(args.sidecar, url, work, "stats_interval = 0.5\n",
                 env=dict(os.environ, NOTIFY_SOCKET=os.path.join(work, "notify")))
    try:
        ready = notify.recv(100)
    except socket.timeout:
        ready = b""
    check("wire: systemd readiness (Type=notify)", ready == b"READY=1", repr(ready))
    purge(port)
    sc.send(frame("golden-host", [payload]))
    msgs = drain(port)
    check("wire: one message in profiler.info", len(msgs) == 1, "got %d" % len(msgs))
    if msgs:
        m = msgs[0]
        p = m.properties
        check("wire: properties as kombu (0xf800)",
              p.get("content_type") == "application/json" and
              p.get("content_encoding") == "utf-8" and
              p.get("application_headers") == {} and p.get("delivery_mode") == 2 and
              p.get("priority") == 0, repr(p))
        check("wire: exchange and routing key",
              m.delivery_info["exchange"] == "openstack" and
              m.delivery_info["routing_key"] == "profiler.info", repr(m.delivery_info))
        body = json.loads(m.body)
        check("wire: message_id is a uuid4",
              re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                           body["message_id"]) is not None, body["message_id"])
        check("wire: _unique_id is uuid4().hex",
              re.fullmatch(r"[0-9a-f]{32}", body["_unique_id"]) is not None)
        check("wire: timestamp is str(utcnow())",
              re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?", body["timestamp"])
              is not None, body["timestamp"])
        norm = m.body
        if isinstance(norm, str):
            norm = norm.encode()
        for k in ("message_id", "timestamp", "_unique_id"):
            norm = norm.replace(body[k].encode(), gmsg[k].encode())
        check("wire: body byte-identical to the golden Python body", norm == golden,
              "C:      %r\ngolden: %r" % (norm[:300], golden[:300]))
    time.sleep(1.2)
    check("wire: the counters are logged periodically",
          re.search(r"info \[stats\] \{", sc.text()) is not None, sc.text()[-300:])
    st = sc.stats()
    check("wire: --stats reports the counters",
          st is not None and st["received"] == 1 and st["confirmed"] == 1 and
          st["connected"] is True and st["dropped"]["invalid"] == 0, repr(st))
    rc = sc.stop()
    check("wire: SIGTERM exits 0", rc == 0, "rc=%s" % rc)
    st = exit_stats(sc)
    check("wire: exit stats logged", st is not None and st["received"] == 1 and
          st["published"] == 1 and st["confirmed"] == 1, sc.text()[-500:])


def test_bad_input(args, port, url, work):
    """Malformed frames are counted and dropped alone; valid ones still go."""
    sc = Sidecar(args.sidecar, url, work)
    purge(port)
    good = (b'{"name": "x-start", "base_id": "b", "trace_id": "t", "parent_id": "p", '
            b'"timestamp": "2024-01-01T00:00:00.000000", "info": {"host": "h"}, '
            b'"project": null, "service": "svc"}')
    bad = [b"garbage", b"XXXX\x01\x00\x00\x00", frame("h", [b"{not json"]),
           frame("h", [b'{"name": "x"}']), frame("h", [b"[1, 2]"]),
           frame("h", [good])[:-5],  # truncated record
           b"OSPH\x09\x00\x00\x00" + good + b"\n",  # unknown version
           b"OSPH\x01\x00\xff\x00h"]  # publisher length out of bounds
    sc.send(bad + [frame("h", [good, good])])
    msgs = drain(port, want=2)
    check("bad input: the valid points still arrive", len(msgs) == 2, "got %d" % len(msgs))
    if msgs:
        b = json.loads(msgs[0].body)
        check("bad input: event_type profiler.<service>", b["event_type"] == "profiler.svc")
        check("bad input: publisher_id from the frame", b["publisher_id"] == "h")
    try:  # an oversized frame: the kernel refuses or the sidecar drops it
        sc.send(frame("h", [b'{"pad": "' + b"x" * 300000 + b'"}']))
    except OSError:
        pass
    sc.send(frame("h", [good]))
    check("bad input: still serving after an oversized frame", len(drain(port)) == 1)
    # Frames whose records come in a memfd (docs/wire.md, "Large points"),
    # from a hostile client: each is refused whole, counted, and the
    # sidecar never reads what it must not (a pipe would block it, an
    # unsealed memfd could change under it, a huge one is bounded).
    before = sc.stats()
    hostile = [ext_frame(None), ext_frame(memfd(good + b"\n", seal=False)),
               ext_frame(pipe_fd()), ext_frame(memfd(b"", seal=True)),
               ext_frame(memfd(b"\n", seal=True, size=8 * 1024 * 1024 + 5)),
               ext_frame(memfd(good + b"\n", seal=True), extra_fd=True),
               ext_frame(memfd(good + b"\n", seal=True), inline=good + b"\n")]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sc.sock)
    for data, fds in hostile:
        socket.send_fds(s, [data], fds) if fds else s.send(data)
        for fd in fds:
            os.close(fd)
    data, fds = ext_frame(memfd(good + b"\n" + good + b"\n", seal=True))
    socket.send_fds(s, [data], fds)  # a well-formed one still goes
    os.close(fds[0])
    s.close()
    check("bad input: a memfd frame's two points are published",
          len(drain(port, want=2)) == 2)
    after = sc.stats()
    check("bad input: every hostile memfd frame refused whole and counted",
          before and after and after["bad_frames"] - before["bad_frames"] == len(hostile),
          "before %r after %r" % (before, after))
    rc = sc.stop()
    text = sc.text()
    st = exit_stats(sc)
    check("bad input: every malformed frame or point counted (frames refused whole, "
          "points alone)",
          st is not None and st["dropped"]["invalid"] + st["bad_frames"] >= len(bad) and
          st["dropped"]["invalid"] >= 4 and st["bad_frames"] >= 4, text[-400:])
    check("bad input: the reasons are logged",
          "not a memfd sealed" in text and "1 to 8388612 allowed" in text and
          "with 2 descriptors" in text and "carries only its header" in text,
          text[-1500:])
    check("bad input: exit 0", rc == 0)


def memfd(data, seal, size=None):
    """A memfd holding data (then grown to size), sealed as the wire asks or
    not."""
    import fcntl
    fd = os.memfd_create("osp-test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    if size:
        os.ftruncate(fd, size)
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK)
    return fd


def pipe_fd():
    r, w = os.pipe()
    os.close(w)
    return r


def ext_frame(fd, extra_fd=False, inline=b""):
    """(frame bytes, descriptors) of a JSON frame whose records are in fd."""
    data = b"OSPH" + bytes([1, 0x04]) + struct.pack("<H", 1) + b"h" + inline
    fds = [] if fd is None else [fd]
    if extra_fd:
        fds.append(pipe_fd())
    return data, fds


def listen_oslo(port, n, timeout=20):
    """An oslo.messaging notification listener, as ceilometer runs one."""
    import oslo_messaging
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf([], project="osp-test")
    transport = oslo_messaging.get_notification_transport(
        conf, url="rabbit://guest:guest@127.0.0.1:%d/" % port)
    got, done = [], threading.Event()

    class Endpoint(object):
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            got.append((publisher_id, event_type, "INFO", payload))
            if len(got) >= n:
                done.set()

    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic="profiler")], [Endpoint()],
        executor="threading")
    listener.start()
    return listener, got, done


def test_oslo_listener(args, port, url, work, v2):
    """The sidecar's notifications reach an oslo listener with the same
    publisher_id, event_type, priority and payload (both body formats)."""
    purge(port)
    sc = Sidecar(args.sidecar, url, work,
                 'driver = "%s"\n' % ("messagingv2" if v2 else "messaging"))
    points = []
    for i in range(5):
        points.append({"name": "db-start", "base_id": "base-%d" % i, "trace_id": "t%d" % i,
                       "parent_id": "p", "timestamp": "2024-01-01T00:00:00.00000%d" % i,
                       "info": {"db": {"statement": "SELECT %d" % i, "params": {}},
                                "unicode": "h\u00e9llo", "host": "vm"},
                       "project": "proj", "service": "nova-api"})
    listener, got, done = listen_oslo(port, len(points))
    time.sleep(1.0)
    sc.send(frame("ctl-1", [json.dumps(p).encode() for p in points]))
    done.wait(20)
    listener.stop()
    listener.wait()
    label = "v2" if v2 else "v1"
    check("oslo %s: every notification delivered" % label, len(got) == len(points),
          "got %d" % len(got))
    want = [("ctl-1", "profiler.nova-api", "INFO", p) for p in points]
    check("oslo %s: publisher_id, event_type, priority, payload as sent" % label,
          sorted(map(json.dumps, got)) == sorted(map(json.dumps, want)),
          "got %r" % got[:1])
    check("oslo %s: exit 0" % label, sc.stop() == 0)


def test_library_end_to_end(args, port, url, work):
    """libosprofiler (sample_service) -> sidecar -> RabbitMQ."""
    purge(port)
    sc = Sidecar(args.sidecar, url, work)
    conf = os.path.join(work, "svc.conf")
    with open(conf, "w") as f:
        f.write("[profiler]\nenabled = true\ntrace_sqlalchemy = true\nhmac_keys = k\n"
                "sidecar_socket = %s\n" % sc.sock)
    out = subprocess.run([args.sample, "--config", conf, "--requests", "3"],
                         env=dict(os.environ, OSPROFILER_HMAC_KEY="k"),
                         capture_output=True, text=True, timeout=60)
    check("e2e: sample exits 0", out.returncode == 0, out.stderr)
    msgs = drain(port, want=36)
    check("e2e: all 36 points published (3 requests x 12)", len(msgs) == 36,
          "got %d; sample said: %s" % (len(msgs), out.stderr))
    bases = {json.loads(m.body)["payload"]["base_id"] for m in msgs}
    check("e2e: three traces", len(bases) == 3, repr(bases))
    rc = sc.stop()
    st = exit_stats(sc)
    check("e2e: rings were used", st is not None and st["rings_attached"] >= 1,
          sc.text()[-300:])
    check("e2e: exit 0", rc == 0)


def broker(args, verb):
    r = subprocess.run([args.broker_sh, verb, os.path.dirname(args.broker_env)],
                       capture_output=True, text=True, timeout=180)
    return r.returncode == 0


def point(i, service="svc"):
    return json.dumps({"name": "p-start", "base_id": "b", "trace_id": "t%06d" % i,
                       "parent_id": "p", "timestamp": "2024-01-01T00:00:00.000000",
                       "info": {"host": "h"}, "project": None, "service": service}).encode()


def collect_ids(port, queue="profiler.info", want=0, timeout=30.0):
    ids, deadline = [], time.time() + timeout
    while len(set(ids)) < want and time.time() < deadline:
        try:
            for m in drain(port, queue, want=want - len(set(ids)), timeout=1.0):
                ids.append(json.loads(m.body)["payload"]["trace_id"])
        except (OSError, amqp.exceptions.AMQPError):  # the broker is restarting
            time.sleep(0.5)
    return ids


def test_broker_faults(args, port, url, work):
    """Broker down at start, then up: everything is delivered. kill -9 of the
    broker under load (durable queue), restart: every point at least once."""
    # Durable exchange and queue of their own: the other tests use oslo's
    # defaults (not durable), and RabbitMQ refuses a redeclaration with other
    # flags (406).
    sc = Sidecar(args.sidecar, url, work, "amqp_durable_queues = true\n"
                 'control_exchange = "osp_faults"\ntopics = {"faults"}\n'
                 "rabbit_retry_interval = 0.2\nrabbit_interval_max = 1.0\n")
    q = "faults.info"
    check("faults: warns that oslo's default queue is not durable only when it is not",
          "not durable" not in sc.text())
    check("faults: broker stopped", broker(args, "stop"))
    for i in range(0, 500, 50):
        sc.send(frame("h", [point(k) for k in range(i, i + 50)]))
    time.sleep(1.0)
    check("faults: broker restarted", broker(args, "restart"))
    ids = collect_ids(port, q, want=500)
    check("faults: all 500 points sent while the broker was down arrive",
          set(ids) == {"t%06d" % i for i in range(500)}, "got %d distinct" % len(set(ids)))
    # kill -9 under load
    sender_done = threading.Event()

    def load():
        for i in range(1000, 5000, 100):
            sc.send(frame("h", [point(k) for k in range(i, i + 100)]))
            time.sleep(0.02)
        sender_done.set()

    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    check("faults: broker killed -9", broker(args, "kill9"))
    time.sleep(0.5)
    check("faults: broker restarted after kill -9", broker(args, "restart"))
    t.join()
    ids = collect_ids(port, q, want=4000, timeout=60)
    want = {"t%06d" % i for i in range(1000, 5000)}
    check("faults: every point of the load delivered at least once (%d messages, %d "
          "duplicates)" % (len(ids), len(ids) - len(set(ids))), want <= set(ids),
          "missing %d" % len(want - set(ids)))
    rc = sc.stop()
    st = exit_stats(sc)
    check("faults: reconnects counted", st is not None and st["reconnects"] >= 3,
          sc.text()[-400:])
    check("faults: exit 0", rc == 0)


CEILOMETER_TRAITS = r"""
import json, logging, sys
from ceilometer import service
from ceilometer.event import converter
from stevedore import extension
logging.disable(logging.CRITICAL)
conf = service.prepare_service([], [])
conv = converter.setup_events(
    conf, extension.ExtensionManager(namespace="ceilometer.event.trait_plugin"))
out = []
for line in sys.stdin:
    b = json.loads(line)
    ev = conv.to_event("info", {"ctxt": {}, "publisher_id": b["publisher_id"],
                                "event_type": b["event_type"], "payload": b["payload"],
                                "metadata": {"message_id": b["message_id"],
                                             "timestamp": b["timestamp"]}})
    out.append({t.name: t.value for t in ev.traits if not hasattr(t.value, "isoformat")}
               if ev else None)
print(json.dumps(out))
"""


def ceilometer_traits(bodies):
    """The traits ceilometer's own event converter (Debian's ceilometer 19,
    its packaged event_definitions.yaml) makes of these notification bodies,
    as its notification agent would."""
    r = subprocess.run(["/usr/bin/python3", "-c", CEILOMETER_TRAITS],
                       input="".join(json.dumps(json.loads(b)) + "\n" for b in bodies),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("ceilometer's converter failed:\n" + r.stderr[-2000:])
    return json.loads(r.stdout)


def test_osprofiler_run(args, port, url, work):
    """osprofiler run nests: the inner command's points hang under the outer
    one, failures become etype/message, the exit status is passed on; the
    project and service of the outer one name the inner one too (ceilometer's
    project and service traits)."""
    purge(port)
    sc = Sidecar(args.sidecar, url, work)
    env = dict(os.environ, OSPROFILER_SIDECAR=sc.sock)
    for k in ("OSPROFILER_BASE_ID", "OSPROFILER_PARENT_ID", "OSPROFILER_HMAC_KEY",
              "OSPROFILER_PROJECT", "OSPROFILER_SERVICE"):
        env.pop(k, None)
    r = subprocess.run([args.osprofiler, "run", "--name", "deploy", "--service", "tools",
                        "--project", "ops", "--", args.osprofiler, "run", "--name", "step",
                        "--", "sh", "-c", "exit 3"], env=env, timeout=60)
    check("run: the exit status is passed on", r.returncode == 3, "rc=%d" % r.returncode)
    msgs = drain(port, want=4)
    pts = {json.loads(m.body)["payload"]["name"]: json.loads(m.body)["payload"]
           for m in msgs}
    check("run: four points", sorted(pts) == ["deploy-start", "deploy-stop", "step-start",
                                             "step-stop"], repr(sorted(pts)))
    if len(pts) == 4:
        check("run: same trace", len({p["base_id"] for p in pts.values()}) == 1)
        check("run: the inner point is a child of the outer one",
              pts["step-start"]["parent_id"] == pts["deploy-start"]["trace_id"])
        check("run: the failure is recorded",
              pts["step-stop"]["info"].get("etype") == "ExitStatus" and
              "status 3" in pts["step-stop"]["info"].get("message", ""),
              repr(pts["step-stop"]["info"]))
        check("run: the command line is recorded",
              pts["step-start"]["info"]["run"]["argv"] == ["sh", "-c", "exit 3"])
        check("run: the service is inherited", pts["step-start"]["service"] == "tools")
        check("run: the project is inherited",
              [p["project"] for p in pts.values()] == ["ops"] * 4,
              repr([(n, p["project"]) for n, p in pts.items()]))
    traits = ceilometer_traits([m.body for m in msgs])
    check("run: ceilometer's converter gives every point the project and service traits",
          len(traits) == 4 and all(t and t.get("project") == "ops" and
                                   t.get("service") == "tools" for t in traits),
          repr(traits))
    # A trace whose ids are longer than an osp_context_t holds goes on as it
    # is (Python takes any id), never cut or replaced by a fresh one.
    long_env = dict(env, OSPROFILER_BASE_ID="b" * 300, OSPROFILER_PARENT_ID="p" * 300)
    r = subprocess.run([args.osprofiler, "run", "--name", "outer", "--", args.osprofiler,
                        "run", "--name", "inner", "--", "true"], env=long_env, timeout=60)
    pts = {json.loads(m.body)["payload"]["name"]: json.loads(m.body)["payload"]
           for m in drain(port, want=4)}
    check("run: ids of 300 bytes from the environment are kept",
          r.returncode == 0 and len(pts) == 4 and
          {p["base_id"] for p in pts.values()} == {"b" * 300} and
          pts["outer-start"]["parent_id"] == "p" * 300 and
          pts["inner-start"]["parent_id"] == pts["outer-start"]["trace_id"],
          repr({n: (p["base_id"][:8], p["parent_id"][:8]) for n, p in pts.items()}))
    check("run: exit 0", sc.stop() == 0)


def test_precondition_failed(args, port, url, work):
    """A queue that exists with other flags (406 PRECONDITION_FAILED): a clear
    error naming the options, the points stay queued (oslo drops them), and
    they go out once the queue matches."""
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    c.channel().queue_delete("p406.info")  # a run before left it, as the sidecar declared it
    c.channel().queue_declare("p406.info", durable=True, auto_delete=False)
    c.close()
    sc = Sidecar(args.sidecar, url, work, 'control_exchange = "osp406"\n'
                 'topics = {"p406"}\nrabbit_retry_interval = 0.3\n'
                 "rabbit_interval_max = 0.5\n", wait_connected=False)
    sc.send(frame("h", [point(k) for k in range(20)]))
    # Wait for the error itself: "406" alone also matches a pid in the log's prefix.
    deadline = time.time() + 20 * SLOW
    while "points stay queued" not in sc.text() and time.time() < deadline:
        time.sleep(0.1)
    text = sc.text()
    check("406: a clear error naming the options", "server error 406" in text and
          "amqp_durable_queues" in text and "points stay queued" in text, text[-500:])
    st = sc.stats()
    check("406: the points are kept, not dropped",
          st is not None and st["queued"] >= 20 and
          sum(st["dropped"].values()) == 0, repr(st))
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    c.channel().queue_delete("p406.info")
    c.close()
    ids = collect_ids(port, "p406.info", want=20, timeout=30)
    check("406: once the queue matches, every point is published",
          set(ids) == {"t%06d" % i for i in range(20)}, "got %d" % len(set(ids)))
    check("406: exit 0", sc.stop() == 0)


def test_nack_backoff(args, port, url, work):
    """A broker that nacks every message (a queue at its length limit with
    overflow reject-publish) is retried after the backoff, not in a tight
    reconnect loop; nothing is dropped, and once the queue takes messages
    again every point is published."""
    c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
    c.connect()
    c.channel().queue_delete("pnack.info")
    c.close()
    ctl = [args.broker_sh, "ctl", os.path.dirname(os.path.abspath(args.broker_env))]
    r = subprocess.run(ctl + ["set_policy", "--apply-to", "queues", "osp-nack", r"^pnack\.info$",
                              '{"max-length": 0, "overflow": "reject-publish"}'],
                       capture_output=True, text=True, timeout=120)
    check("nack: a policy makes the queue refuse every message", r.returncode == 0,
          r.stdout + r.stderr)
    sc = Sidecar(args.sidecar, url, work, 'control_exchange = "ospnack"\n'
                 'topics = {"pnack"}\nrabbit_retry_interval = 0.5\n'
                 "rabbit_retry_backoff = 2\nrabbit_interval_max = 2\n")
    sc.send(frame("h", [point(k) for k in range(10)]))
    time.sleep(6)
    st = sc.stats()
    # backoff 0.5, 1, 2, 2...: at most 5 reconnects in 6 s (a tight loop made hundreds)
    check("nack: the broker's refusals are retried after the backoff",
          st is not None and st["nacked"] >= 1 and 1 <= st["reconnects"] <= 7 and
          "reconnecting in" in sc.text(), repr(st))
    check("nack: nothing dropped", st is not None and sum(st["dropped"].values()) == 0,
          repr(st))
    r = subprocess.run(ctl + ["clear_policy", "osp-nack"], capture_output=True, text=True,
                       timeout=120)
    ids = collect_ids(port, "pnack.info", want=10, timeout=30 * SLOW)
    check("nack: once the queue takes messages, every point is published",
          r.returncode == 0 and set(ids) == {"t%06d" % i for i in range(10)},
          "got %d" % len(set(ids)))
    check("nack: exit 0", sc.stop() == 0)


def test_stop_right_after_send(args, port, url, work):
    """Frames a client sent just before SIGTERM are published, not lost."""
    ok = True
    for attempt in range(5):
        purge(port)
        d = os.path.join(work, str(attempt))
        os.mkdir(d)
        sc = Sidecar(args.sidecar, url, d)
        sc.send(frame("h", [point(k) for k in range(4)]))
        sc.stop()
        st = exit_stats(sc)
        ok = ok and st is not None and st["received"] == 4 and st["confirmed"] == 4
        if not ok:
            break
    check("stop: frames sent right before SIGTERM are published (5 tries)", ok,
          sc.text()[-400:])


def test_reload(args, port, url, work):
    """SIGHUP applies a valid configuration (a new topic here) and refuses an
    invalid one, keeping the running one."""
    purge(port)
    sc = Sidecar(args.sidecar, url, work)
    with open(sc.conf, "a") as f:
        f.write('topics = {"profiler", "reloaded"}\n')
    sc.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 15
    while "configuration reloaded" not in sc.text() and time.time() < deadline:
        time.sleep(0.05)
    check("reload: a valid configuration is applied", "configuration reloaded" in sc.text(),
          sc.text()[-300:])
    time.sleep(0.5)
    sc.send(frame("h", [point(1)]))
    check("reload: the new topic gets the point",
          len(drain(port, "reloaded.info")) == 1 and len(drain(port)) == 1)
    with open(sc.conf, "a") as f:
        f.write("this is not an option\n")
    sc.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 15
    while "refused" not in sc.text() and time.time() < deadline:
        time.sleep(0.05)
    check("reload: an invalid configuration is refused with file and line",
          re.search(r"refused.*sidecar.conf:\d+", sc.text()) is not None, sc.text()[-300:])
    sc.send(frame("h", [point(2)]))
    check("reload: still publishing with the running configuration",
          len(drain(port, "reloaded.info")) == 1)
    check("reload: exit 0", sc.stop() == 0)


def test_spool(args, port, url, work):
    """With the broker down, points go to the disk spool; they survive a
    SIGTERM and a kill -9 of the sidecar and are published once a sidecar
    and a broker are back; confirmed segments are deleted."""
    spool = os.path.join(work, "spool")
    conf = ('spool_dir = "%s"\ncontrol_exchange = "osp_spool"\ntopics = {"spooltest"}\n'
            "rabbit_retry_interval = 0.2\nrabbit_interval_max = 0.5\n" % spool)
    q = "spooltest.info"
    check("spool: broker stopped", broker(args, "stop"))
    sc = Sidecar(args.sidecar, url, work, conf, wait_connected=False)
    time.sleep(0.5)
    sc.send([frame("h", [point(k) for k in range(i, i + 100)]) for i in range(0, 1000, 100)])
    time.sleep(0.5)
    check("spool: SIGTERM with the broker down exits 0", sc.stop() == 0)
    st = exit_stats(sc)
    check("spool: the points were spooled", st is not None and st["spooled"] == 1000,
          sc.text()[-400:])
    segs = [f for f in os.listdir(spool) if f.endswith(".seg")]
    check("spool: segments on disk, private", len(segs) >= 1 and
          (os.stat(spool).st_mode & 0o077) == 0, repr(segs))
    # More points, then kill -9: those spooled survive too.
    sc = Sidecar(args.sidecar, url, work, conf, wait_connected=False)
    time.sleep(0.5)
    check("spool: a restart finds the points", "1000 points from a previous run" in sc.text(),
          sc.text()[-300:])
    sc.send([frame("h", [point(k) for k in range(i, i + 100)]) for i in range(1000, 1500, 100)])
    time.sleep(1.0)
    sc.kill9()
    check("spool: broker restarted", broker(args, "restart"))
    sc = Sidecar(args.sidecar, url, work, conf)
    ids = collect_ids(port, q, want=1500, timeout=60)
    check("spool: all 1500 points published after the restarts",
          set(ids) == {"t%06d" % i for i in range(1500)}, "got %d distinct" % len(set(ids)))
    deadline = time.time() + 10
    while time.time() < deadline and any(f.endswith(".seg") for f in os.listdir(spool)):
        time.sleep(0.1)
    check("spool: confirmed segments deleted", not any(f.endswith(".seg")
                                                       for f in os.listdir(spool)))
    check("spool: exit 0", sc.stop() == 0)
    # spool_max_bytes: a full spool makes the sidecar hold back (it stops
    # reading; senders get EAGAIN and keep their points), it never deletes
    # undelivered ones; when the broker is back everything arrives.
    check("spool: broker stopped again", broker(args, "stop"))
    small = os.path.join(work, "small")
    sc = Sidecar(args.sidecar, url, work, conf.replace(spool, small) +
                 "spool_max_bytes = 262144\nmemory_limit = 65536\n", wait_connected=False)
    time.sleep(0.5)
    frames = [frame("h", [point(k) for k in range(i, i + 100)]) for i in range(0, 3000, 100)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sc.sock)
    s.setblocking(False)
    accepted, deadline = 0, time.time() + 10
    while accepted < len(frames) and time.time() < deadline:
        try:
            s.send(frames[accepted])
            accepted += 1
        except BlockingIOError:
            time.sleep(0.05)
    st = sc.stats()
    used = sum(os.path.getsize(os.path.join(small, f)) for f in os.listdir(small))
    check("spool: a full spool holds back, drops nothing, stays under the cap",
          st is not None and st["holding_back"] and accepted < len(frames) and
          sum(st["dropped"].values()) == 0 and used <= 262144,
          "accepted %d frames, %d bytes on disk, %r" % (accepted, used, st))
    check("spool: holding back is logged with its reason",
          "holding back: the spool is full" in sc.text(), sc.text()[-400:])
    check("spool: broker back", broker(args, "restart"))
    s.setblocking(True)
    s.settimeout(60)
    for f in frames[accepted:]:  # the sidecar reads again: the rest goes too
        s.send(f)
    s.close()
    ids = collect_ids(port, q, want=3000, timeout=60)
    check("spool: after holding back, every point is delivered",
          set(ids) == {"t%06d" % i for i in range(3000)}, "got %d" % len(set(ids)))
    check("spool: reading again is logged", "reading from services again" in sc.text(),
          sc.text()[-400:])
    check("spool: exit 0 after the cap", sc.stop() == 0)
    r = subprocess.run([args.sidecar, "--config", sc.conf, "--spool-dir", "/tmp/cli-spool",
                        "--transport-url", url, "--test-config"],
                       capture_output=True, text=True, timeout=10)
    check("spool: --spool-dir overrides the file", r.returncode == 0 and
          "spool /tmp/cli-spool" in r.stdout, r.stdout + r.stderr)
    # An unsafe spool directory is refused, not used.
    bad = os.path.join(work, "bad")
    os.mkdir(bad)
    os.chmod(bad, 0o777)
    sc = Sidecar(args.sidecar, url, work, 'spool_dir = "%s"\n' % bad)
    rc = sc.stop()
    check("spool: a world-writable spool dir is refused",
          "world writable" in sc.text() and rc == 0 and not os.listdir(bad), sc.text()[-300:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--broker-sh", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--only", help="comma-separated test names (test_NAME), for debugging")
    args = ap.parse_args()
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    tests = [("wire", lambda w: test_wire(args, port, url, w)),
             ("bad_input", lambda w: test_bad_input(args, port, url, w)),
             ("oslo_listener", lambda w: test_oslo_listener(args, port, url, w, False)),
             ("oslo_listener", lambda w: test_oslo_listener(args, port, url, w, True)),
             ("library_end_to_end", lambda w: test_library_end_to_end(args, port, url, w)),
             ("osprofiler_run", lambda w: test_osprofiler_run(args, port, url, w)),
             ("stop_right_after_send",
              lambda w: test_stop_right_after_send(args, port, url, w)),
             ("reload", lambda w: test_reload(args, port, url, w)),
             ("precondition_failed", lambda w: test_precondition_failed(args, port, url, w)),
             ("nack_backoff", lambda w: test_nack_backoff(args, port, url, w)),
             ("broker_faults", lambda w: test_broker_faults(args, port, url, w)),
             ("spool", lambda w: test_spool(args, port, url, w))]
    with tempfile.TemporaryDirectory() as work:
        for i, (name, t) in enumerate(tests):
            if args.only and name not in args.only.split(","):
                continue
            d = os.path.join(work, str(i))
            os.mkdir(d)
            t(d)
    sys.exit(summary())


if __name__ == "__main__":
    main()
