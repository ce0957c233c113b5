#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""regenerate.py - make the golden files of tests/golden/ again from Debian's
Python stack (python3-osprofiler 3.4.3, python3-oslo.messaging 14.0.3,
kombu, py-amqp, RabbitMQ), and optionally check them against the committed
ones.

  regenerate.py [--part offline|broker|all] [--broker-env FILE] OUT_DIR
  regenerate.py --check GOLDEN_DIR [--part ...] [--broker-env FILE]

offline: hmac_vectors.json (osprofiler._utils.signed_pack/signed_unpack),
  trace_points.jsonl (the real _Profiler and Redis driver, on an in-memory
  redis), trace_report.json and trace_report.dot (the real `osprofiler trace
  show --json|--dot` reading them back).
broker: osprofiler_start.body, osprofiler_stop.body (initializer.
  init_from_conf with messaging://, then profiler.start/stop) and
  v2_profiler_info.body (a messagingv2 Notifier), each read back from the
  broker's queue with basic.get. The capture uses a vhost of its own, made
  and removed with `broker.sh ctl`, so no other client of the broker sees or
  disturbs it. With --broker-env (a broker.sh env file) that broker is used;
  without it a private broker is started and stopped
  (tests/integration/broker.sh).

What varies from run to run is pinned, nothing is normalised: uuid4 and the
clock are replaced, in the modules that call them and only there, by
sequences of the values of the first capture (2026-11-28), and the host
name by a fixed one. Each sequence must be used up exactly, so a Python
stack that draws one id more or less fails here instead of producing other
bytes. --check compares byte for byte and prints a diff; exit 1 on any
difference, 0 when every file is reproduced.
"""
import argparse
import contextlib
import datetime
import difflib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
BROKER_SH = os.path.join(HERE, "..", "integration", "broker.sh")

OFFLINE = ["hmac_vectors.json", "trace_points.jsonl", "trace_report.json",
           "trace_report.dot"]
BROKER = ["osprofiler_start.body", "osprofiler_stop.body", "v2_profiler_info.body"]


class Pinned:
    """Values handed out in order; drawing more than pinned, or fewer, is an
    error (the Python stack changed the way it draws them)."""

    def __init__(self, name, values):
        self.name, self.values = name, list(values)

    def __call__(self, *args, **kwargs):
        if not self.values:
            raise AssertionError("%s: drawn more often than pinned" % self.name)
        return self.values.pop(0)

    def check_used_up(self):
        if self.values:
            raise AssertionError("%s: %d pinned values left unused"
                                 % (self.name, len(self.values)))


@contextlib.contextmanager
def patched(*triples):
    """(module, attribute, value): replace each for the duration."""
    saved = [(m, a, getattr(m, a)) for m, a, _ in triples]
    for m, a, v in triples:
        setattr(m, a, v)
    try:
        yield
    finally:
        for m, a, v in saved:
            setattr(m, a, v)


def utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")


def clock_module(pinned):
    """Stands in for the `datetime` module inside osprofiler.profiler, which
    calls datetime.datetime.utcnow()."""
    return types.SimpleNamespace(datetime=types.SimpleNamespace(utcnow=pinned))


# --- offline ------------------------------------------------------------------

def hmac_vectors():
    from osprofiler import _utils

    def vector(key, data):
        info, hmac = _utils.signed_pack(data, key)
        info = info.decode()
        return {"key": key, "data": data, "x_trace_info": info, "x_trace_hmac": hmac,
                "unpacked_with_keys_wrong_then_key":
                    _utils.signed_unpack(info, hmac, ["wrong", key])}

    base = "3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69"
    vectors = [
        vector("SECRET_KEY", {"base_id": base, "parent_id": base}),
        vector("swordfish", {"base_id": "00000000-0000-4000-8000-000000000001",
                             "parent_id": "7e0b9c1a-2f4d-4e8b-a6c3-5d9f1e2b3c4d"}),
        vector("p\u00e4ss w\u00f6rd", {"base_id": "a6e5c0de-0000-4000-8000-00000000beef"}),
    ]
    first = vectors[0]
    info, hmac = first["x_trace_info"], first["x_trace_hmac"]

    def rejection(case, info, hmac):
        return {"case": case, "x_trace_info": info, "x_trace_hmac": hmac,
                "keys": ["SECRET_KEY"],
                "unpacked": _utils.signed_unpack(info, hmac, ["SECRET_KEY"])}

    rejections = [
        rejection("uppercase hmac", info, hmac.upper()),
        rejection("hmac of other key", info, _utils.signed_pack(first["data"], "other")[1]),
        rejection("tampered info", info[:-4] + "AAA=", hmac),
        rejection("empty hmac", info, ""),
    ]
    text = json.dumps({"vectors": vectors, "rejections": rejections}, indent=2,
                      ensure_ascii=False)
    return text.encode("utf-8")


class MemoryRedis:
    """The few redis commands the Redis driver uses, in memory: LPUSH puts
    the newest first and LRANGE reads from there, as redis-server does."""

    def __init__(self):
        self.lists, self.keys = {}, {}

    def lpush(self, key, value):
        self.lists.setdefault(key, []).insert(0, value.encode())

    def lrange(self, key, start, end):
        assert (start, end) == (0, -1)
        return list(self.lists.get(key, []))

    def lindex(self, key, i):
        return self.lists[key][i]

    def set(self, key, value):
        self.keys[key] = value.encode()

    def get(self, key):
        return self.keys.get(key)

    def scan_iter(self, match):
        assert match.endswith("*")
        return [k for k in list(self.keys) + list(self.lists) if k.startswith(match[:-1])]


# A synthetic three-service trace (nova-api on ctl-1, its conductor on ctl-2,
# a compute on cmp-1): each step is (service, "start"|"stop", point name,
# info, UTC time). The compute driver fails; the stop of the api's last rpc
# (a cast) is lost on the way to the store.
TRACE_BASE = "5e1c7a70-0000-4000-8000-000000000000"
SERVICES = {"api": "ctl-1", "conductor": "ctl-2", "compute": "cmp-1"}
STEPS = [
    ("api", "start", "wsgi", {"request": {"path": "/v2.1/servers", "query": "",
                                          "method": "POST", "scheme": "http"}},
     "10:00:00.000000"),
    ("api", "start", "db", {"db": {"statement": "SELECT 1", "params": {}}},
     "10:00:00.002000"),
    ("api", "stop", "db", None, "10:00:00.007500"),
    ("conductor", "start", "rpc", {"function": {
        "name": "nova.conductor.manager.build_instances", "args": "()", "kwargs": "{}"}},
     "10:00:00.010000"),
    ("compute", "start", "driver", {"function": {
        "name": "nova.virt.libvirt.driver.LibvirtDriver.spawn", "args": "()",
        "kwargs": "{}"}}, "10:00:00.030000"),
    ("compute", "stop", "driver", {"etype": "libvirtError", "message": "boom"},
     "10:00:00.041000"),
    ("conductor", "stop", "rpc", None, "10:00:00.040999"),
    ("api", "start", "rpc", {"function": {
        "name": "nova.compute.rpcapi.cast_thing", "args": "()", "kwargs": "{}"}},
     "10:00:00.050000"),
    ("api", "stop", "rpc", None, "10:00:00.055000"),
    ("api", "stop", "wsgi", None, "10:00:00.060000"),
]
# The point each service was called from (its profiler's parent_id, as
# X-Trace-Info or an RPC context would carry it).
PARENT_OF = {"conductor": ("api", "wsgi"), "compute": ("conductor", "rpc")}
# The steps whose points reach the store, in the order they arrive there: the
# compute's stop before its start (as messages of two hosts may), the cast's
# stop (step 8) never.
ARRIVAL = [0, 1, 2, 3, 5, 4, 6, 7, 9]


def trace_points():
    """The points as Python's profiler makes them and its Redis driver stores
    them; returns (MemoryRedis, the stored texts in get_report's order)."""
    import redis
    from oslo_config import cfg
    from osprofiler import notifier, opts, profiler
    from osprofiler.drivers import base

    trace_ids = Pinned("trace ids", ["%08d-0000-4000-8000-%012d" % (n, n)
                                     for n in range(1, 6)])
    clock = Pinned("clock", [utc("2024-01-01 " + s[4]) for s in STEPS])
    host = {"name": None}
    db = MemoryRedis()
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    emitted = []
    with patched((profiler, "uuidutils", types.SimpleNamespace(generate_uuid=trace_ids)),
                 (profiler, "datetime", clock_module(clock)),
                 (profiler, "socket", types.SimpleNamespace(
                     gethostname=lambda: host["name"])),
                 (redis.StrictRedis, "from_url", classmethod(lambda cls, url: db))):
        profilers, started = {}, {}
        for service, what, name, info, _ in STEPS:
            if service not in profilers:
                parent = None
                if service in PARENT_OF:
                    parent = started[PARENT_OF[service]]
                host["name"] = SERVICES[service]
                profilers[service] = profiler._Profiler("SECRET_KEY", base_id=TRACE_BASE,
                                                        parent_id=parent)
            p = profilers[service]
            notifier.set(lambda payload: emitted.append((service, payload)))
            if what == "start":
                p.start(name, info=info)
                started[(service, name)] = p.get_id()
            else:
                p.stop(info=info)
        trace_ids.check_used_up()
        clock.check_used_up()
        # The store: LPUSH per point, so pushing the arrival order reversed
        # makes get_report (LRANGE, newest first) read it in arrival order.
        for i in reversed(ARRIVAL):
            service, payload = emitted[i]
            base.get_driver("redis://127.0.0.1:6379/0", project="nova", service=service,
                            conf=conf).notify(payload)
    texts = [t.decode() for t in db.lrange("osprofiler_opt:" + TRACE_BASE, 0, -1)]
    return db, texts


def trace_show(db, *args):
    """Python's `osprofiler trace show` on the in-memory store: what it
    prints on stdout, or writes with --out."""
    import redis
    from osprofiler.cmd import shell

    out = io.StringIO()
    with patched((redis.StrictRedis, "from_url", classmethod(lambda cls, url: db))), \
            contextlib.redirect_stdout(out):
        rc = shell.main(["trace", "show", TRACE_BASE, "--connection-string",
                         "redis://127.0.0.1:6379/0"] + list(args))
    if rc:
        raise RuntimeError("osprofiler trace show %s: %s" % (" ".join(args), out.getvalue()))
    return out.getvalue()


def offline(out_dir):
    with open(os.path.join(out_dir, "hmac_vectors.json"), "wb") as f:
        f.write(hmac_vectors())
    db, texts = trace_points()
    with open(os.path.join(out_dir, "trace_points.jsonl"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    with open(os.path.join(out_dir, "trace_report.json"), "w", encoding="utf-8") as f:
        f.write(trace_show(db, "--json"))
    dot = os.path.join(out_dir, "trace_report.dot")
    trace_show(db, "--dot", "--out", dot)


# --- broker -------------------------------------------------------------------

# What the first capture drew, in the order the stack draws it.
START_TRACE_ID = "15929c29-60fd-4410-b397-713cebd09921"
PAYLOAD_TIMES = ["2026-11-28 02:11:25.922679", "2026-11-28 02:11:25.975578"]
MESSAGE_IDS = ["b639ff43-5389-4202-a92b-928cd2679a94", "10d3f911-5496-44cc-9c6b-808125c12fdd",
               "2193088f-8731-49c9-97a6-f675abe92b21"]
NOTIFY_TIMES = ["2026-11-28 02:11:25.922703", "2026-11-28 02:11:25.975605",
                "2026-11-28 02:12:06.112736"]
UNIQUE_IDS = ["7ee24975ec3c484d8e5c3911eb1d7d93", "139a5cb5435540a49be4cbe58184fd8a",
              "c29de513490943139e5a88368158ff6c"]
VHOST = "osprofiler-golden"


def read_env(path):
    env = {}
    for line in open(path):
        k, _, v = line.strip().partition("=")
        if k:
            env[k] = v
    return env


def ctl(broker_sh, broker_dir, *args):
    r = subprocess.run([broker_sh, "ctl", broker_dir] + list(args),
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("rabbitmqctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))


def drain(port, queue, want):
    """Every message in the queue (expecting `want`), bodies as bytes."""
    import amqp

    conn = amqp.Connection(host="127.0.0.1:%d" % port, userid="guest", password="guest",
                           virtual_host=VHOST)
    conn.connect()
    try:
        ch = conn.channel()
        ch.auto_decode = False
        bodies = []
        while True:
            m = ch.basic_get(queue, no_ack=True)
            if m is None:
                break
            p = m.properties
            if (p.get("content_type"), p.get("content_encoding"),
                    m.delivery_info["exchange"], m.delivery_info["routing_key"]) != \
                    ("application/json", "utf-8", "openstack", "profiler.info"):
                raise RuntimeError("unexpected message %r %r" % (p, m.delivery_info))
            body = m.body
            bodies.append(body if isinstance(body, bytes) else body.encode("utf-8"))
    finally:
        conn.close()
    if len(bodies) != want:
        raise RuntimeError("%d messages in %s, expected %d (oslo.messaging drops what it "
                           "cannot send: see its log above)" % (len(bodies), queue, want))
    return bodies


def publish(url):
    """The start/stop pair through osprofiler's messaging driver, then a
    messagingv2 notification, with every varying value pinned."""
    import oslo_messaging
    from oslo_config import cfg
    from oslo_messaging._drivers import amqp as oslo_amqp
    from oslo_messaging.notify import notifier as oslo_notifier
    from osprofiler import initializer, notifier, opts, profiler

    trace_ids = Pinned("trace ids", [START_TRACE_ID])
    payload_clock = Pinned("payload clock", [utc(t) for t in PAYLOAD_TIMES])
    message_ids = Pinned("message ids", [uuid.UUID(u) for u in MESSAGE_IDS])
    notify_clock = Pinned("notify clock", [utc(t) for t in NOTIFY_TIMES])
    unique_ids = Pinned("unique ids", [uuid.UUID(u) for u in UNIQUE_IDS])

    conf = cfg.ConfigOpts()
    opts.set_defaults(conf, enabled=True, connection_string="messaging://",
                      hmac_keys="SECRET_KEY")
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write("[oslo_messaging_notifications]\ntransport_url = %s\n" % url)
        f.flush()
        conf(["--config-file", f.name])
    with patched((profiler, "uuidutils", types.SimpleNamespace(generate_uuid=trace_ids)),
                 (profiler, "datetime", clock_module(payload_clock)),
                 (profiler, "socket", types.SimpleNamespace(gethostname=lambda: "vm")),
                 (oslo_notifier, "uuid", types.SimpleNamespace(uuid4=message_ids)),
                 (oslo_notifier, "timeutils", types.SimpleNamespace(utcnow=notify_clock)),
                 (oslo_amqp, "uuid", types.SimpleNamespace(uuid4=unique_ids))):
        initializer.init_from_conf(conf, context={}, project="golden-project",
                                   service="golden-service", host="golden-host")
        driver = notifier.get().__self__
        profiler.init(hmac_key="SECRET_KEY", base_id="11111111-2222-3333-4444-555555555555")
        profiler.start("golden-trace", info={"db": {"statement": "SELECT 1", "params": {}},
                                             "unicode": "h\u00e9llo \u2603"})
        profiler.stop(info={"result": "ok"})
        profiler.clean()
        v2 = oslo_messaging.Notifier(driver.transport, publisher_id="golden-host",
                                     driver="messagingv2", topics=["profiler"])
        v2.info({}, "profiler.golden-service", {
            "name": "v2-trace-start", "base_id": "b", "trace_id": "t", "parent_id": "p",
            "timestamp": "2026-01-01T00:00:00.000001", "project": "x", "service": "y",
            "info": {"host": "h"}})
        driver.transport.cleanup()
    for p in (trace_ids, payload_clock, message_ids, notify_clock, unique_ids):
        p.check_used_up()


def broker(out_dir, broker_env):
    env = read_env(broker_env)
    port, broker_dir = int(env["OSP_BROKER_PORT"]), env["OSP_BROKER_DIR"]
    ctl(BROKER_SH, broker_dir, "add_vhost", VHOST)
    try:
        ctl(BROKER_SH, broker_dir, "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
        publish("rabbit://guest:guest@127.0.0.1:%d/%s" % (port, VHOST))
        bodies = drain(port, "profiler.info", 3)
    finally:
        ctl(BROKER_SH, broker_dir, "delete_vhost", VHOST)
    for name, body in zip(BROKER, bodies):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(body)


@contextlib.contextmanager
def private_broker():
    work = tempfile.mkdtemp(prefix="osp-golden-broker-")
    try:
        r = subprocess.run([BROKER_SH, "start", work], stdout=subprocess.DEVNULL)
        if r.returncode:
            raise RuntimeError("broker.sh start failed")
        try:
            yield os.path.join(work, "env")
        finally:
            subprocess.run([BROKER_SH, "stop", work])
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- main ---------------------------------------------------------------------

def compare(golden_dir, out_dir, names):
    bad = []
    for name in names:
        want = open(os.path.join(golden_dir, name), "rb").read()
        got = open(os.path.join(out_dir, name), "rb").read()
        if want == got:
            print("ok - %s reproduced (%d bytes)" % (name, len(got)))
            continue
        bad.append(name)
        print("not ok - %s differs" % name)
        sys.stdout.writelines(difflib.unified_diff(
            want.decode("utf-8", "replace").splitlines(True),
            got.decode("utf-8", "replace").splitlines(True),
            "committed/" + name, "regenerated/" + name))
        print()
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?", help="write the files here")
    ap.add_argument("--check", metavar="GOLDEN_DIR",
                    help="regenerate into a temporary directory and compare with GOLDEN_DIR")
    ap.add_argument("--part", choices=("offline", "broker", "all"), default="all")
    ap.add_argument("--broker-env", help="env file of a running broker.sh broker")
    args = ap.parse_args()
    if bool(args.out_dir) == bool(args.check):
        ap.error("give OUT_DIR or --check GOLDEN_DIR")
    if args.broker_env and not os.path.exists(args.broker_env):
        print("no broker: %s is missing (is the broker fixture up?)" % args.broker_env)
        return 1
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="osp-golden-")
    os.makedirs(out_dir, exist_ok=True)
    names = []
    try:
        if args.part in ("offline", "all"):
            offline(out_dir)
            names += OFFLINE
        if args.part in ("broker", "all"):
            if args.broker_env:
                broker(out_dir, args.broker_env)
            else:
                with private_broker() as env:
                    broker(out_dir, env)
            names += BROKER
        if not args.check:
            print("wrote %s to %s" % (", ".join(names), out_dir))
            return 0
        bad = compare(args.check, out_dir, names)
        print("%d passed, %d failed" % (len(names) - len(bad), len(bad)))
        return 1 if bad else 0
    finally:
        if args.check:
            shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
