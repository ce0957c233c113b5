#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.ceilometer: osprofiler-sidecar -> RabbitMQ -> a real
ceilometer-agent-notification (Debian's Zed 19.0.0) -> events, black-box.

  test_ceilometer.py --sidecar BIN --broker-env FILE [--keep]

The test writes a private ceilometer.conf (templates in ceilometer/ beside
this file) with [oslo_messaging_notifications] topics = notifications,profiler
as devstack sets it, copies the event definitions shipped in the package, and
sends every event to a small HTTP server of its own on 127.0.0.1 through
ceilometer's http:// event publisher (Zed has no file:// one). It starts the
agent (one worker, its own log, stopped by pid), then osprofiler-sidecar three
times (control_exchange openstack, control_exchange glance, driver
messagingv2), feeds each a wsgi/db trace over the hop (docs/wire.md) and checks
that every point became exactly one profiler.<service> event carrying every
trait of the packaged profiler.* definition with the values sent.

docs/oslo-messaging.md ("Ceilometer's notification agent") says what the agent
does with these notifications and what makes it drop them.
Needs Debian's ceilometer-agent-notification (run directly, no system service),
python3-amqp and python3-yaml, and a broker (broker.sh start DIR PORT). Every
wait is bounded; the whole run stays well under three minutes, and no process
it started survives it (checked by pid and start time).
"""
import argparse
import ctypes
import datetime
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import amqp
import yaml

AGENT = "/usr/bin/ceilometer-agent-notification"
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "ceilometer")
T0 = time.monotonic()
BUDGET = 170.0  # seconds for the whole test

sys.path.insert(0, os.path.join(HERE, "..", "support"))
from tap import FAILS, check, summary  # noqa: E402


class Abort(Exception):
    """A failed precondition: skip to the clean-up."""


def left(cap):
    """Seconds to wait: at most cap, never past the overall budget."""
    return max(0.0, min(cap, BUDGET - (time.monotonic() - T0)))


# ------------------------------------------------------------------ processes
# A process is known by (pid, start time), so that a recycled pid is never
# signalled. Not by a marker in /proc/PID/environ: cotyledon's setproctitle
# overwrites that area in the agent's processes.
def starttime(pid):
    """Start time of a live (non-zombie) process, None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """preexec_fn: SIGTERM this child when the test dies, even by SIGKILL
    (a CTest timeout), so that no agent or sidecar outlives it."""
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class Interrupted(BaseException):
    pass


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


class Tracked:
    """The processes this test started and their descendants, as seen."""

    def __init__(self):
        self.procs = {}  # pid -> start time

    def add(self, pid):
        st = starttime(pid)
        if st is not None:
            self.procs.setdefault(pid, st)

    def scan(self):
        """Record the descendants of every tracked live process."""
        todo = [p for p in self.procs if self.alive(p)]
        while todo:
            p = todo.pop()
            for c in children(p):
                if c not in self.procs:
                    self.add(c)
                    todo.append(c)

    def alive(self, pid):
        return self.procs.get(pid) is not None and starttime(pid) == self.procs[pid]

    def living(self):
        return [p for p in self.procs if self.alive(p)]

    def stop(self, pid, timeout, reap=None):
        """SIGTERM, SIGKILL after timeout. True when gone."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not self.alive(pid):
                return True
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return True
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if reap is not None:
                    reap.poll()  # our child: reap it, or it stays a zombie
                if not self.alive(pid):
                    return True
                time.sleep(0.05)
        return not self.alive(pid)


# ------------------------------------------------------------------ HTTP sink
class Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.posts = []  # (path, content_type, parsed body)
        self.cond = threading.Condition()
        super().__init__(("127.0.0.1", 0), SinkHandler)

    def events(self):
        with self.cond:
            return [e for path, _, body in self.posts if path.startswith("/events")
                    and isinstance(body, list) for e in body]

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while not pred():
                t = end - time.monotonic()
                if t <= 0:
                    return False
                self.cond.wait(min(t, 0.5))
        return True


class SinkHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with self.server.cond:
            self.server.posts.append((self.path, self.headers.get("Content-Type"), body))
            self.server.cond.notify_all()

    def log_message(self, *a):
        pass


# ------------------------------------------------------------------ broker
class Broker:
    def __init__(self, port):
        self.port = port

    def conn(self):
        c = amqp.Connection("127.0.0.1:%d" % self.port, userid="guest", password="guest",
                            connect_timeout=5, read_timeout=10, write_timeout=10)
        c.connect()
        return c

    def queue(self, name):
        """(messages, consumers) of a queue, None if it does not exist."""
        c = self.conn()
        try:
            _, msgs, consumers = c.channel().queue_declare(name, passive=True)
            return msgs, consumers
        except amqp.exceptions.NotFound:
            return None
        finally:
            try:
                c.close()
            except Exception:
                pass

    def exchange_exists(self, name):
        c = self.conn()
        try:
            c.channel().exchange_declare(name, "topic", passive=True)
            return True
        except amqp.exceptions.NotFound:
            return False
        finally:
            try:
                c.close()
            except Exception:
                pass

    def purge(self, name):
        c = self.conn()
        try:
            return c.channel().queue_purge(name)
        except amqp.exceptions.NotFound:
            return 0
        finally:
            try:
                c.close()
            except Exception:
                pass

    def delete(self, queues, exchanges):
        c = self.conn()
        try:
            ch = c.channel()
            for q in queues:
                ch.queue_delete(q)
            for e in exchanges:
                ch.exchange_delete(e)
        finally:
            c.close()


# ------------------------------------------------------------------ sidecar
def frame(publisher, records):
    pub = publisher.encode()
    return (b"OSPH" + bytes([1, 0]) + struct.pack("<H", len(pub)) + pub +
            b"".join(r + b"\n" for r in records))


class Sidecar:
    def __init__(self, binary, url, workdir, extra_conf, env):
        self.binary = binary
        self.sock = os.path.join(workdir, "sc.sock")
        self.conf = os.path.join(workdir, "sidecar.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nshutdown_grace = 10.0\n'
                    'spool_dir = ""\n%s' % (self.sock, extra_conf))
        self.logname = os.path.join(workdir, "sidecar.log")
        self.log = open(self.logname, "w")
        self.proc = subprocess.Popen([binary, "--config", self.conf, "--transport-url", url],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=die_with_parent)

    def text(self):
        with open(self.logname, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            if os.path.exists(self.sock) and "connected to" in self.text():
                return True
            time.sleep(0.05)
        return False

    def send(self, data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.sock)
            s.send(data)
        finally:
            s.close()

    def stats(self):
        try:
            r = subprocess.run([self.binary, "--config", self.conf, "--stats"],
                               capture_output=True, text=True, timeout=10)
            return json.loads(r.stdout) if r.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def wait_confirmed(self, n, timeout):
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end and self.proc.poll() is None:
            st = self.stats()
            if st is not None and st.get("confirmed", 0) >= n:
                break
            time.sleep(0.1)
        return st

    def stop(self, timeout):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = "killed"
        self.log.close()
        return rc


def exit_stats(text):
    """The counters of the sidecar's "[stats] exit:" line, JSON or k=v."""
    m = None
    for m in re.finditer(r"\[stats\] exit: (.*)", text):
        pass
    if m is None:
        return None
    line = m.group(1).strip()
    try:
        return json.loads(line)
    except ValueError:
        return dict(re.findall(r"(\w+)=(\d+)", line))


# ------------------------------------------------------------------ points
def utcnow_str():
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if now.microsecond == 0:
        now = now.replace(microsecond=1)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f")


def trace(service, project, host, request, db):
    """A wsgi request with one db call, as osprofiler's wsgi middleware and
    sqlalchemy tracer record them; keys in the order python writes them."""
    base, t_wsgi, t_db = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())

    def pt(name, trace_id, parent_id, info):
        return {"name": name, "base_id": base, "trace_id": trace_id,
                "parent_id": parent_id, "timestamp": utcnow_str(), "info": info,
                "project": project, "service": service}

    pts = [pt("wsgi-start", t_wsgi, base, {"request": request, "host": host})]
    time.sleep(0.002)
    pts.append(pt("db-start", t_db, t_wsgi, {"db": db, "host": host}))
    time.sleep(0.002)
    pts.append(pt("db-stop", t_db, t_wsgi, {"host": host}))
    time.sleep(0.002)
    pts.append(pt("wsgi-stop", t_wsgi, base, {"host": host}))
    return pts


CASES = [
    # label, sidecar options, publisher_id, service, project, host, request, db
    ("exchange openstack (sidecar default; it binds profiler.info itself)", "",
     "ctl-a", "nova-api", "nova", "osp-host-a",
     {"path": "/v2.1/servers/detail", "query": "limit=1&marker=abc", "method": "GET",
      "scheme": "http"},
     {"statement": "SELECT instances.uuid FROM instances WHERE instances.id = %(id_1)s",
      "params": {"id_1": 42}}),
    ('exchange glance (one ceilometer listens on)', 'control_exchange = "glance"\n',
     "ctl-b", "glance-api", "glance", "osp-host-b",
     {"path": "/v2/images/caf\u00e9", "query": "", "method": "POST", "scheme": "https"},
     {"statement": "INSERT INTO images (id, name) VALUES (%(id)s, %(name)s)",
      "params": {"id": "i-1", "name": "n\u00e4me"}}),
    ("driver messagingv2, project null, statement over 255 characters",
     'driver = "messagingv2"\n',
     "ctl-c", "cinder-volume", None, "osp-host-c",
     {"path": "/v3/volumes", "query": "all_tenants=1", "method": "DELETE", "scheme": "http"},
     {"statement": "SELECT " + ", ".join("volumes.col_%03d" % i for i in range(40)) +
      " FROM volumes", "params": [1, "two"]}),
]


# ------------------------------------------------------------------ expectations
def profiler_definition(path):
    with open(path) as f:
        defs = yaml.safe_load(f)
    for d in defs:
        types = d.get("event_type")
        types = types if isinstance(types, list) else [types]
        if "profiler.*" in types:
            return d["traits"]
    return None


def lookup(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def parse_ts(s):
    return datetime.datetime.strptime(s.replace(" ", "T"), "%Y-%m-%dT%H:%M:%S.%f") \
        if "." in s else datetime.datetime.strptime(s.replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")


def expected_traits(defn, publisher, point):
    """{name: (dtype, value)} that ceilometer's converter should produce for
    this point from the definition (text: str()[:255]; datetime: parsed);
    a trait whose field is missing or null is absent."""
    body = {"publisher_id": publisher, "payload": point, "ctxt": {}}
    out = {}
    for name, cfg in defn.items():
        fields = cfg["fields"] if isinstance(cfg, dict) else cfg
        fields = fields if isinstance(fields, list) else [fields]
        value = None
        for fpath in fields:
            value = lookup(body, fpath)
            if value is not None:
                break
        if value is None:
            continue
        ttype = cfg.get("type", "text") if isinstance(cfg, dict) else "text"
        if ttype == "datetime":
            out[name] = (4, parse_ts(value))
        elif ttype == "int":
            out[name] = (2, int(value))
        elif ttype == "float":
            out[name] = (3, float(value))
        else:
            out[name] = (1, str(value)[:255])
    return out


def got_traits(event):
    out = {}
    for t in event.get("traits", []):
        name, dtype, value = t
        if dtype == 4:
            value = parse_ts(value)
        out[name] = (dtype, value)
    return out


def point_key(d):
    return (d.get("trace_id"), d.get("name"))


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--broker-env", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # clean up on the way out
        signal.signal(sig, on_signal)
    benv = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(benv["OSP_BROKER_PORT"])
    url = benv.get("OSP_BROKER_URL") or "rabbit://guest:guest@127.0.0.1:%d/" % port

    if not check("ceilometer-agent-notification installed", os.access(AGENT, os.X_OK),
                 "apt-get install --no-install-recommends ceilometer-agent-notification"):
        return finish(None)
    spec = importlib.util.find_spec("ceilometer")
    if not check("python3-ceilometer importable by /usr/bin/python3", spec is not None,
                 sys.executable):
        return finish(None)
    shipped = os.path.join(list(spec.submodule_search_locations)[0],
                           "pipeline", "data", "event_definitions.yaml")

    work = tempfile.mkdtemp(prefix="osp-ceilometer-")
    os.chmod(work, 0o700)
    # A clean environment: no proxy for the http publisher's requests session,
    # HOME away from any ~/.ceilometer.
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "no_proxy": "127.0.0.1,localhost",
           "NO_PROXY": "127.0.0.1,localhost"}
    tracked = Tracked()
    sink = Sink()
    threading.Thread(target=sink.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    broker = Broker(port)
    agent = None
    sidecars = []
    created_q, created_x = [], []
    try:
        # ---- configuration
        subst = {"@DIR@": work, "@BROKER_URL@": url, "@HTTP_PORT@": str(sink.server_port)}
        for name in ("ceilometer.conf", "event_pipeline.yaml", "pipeline.yaml"):
            with open(os.path.join(TEMPLATES, name + ".in")) as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace(k, v)
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        shutil.copy(shipped, os.path.join(work, "event_definitions.yaml"))
        confd = os.path.join(work, "ceilometer.conf.d")  # keeps /etc/ceilometer/*.conf.d out
        os.mkdir(confd)
        defn = profiler_definition(os.path.join(work, "event_definitions.yaml"))
        check("the packaged event_definitions.yaml has a profiler.* entry", defn is not None,
              shipped)
        if defn is None:
            raise Abort()

        # ---- broker state before the agent (pitfalls 6 and 7)
        topics = ("notifications", "profiler")
        prios = ("audit", "critical", "debug", "error", "info", "sample", "warn")
        queues = ["%s.%s" % (t, p) for t in topics for p in prios]
        exchanges = ["aodh", "ceilometer", "cinder", "dns", "glance", "heat", "ironic",
                     "keystone", "magnum", "neutron", "nova", "sahara", "swift", "trove",
                     "zaqar", "openstack"]
        created_q = [q for q in queues if broker.queue(q) is None]
        created_x = [x for x in exchanges if not broker.exchange_exists(x)]
        st = broker.queue("profiler.info")
        if not check("no other consumer on profiler.info (it would take a share of the "
                     "points: another agent, an osprofiler messaging:// report?)",
                     st is None or st[1] == 0, "profiler.info (messages, consumers): %r"
                     % (st,)):
            raise Abort()
        stale = broker.purge("profiler.info")
        if stale:
            print("# purged %d stale messages from profiler.info" % stale)

        # ---- the agent
        alog = open(os.path.join(work, "agent.out"), "w")
        t_agent = time.monotonic()
        agent = subprocess.Popen(
            ["/usr/bin/python3", AGENT, "--config-file", os.path.join(work, "ceilometer.conf"),
             "--config-dir", confd], cwd=work, env=env, stdin=subprocess.DEVNULL,
            stdout=alog, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        alog.close()
        tracked.add(agent.pid)
        ready, end = False, time.monotonic() + left(60)
        while time.monotonic() < end and agent.poll() is None:
            tracked.scan()
            st = broker.queue("profiler.info")
            if st is not None and st[1] >= 1 and all(broker.queue(q) for q in
                                                     ("profiler.error", "notifications.info")):
                ready = True
                break
            time.sleep(0.2)
        check("agent consumes profiler.info (%.1f s after start)" % (time.monotonic() - t_agent),
              ready, "rc=%s\n%s" % (agent.poll(), tail(os.path.join(work, "agent.log"))))
        if not ready:
            raise Abort()
        time.sleep(0.5)  # the other listeners of the batch start together
        tracked.scan()
        st = broker.queue("profiler.info")
        check("exactly one consumer on profiler.info (workers = 1)", st and st[1] == 1, repr(st))
        check("all 14 <topic>.<priority> queues declared",
              all(broker.queue(q) is not None for q in queues))

        # ---- the sidecar, three configurations
        sent = {}  # point key -> (case label, publisher, point, sidecar time)
        t_sent = time.monotonic()
        for i, (label, extra, pub, service, project, host, req, db) in enumerate(CASES):
            d = os.path.join(work, "sidecar%d" % i)
            os.mkdir(d)
            sc = Sidecar(args.sidecar, url, d, extra, env)
            sidecars.append(sc)
            tracked.add(sc.proc.pid)
            ok = check("sidecar %d up and connected: %s" % (i, label),
                       sc.wait_ready(left(15)), sc.text()[-500:])
            pts = trace(service, project, host, req, db)
            when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            if ok:
                sc.send(frame(pub, [json.dumps(p).encode() for p in pts]))
                t_sent = time.monotonic()
            for p in pts:
                sent[point_key(p)] = (label, pub, p, when)
            # Stop only once the broker confirmed them: a frame still in the
            # socket when SIGTERM comes is not read (received=0).
            st = sc.wait_confirmed(len(pts), left(15))
            check("sidecar %d: --stats shows the 4 points confirmed" % i,
                  st is not None and st.get("confirmed") == len(pts), repr(st))
            rc = sc.stop(left(20))
            check("sidecar %d: SIGTERM exits 0" % i, rc == 0, "rc=%s" % rc)
            ex = exit_stats(sc.text())
            check("sidecar %d: exit stats: 4 received, published and confirmed" % i,
                  ex is not None and all(int(ex.get(k, -1)) == len(pts) for k in
                                         ("received", "published", "confirmed")),
                  sc.text()[-400:])

        # ---- events
        def all_in():
            keys = {point_key({t[0]: t[2] for t in e.get("traits", [])})
                    for e in sink.events()}
            return set(sent) <= keys
        arrived = sink.wait_for(all_in, left(45))
        check("every point became an event (%d points; all in %.2f s after the last send)"
              % (len(sent), time.monotonic() - t_sent), arrived,
              "events: %d\n%s" % (len(sink.events()), tail(os.path.join(work, "agent.log"))))
        sink.wait_for(lambda: False, left(1.5))  # late duplicates, if any
        events = sink.events()
        with open(os.path.join(work, "events.json"), "w") as f:
            json.dump(events, f, indent=1)
        with sink.cond:
            posts = list(sink.posts)
        check("the http publisher posted JSON lists to /events",
              posts and all(p[0].startswith("/events") and p[1] == "application/json" and
                            isinstance(p[2], list) for p in posts),
              repr([(p[0], p[1]) for p in posts[:3]]))
        mine = [e for e in events if point_key({t[0]: t[2] for t in e.get("traits", [])})
                in sent]
        check("exactly one event per point (%d events)" % len(mine),
              len(mine) == len(sent) and
              len({point_key({t[0]: t[2] for t in e["traits"]}) for e in mine}) == len(sent),
              "got %d events for %d points" % (len(mine), len(sent)))

        by_case = {}
        for e in mine:
            tr = {t[0]: t[2] for t in e["traits"]}
            label, pub, p, when = sent[point_key(tr)]
            errs = by_case.setdefault(label, [])
            want = expected_traits(defn, pub, p)
            have = got_traits(e)
            tag = "%s %s" % (p["name"], p["trace_id"][:8])
            if e.get("event_type") != "profiler." + p["service"]:
                errs.append("%s: event_type %r" % (tag, e.get("event_type")))
            for name, wv in want.items():
                if have.get(name) != wv:
                    errs.append("%s: trait %s = %r, want %r" % (tag, name, have.get(name), wv))
            extra = set(have) - set(want)
            if extra:
                errs.append("%s: unexpected traits %r" % (tag, sorted(extra)))
            raw = e.get("raw") or {}
            if raw.get("payload") != p:
                errs.append("%s: raw.payload %r" % (tag, raw.get("payload")))
            if raw.get("publisher_id") != pub:
                errs.append("%s: raw.publisher_id %r" % (tag, raw.get("publisher_id")))
            if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                r"[0-9a-f]{12}", str(e.get("message_id"))):
                errs.append("%s: message_id %r" % (tag, e.get("message_id")))
            try:
                gen = parse_ts(e["generated"])
                if abs((gen - when).total_seconds()) > 60:
                    errs.append("%s: generated %s, sent at %s" % (tag, gen, when))
            except (KeyError, ValueError, TypeError):
                errs.append("%s: generated %r" % (tag, e.get("generated")))
        for label, *_ in CASES:
            errs = by_case.get(label)
            check("%s: events have every profiler.* trait with the values sent" % label,
                  errs == [], "no events" if errs is None else "\n".join(errs[:12]))
        ids = [e.get("message_id") for e in mine]
        check("message_ids distinct", len(set(ids)) == len(ids))
        # what the definition promises, spelled out, on the fullest points
        names = set(defn)
        full = [got_traits(e) for e in mine
                if {t[0]: t[2] for t in e["traits"]}.get("name") in ("wsgi-start", "db-start")
                and {t[0]: t[2] for t in e["traits"]}.get("project") is not None]
        request_traits = {"path", "query", "method", "scheme"}
        db_traits = {"db.statement", "db.params"}
        base_traits = names - request_traits - db_traits
        check("wsgi-start events carry %s" % ", ".join(sorted(base_traits | request_traits)),
              any(base_traits | request_traits <= set(h) and "db.statement" not in h
                  for h in full))
        check("db-start events carry %s" % ", ".join(sorted(base_traits | db_traits)),
              any(base_traits | db_traits <= set(h) and "path" not in h for h in full))
    except Abort:
        pass
    except (Exception, Interrupted):  # report, then clean up
        import traceback
        check("no exception in the test", False, traceback.format_exc())
    finally:
        for sc in sidecars:
            if sc.proc.poll() is None:
                sc.stop(10)
        if agent is not None:
            tracked.scan()  # the cotyledon master and its worker
            workers = [p for p in tracked.living() if p != agent.pid and
                       p not in [sc.proc.pid for sc in sidecars]]
            t_stop = time.monotonic()
            gone = tracked.stop(agent.pid, 30, reap=agent)
            try:
                rc = agent.wait(timeout=5)
            except subprocess.TimeoutExpired:
                rc = None
            for p in workers:  # gone with the master normally
                gone = tracked.stop(p, 10) and gone
            check("agent (pid %d, workers %s) stopped by SIGTERM (%.1f s, rc %s)"
                  % (agent.pid, workers, time.monotonic() - t_stop, rc),
                  gone and rc is not None and len(workers) == 1)
            log = os.path.join(work, "agent.log")
            errors = [l for l in open(log, errors="replace") if " ERROR " in l or
                      "Traceback" in l] if os.path.exists(log) else ["no agent.log"]
            check("no ERROR in the agent's log", not errors, "".join(errors[:10]))
        left_over = tracked.living()
        check("no process of this test left running (%d tracked)" % len(tracked.procs),
              not left_over, repr(left_over))
        sink.shutdown()
        sink.server_close()
        try:
            broker.delete(created_q, created_x)
        except Exception as exc:
            print("# could not delete the agent's queues and exchanges: %s" % exc)
    return finish(work, args.keep)


def tail(path, n=20):
    """The last lines of a log, without the agent's one-line dump of every
    event definition, each line cut to 400 characters."""
    try:
        with open(path, errors="replace") as f:
            lines = [l if len(l) <= 400 else l[:400] + "...\n" for l in f
                     if "ceilometer.declarative [-] Definitions:" not in l]
            return "".join(lines[-n:])
    except OSError:
        return "(no %s)" % path


def finish(work, keep=False):
    took = time.monotonic() - T0
    check("whole test within 3 minutes (%.1f s)" % took, took < 180)
    if work:
        if keep or FAILS:
            print("# work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
