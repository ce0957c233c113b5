#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""pairs.py BUILD_DIR - what a start/stop pair costs the traced thread, with
the real osprofiler-sidecar, beside an LTTng-UST tracepoint pair carrying
the same fields and the Python reference, in one run; and whether every
point arrived.

    scripts/bench.sh            (builds build-bench, then runs this)
    /usr/bin/python3 bench/pairs.py build-bench

Rows, each REPS times, interleaved so that load from elsewhere hits all alike:
  * LTTng-UST (the anchor): BUILD/bench/osp_load_lttng, two events a pair
    (name, trace id, parent id, info text), recorded by a private
    lttng-sessiond into a session of its own;
  * libosprofiler -> the real sidecar, store mode (SQLite, spool on), and
    broker mode (a private RabbitMQ, durable queue, spool on): osp_load's
    pairs (osp_start("db", {"db": {"statement": "SELECT 1", "params": {}}})
    / osp_stop(NULL), each at depth 0), THREADS threads paced at RATE pairs/s
    each (in groups of 10), then flat out;
  * libosprofiler with the socket configured and nobody listening;
  * Python osprofiler 3.4.3: its no-op notifier, and messaging:// to the same
    broker (bench_py.py).
Thread CPU time per pair is the figure compared (CLOCK_THREAD_CPUTIME_ID:
what the traced thread pays, not the sidecar's or the broker's work); wall
time per pair is given for the flat-out rows. After each libosprofiler run
the sidecar is left to settle and every point is accounted for: calls made
= delivered + the library's drops + the sidecar's drops ("lost" must be 0).
Then a running request's start visibility (osp_load visibility) against
both sidecars. Writes bench/results/pairs.md and prints it.

Knobs (environment, defaults in brackets): REPS [3] THREADS [2] RATE [10000]
PACED_PAIRS [50000] FLAT_PAIRS [50000] BURST_PAIRS [10000] PY_PAIRS [20000]
SKIP_LTTNG [0] SKIP_PY [0] KEEP_WORK [0] OUT [bench/results/pairs.md].
Everything is bounded in time; what is started here is stopped by pid.
"""
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
PY = "/usr/bin/python3"


def env_int(name, default):
    return int(os.environ.get(name, default))


REPS = env_int("REPS", 3)
THREADS = env_int("THREADS", 2)
RATE = env_int("RATE", 10000)
PACED = env_int("PACED_PAIRS", 50000)
FLAT = env_int("FLAT_PAIRS", 50000)
BURST = env_int("BURST_PAIRS", 10000)
PY_PAIRS = env_int("PY_PAIRS", 20000)


def log(msg):
    print("[pairs %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Procs:
    """Everything started here, stopped by pid."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=30):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p, wait=15)


PROCS = Procs()


def run_json(argv, timeout=600, ok=(0,)):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode not in ok:
        log("%s failed (%d): %s" % (os.path.basename(argv[0]), r.returncode, r.stderr[-300:]))
        return None
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


# ------------------------------------------------------------------ sidecar

class Sidecar:
    def __init__(self, build, work, name, conf, url=None):
        self.build = build
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "sc.sock")
        self.conf = os.path.join(self.dir, "sidecar.conf")
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nstats_interval = 0\nspool_dir = "%s"\n%s'
                    % (self.sock, os.path.join(self.dir, "spool"), conf))
        self.log = open(os.path.join(self.dir, "sidecar.log"), "w")
        argv = [os.path.join(build, "osprofiler-sidecar"), "--config", self.conf]
        if url:
            argv += ["--transport-url", url]
        self.proc = PROCS.start(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not (os.path.exists(self.sock + ".ctl") and self.connected(url)):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("sidecar did not start: " + open(self.log.name).read())
            time.sleep(0.05)

    def connected(self, url):
        st = self.stats()
        return st is not None and (not url or st["connected"])

    def stats(self):
        r = subprocess.run([os.path.join(self.build, "osprofiler-sidecar"), "--config",
                            self.conf, "--stats"], capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None

    def settled(self, timeout=300):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.stats()
            if st and st["memory"]["points"] == 0 and st["spool"]["points"] == 0 and \
                    st["received"] == st["delivered"] + sc_drops(st):
                return st
            time.sleep(0.2)
        return st

    def stop(self):
        PROCS.stop(self.proc)
        self.log.close()


def sc_drops(st):
    d = st["dropped"]
    return d["invalid"] + d["spool"] + d["shutdown"] + d["nomem"]


def lib_drops(s):
    return sum(v for k, v in s.items() if k.startswith("dropped_"))


# ------------------------------------------------------------------ lttng

class Lttng:
    """A private lttng-sessiond (user space only) and one session."""

    def __init__(self, work):
        self.env = dict(os.environ, LTTNG_HOME=os.path.join(work, "lttng-home"))
        os.makedirs(self.env["LTTNG_HOME"])
        self.trace = os.path.join(work, "lttng-trace")
        self.proc = PROCS.start(["lttng-sessiond", "--no-kernel"], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while self.lttng("list") != 0:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("lttng-sessiond did not start")
            time.sleep(0.2)
        for argv in (["create", "osp-pairs", "--output=" + self.trace],
                     ["enable-event", "-u", "osp_load:*"], ["start"]):
            if self.lttng(*argv) != 0:
                raise RuntimeError("lttng %s failed" % argv[0])

    def lttng(self, *argv):
        return subprocess.run(["lttng"] + list(argv), env=self.env, capture_output=True,
                              timeout=60).returncode

    def recorded_bytes(self):
        self.lttng("stop")
        total = 0
        for root, _, files in os.walk(self.trace):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        return total

    def close(self):
        self.lttng("destroy")
        PROCS.stop(self.proc)


# ------------------------------------------------------------------ runs

def load(build, lttng, mode, sock):
    binary = os.path.join(build, "bench", "osp_load_lttng" if lttng else "osp_load")
    argv = [binary, "pairs", "--threads", str(THREADS)]
    if sock:
        argv += ["--socket", sock]
    if mode == "paced":
        argv += ["--pairs", str(PACED), "--rate", str(RATE)]
    elif mode == "burst":
        argv += ["--pairs", str(BURST)]
    else:
        argv += ["--pairs", str(FLAT)]
    return run_json(argv, ok=(0, 3))


def lib_run(build, sc, mode, before):
    """A libosprofiler run into sidecar sc, then its account."""
    r = load(build, False, mode, sc.sock)
    st = sc.settled()
    if r is None or st is None:
        return None
    s = r["stats"]
    delivered = st["delivered"] - before["delivered"]
    r["account"] = {
        "calls": r["calls"], "delivered": delivered, "lib_drops": lib_drops(s),
        "sc_drops": sc_drops(st) - sc_drops(before),
        "lost": r["calls"] - delivered - lib_drops(s) - (sc_drops(st) - sc_drops(before)),
        "buffered_left": s["buffered"],
    }
    r["_after"] = st
    return r


def queue_depth(port, queue):
    out = subprocess.run([PY, "-c", """
import amqp, sys
c = amqp.Connection("127.0.0.1:%s" % sys.argv[1], userid="guest", password="guest")
c.connect()
print(c.channel().queue_declare(sys.argv[2], passive=True)[1])
c.close()
""", str(port), queue], capture_output=True, text=True, timeout=60)
    return int(out.stdout) if out.returncode == 0 else None


def machine(build):
    m = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
         "nproc": os.cpu_count(), "kernel": platform.release()}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                m["cpu"] = line.split(":", 1)[1].strip()
                break
    for pkg in ("python3-osprofiler", "python3-oslo.messaging", "rabbitmq-server",
                "liblttng-ust1", "lttng-tools"):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                           capture_output=True, text=True)
        m[pkg] = r.stdout or "missing"
    r = subprocess.run(["git", "-C", SRC, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    m["git"] = r.stdout.strip() or "?"
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("CMAKE_BUILD_TYPE:"):
                m["build_type"] = line.split("=", 1)[1].strip()
    return m


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: pairs.py BUILD_DIR")
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="osp-pairs.")
    broker_dir = os.path.join(work, "rb")
    broker_sh = os.path.join(SRC, "tests", "integration", "broker.sh")
    res = {"machine": machine(build), "reps": REPS, "threads": THREADS, "rate": RATE,
           "paced": PACED, "flat": FLAT, "burst": BURST, "runs": {}, "visibility": {}}
    runs = res["runs"]

    def add(key, r):
        runs.setdefault(key, []).append(r)

    lt = None
    try:
        if os.environ.get("SKIP_LTTNG") != "1" and shutil.which("lttng-sessiond") and \
                os.path.exists(os.path.join(build, "bench", "osp_load_lttng")):
            lt = Lttng(work)
        else:
            log("no LTTng (lttng-tools, liblttng-ust-dev): the anchor rows are missing")
        log("private RabbitMQ")
        subprocess.run([broker_sh, "start", broker_dir, "5871"], check=True,
                       capture_output=True, timeout=180)
        env = dict(l.strip().split("=", 1) for l in open(os.path.join(broker_dir, "env"))
                   if "=" in l)
        port = int(env["OSP_BROKER_PORT"])
        url = "rabbit://guest:guest@127.0.0.1:%d/" % port
        broker_conf = ('amqp_durable_queues = true\ncontrol_exchange = "osp_pairs"\n'
                       'topics = {"pairs"}\n')
        for rep in range(1, REPS + 1):
            for mode in ("paced", "burst", "flat"):
                if lt:
                    log("rep %d: LTTng-UST %s" % (rep, mode))
                    add("lttng-" + mode, load(build, True, mode, None))
            sc = Sidecar(build, work, "store%d" % rep,
                         'store = "sqlite:///%s"\n' % os.path.join(work, "t%d.db" % rep))
            for mode in ("paced", "burst", "flat"):
                log("rep %d: libosprofiler -> sidecar (store) %s" % (rep, mode))
                add("store-" + mode, lib_run(build, sc, mode, sc.settled()))
            sc.stop()
            sc = Sidecar(build, work, "broker%d" % rep, broker_conf, url)
            for mode in ("paced", "burst", "flat"):
                log("rep %d: libosprofiler -> sidecar (broker) %s" % (rep, mode))
                r = lib_run(build, sc, mode, sc.settled())
                if r:
                    r["queue_depth"] = queue_depth(port, "pairs.info")
                add("broker-" + mode, r)
            sc.stop()
            log("rep %d: libosprofiler, nobody listening" % rep)
            add("absent-flat", load(build, False, "flat", os.path.join(work, "nobody.sock")))
            if os.environ.get("SKIP_PY") != "1":
                log("rep %d: Python no-op notifier" % rep)
                add("py-noop", run_json([PY, os.path.join(HERE, "bench_py.py"), "--mode",
                                         "noop", "--batches", str(PY_PAIRS // 1000),
                                         "--batch", "1000", "--timed", "1000"]))
        if lt:
            res["lttng_recorded_bytes"] = lt.recorded_bytes()
        if os.environ.get("SKIP_PY") != "1":
            for rep in range(1, REPS + 1):
                log("rep %d: Python messaging://" % rep)
                add("py-messaging", run_json([PY, os.path.join(HERE, "bench_py.py"), "--mode",
                                              "messaging", "--port", str(port), "--warmup",
                                              "200", "--batches", "20", "--batch", "100",
                                              "--timed", "1000"], timeout=900))
        for name, conf, u in (("store", 'store = "sqlite:///%s"\n'
                               % os.path.join(work, "v.db"), None),
                              ("broker", broker_conf, url)):
            log("start visibility (%s)" % name)
            sc = Sidecar(build, work, "vis-" + name, conf, u)
            vis = []
            for _ in range(3):  # fresh processes: the first point of each too
                v = run_json([os.path.join(build, "bench", "osp_load"), "visibility",
                              "--socket", sc.sock, "--trials", "5", "--hold-ms", "2000"],
                             ok=(0, 3))
                if v:
                    vis.append(v)
            res["visibility"][name] = vis
            sc.stop()
    finally:
        if lt:
            lt.close()
        PROCS.stop_all()
        subprocess.run([broker_sh, "stop", broker_dir], capture_output=True, timeout=180)
        if os.environ.get("KEEP_WORK") == "1":
            log("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    out = os.environ.get("OUT", os.path.join(HERE, "results", "pairs.md"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".json", "w") as f:
        json.dump(res, f, indent=1)
    text = report(res)
    with open(out, "w") as f:
        f.write(text)
    print(text)


# ------------------------------------------------------------------ report

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def us(ns):
    return "n/a" if ns is None else "%.3f" % (ns / 1000.0)


def report(res):
    runs, m = res["runs"], res["machine"]
    L = ["# Start/stop pair cost with the real sidecar, against LTTng-UST and Python", "",
         "Generated by `bench/pairs.py` (`scripts/bench.sh`) on %s." % m["date"], "",
         "## Machine", ""]
    for k in ("nproc", "cpu", "kernel", "build_type", "git", "python3-osprofiler",
              "python3-oslo.messaging", "rabbitmq-server", "liblttng-ust1", "lttng-tools"):
        L.append("* %s: %s" % (k, m.get(k, "?")))
    L += ["", "## Thread CPU time per pair", "",
          "One pair = `osp_start(\"db\", {\"db\": {\"statement\": \"SELECT 1\", \"params\": "
          "{}}})` + `osp_stop(NULL)` at depth 0 (Python: `profiler.start`/`stop` with the "
          "same info; LTTng-UST: two events carrying name, trace id, parent id and the "
          "info text). %d threads; *paced*: %d pairs/s each (groups of 10) for %d pairs; "
          "*burst*: %d pairs flat out; *flat*: %d pairs flat out. Thread CPU time "
          "(CLOCK_THREAD_CPUTIME_ID) is what the traced thread pays; the median of %d runs "
          "(each run's figure listed). Wall time per pair for the flat-out rows."
          % (res["threads"], res["rate"], res["paced"], res["burst"], res["flat"],
             res["reps"]), "",
          "| row | thread CPU µs/pair | runs | ÷ LTTng, same shape (median of per-run "
          "ratios) | wall µs/pair | points made / delivered / dropped by the library / "
          "by the sidecar / **lost** |",
          "|---|---|---|---|---|---|"]

    def cpu(r):
        return r.get("cpu_ns_per_pair") if r else None

    def row(key, label, anchor=None, wall=True):
        rs = runs.get(key, [])
        vals = [cpu(r) for r in rs]
        ratio = "—"
        if anchor and runs.get(anchor):
            ratios = [a / b for a, b in zip(vals, [cpu(r) for r in runs[anchor]])
                      if a and b]
            ratio = "**%.2f×**" % med(ratios) if ratios else "n/a"
        walls = us(med([r.get("wall_ns_per_pair") for r in rs if r])) if wall else "—"
        acc = [r.get("account") for r in rs if r and r.get("account")]
        if acc:
            accs = "; ".join("%d / %d / %d / %d / **%d**" % (a["calls"], a["delivered"],
                                                             a["lib_drops"], a["sc_drops"],
                                                             a["lost"]) for a in acc)
        else:
            accs = "—"
        L.append("| %s | **%s** | %s | %s | %s | %s |"
                 % (label, us(med(vals)), ", ".join(us(v) for v in vals), ratio, walls, accs))

    for mode in ("paced", "burst", "flat"):
        wall = mode != "paced"
        row("lttng-" + mode, "LTTng-UST pair (anchor), %s" % mode, wall=wall)
        row("store-" + mode, "libosprofiler → sidecar, store mode (SQLite), %s" % mode,
            "lttng-" + mode, wall)
        row("broker-" + mode, "libosprofiler → sidecar, broker mode (durable queue, spool)"
            ", %s" % mode, "lttng-" + mode, wall)
    row("absent-flat", "libosprofiler, socket configured, nobody listening, flat",
        "lttng-flat")
    for key, label in (("py-noop", "Python osprofiler, no-op notifier"),
                       ("py-messaging", "Python osprofiler, messaging:// → RabbitMQ")):
        row(key, label, "lttng-flat")
    L += ["", "## Nothing lost", ""]
    lost = [r["account"]["lost"] for k, rs in runs.items() for r in rs
            if r and r.get("account")]
    L.append("* points lost (made − delivered − counted drops) over every libosprofiler run: "
             "**%s** (%d runs)" % (sum(lost) if lost else "n/a", len(lost)))
    qd = [(r["account"]["delivered"], r.get("queue_depth")) for k in
          ("broker-paced", "broker-burst", "broker-flat") for r in runs.get(k, [])
          if r and r.get("account")]
    if qd:
        L.append("* broker mode, queue depth after each run (cumulative per sidecar, at "
                 "least once): %s" % ", ".join(str(q) for _, q in qd))
    if res.get("lttng_recorded_bytes") is not None:
        L.append("* LTTng session recorded %.1f MiB (the anchor's events were written, not "
                 "discarded)" % (res["lttng_recorded_bytes"] / 1048576.0))
    L += ["", "## Start visibility: a running request's `-start` at the sidecar", ""]
    for name, vis in res["visibility"].items():
        fresh = [x for v in vis for x in v["fresh_thread_ms"]]
        warm = [x for v in vis for x in v["warm_thread_ms"]]
        allv = fresh + warm
        worst = max(allv) if allv and min(allv) >= 0 else None
        L.append("* %s mode: fresh threads (the first of each process too) %s ms; a thread "
                 "whose ring is read, after the sidecar fell asleep, %s ms; worst **%s** "
                 "(target ≤ 100 ms)" % (name, ", ".join("%.2f" % x for x in fresh),
                                       ", ".join("%.2f" % x for x in warm),
                                       "%.2f ms" % worst if worst is not None else "n/a"))
    L += ["", "## Method", "",
          "* The sidecar is the real `osprofiler-sidecar`, fresh per repetition and mode "
          "(store: SQLite on the local disk, spool on; broker: a private RabbitMQ node on "
          "127.0.0.1, durable queue, spool on). After each run the script waits until the "
          "sidecar holds nothing in memory or on its spool, then accounts for every point.",
          "* LTTng-UST: `lttng-sessiond --no-kernel` private to the run, one user-space "
          "session recording `osp_load:*` to disk. Its pair is two `lttng_ust_tracepoint` "
          "calls with constant ids and info text: it neither makes ids nor serialises "
          "a `json_t`, which libosprofiler does.",
          "* Thread CPU time excludes the pacing sleeps: paced runs read the thread clock "
          "around each group of 10 pairs and subtract the median cost of reading it.",
          "* Python runs use `/usr/bin/python3` and Debian's python3-osprofiler; process CPU "
          "time per pair (one thread).",
          "* All processes share this machine's %s CPUs; the ratios are taken within one "
          "run." % m.get("nproc")]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
