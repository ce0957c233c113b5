#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# store.sh BUILD_DIR - sustained throughput of osprofiler-sidecar's store
# writer (no broker: points go straight into the store) into SQLite and
# Redis, against the raw limit of the same rows written by store_raw, in one
# run. Writes bench/results/store.md (store_report.py) and prints it.
#
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
#         -DOSP_BUILD_BENCH=ON && cmake --build build-bench -j2
#   bench/store.sh build-bench        # ~5 min
#
# Per repetition (REPS), in this order, each step alone on the machine:
#   sq-long   a fresh BUILD/osprofiler-sidecar, store sqlite:////WORK/...db,
#             spool on, fed by BUILD/bench/osp_load pairs (THREADS threads,
#             PAIRS pairs each at RATE pairs/s per thread, 2 points a pair,
#             each thread one long trace): faster than the writer, so a
#             backlog builds in memory and in the spool. Its counters
#             (`osprofiler-sidecar --stats`) are sampled every INTERVAL s from
#             the start of the feed until every point received is stored (or
#             dropped and counted);
#   raw       BUILD/bench/store_raw sqlite: ROWS points (as many as the
#             sidecar stored, so both databases grow alike), a new trace every
#             2000, B points per transaction where B is that sidecar run's
#             mean commit (stored / store_commits, rounded);
#   sq-short  the same with a new trace every TRACE_PAIRS (10) pairs
#             (osp_load --trace-pairs), raw with a new trace every 20 points;
#   rd-long   (and rd-short unless REDIS_SHORT=0) the same into a private
#             redis-server on 127.0.0.1 (free port, no persistence), raw:
#             store_raw redis (plain LPUSH, pipelined B at a time). The
#             server is flushed before every run.
# The report (store_report.py) takes rates from the samples: while the feed
# runs, while the backlog drains, and overall; medians over the repetitions
# and the median of the per-repetition ratios sidecar / raw.
#
# Everything is bounded in time (each feed and drain by MAX_WAIT s, each raw
# run by `timeout`); the sidecar, the feeder and redis-server are stopped by
# PID on exit, failure or interrupt; the work directory is removed
# (KEEP_WORK=1 keeps it).
#
# Knobs (defaults in brackets): REPS [3] THREADS [2] PAIRS [300000] RATE
# [60000] TRACE_PAIRS [10] ROWS [THREADS x PAIRS x 2] INTERVAL [0.25] MAX_WAIT [120]
# REDIS_SHORT [1] KEEP_WORK [0] OUT [bench/results/store.md]
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
PY=/usr/bin/python3
SIDECAR=$BUILD/osprofiler-sidecar
LOAD=$BUILD/bench/osp_load
RAW=$BUILD/bench/store_raw
for b in "$SIDECAR" "$LOAD" "$RAW" /usr/bin/redis-server /usr/bin/redis-cli; do
    if [ ! -x "$b" ]; then
        echo "store.sh: $b missing (cmake --build $BUILD; apt-get install redis-server)" >&2
        exit 2
    fi
done

REPS=${REPS:-3} THREADS=${THREADS:-2} PAIRS=${PAIRS:-300000} RATE=${RATE:-60000}
TRACE_PAIRS=${TRACE_PAIRS:-10} ROWS=${ROWS:-$((THREADS * PAIRS * 2))} INTERVAL=${INTERVAL:-0.25}
MAX_WAIT=${MAX_WAIT:-120} REDIS_SHORT=${REDIS_SHORT:-1}
OUT=${OUT:-$HERE/results/store.md}
LONG_T=2000                     # store_raw --trace-points, long traces
SHORT_T=$((2 * TRACE_PAIRS))    # and short: the points of one short trace

WORK=$(mktemp -d /tmp/osp-store.XXXXXX)
SC_PID="" LOAD_PID="" RS=""
cleanup() {
    local rc=$?
    set +e
    stop_pid "$LOAD_PID" TERM 20
    stop_pid "$SC_PID" TERM 100
    stop_pid "$RS" TERM 50
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'log "command failed (rc $?) at line $LINENO"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Busy CPU time of the whole machine so far, in clock ticks (/proc/stat).
busy_ticks() {
    local a
    read -r -a a </proc/stat
    echo $((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
}

# TICKS = utime + stime of a process in clock ticks, 0 when it is gone
# (builtins only: it runs between samples).
proc_ticks() {
    local s f
    TICKS=0
    [ -n "$1" ] && read -r s 2>/dev/null <"/proc/$1/stat" || return 0
    s=${s##*) } # past "pid (comm) "; the fields from "state" on
    read -r -a f <<<"$s"
    TICKS=$((f[11] + f[12]))
}

# ---------------------------------------------------------------- machine
CMDLINE="bench/store.sh $1"
for k in REPS THREADS PAIRS RATE TRACE_PAIRS ROWS INTERVAL REDIS_SHORT; do
    CMDLINE="$k=${!k} $CMDLINE"
done
{
    printf '{"date": "%s", ' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf '"command": "%s", ' "$CMDLINE"
    machine_fields
    printf '"sqlite": "%s", ' "$(dpkg-query -W -f '${Version}' libsqlite3-0 2>/dev/null || echo '?')"
    printf '"hiredis": "%s", ' "$(dpkg-query -W -f '${Version}' libhiredis0.14 2>/dev/null || echo '?')"
    printf '"redis": "%s", ' "$(/usr/bin/redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
    printf '"busy_before": "%s", ' "$(busy_pct)"
    printf '"clk_tck": %s, "reps": %s, "threads": %s, "pairs": %s, "rate": %s, ' \
        "$(getconf CLK_TCK)" "$REPS" "$THREADS" "$PAIRS" "$RATE"
    printf '"trace_pairs": %s, "rows": %s, "long_t": %s, "short_t": %s, "interval": %s, ' \
        "$TRACE_PAIRS" "$ROWS" "$LONG_T" "$SHORT_T" "$INTERVAL"
    printf '"max_wait": %s, "redis_short": %s}\n' "$MAX_WAIT" "$REDIS_SHORT"
} >"$WORK/machine.json"

# ---------------------------------------------------------------- redis
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir "$WORK/redis"
/usr/bin/redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK/redis" --daemonize no >"$WORK/redis.log" 2>&1 &
RS=$!
for _ in $(seq 100); do
    /usr/bin/redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
done
/usr/bin/redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG || {
    log "redis-server did not answer on 127.0.0.1:$PORT"
    exit 1
}
log "redis-server $RS on 127.0.0.1:$PORT"
rcli() { timeout 60 /usr/bin/redis-cli -p "$PORT" "$@"; }
# What the store holds, counted by another client: in Redis the length of
# every osprofiler_opt:* list (Python's layout), in SQLite the points of
# every chunk row.
REDIS_COUNT='local n = 0
for _, k in ipairs(redis.call("KEYS", "osprofiler_opt:*")) do
  n = n + redis.call("LLEN", k)
end
return n'

SQLITE_COUNT='import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT coalesce(sum(points), 0) FROM chunks").fetchone()[0])'

# ---------------------------------------------------------------- one sidecar run
# received, stored, store_commits and the drops (invalid, spool, shutdown,
# nomem) from a --stats line, in the order the sidecar prints them.
STATS_RE='"received": ([0-9]+),.* "stored": ([0-9]+), "store_commits": ([0-9]+),.*'
STATS_RE+='"dropped": \{"invalid": ([0-9]+), "spool": ([0-9]+), "shutdown": ([0-9]+), '
STATS_RE+='"nomem": ([0-9]+)'
# sidecar_run NAME REP STORE TRACE_PAIRS: writes WORK/NAME.REP.{samples,
# load.json,meta.json,sc.log}, sets BATCH to the run's mean commit and
# DRAIN_FROM to what was stored when the drain began (the first sample with
# `received` final, as store_report.py takes it)
# (empty when the run failed).
sidecar_run() {
    local name=$1 r=$2 store=$3 tp=$4
    local pre=$WORK/$name.$r d=$WORK/$name.$r.d
    local db=$d/traces.db url
    BATCH="" DRAIN_FROM=0
    mkdir -p "$d"
    mkdir -m 700 "$d/spool"
    case $store in
    sqlite) url="sqlite:///$db" ;; # three slashes + an absolute path
    redis) url="redis://127.0.0.1:$PORT"; rcli flushall >/dev/null ;;
    esac
    cat >"$d/sc.conf" <<CONF
listen_socket = "$d/sc.sock"
store = "$url"
spool_dir = "$d/spool"
stats_interval = 0
log_level = "notice"
CONF
    "$SIDECAR" --config "$d/sc.conf" 2>"$pre.sc.log" &
    SC_PID=$!
    for _ in $(seq 100); do [ -S "$d/sc.sock" ] && break; sleep 0.1; done
    if [ ! -S "$d/sc.sock" ]; then
        log "$name rep $r: the sidecar did not start (see below)"
        cat "$pre.sc.log" >&2
        stop_pid "$SC_PID" TERM 50
        SC_PID=""
        echo '{"ok": 0, "why": "the sidecar did not start"}' >"$pre.meta.json"
        return 0
    fi
    log "$name rep $r: $THREADS threads × $PAIRS pairs at $RATE pairs/s each" \
        "(trace every ${tp:-0} pairs; 0: one per thread) into $store"
    local busy0 rs0 t_launch t_exit="" load_rc="" sent="" ok=0 why="" deadline
    busy0=$(busy_ticks)
    proc_ticks "$RS"
    rs0=$TICKS
    t_launch=$EPOCHREALTIME
    "$LOAD" pairs --socket "$d/sc.sock" --threads "$THREADS" --pairs "$PAIRS" \
        --rate "$RATE" --group 100 --trace-pairs "$tp" >"$pre.load.json" 2>"$pre.load.err" &
    LOAD_PID=$!
    deadline=$((EPOCHSECONDS + PAIRS / RATE + MAX_WAIT))
    : >"$pre.samples"
    local st t0 rec sto com drops sct
    while :; do
        proc_ticks "$SC_PID"
        sct=$TICKS
        proc_ticks "$RS"
        t0=$EPOCHREALTIME
        st=$(timeout 5 "$SIDECAR" --config "$d/sc.conf" --stats 2>/dev/null) || st=""
        # before and after the read (the counters are from in between), the
        # CPU ticks of the sidecar and of redis-server, the counters
        printf '%s %s %s %s %s\n' "$t0" "$EPOCHREALTIME" "$sct" "$TICKS" "$st" \
            >>"$pre.samples"
        if [ -n "$LOAD_PID" ] && ! kill -0 "$LOAD_PID" 2>/dev/null; then
            load_rc=0
            wait "$LOAD_PID" || load_rc=$?
            LOAD_PID=""
            t_exit=$EPOCHREALTIME
            if [[ $(cat "$pre.load.json") =~ \"sent\":\ ([0-9]+) ]]; then
                sent=${BASH_REMATCH[1]}
            else
                why="osp_load failed (rc $load_rc): $(head -c 300 "$pre.load.err")"
                break
            fi
        fi
        if [ -z "$LOAD_PID" ] && [[ $st =~ $STATS_RE ]]; then
            rec=${BASH_REMATCH[1]} sto=${BASH_REMATCH[2]} com=${BASH_REMATCH[3]}
            drops=$((BASH_REMATCH[4] + BASH_REMATCH[5] + BASH_REMATCH[6] + BASH_REMATCH[7]))
            if [ "$rec" -ge "$sent" ] && [ $((sto + drops)) -ge "$rec" ]; then
                ok=1
                break
            fi
        fi
        if [ "$EPOCHSECONDS" -ge "$deadline" ]; then
            why="not drained within $((PAIRS / RATE + MAX_WAIT)) s"
            break
        fi
        sleep "$INTERVAL"
    done
    local t_done=$EPOCHREALTIME busy1 sc_ticks rs_ticks tck
    busy1=$(busy_ticks)
    proc_ticks "$SC_PID"
    sc_ticks=$TICKS
    proc_ticks "$RS"
    rs_ticks=$((TICKS - rs0))
    tck=$(getconf CLK_TCK)
    if [ -n "$LOAD_PID" ]; then
        stop_pid "$LOAD_PID" TERM 20
        LOAD_PID=""
    fi
    stop_pid "$SC_PID" TERM 100
    SC_PID=""
    local in_store=null
    case $store in
    sqlite) in_store=$(timeout 60 $PY -c "$SQLITE_COUNT" "$db" 2>/dev/null || echo null) ;;
    redis) in_store=$(rcli eval "$REDIS_COUNT" 0 2>/dev/null || echo null) ;;
    esac
    [ -n "$in_store" ] || in_store=null
    if [ "$ok" = 1 ]; then
        BATCH=$(((sto + com / 2) / (com > 0 ? com : 1)))
        local line
        while read -r line; do
            if [[ $line =~ $STATS_RE ]] && [ "${BASH_REMATCH[1]}" = "$rec" ]; then
                DRAIN_FROM=${BASH_REMATCH[2]}
                break
            fi
        done <"$pre.samples"
        # the writer kept up (no drain to speak of): raw times the whole run
        [ "$DRAIN_FROM" -lt $((ROWS - BATCH)) ] || DRAIN_FROM=0
        log "$name rep $r: $sto stored in $com commits (mean $BATCH), $in_store in the store"
    else
        log "$name rep $r: FAILED: $why"
    fi
    why=${why//[$'\n\t\\\"']/ } # it goes into a JSON string
    {
        printf '{"ok": %s, "why": "%s", "t_launch": %s, "t_load_exit": %s, "t_done": %s, ' \
            "$ok" "$why" "$t_launch" "${t_exit:-null}" "$t_done"
        printf '"load_rc": %s, "busy_s": %s, "sidecar_cpu_s": %s, "redis_cpu_s": %s, ' \
            "${load_rc:-null}" "$(((busy1 - busy0) * 100 / tck))e-2" \
            "$((sc_ticks * 100 / tck))e-2" "$((rs_ticks * 100 / tck))e-2"
        printf '"clk_tck": %s, "in_store": %s, "db_bytes": %s}\n' "$tck" "$in_store" \
            "$(du -cb "$db"* 2>/dev/null | awk 'END {print $1 + 0}')"
    } >"$pre.meta.json"
    rm -rf "$d" # the database and the spool: some 400 MB a run
    [ "$store" = redis ] && rcli flushall >/dev/null
    return 0
}

# raw_run NAME REP KIND T B SKIP: SKIP points untimed first, so that the
# timed part grows the store over the same range as the sidecar's drain
raw_run() {
    local name=$1 r=$2 kind=$3 t=$4 b=$5 skip=$6 out=$WORK/raw-$1.$2.json
    if [ -z "$b" ]; then
        log "raw-$name rep $r: skipped (its sidecar run failed: no commit size)"
        return 0
    fi
    log "raw-$name rep $r: store_raw $kind, $ROWS points, batch $b, a trace every $t points"
    case $kind in
    sqlite)
        timeout 300 "$RAW" sqlite --db "$WORK/raw.db" --rows "$ROWS" --batch "$b" \
            --trace-points "$t" --skip "$skip" >"$out" 2>"$out.err" || log "raw-$name rep $r failed: $(cat "$out.err")"
        rm -f "$WORK/raw.db" "$WORK/raw.db-wal" "$WORK/raw.db-shm"
        ;;
    redis)
        rcli flushall >/dev/null
        proc_ticks "$RS"
        local rs0=$TICKS
        timeout 300 "$RAW" redis --port "$PORT" --rows "$ROWS" --batch "$b" \
            --trace-points "$t" --skip "$skip" >"$out" 2>"$out.err" || log "raw-$name rep $r failed: $(cat "$out.err")"
        # redis-server's CPU over the whole run (untimed set-up included)
        proc_ticks "$RS"
        echo "$(((TICKS - rs0) * 100 / $(getconf CLK_TCK)))e-2" >"$out.redis_cpu"
        rcli flushall >/dev/null
        ;;
    esac
    return 0
}

# ---------------------------------------------------------------- the runs
for r in $(seq "$REPS"); do
    sidecar_run sq-long "$r" sqlite 0
    raw_run sq-long "$r" sqlite "$LONG_T" "$BATCH" "$DRAIN_FROM"
    sidecar_run sq-short "$r" sqlite "$TRACE_PAIRS"
    raw_run sq-short "$r" sqlite "$SHORT_T" "$BATCH" "$DRAIN_FROM"
    sidecar_run rd-long "$r" redis 0
    raw_run rd-long "$r" redis "$LONG_T" "$BATCH" "$DRAIN_FROM"
    if [ "$REDIS_SHORT" = 1 ]; then
        sidecar_run rd-short "$r" redis "$TRACE_PAIRS"
        raw_run rd-short "$r" redis "$SHORT_T" "$BATCH" "$DRAIN_FROM"
    fi
done
busy_pct >"$WORK/busy_after.txt"

mkdir -p "$(dirname "$OUT")"
$PY "$HERE/store_report.py" "$WORK" "$OUT"
