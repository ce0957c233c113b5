#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.metrics: the Prometheus endpoint (metrics_listen, issue 13).

The real osprofiler-sidecar (store mode: SQLite, no broker) runs with
--metrics-listen 127.0.0.1:PORT; osp_load sends it points through
libosprofiler. Then:

- GET /metrics is the text format 0.0.4 (its Content-Type, # HELP and
  # TYPE before every family, well-formed samples) and every value equals
  what --stats prints once the sidecar has settled;
- a real Prometheus (Debian's /usr/bin/prometheus, its own data dir, on
  loopback, scrape_interval 1s) scrapes it: `up` is 1 and the received
  counter queried back through its HTTP API equals the points sent;
- other paths are 404, other methods 405 (a POST body is never read);
- idle clients do not hold up a scrape, and are closed after the
  connection timeout;
- more connections than the limits are refused (over 4 an address: closed
  at once) or wait (over 16 in all: not accepted until one closes), while
  the sidecar keeps taking and storing points;
- a bad metrics_listen, or a port in use, is a clear start-up error.

Clients come from several loopback addresses (127.0.0.2...), as separate
hosts would, so that the per-address limit is what they meet.

With --broker-env (the broker fixture), also broker mode: the publisher's
counters (published, confirmed) and broker_connected equal --stats' and the
points sent, on an exchange and queue of its own (deleted at the end).

  test_metrics.py --sidecar BIN --load BIN [--broker-env FILE]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import amqp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import RUNNING, SLOW, check, free_port, summary  # noqa: E402
from sidecar_proc import SidecarProc  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
IDLE_TIMEOUT = 10  # metrics.c's connection timeout (seconds)
# How long a refusal may take: well inside the idle timeout (or the idle
# connections would be closed by then too), slow runs included.
REFUSAL_WAIT = min(2 * SLOW, IDLE_TIMEOUT / 3)


class Sidecar(SidecarProc):
    def __init__(self, binary, work, port, conf="", url=None):
        self.binary = binary
        self.port = port
        self.sock = os.path.join(work, "sc.sock")
        self.conf = os.path.join(work, "sidecar.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nstats_interval = 0\n'
                    'spool_dir = ""\nstore = "sqlite:///%s/traces.db"\n%s'
                    % (self.sock, work, conf))
        self.log = open(os.path.join(work, "sidecar.log"), "w+")
        env = dict(os.environ)
        if url:  # the broker's password off the command line
            env["OSPROFILER_TRANSPORT_URL"] = url
        self.proc = subprocess.Popen(
            [binary, "--config", self.conf, "--metrics-listen", "127.0.0.1:%d" % port],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        RUNNING.append(self.proc)
        deadline = time.time() + 30 * SLOW
        while not os.path.exists(self.sock + ".ctl") and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited:\n" + self.text())
            time.sleep(0.02)

    def settled(self, received, timeout=60):
        """--stats once `received` points came and none waits."""
        deadline, st = time.time() + timeout * SLOW, None
        while time.time() < deadline:
            st = self.stats()
            if st and st["received"] >= received and st["memory"]["points"] == 0 and \
                    st["received"] == st["delivered"] + st["dropped"]["invalid"]:
                return st
            time.sleep(0.2)
        return st


def load(args, sock, threads, pairs, rate=0):
    r = subprocess.run([args.load, "pairs", "--socket", sock, "--threads", str(threads),
                        "--pairs", str(pairs), "--rate", str(rate)],
                       capture_output=True, text=True, timeout=300 * SLOW)
    if r.returncode != 0:
        raise RuntimeError("osp_load failed: %s" % r.stderr)
    return json.loads(r.stdout)["stats"]["sent"]


def http(port, path="/metrics", method="GET", body=None, timeout=10):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout * SLOW) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


SAMPLE = re.compile(r'^([a-z_]+)(\{([a-z_]+)="([a-z]+)"\})? ([0-9]+)$')


def parse(text):
    """{(name, label value or None): value}, and what is wrong with the text."""
    samples, helps, types, errors = {}, set(), {}, []
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        else:
            m = SAMPLE.match(line)
            if not m:
                errors.append("bad line: %r" % line)
                continue
            name = m.group(1)
            if name not in helps or name not in types:
                errors.append("%s: no # HELP and # TYPE before it" % name)
            if (types.get(name) == "counter") != name.endswith("_total"):
                errors.append("%s: counters (only) end in _total" % name)
            samples[(name, m.group(4))] = int(m.group(5))
    if not text.endswith("\n"):
        errors.append("no newline at the end")
    return samples, errors


def expected(st):
    """What /metrics must show for --stats' JSON st."""
    d = st["dropped"]
    p = "osprofiler_sidecar_"
    e = {
        "points_received_total": st["received"],
        "points_delivered_total": st["delivered"],
        "messages_published_total": st["published"],
        "messages_confirmed_total": st["confirmed"],
        "messages_nacked_total": st["nacked"],
        "points_spooled_total": st["spooled"],
        "points_stored_total": st["stored"],
        "store_commits_total": st["store_commits"],
        "messages_collected_total": st["collected"],
        "messages_collected_invalid_total": d["collect_invalid"],
        ("points_dropped_total", "invalid"): d["invalid"] - st["records_oversize"],
        ("points_dropped_total", "oversize"): st["records_oversize"],
        ("points_dropped_total", "shutdown"): d["shutdown"],
        ("points_dropped_total", "spool"): d["spool"],
        ("points_dropped_total", "nomem"): d["nomem"],
        ("points_dropped_total", "store"): d["store"],
        "frames_refused_total": st["bad_frames"],
        "frames_relabelled_total": st["publisher_replaced"],
        "hold_backs_total": st["hold_backs"],
        "reconnects_total": st["reconnects"],
        "rings_attached_total": st["rings_attached"],
        ("connections_refused_total", "uid"): st["connections_refused_uid"],
        ("connections_refused_total", "fds"): st["connections_refused_fds"],
        ("connections_refused_total", "total"): st["connections_refused"] -
        st["connections_refused_uid"] - st["connections_refused_fds"],
        ("rings_refused_total", "limit"): st["rings_refused_limit"],
        ("rings_refused_total", "invalid"): st["rings_refused"] - st["rings_refused_limit"],
        "memory_points": st["memory"]["points"],
        "memory_bytes": st["memory"]["bytes"],
        "spool_points": st["spool"]["points"],
        "spool_bytes": st["spool"]["bytes"],
        "holding_back": int(st["holding_back"]),
        "broker_connected": int(st["connected"]),
        "connections": st["connections"],
        "rings": st["rings"],
    }
    return {(p + k, None) if isinstance(k, str) else (p + k[0], k[1]): v
            for k, v in e.items()}


def scrape_while_loading(args, sc):
    """Scrapes in a loop while osp_load sends points (what TSan watches):
    each scrape well formed, the received counter never going back."""
    seen, errors, done = [], [], threading.Event()

    def scraper():
        while not done.is_set():
            try:
                status, _, text = http(sc.port)
                samples, errs = parse(text)
                seen.append(samples.get(("osprofiler_sidecar_points_received_total", None)))
                errors.extend(errs if status == 200 else ["status %d" % status])
            except OSError as e:
                errors.append(repr(e))
            time.sleep(0.01)

    t = threading.Thread(target=scraper)
    t.start()
    try:
        sent = load(args, sc.sock, 2, 2000, rate=1000)  # about 2 s
    finally:
        done.set()
        t.join()
    check("%d scrapes while points flow: all served, the counter never goes back"
          % len(seen), seen and not errors and seen == sorted(seen), (errors[:5], seen[-5:]))
    return sent


def test_scrape(sc, sent):
    st = sc.settled(sent)
    status, headers, text = http(sc.port)
    check("GET /metrics: 200, text/plain; version=0.0.4",
          status == 200 and headers.get("Content-Type", "").startswith(
              "text/plain; version=0.0.4"), (status, headers))
    samples, errors = parse(text)
    check("the text format: # HELP and # TYPE before each family, samples well formed",
          not errors and len(samples) >= 30, errors or text)
    check("the received counter is what osp_load sent (%d)" % sent,
          samples.get(("osprofiler_sidecar_points_received_total", None)) == sent and
          samples.get(("osprofiler_sidecar_points_stored_total", None)) == sent, text)
    want = expected(st)
    diff = {k: (v, samples.get(k)) for k, v in want.items() if samples.get(k) != v}
    check("every value equals --stats' (%d values)" % len(want), st and not diff,
          "expected, got: %r" % diff)
    if os.access(PROMTOOL, os.X_OK):  # Prometheus' own linter: format and names
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60 * SLOW)
        check("promtool check metrics: no problem", r.returncode == 0 and
              not (r.stdout + r.stderr).strip(), r.stdout + r.stderr)
    extra = set(samples) - set(want)
    check("/metrics shows nothing --stats does not", not extra, extra)
    status, _, _ = http(sc.port, method="HEAD")
    check("HEAD /metrics: 200", status == 200, status)


def prometheus_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (
        port, urllib.parse.urlencode({"query": query}))
    try:
        with urllib.request.urlopen(url, timeout=10 * SLOW) as r:
            body = json.loads(r.read())
    except (OSError, ValueError):
        return None
    res = body.get("data", {}).get("result", [])
    return [(x["metric"], float(x["value"][1])) for x in res]


def test_prometheus(sc, sent, work):
    pdir = os.path.join(work, "prometheus")
    os.makedirs(os.path.join(pdir, "data"))
    with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: osprofiler-sidecar\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % sc.port)
    pport = free_port()
    plog = open(os.path.join(pdir, "prometheus.log"), "w+")
    proc = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + os.path.join(pdir, "prometheus.yml"),
         "--storage.tsdb.path=" + os.path.join(pdir, "data"),
         "--web.listen-address=127.0.0.1:%d" % pport],
        stdout=plog, stderr=subprocess.STDOUT, cwd=pdir)
    RUNNING.append(proc)
    try:
        up = received = None
        deadline = time.time() + 90 * SLOW
        while time.time() < deadline and proc.poll() is None:
            up = prometheus_query(pport, 'up{job="osprofiler-sidecar"}')
            received = prometheus_query(pport, "osprofiler_sidecar_points_received_total")
            if up and up[0][1] == 1 and received and received[0][1] == sent:
                break
            time.sleep(0.5)
        check("Prometheus: up == 1 for the sidecar's target", up and up[0][1] == 1,
              (up, plog.name))
        check("Prometheus: osprofiler_sidecar_points_received_total == %d sent" % sent,
              received and received[0][1] == sent and
              received[0][0].get("job") == "osprofiler-sidecar", received)
        dropped = prometheus_query(pport, "sum(osprofiler_sidecar_points_dropped_total)")
        reasons = prometheus_query(pport, "count(osprofiler_sidecar_points_dropped_total)")
        check("Prometheus: points_dropped_total, 6 reasons, sum 0",
              dropped == [({}, 0.0)] and reasons == [({}, 6.0)], (dropped, reasons))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        plog.close()


def test_paths(sc):
    status, headers, _ = http(sc.port, "/")
    check("GET /: 404", status == 404, status)
    status, headers, _ = http(sc.port, "/metrics/x")
    check("GET /metrics/x: 404", status == 404, status)
    status, headers, _ = http(sc.port, method="POST", body=b"x" * 100000)
    check("POST /metrics with a body: 405, Allow: GET, HEAD",
          status == 405 and headers.get("Allow") == "GET, HEAD", (status, headers))
    status, _, _ = http(sc.port, method="DELETE")
    check("DELETE /metrics: 405", status == 405, status)
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % sc.port,
                                 headers={"X-Big": "a" * 20000})
    try:
        with urllib.request.urlopen(req, timeout=10 * SLOW) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    check("a request over 8 KiB of headers: 431", status == 431, status)


def client(port, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5 * SLOW)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s, within):
    """True when the server closes s within `within` seconds."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def closed_count(socks, within):
    """How many of socks the server closed within `within` seconds (waited
    once for all)."""
    time.sleep(within)
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            n += s.recv(1) == b""
        except ConnectionResetError:
            n += 1
        except BlockingIOError:
            pass
    return n


def test_idle(sc):
    idle = [client(sc.port, "127.0.0.3") for _ in range(2)]
    idle[1].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
    t0 = time.time()
    status, _, _ = http(sc.port)
    took = time.time() - t0
    check("idle and half-sent requests do not hold up a scrape (%.2f s)" % took,
          status == 200 and took < 2 * SLOW, (status, took))
    ok = [closed_by_server(s, (IDLE_TIMEOUT + 10) * SLOW) for s in idle]
    took = time.time() - t0
    check("idle connections are closed after the timeout (%.1f s)" % took,
          all(ok) and took >= IDLE_TIMEOUT - 1, (ok, took))
    for s in idle:
        s.close()


def test_limits(args, sc):
    # one address: 4 connections, the next ones closed at once
    one = [client(sc.port, "127.0.0.2") for _ in range(6)]
    refused = closed_count(one, REFUSAL_WAIT)
    check("over 4 connections from one address are refused (%d of 6)" % refused,
          refused == 2, refused)
    for s in one:
        s.close()
    time.sleep(0.5 * SLOW)
    # several addresses: 16 in all; a 17th waits (libmicrohttpd stops
    # accepting at the limit: it stays in the listen backlog, itself bounded)
    many = [client(sc.port, "127.0.0.%d" % (4 + i // 4)) for i in range(16)]
    late = client(sc.port, "127.0.0.8")
    late.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    late.settimeout(REFUSAL_WAIT)
    try:
        early = late.recv(100)
    except socket.timeout:
        early = None
    check("at 16 connections in all, a 17th is not served", early is None, early)
    before = sc.stats()
    sent = load(args, sc.sock, 2, 500)
    st = sc.settled(before["received"] + sent)
    check("the sidecar takes and stores points while the endpoint is full (%d)" % sent,
          st and st["received"] == before["received"] + sent and
          st["stored"] == before["stored"] + sent, (before, st))
    for s in many:
        s.close()
    late.settimeout(10 * SLOW)
    try:
        answer = late.recv(100)
    except socket.timeout:
        answer = b""
    late.close()
    check("once they close, the waiting request is served",
          answer.startswith(b"HTTP/1.1 200"), answer)
    log = sc.text()
    lines = log.count("[metrics]")
    check("refusals are logged, a few lines at most (%d)" % lines,
          "connection limit" in log and lines <= 5, log[-2000:])


BROKER_CONF = ('amqp_durable_queues = true\ncontrol_exchange = "osp_metrics"\n'
               'topics = {"metrics"}\n')


def test_broker(args, work):
    """Broker mode: the publisher's counters and broker_connected."""
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(env["OSP_BROKER_PORT"])
    url = "rabbit://guest:guest@127.0.0.1:%d/" % port
    bdir = os.path.join(work, "broker")
    os.makedirs(bdir)
    sc = Sidecar(args.sidecar, bdir, free_port(), BROKER_CONF, url)
    try:
        deadline = time.time() + 30 * SLOW
        while "connected to" not in sc.text() and time.time() < deadline:
            time.sleep(0.05)
        sent = load(args, sc.sock, 2, 250)
        st = sc.settled(sent)
        status, _, text = http(sc.port)
        samples, errors = parse(text)
        want = expected(st)
        diff = {k: (v, samples.get(k)) for k, v in want.items() if samples.get(k) != v}
        check("broker: every value equals --stats'", status == 200 and st and not diff,
              "expected, got: %r" % diff)
        p = "osprofiler_sidecar_"
        check("broker: %d points published and confirmed, broker_connected 1" % sent,
              samples.get((p + "messages_published_total", None)) == sent and
              samples.get((p + "messages_confirmed_total", None)) == sent and
              samples.get((p + "points_delivered_total", None)) == sent and
              samples.get((p + "broker_connected", None)) == 1, text)
    finally:
        check("broker: the sidecar stops cleanly", sc.stop() == 0, sc.text()[-2000:])
        c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest")
        c.connect()
        try:
            c.channel().queue_delete("metrics.info")
        except amqp.exceptions.NotFound:
            pass
        c.close()


def test_start_errors(args, work, port):
    r = subprocess.run([args.sidecar, "--metrics-listen", "localhost:9464",
                        "--store", "sqlite:///%s/x.db" % work, "--test-config"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    check("a name instead of an address: a config error naming metrics_listen",
          r.returncode == 1 and "metrics_listen 'localhost:9464'" in r.stderr, r.stderr)
    r = subprocess.run([args.sidecar, "--metrics-listen", "127.0.0.1:99999",
                        "--store", "sqlite:///%s/x.db" % work, "--test-config"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    check("a port over 65535 is refused", r.returncode == 1 and "port" in r.stderr,
          r.stderr)
    other = os.path.join(work, "other")
    os.makedirs(other)
    r = subprocess.run([args.sidecar, "--socket", os.path.join(other, "sc.sock"),
                        "--spool-dir", "", "--store", "sqlite:///%s/x.db" % other,
                        "--metrics-listen", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=60 * SLOW)
    check("a port in use stops the start-up with the reason",
          r.returncode == 1 and "Address already in use" in r.stderr and
          not os.path.exists(os.path.join(other, "sc.sock")), r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--broker-env", help="the broker fixture's env file: broker mode too")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="osp-metrics-")
    sc = None
    try:
        sc = Sidecar(args.sidecar, work, free_port())
        sent = scrape_while_loading(args, sc)
        test_scrape(sc, sent)
        if os.access(PROMETHEUS, os.X_OK):
            test_prometheus(sc, sent, work)
        else:
            check("Prometheus is installed (scripts/deps.sh test)", False, PROMETHEUS)
        test_paths(sc)
        test_idle(sc)
        test_limits(args, sc)
        test_start_errors(args, work, sc.port)
        rc = sc.stop()
        sc = None
        check("the sidecar stops cleanly with the endpoint on", rc == 0, rc)
        if args.broker_env:
            test_broker(args, work)
    finally:
        if sc:
            sc.stop()
        if not os.environ.get("OSP_KEEP_TEST_DIRS"):
            shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
