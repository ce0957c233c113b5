#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Python reference for bench_pairs: osprofiler 3.4.3 start/stop pairs.

    /usr/bin/python3 bench_py.py --mode noop|messaging [--port P]
        [--batches N] [--batch N] [--warmup N] [--timed N]

noop       osprofiler's default no-op notifier (pure profiler overhead).
messaging  messaging:// through oslo.messaging to the RabbitMQ node on
           127.0.0.1:P (the reference transport: a publisher confirm per
           notification). After the warm-up the profiler.info queue is purged;
           at the end its depth is read back (passive declare, polled) to show
           how many notifications reached the broker.

Each pair is profiler.start("db", info={"db": {"statement": "SELECT 1",
"params": {}}}) then profiler.stop(): the pair osp_load makes in C (bench/pairs.py).
Phases as in bench_pairs.c: batches timed as a whole (median/p99 over batch
means), then pairs timed one by one. Prints one JSON object on stdout.
"""
import argparse
import json
import resource
import sys
import time


def pct(sorted_vals, p):
    """Nearest-rank percentile, as bench_pairs.c."""
    n = len(sorted_vals)
    if n == 0:
        return 0.0
    k = int((p / 100.0) * n + 0.999999)
    k = max(1, min(n, k))
    return sorted_vals[k - 1]


def queue_depth(port, queue, expected=None, timeout=20.0):
    """Passive declare of the queue from a separate connection. RabbitMQ may
    answer before in-flight deliveries are counted, so poll until the depth
    reaches the expected value or stops changing."""
    import amqp
    conn = amqp.Connection("127.0.0.1:%d" % port, userid="guest",
                           password="guest", connect_timeout=5)
    conn.connect()
    try:
        ch = conn.channel()
        deadline = time.monotonic() + timeout
        last, stable = -1, 0
        while True:
            _, count, _ = ch.queue_declare(queue, passive=True)
            if expected is not None and count >= expected:
                return count
            stable = stable + 1 if count == last else 0
            last = count
            if stable >= 10 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)
    finally:
        conn.close()


def purge(port, queue):
    import amqp
    conn = amqp.Connection("127.0.0.1:%d" % port, userid="guest",
                           password="guest", connect_timeout=5)
    conn.connect()
    try:
        return conn.channel().queue_purge(queue)
    finally:
        conn.close()


def proc_cpu_ns(pid):
    """utime+stime of another process, from /proc/PID/stat, in ns."""
    import os
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * 1e9 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["noop", "messaging"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--timed", type=int, default=20000)
    ap.add_argument("--broker-pid", type=int, default=0)
    a = ap.parse_args()

    import osprofiler
    from osprofiler import notifier, profiler

    versions = {"python": sys.version.split()[0]}
    try:
        from importlib.metadata import version
        versions["osprofiler"] = version("osprofiler")
    except Exception:
        versions["osprofiler"] = getattr(osprofiler, "__version__", "?")

    if a.mode == "messaging":
        if not a.port:
            ap.error("--port is required for messaging")
        import logging
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from oslo_config import cfg
        import oslo_messaging
        try:
            versions["oslo.messaging"] = version("oslo.messaging")
        except Exception:
            pass
        cfg.CONF([], project="osprofiler-c-bench")
        # osprofiler 3.4.3's Messaging driver takes transport_url= (and conf=)
        # and builds the transport itself; a transport= keyword would fall
        # into its **kwargs "black hole" and the driver would silently use
        # the default rabbit://localhost:5672.
        n = notifier.create("messaging://", context={}, conf=cfg.CONF,
                            transport_url="rabbit://guest:guest@127.0.0.1:%d/" % a.port,
                            project="p", service="s", host="h")
        driver = getattr(n, "__self__", None)  # create() returns driver.notify
        if driver is None or not hasattr(driver, "transport"):
            # create() falls back to the no-op notifier when the driver fails.
            sys.exit("bench_py: messaging driver could not be created")
        transport = driver.transport
        notifier.set(n)

    profiler.init("bench-key")
    start, stop = profiler.start, profiler.stop

    for _ in range(a.warmup):
        start("db", info={"db": {"statement": "SELECT 1", "params": {}}})
        stop()

    if a.mode == "messaging":
        purge(a.port, "profiler.info")

    clock = time.perf_counter_ns
    per_batch = []
    bcpu0 = proc_cpu_ns(a.broker_pid) if a.broker_pid else None
    cpu0 = time.process_time()
    wall0 = clock()
    for _ in range(a.batches):
        t0 = clock()
        for _ in range(a.batch):
            start("db", info={"db": {"statement": "SELECT 1", "params": {}}})
            stop()
        per_batch.append((clock() - t0) / a.batch)
    wall = clock() - wall0
    cpu = time.process_time() - cpu0
    bcpu1 = proc_cpu_ns(a.broker_pid) if a.broker_pid else None

    per_pair = []
    for _ in range(a.timed):
        t0 = clock()
        start("db", info={"db": {"statement": "SELECT 1", "params": {}}})
        stop()
        per_pair.append(clock() - t0)

    measured_pairs = a.batches * a.batch + a.timed
    res = {
        "mode": "py-" + a.mode, "batches": a.batches, "batch": a.batch,
        "warmup": a.warmup, "timed": a.timed, "versions": versions,
    }
    if a.mode == "messaging":
        expected = 2 * measured_pairs
        res["points_expected"] = expected
        res["queue_depth"] = queue_depth(a.port, "profiler.info", expected)

    if bcpu0 is not None and bcpu1 is not None:
        res["broker_cpu_ns_per_pair"] = (bcpu1 - bcpu0) / (a.batches * a.batch)
    sb = sorted(per_batch)
    sp = sorted(per_pair)
    res.update({
        "batch_median_ns": pct(sb, 50), "batch_p99_ns": pct(sb, 99),
        "batch_min_ns": sb[0], "batch_max_ns": sb[-1],
        "pair_median_ns": pct(sp, 50), "pair_p99_ns": pct(sp, 99),
        "pair_p999_ns": pct(sp, 99.9), "pair_max_ns": sp[-1] if sp else 0,
        "wall_ns_per_pair": wall / (a.batches * a.batch),
        "cpu_ns_per_pair": cpu * 1e9 / (a.batches * a.batch),
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    })
    print(json.dumps(res))
    sys.stdout.flush()
    if a.mode == "messaging":
        # Close the transport so the process exits without lingering threads.
        try:
            transport.cleanup()
        except Exception:
            pass


if __name__ == "__main__":
    main()
