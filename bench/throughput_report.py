#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turn the JSON written by throughput.sh into bench/results/throughput.md.

    throughput_report.py WORKDIR OUT.md

WORKDIR holds machine.json, busy_after.txt and, per repetition R:
raw-nd.R.json, raw-d.R.json (throughput_raw publish), sc-nd.R.json,
sc-d.R.json, sc-dspool.R.json (throughput_feed burst, with .stats/.mem/
.segs_left beside), py.R.json (bench_py.py); and per latency run NAME:
NAME.json (throughput_feed rate|lib), NAME.cons.json (throughput_raw
consume), NAME.mem. A missing or failed step shows as "failed". The report
is printed too.
"""
import glob
import os
import sys

from report_common import fmt, head, load, med, ratio, write, yes

TARGET_ND = 0.95      # sidecar / raw, non-durable queue
TARGET_PY = 10.0      # sidecar / Python reference
TARGET_SPOOL = 0.90   # sidecar with spool / raw, durable queue
TARGET_P99_MS = 5.0   # stop -> in the queue at 1k points/s
TARGET_RSS_MIB = 16.0




def mem(path):
    out = {}
    try:
        for line in open(path):
            k, v = line.split(":", 1)
            out[k.strip()] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def reps(work, prefixes):
    rs = set()
    for p in glob.glob(os.path.join(work, "*.json")):
        parts = os.path.basename(p).split(".")
        if len(parts) == 3 and parts[1].isdigit() and parts[0] in prefixes:
            rs.add(int(parts[1]))
    return sorted(rs)


def others(d, ours_s):
    """All processes' CPU during a run, and the part not ours, in % of one core."""
    allp = d.get("machine_cpu_pct")
    if allp is None or not d.get("seconds"):
        return "n/a"
    return "%.0f %% / %.0f %%" % (allp, max(0.0, allp - 100.0 * ours_s / d["seconds"]))


def pct(v):
    return "%.0f %%" % v if v is not None and v >= 0 else "n/a"


def rate(kind, d, n):
    """msgs/s of a run, or None when the run failed or is incomplete."""
    if not d:
        return None
    if kind == "raw":
        if d.get("confirmed") != n or d.get("nacked", 0) != 0:
            return None
        return d["msgs_per_s"]
    if kind == "py":
        if not d.get("wall_ns_per_pair"):
            return None
        if d.get("queue_depth", 0) < d.get("points_expected", 1):
            return None
        return 2e9 / d["wall_ns_per_pair"]
    if not d.get("ok"):
        return None
    return d["msgs_per_s"]




def ratio_med(xs, ys):
    """The median of the per-repetition ratios: raw and sidecar of one
    repetition ran back to back on the same broker. (A ratio of medians
    mixes repetitions: it printed 160 % where the runs were 79, 87 and
    160 %.)"""
    return med([ratio(x, y) for x, y in zip(xs, ys)])




def mib(kib):
    return "{:.1f} MiB".format(kib / 1024.0) if kib is not None and kib >= 0 else "n/a"


def main():
    work, out = sys.argv[1], sys.argv[2]
    m = load(os.path.join(work, "machine.json")) or {}
    try:
        busy_after = open(os.path.join(work, "busy_after.txt")).read().strip()
    except OSError:
        busy_after = "?"
    n = m.get("n", 0)
    keys = [("raw-nd", "raw"), ("sc-nd", "sc"), ("raw-d", "raw"), ("sc-d", "sc"),
            ("sc-dspool", "sc"), ("py", "py")]
    rr = reps(work, {k for k, _ in keys})
    lat_names = ["lat-raw-nd", "lat-lib-nd", "lat-frames-nd", "lat-lib-dspool", "lat-raw-d"]
    lr = reps(work, set(lat_names))
    runs = {}  # key -> [json per rep]
    for key, kind in keys:
        runs[key] = [load(os.path.join(work, "%s.%d.json" % (key, r))) for r in rr]
    rates = {key: [rate(kind, d, n) for d in runs[key]] for key, kind in keys}
    meds = {key: med(v) for key, v in rates.items()}

    L = []
    head(L, "osprofiler-sidecar: sustained throughput into RabbitMQ, every message "
         "confirmed", m, "bench/throughput.sh BUILD_DIR",
         [("nproc", "nproc"), ("cpu", "CPU"), ("kernel", "kernel"), ("os", "OS"),
          ("mem", "memory"), ("disk", "work directory (spool, broker data)"),
          ("cc", "C compiler"), ("build_type", "CMake build type"),
          ("git", "source (git describe --dirty)"),
          ("sidecar_mtime", "osprofiler-sidecar binary built"),
          ("librabbitmq", "librabbitmq (rabbitmq-c)"), ("rabbitmq", "RabbitMQ"),
          ("broker", "broker"), ("python", "Python"),
          ("osprofiler", "osprofiler (Python)"),
          ("oslo_messaging", "oslo.messaging")], busy_after)
    L.append("* N = %s points/messages per throughput run, confirm window %s, feeder frames "
             "of %s bytes, Python reference %s points, %d repetitions"
             % (n, m.get("window"), m.get("frame"), m.get("n_py"), len(rr)))
    L.append("")

    # ---------------------------------------------------------- verdicts
    lat = {}  # name -> [(feeder json, consumer json, rep)] per latency repetition
    for name in lat_names:
        lat[name] = [(load(os.path.join(work, "%s.%d.json" % (name, r))),
                      load(os.path.join(work, "%s.%d.cons.json" % (name, r))), r) for r in lr]

    def p99_ms(f, cons):
        if not f or not cons or cons.get("received", 0) < cons.get("expected", 1):
            return None
        return cons["lat_p99_us"] / 1000.0
    r_nd = ratio_med(rates["sc-nd"], rates["raw-nd"])
    r_py = ratio_med(rates["sc-nd"], rates["py"])
    r_sp = ratio_med(rates["sc-dspool"], rates["raw-d"])
    r_d = ratio_med(rates["sc-d"], rates["raw-d"])
    p99s = {name: [p99_ms(f, c) for f, c, _ in lat[name]] for name in lat_names}
    p99 = med(p99s["lat-lib-nd"])
    p99_raw = med(p99s["lat-raw-nd"])
    p99_frames = med(p99s["lat-frames-nd"])
    steady = [f.get("rss_max_kib") for name in lat_names for f, _, _ in lat[name]
              if f and "rss_max_kib" in f]
    steady = [s for s in steady if s is not None and s >= 0]
    rss_steady = max(steady) if steady else None
    burst_peak = [d.get("vmhwm_kib") for key in ("sc-nd", "sc-d", "sc-dspool")
                  for d in runs[key] if d]
    burst_peak = max(burst_peak) if burst_peak else None
    burst_idle = [d.get("rss_idle_1s_kib") for key in ("sc-nd", "sc-d", "sc-dspool")
                  for d in runs[key] if d]
    burst_idle = max(burst_idle) if burst_idle else None

    L.append("## Against the targets")
    L.append("")
    L.append("Rates: medians over the repetitions; ratios: the median of the "
             "per-repetition ratios (each repetition ran both sides back to back on the "
             "same broker). Per-repetition figures below.")
    L.append("")
    L.append("| target | measured | met? |")
    L.append("|---|---|---|")
    L.append("| sidecar ≥ 95 %% of raw rabbitmq-c (windowed confirms), non-durable queue | "
             "%s vs %s msg/s = **%s** | %s |"
             % (fmt(meds["sc-nd"]), fmt(meds["raw-nd"]),
                "%.1f %%" % (100 * r_nd) if r_nd else "n/a",
                yes(r_nd >= TARGET_ND if r_nd else None)))
    L.append("| sidecar ≥ 10× the Python reference (osprofiler 3.4.3 messaging://) | "
             "%s vs %s msg/s = **%s** | %s |"
             % (fmt(meds["sc-nd"]), fmt(meds["py"]),
                "%.1f×" % r_py if r_py else "n/a",
                yes(r_py >= TARGET_PY if r_py else None)))
    L.append("| durable queue, disk spool active: sidecar ≥ 90 %% of raw | "
             "%s vs %s msg/s = **%s** | %s |"
             % (fmt(meds["sc-dspool"]), fmt(meds["raw-d"]),
                "%.1f %%" % (100 * r_sp) if r_sp else "n/a",
                yes(r_sp >= TARGET_SPOOL if r_sp else None)))
    L.append("| (for reference) durable queue, memory only: sidecar / raw | "
             "%s vs %s msg/s = %s | — |"
             % (fmt(meds["sc-d"]), fmt(meds["raw-d"]),
                "%.1f %%" % (100 * r_d) if r_d else "n/a"))
    L.append("| stop → in the queue at %s points/s (libosprofiler, non-durable): p99 ≤ 5 ms | "
             "p99 **%s** (median of %d runs; upper bound: consumer receipt). Same run: "
             "frames path %s; raw rabbitmq-c paced alike (no sidecar) %s | %s |"
             % (m.get("lat_rate"), "%.2f ms" % p99 if p99 is not None else "n/a", len(lr),
                "%.2f ms" % p99_frames if p99_frames is not None else "n/a",
                "%.2f ms" % p99_raw if p99_raw is not None else "n/a",
                yes(p99 <= TARGET_P99_MS if p99 is not None else None)))
    L.append("| sidecar RSS ≤ 16 MiB steady (max VmRSS during the %s points/s runs) | "
             "**%s** | %s |"
             % (m.get("lat_rate"), mib(rss_steady),
                yes(rss_steady <= TARGET_RSS_MIB * 1024 if rss_steady is not None else None)))
    L.append("| (for reference) sidecar RSS after a %s-point burst: peak VmHWM / 1 s after "
             "draining | %s / %s | — |" % (n, mib(burst_peak), mib(burst_idle)))
    L.append("")

    # ---------------------------------------------------------- throughput
    L.append("## Throughput (msgs/s, from the first message until all N are confirmed)")
    L.append("")
    cols = "| run | " + " | ".join("rep %d" % r for r in rr) + " | **median** |"
    L.append(cols)
    L.append("|---" * (len(rr) + 2) + "|")
    labels = [("raw-nd", "raw rabbitmq-c, non-durable queue"),
              ("sc-nd", "sidecar, non-durable queue (memory, spool_dir \"\")"),
              ("raw-d", "raw rabbitmq-c, durable queue"),
              ("sc-d", "sidecar, durable queue, memory only"),
              ("sc-dspool", "sidecar, durable queue, disk spool on"),
              ("py", "Python osprofiler 3.4.3 messaging:// (non-durable)")]
    for key, label in labels:
        L.append("| %s | %s | **%s** |" % (label, " | ".join(fmt(v) for v in rates[key]),
                                           fmt(meds[key])))
    for a, b, label in [("sc-nd", "raw-nd", "ratio sidecar / raw, non-durable"),
                        ("sc-d", "raw-d", "ratio sidecar / raw, durable, memory"),
                        ("sc-dspool", "raw-d", "ratio sidecar+spool / raw, durable"),
                        ("sc-nd", "py", "ratio sidecar / Python (non-durable)")]:
        vals = [ratio(x, y) for x, y in zip(rates[a], rates[b])]
        pyr = b == "py"
        f = (lambda v: "n/a" if v is None else ("%.1f×" % v if pyr else "%.1f %%" % (100 * v)))
        L.append("| %s (same repetition) | %s | **%s** |"
                 % (label, " | ".join(f(v) for v in vals), f(med(vals))))
    L.append("")

    # details per run
    L.append("### Details per run")
    L.append("")
    L.append("| run | rep | msgs/s | s | checks | client CPU s | sidecar CPU s | broker CPU s "
             "| all processes' CPU (% of 1 core) / of which others | feeder: all sent after s (EAGAIN) "
             "| msgs/s while / after sending | spooled | sidecar VmHWM |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, kind in keys:
        for r, d in zip(rr, runs[key]):
            if not d:
                L.append("| %s | %d | failed | | | | | | | | | | |" % (key, r))
                continue
            if kind == "raw":
                L.append("| %s | %d | %s | %.2f | confirmed %s, nacked %s, queue depth %s, body %s B "
                         "| %.2f | | %.2f | %s | | | | |"
                         % (key, r, fmt(d["msgs_per_s"]), d["seconds"], d["confirmed"],
                            d["nacked"], d["queue_depth"], d["body_len"], d["client_cpu_s"],
                            d["broker_cpu_s"],
                            others(d, d["broker_cpu_s"] + d["client_cpu_s"])))
            elif kind == "py":
                secs = d["wall_ns_per_pair"] * d["batches"] * d["batch"] / 1e9
                L.append("| %s | %d | %s | %.2f | %s points, queue depth %s | %.2f | | %s | | | | | |"
                         % (key, r, fmt(rate("py", d, n)), secs, d["points_expected"],
                            d["queue_depth"], d["cpu_ns_per_pair"] * d["batches"] * d["batch"] / 1e9,
                            "%.2f" % (d["broker_cpu_ns_per_pair"] * d["batches"] * d["batch"] / 1e9)
                            if "broker_cpu_ns_per_pair" in d else ""))
            else:
                st = load(os.path.join(work, "%s.%d.stats" % (key, r))) or {}
                segs = None
                try:
                    segs = open(os.path.join(work, "%s.%d.segs_left" % (key, r))).read().strip()
                except OSError:
                    pass
                chk = "confirmed %s/%s, dropped %s" % (
                    d["confirmed"], d["count"], d["dropped_invalid"] + d["dropped_other"])
                if st:
                    chk += "; --stats: confirmed %s" % st.get("confirmed")
                if segs is not None:
                    chk += "; segments left %s" % segs
                L.append("| %s | %d | %s | %.2f | %s | %s | %.2f | %.2f | %s | %.2f (%d) | %s / %s "
                         "| %s | %s |"
                         % (key, r, fmt(d["msgs_per_s"]) if d.get("ok") else "failed",
                            d["seconds"], chk,
                            "feeder %.2f" % d["feeder_cpu_s"] if "feeder_cpu_s" in d else "",
                            d["sidecar_cpu_s"], d["broker_cpu_s"],
                            others(d, d["broker_cpu_s"] + d["sidecar_cpu_s"]
                                   + d.get("feeder_cpu_s", 0)),
                            d["send_seconds"], d["eagain"], fmt(d.get("rate_while_sending")),
                            fmt(d.get("rate_after_sending")), d["spooled"],
                            mib(d["vmhwm_kib"])))
    L.append("")

    # ---------------------------------------------------------- latency
    L.append("## Latency at %s points/s for %s s: hand-over → received by a consumer"
             % (m.get("lat_rate"), m.get("lat_seconds")))
    L.append("")
    L.append("| path | rep | samples received / expected | p50 | p90 | p99 | p99.9 | max "
             "| sidecar CPU | broker CPU | all processes' CPU | sidecar VmRSS median / max |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    lat_labels = {
        "lat-raw-nd": "baseline: raw rabbitmq-c paced alike (no sidecar), non-durable",
        "lat-lib-nd": "**libosprofiler (shared ring) → sidecar, non-durable**",
        "lat-frames-nd": "feeder, one hop frame per point → sidecar, non-durable",
        "lat-lib-dspool": "libosprofiler → sidecar, durable queue, spool configured",
        "lat-raw-d": "baseline: raw rabbitmq-c paced alike, durable",
    }
    for name in lat_names:
        for f, cons, r in lat[name]:
            if not f or not cons:
                L.append("| %s | %d | failed | | | | | | | | | |" % (lat_labels[name], r))
                continue
            ms = lambda k: "%.2f ms" % (cons[k] / 1000.0)
            sc = "raw" not in name
            L.append("| %s | %d | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (lat_labels[name], r, cons["received"], cons["expected"],
                        ms("lat_p50_us"), ms("lat_p90_us"), ms("lat_p99_us"),
                        ms("lat_p999_us"), ms("lat_max_us"),
                        "%.1f %%" % f["sidecar_cpu_pct"] if sc else "—",
                        pct(f.get("broker_cpu_pct")), pct(f.get("machine_cpu_pct")),
                        "%s / %s" % (mib(f["rss_median_kib"]), mib(f["rss_max_kib"]))
                        if sc else "—"))
    L.append("")
    L.append("Samples: with libosprofiler, the stop point of each pair "
             "(`osp_stop({\"t_send_ns\": now})`, its start point travels with it), so "
             "%s points/s are %s timed samples/s; with frames every point is a sample."
             % (m.get("lat_rate"), int(m.get("lat_rate", 0) / 2)))
    L.append("")

    # ---------------------------------------------------------- method
    L.append("## Method and caveats")
    L.append("")
    L.append("* **raw** (`bench/throughput_raw.c publish`): one rabbitmq-c 0.11 connection "
             "(frame_max 131072), the sidecar's declarations (topic exchange `openstack`, queue "
             "and binding `profiler.info`, durable or not like `amqp_durable_queues`), "
             "`confirm.select`, properties 0xf800 (application/json, utf-8, empty headers, "
             "delivery_mode 2, priority 0), the same notification body as the sidecar "
             "(same keys and sizes, ~635 bytes), at most WINDOW unconfirmed; acks read when "
             "the window is full. Timed from the first publish to the last ack; the queue "
             "depth is read back afterwards.")
    L.append("* **sidecar**: a fresh `osprofiler-sidecar` per run, fed by "
             "`bench/throughput_feed.c burst` (hop frames per docs/wire.md over SOCK_SEQPACKET, "
             "MSG_DONTWAIT, EAGAIN → poll and resend, nothing dropped), timed from the first "
             "point sent to the moment `<socket>.ctl` (what `osprofiler-sidecar --stats` "
             "prints, polled every 2 ms) shows N more confirmed. `--stats` is run again at "
             "the end as a check. The feeder hands all N points over in well under the "
             "publishing time, so the run measures the publisher draining a backlog.")
    L.append("* **disk spool active**: `spool_dir` set; the intake writes a point to the "
             "spool while the memory queue holds more than memory_limit/2 bytes (4 MiB "
             "by default) or older points are still spooled; the *spooled* column shows how "
             "many of the N went through disk.")
    L.append("* **Python**: `bench/bench_py.py --mode messaging` (osprofiler 3.4.3, "
             "oslo.messaging, kombu with confirm_publish: one synchronous confirm per "
             "notification); msgs/s = 2 notifications per start/stop pair / wall time; the "
             "queue depth is checked.")
    L.append("* **Latency**: `throughput_raw consume` (basic.consume, no_ack) records "
             "CLOCK_REALTIME at receipt minus the point's `t_send_ns` (CLOCK_REALTIME taken "
             "just before `osp_stop()` or `send()`). A message reaches a consumer only after "
             "it is in the queue, so these are **upper bounds** of \"stop → confirmed in the "
             "queue\" for the non-durable queue (RabbitMQ confirms a transient-queue message "
             "once enqueued). For the durable queue the publisher confirm waits for the "
             "message store's fsync and may come after the delivery to a consumer.")
    L.append("* **Latency baseline**: `throughput_raw pace` publishes the same messages at the "
             "same rate straight to the broker (rabbitmq-c, confirms read between sends), so "
             "its row shows what broker + consumer + this machine cost without the sidecar, "
             "measured minutes apart from the sidecar rows.")
    L.append("* **CPU figures**: sidecar, broker and client from /proc/PID/stat; \"all "
             "processes' CPU\" sums utime+stime of every process on the machine over the "
             "timed part of the run (in %% of one core, %d %% = all %s CPUs busy): what exceeds "
             "broker + sidecar + client (+ ~2-7 %% for the consumer in latency runs) is load "
             "from other processes sharing the machine." % (100 * int(m.get("nproc", 1) or 1),
                                                            m.get("nproc", "?")))
    L.append("* **RSS**: `VmRSS` of the sidecar from /proc/PID/status every 50 ms, `VmHWM` "
             "at the end. \"Steady\" = the 1k points/s runs (a fresh sidecar each). During "
             "a burst the memory-only runs hold the backlog in memory (they set memory_limit "
             "to 128 MiB so the burst fits; the default is 8 MiB, the spool takes the rest), "
             "so the burst peak is a function of that setting, not a leak.")
    L.append("* Absolute rates depend on the machine and the day (the same 2-core kind "
             "has measured 17k to 57k msg/s raw, non-durable, window 1000); compare the "
             "ratios, which are taken within one run against one broker.")
    L.append("* Client, sidecar, broker and feeder share the same %s CPUs; the broker is "
             "the bottleneck of every run (see broker CPU), so CPU the sidecar spends is "
             "taken from the broker." % m.get("nproc", "?"))
    L.append("")
    write(L, out)


if __name__ == "__main__":
    main()
