#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turn what store.sh wrote into bench/results/store.md.

    store_report.py WORKDIR OUT.md

WORKDIR holds machine.json, busy_after.txt and, per sidecar run NAME (sq-long,
sq-short, rd-long, rd-short) and repetition R: NAME.R.samples (one line per
`osprofiler-sidecar --stats`: the CLOCK_REALTIME before and after the call,
the CPU ticks of the sidecar and of redis-server just before it, then its
JSON line, empty when the call failed), NAME.R.load.json (osp_load pairs),
NAME.R.meta.json (times, exit status, CPU, the store's own count); and
raw-NAME.R.json (store_raw), raw-NAME.R.json.redis_cpu (redis-server's CPU
seconds over a raw Redis run). A missing or failed step shows as "failed".
The report is printed too.
"""
import glob
import json
import os
import sys

from report_common import fmt, head, load, med, ratio, write, yes

TARGET_SUSTAINED = 100000.0  # points/s into SQLite, long traces
TARGET_DRAIN = 0.80          # sidecar drain / raw SQLite, same rows and transactions

RUNS = [  # name, store, shape
    ("sq-long", "SQLite", "long traces (one per thread)"),
    ("sq-short", "SQLite", "short traces"),
    ("rd-long", "Redis", "long traces (one per thread)"),
    ("rd-short", "Redis", "short traces"),
]
SC_DROPS = ("invalid", "spool", "shutdown", "nomem")




def samples(path):
    """[(t, stats, sidecar ticks, redis-server ticks)], t the middle of the
    --stats call."""
    out = []
    try:
        for line in open(path):
            parts = line.split(" ", 4)
            if len(parts) < 5 or not parts[4].strip().startswith("{"):
                continue
            try:
                out.append(((float(parts[0]) + float(parts[1])) / 2, json.loads(parts[4]),
                            int(parts[2]), int(parts[3])))
            except ValueError:
                continue
    except OSError:
        pass
    return out


def sc_drops(s):
    return sum(s["dropped"][k] for k in SC_DROPS)


def backlog(s):
    """Received and not yet stored nor dropped: memory, spool and the batch
    the writer is committing."""
    return s["received"] - s["stored"] - sc_drops(s)


def rate_between(a, b):
    """points/s stored between two samples (t, stats); None unless b is later."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    return (b[1]["stored"] - a[1]["stored"]) / (b[0] - a[0])


def cpu_share(a, b, i, tck):
    """CPU of the process whose ticks are field i, in % of one core, between
    two samples."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    return 100.0 * (b[i] - a[i]) / tck / (b[0] - a[0])


def cpu_per_point(a, b, tck):
    """Sidecar CPU microseconds per point stored between two samples."""
    if a is None or b is None or b[1]["stored"] <= a[1]["stored"]:
        return None
    return 1e6 * (b[2] - a[2]) / tck / (b[1]["stored"] - a[1]["stored"])


def per_commit(a, b):
    if a is None or b is None:
        return None
    dc = b[1]["store_commits"] - a[1]["store_commits"]
    return (b[1]["stored"] - a[1]["stored"]) / dc if dc > 0 else None


def analyse(work, name, r):
    """One sidecar run: None when it failed, else a dict of its figures."""
    pre = os.path.join(work, "%s.%d" % (name, r))
    meta = load(pre + ".meta.json")
    ld = load(pre + ".load.json")
    ss = samples(pre + ".samples")
    if not meta or not ss:
        return None
    d = {"meta": meta, "load": ld, "ok": bool(meta.get("ok")), "why": meta.get("why", "")}
    final = ss[-1]
    fs = final[1]
    d["final"] = fs
    recv_final = fs["received"]
    # phases, from the samples alone
    first_stored = next((x for x in ss if x[1]["stored"] > 0), None)
    feeding = [x for x in ss if x[1]["received"] < recv_final]
    feed_last = feeding[-1] if feeding else None
    drain_first = next((x for x in ss if x[1]["received"] == recv_final), None)
    with_backlog = [x for x in ss if backlog(x[1]) > 0]
    last_backlog = with_backlog[-1] if with_backlog else None
    d["feed_rate"] = rate_between(first_stored, feed_last)
    d["drain_rate"] = rate_between(drain_first, last_backlog)
    d["sustained"] = rate_between(first_stored, last_backlog)
    tck = meta.get("clk_tck", 100)
    d["drain_sc_cpu"] = cpu_share(drain_first, last_backlog, 2, tck)
    d["drain_rs_cpu"] = cpu_share(drain_first, last_backlog, 3, tck)
    d["feed_sc_cpu"] = cpu_share(first_stored, feed_last, 2, tck)
    d["feed_rs_cpu"] = cpu_share(first_stored, feed_last, 3, tck)
    d["drain_us_per_point"] = cpu_per_point(drain_first, last_backlog, tck)
    d["feed_per_commit"] = per_commit(first_stored, feed_last)
    d["drain_per_commit"] = per_commit(drain_first, last_backlog)
    d["per_commit"] = fs["stored"] / fs["store_commits"] if fs["store_commits"] else None
    d["backlog_at_feed_end"] = backlog(drain_first[1]) if drain_first else None
    d["peak_memory"] = max(x[1]["memory"]["points"] for x in ss)
    d["peak_spool"] = max(x[1]["spool"]["points"] for x in ss)
    d["peak_backlog"] = max(backlog(x[1]) for x in ss)
    d["drain_s"] = (last_backlog[0] - drain_first[0]) if (drain_first and last_backlog and
                                                          last_backlog[0] > drain_first[0]) else 0
    d["all_stored_after_s"] = final[0] - meta["t_launch"] if d["ok"] else None
    d["nsamples"] = len(ss)
    # the delivery invariant
    if ld and "stats" in ld:
        st = ld["stats"]
        lib_drops = sum(v for k, v in st.items() if k.startswith("dropped_"))
        d["lib_drops"] = lib_drops
        d["invariant"] = d["ok"] and ld["calls"] == fs["stored"] + lib_drops + sc_drops(fs)
    else:
        d["lib_drops"] = None
        d["invariant"] = False
    d["store_check"] = meta.get("in_store") == fs["stored"]
    return d








def pct(v):
    return "n/a" if v is None else "%.1f %%" % (100 * v)




def main():
    work, out = sys.argv[1], sys.argv[2]
    m = load(os.path.join(work, "machine.json")) or {}
    try:
        busy_after = open(os.path.join(work, "busy_after.txt")).read().strip()
    except OSError:
        busy_after = "?"
    reps = sorted({int(os.path.basename(p).split(".")[1])
                   for p in glob.glob(os.path.join(work, "*.*.meta.json"))})
    names = [n for n in RUNS if glob.glob(os.path.join(work, n[0] + ".*.meta.json"))]
    sc = {n: [analyse(work, n, r) for r in reps] for n, _, _ in names}
    raw = {n: [load(os.path.join(work, "raw-%s.%d.json" % (n, r))) for r in reps]
           for n, _, _ in names}
    for n in raw:
        for r, x in zip(reps, raw[n]):
            try:
                x["redis_cpu_s"] = float(open(os.path.join(
                    work, "raw-%s.%d.json.redis_cpu" % (n, r))).read())
            except (OSError, ValueError, TypeError):
                pass

    def col(n, key):
        return [d[key] if d and d["ok"] else None for d in sc[n]]

    def raw_rate(n):
        return [x["points_per_s"] if x else None for x in raw[n]]

    def ratios(n, key):
        return [ratio(a, b) for a, b in zip(col(n, key), raw_rate(n))]

    L = []
    head(L, "osprofiler-sidecar: store writer throughput into SQLite and Redis", m,
         "bench/store.sh BUILD_DIR",
         [("nproc", "nproc"), ("cpu", "CPU"), ("kernel", "kernel"), ("os", "OS"),
          ("mem", "memory"), ("disk", "work directory (databases, spool)"),
          ("cc", "C compiler"), ("build_type", "CMake build type"),
          ("git", "source (git describe --dirty)"),
          ("sidecar_mtime", "osprofiler-sidecar binary built"),
          ("sqlite", "SQLite (libsqlite3-0)"), ("redis", "redis-server"),
          ("hiredis", "hiredis (libhiredis0.14)")], busy_after)
    L.append("* feed: osp_load pairs, %s threads × %s pairs at %s pairs/s each (%s points/s, "
             "%s points a run); short traces: a new trace every %s pairs; raw: %s points a "
             "run, a new trace every %s (long) / %s (short) points; %d repetitions; "
             "counters sampled every %s s"
             % (m.get("threads"), fmt(m.get("pairs")), fmt(m.get("rate")),
                fmt(2 * m.get("threads", 0) * m.get("rate", 0)),
                fmt(2 * m.get("threads", 0) * m.get("pairs", 0)), m.get("trace_pairs"),
                fmt(m.get("rows")), m.get("long_t"), m.get("short_t"), len(reps),
                m.get("interval")))
    L.append("")

    # ---------------------------------------------------------- verdicts
    L.append("## Against the targets")
    L.append("")
    L.append("Rates: medians over the repetitions; ratios: the median of the per-repetition "
             "ratios (each repetition ran the sidecar and then the raw writer back to back). "
             "Per-repetition figures below.")
    L.append("")
    L.append("| target | measured | met? |")
    L.append("|---|---|---|")
    if "sq-long" in sc:
        s = med(col("sq-long", "sustained"))
        L.append("| sidecar sustained ≥ 100,000 points/s into SQLite, long traces (first "
                 "stored → backlog empty, fed at %s points/s) | **%s** points/s | %s |"
                 % (fmt(2 * m.get("threads", 0) * m.get("rate", 0)), fmt(s),
                    yes(s >= TARGET_SUSTAINED if s is not None else None)))
    for n, shape in (("sq-long", "long traces"), ("sq-short", "short traces")):
        if n not in sc:
            continue
        rr = med(ratios(n, "drain_rate"))
        L.append("| sidecar drain ≥ 80 %% of raw SQLite (same rows, same transactions), %s "
                 "| %s vs %s points/s = **%s** | %s |"
                 % (shape, fmt(med(col(n, "drain_rate"))), fmt(med(raw_rate(n))), pct(rr),
                    yes(rr >= TARGET_DRAIN if rr is not None else None)))
    for n, shape in (("rd-long", "long traces"), ("rd-short", "short traces")):
        if n not in sc:
            continue
        rr = med(ratios(n, "drain_rate"))
        L.append("| (for reference) Redis, %s: sidecar drain / raw pipelined LPUSH | "
                 "%s vs %s points/s = %s | — |"
                 % (shape, fmt(med(col(n, "drain_rate"))), fmt(med(raw_rate(n))), pct(rr)))
    allruns = [d for n in sc for d in sc[n]]
    inv = all(d and d["invariant"] for d in allruns) if allruns else None
    chk = all(d and d["store_check"] for d in allruns) if allruns else None
    L.append("| every run: calls made = stored + library drops + sidecar drops, exactly "
             "(and the store itself holds `stored` points) | %d runs | %s (store count: %s) |"
             % (len(allruns), yes(inv), yes(chk)))
    L.append("")

    # ---------------------------------------------------------- per store and shape
    for n, store, shape in names:
        L.append("## %s, %s (`%s`)" % (store, shape, n))
        L.append("")
        L.append("| points/s | " + " | ".join("rep %d" % r for r in reps) + " | **median** |")
        L.append("|---" * (len(reps) + 2) + "|")

        def row(label, vals, f=fmt):
            L.append("| %s | %s | **%s** |" % (label, " | ".join(f(v) for v in vals),
                                               f(med(vals))))
        row("sidecar while fed (first stored → feed ended)", col(n, "feed_rate"))
        row("sidecar draining (feed ended → backlog empty)", col(n, "drain_rate"))
        row("sidecar sustained (first stored → backlog empty)", col(n, "sustained"))
        row("raw %s (`store_raw`, batch = the sidecar's mean commit, timed over the "
            "range the sidecar drained)"
            % ("SQLite" if store == "SQLite" else "hiredis LPUSH pipeline"), raw_rate(n))
        row("ratio sidecar draining / raw (same repetition)", ratios(n, "drain_rate"), pct)
        row("sidecar mean points per commit, whole run (= raw batch)", col(n, "per_commit"))
        L.append("| sidecar mean points per commit while fed / draining | %s | |" % " | ".join(
            "%s / %s" % (fmt(a), fmt(b))
            for a, b in zip(col(n, "feed_per_commit"), col(n, "drain_per_commit"))))
        L.append("| CPU while draining, %% of one core: sidecar%s | %s | |" % (
            " / redis-server" if store == "Redis" else "", " | ".join(
                (fmt(a, 0) + " %" + (" / " + fmt(b, 0) + " %" if store == "Redis" else ""))
                if a is not None else "n/a"
                for a, b in zip(col(n, "drain_sc_cpu"), col(n, "drain_rs_cpu")))))
        row("sidecar CPU µs per point stored while draining", col(n, "drain_us_per_point"),
            lambda v: fmt(v, 2))
        row("raw: wall µs per point (all of it in the timed loop)",
            [1e6 / v if v else None for v in raw_rate(n)], lambda v: fmt(v, 2))
        if store == "Redis":
            L.append("| raw: redis-server CPU s over the run (connect included) / timed s "
                     "| %s | |" % " | ".join(
                         "%s / %.2f" % (fmt(x.get("redis_cpu_s"), 2), x["seconds"])
                         if x else "failed" for x in raw[n]))
        short = [str(r) for r, d in zip(reps, sc[n]) if d and d["ok"] and
                 d["drain_rate"] is None]
        if short:
            L.append("")
            L.append("No drain rate in rep %s: fewer than two samples between the end of "
                     "the feed and the backlog's end (the writer kept up, or the drain was "
                     "shorter than two sampling steps)." % ", ".join(short))
        L.append("")

    # ---------------------------------------------------------- delivery
    L.append("## Delivery, per run")
    L.append("")
    L.append("| run | rep | calls made | library: emitted / sent / drops / buffered | sidecar: "
             "received / stored / drops | in the store (own count) | invariant | peak backlog: "
             "memory / spool points (through the spool) | commits | feed wall s | all stored "
             "after s | CPU s: sidecar / redis-server | all CPUs busy s (of which not the sidecar) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, _, _ in names:
        for r, d, x in zip(reps, sc[n], raw[n]):
            if not d:
                L.append("| %s | %d | failed | | | | | | | | | | |" % (n, r))
                continue
            fs, ld, meta = d["final"], d["load"] or {}, d["meta"]
            st = ld.get("stats", {})
            lib = ("%s / %s / %s / %s" % (fmt(st.get("emitted")), fmt(st.get("sent")),
                                          fmt(d["lib_drops"]), fmt(st.get("buffered")))
                   if st else "failed")
            busy = meta.get("busy_s")
            cpu = meta.get("sidecar_cpu_s")
            L.append("| %s | %d | %s | %s | %s / %s / %s | %s | %s | %s / %s (%s) | %s | %s "
                     "| %s | %s | %s |"
                     % (n, r, fmt(ld.get("calls")), lib, fmt(fs["received"]),
                        fmt(fs["stored"]), fmt(sc_drops(fs)),
                        fmt(meta.get("in_store")) if meta.get("in_store") is not None else "?",
                        yes(d["invariant"]) + ("" if d["ok"] else " (" + d["why"] + ")"),
                        fmt(d["peak_memory"]), fmt(d["peak_spool"]), fmt(fs["spooled"]),
                        fmt(fs["store_commits"]),
                        "%.2f" % ld["wall_s"] if "wall_s" in ld else "?",
                        "%.2f" % d["all_stored_after_s"] if d["all_stored_after_s"] else "?",
                        ("%.2f" % cpu if cpu is not None else "?") +
                        (" / %.2f" % meta["redis_cpu_s"] if n.startswith("rd-") and
                         meta.get("redis_cpu_s") is not None else ""),
                        "%.2f (%.2f)" % (busy, busy - cpu) if busy is not None and cpu
                        is not None else "?"))
    L.append("")
    L.append("Raw runs (store_raw's own output):")
    L.append("")
    L.append("| run | rep | points | batch | trace points | timed points | s | points/s |")
    L.append("|---|---|---|---|---|---|---|---|")
    for n, _, _ in names:
        for r, x in zip(reps, raw[n]):
            if not x:
                L.append("| raw-%s | %d | failed | | | | | |" % (n, r))
            else:
                L.append("| raw-%s | %d | %s | %s | %s | %s | %.3f | %s |"
                         % (n, r, fmt(x["points"]), fmt(x["batch"]), x["trace_points"],
                            fmt(x.get("timed_points", x["points"])), x["seconds"],
                            fmt(x["points_per_s"])))
    L.append("")

    # ---------------------------------------------------------- method
    L.append("## Method and caveats")
    L.append("")
    L.append("* **sidecar**: a fresh `osprofiler-sidecar` per run, no `transport_url` (store "
             "mode), `store` = a new SQLite file in the work directory (`sqlite:////abs/path`) "
             "or the private redis-server (flushed before every run), `spool_dir` set, "
             "`memory_limit` at its default (8 MiB: past half of it points go through the "
             "disk spool). Fed by `osp_load pairs` (libosprofiler, its shared-memory rings, "
             "`--group 100`): %s threads, %s start/stop pairs each (`osp_start(\"db\", "
             "{\"db\": {\"statement\": \"SELECT 1\", \"params\": {}}})` / `osp_stop(NULL)`), "
             "paced at %s pairs/s per thread, i.e. %s points/s for %.1f s: more than the "
             "writer takes, so a backlog builds. Long traces: each thread one trace; short: "
             "`--trace-pairs %s` (a new trace, i.e. base_id, every %s pairs = %s points)."
             % (m.get("threads"), fmt(m.get("pairs")), fmt(m.get("rate")),
                fmt(2 * m.get("threads", 0) * m.get("rate", 0)),
                (m.get("pairs", 0) / m.get("rate", 1)), m.get("trace_pairs"),
                m.get("trace_pairs"), m.get("short_t")))
    L.append("* **sampling**: `osprofiler-sidecar --config CONF --stats` every %s s from the "
             "start of the feed until every point received is stored or counted as dropped; "
             "a sample's time is the middle of the call. Backlog = received − stored − "
             "sidecar drops (memory, spool and the batch being committed). Every rate is "
             "Δstored / Δt between two samples both taken while the writer had work, so the "
             "sampling step does not bias it: **while fed** from the first sample with "
             "stored > 0 to the last one before `received` reached its final value; "
             "**draining** from the first sample with `received` final to the last with a "
             "backlog; **sustained** from the first sample with stored > 0 to the last with "
             "a backlog. Points per commit = Δstored / Δstore_commits (whole run: "
             "stored / store_commits, rounded: the raw writer's batch)." % m.get("interval"))
    L.append("* **raw SQLite** (`bench/store_raw.c sqlite`): the schema made by opening the "
             "file as a store (untimed), the store's pragmas (OSP_SQLITE_WRITE_PRAGMAS: WAL, "
             "synchronous=FULL, a 16 MiB page cache) and rows (one row per trace per transaction holding its points as a JSON array); the "
             "payloads, their decoded fields and the rows' JSON arrays are built before "
             "timing, which covers only BEGIN IMMEDIATE / INSERT … / COMMIT with B points per "
             "transaction, B = the sidecar's mean commit in the same repetition. The points "
             "the sidecar had stored when its drain began are written first, untimed "
             "(`--skip`): inserts slow down as the base_id index grows, so the raw rate is "
             "taken over the same stretch of the database's growth as the drain. The "
             "sidecar's drain does everything else too: reading points back from the spool, "
             "grouping them by trace, building the arrays, delivery accounting. Raw "
             "traces arrive one after the other (a transaction's rows are consecutive "
             "chunks of %s-point traces); the sidecar's long-trace batches interleave the "
             "%s threads' traces (about one row per thread per commit)."
             % (m.get("long_t"), m.get("threads")))
    L.append("* **raw Redis** (`store_raw redis`): `LPUSH osprofiler_opt:<base_id> <payload>` "
             "pipelined B at a time, every reply read, no deduplication. The sidecar sends, "
             "per chunk of at most 1000 messages, one EVAL that checks key types and does "
             "SADD `osprofiler_c_seen:<base_id>` (so a redelivered point is not pushed "
             "twice) plus LPUSH per point: more work on the server than the raw pipeline, "
             "so the Redis ratio is not like for like. redis-server runs without "
             "persistence (`--save \"\" --appendonly no`), single-threaded, on the same CPUs.")
    L.append("* **fair comparison**: while fed, osp_load's threads and the sidecar's intake "
             "(ring reader, spool writer) share the %s CPUs with the writer; draining, the "
             "sidecar is alone on the machine, as the raw writer is. The drain ratio is the "
             "one judged; the sustained rate (feed and drain together) is given for the record."
             % m.get("nproc", "?"))
    L.append("* **invariant**: `calls` (osp_load: points made, 2 per pair) = `stored` + the "
             "library's `dropped_*` + the sidecar's dropped.invalid + .spool + .shutdown + "
             ".nomem, read once the backlog is empty; the store's own count (SQLite: "
             "`SELECT sum(points) FROM chunks`; Redis: the lengths of all "
             "`osprofiler_opt:*` lists) must equal `stored`.")
    L.append("* Absolute rates depend on the machine (the fsync cost of its disk above all); "
             "compare the ratios, taken within one repetition. The machine is a shared "
             "%s-CPU VM: \"all CPUs busy\" minus the sidecar's CPU shows how much else ran "
             "(osp_load, the sampler, redis-server, other tenants)." % m.get("nproc", "?"))
    L.append("")
    write(L, out)


if __name__ == "__main__":
    main()
