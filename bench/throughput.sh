#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# throughput.sh BUILD_DIR - sustained throughput of osprofiler-sidecar into
# RabbitMQ, every message confirmed, against a raw rabbitmq-c publisher and
# the Python reference, in one run against one private broker.
#
#   cmake -S . -B build-tput -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
#   cmake --build build-tput -j2
#   bench/throughput.sh build-tput     # writes bench/results/throughput.md, prints it
#
# In this order, against one private RabbitMQ node on 127.0.0.1 started and
# stopped here (tests/integration/broker.sh, ports from BASE_PORT up):
#   1. per repetition (REPS), for the non-durable queue (oslo's default) and
#      for a durable one (amqp_durable_queues = true):
#        raw:     BUILD/bench/throughput_raw publish: rabbitmq-c 0.11, the
#                 sidecar's declarations, properties 0xf800, confirm window
#                 WINDOW, N ~630-byte messages; msgs/s until all confirmed;
#        sidecar: a fresh BUILD/osprofiler-sidecar (spool_dir "", i.e.
#                 memory only) fed N points by BUILD/bench/throughput_feed
#                 burst (hop frames of FRAME bytes over SOCK_SEQPACKET, as
#                 fast as it accepts them); msgs/s from the first point until
#                 its counters (<socket>.ctl, as --stats) show N confirmed;
#        durable only, sidecar + spool: the same with spool_dir set (points
#                 beyond memory_limit/2 of queued bytes go through the disk
#                 spool while the burst lasts);
#      then the Python reference: osprofiler 3.4.3 messaging:// (bench_py.py,
#      N_PY points) on the non-durable queue. Queue and exchange are deleted
#      before and after every run (their flags differ between settings).
#      Odd repetitions run raw first, even ones the sidecar first.
#   2. latency at LAT_RATE points/s for LAT_SECONDS s, each point carrying
#      the CLOCK_REALTIME of its hand-over, consumed by throughput_raw
#      consume, LAT_REPS times: the raw publisher paced the same way
#      (throughput_raw pace: the broker + consumer baseline), the sidecar fed
#      through libosprofiler (ring) and through plain frames on the
#      non-durable queue, through libosprofiler on the durable queue with the
#      spool configured, and the raw baseline on the durable queue. The
#      sidecar's VmRSS is sampled meanwhile. Every timed run also records how
#      busy the whole machine was (/proc/stat), to tell our load from others'.
#   3. bench/results/throughput.md (throughput_report.py), printed.
#
# Everything is bounded in time (timeout on every step); the broker, the
# sidecar and the consumer are stopped by PID on exit, failure or interrupt;
# the work directory is removed (KEEP_WORK=1 keeps it). Loopback only.
#
# Knobs (defaults in brackets): N [100000] N_PY [5000] REPS [3] WINDOW [1000]
# FRAME [65536] LAT_RATE [1000] LAT_SECONDS [10] LAT_REPS [2] BASE_PORT [5851]
# SKIP_PY [0] SKIP_LAT [0] KEEP_WORK [0] OUT [bench/results/throughput.md]
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
PY=/usr/bin/python3
SIDECAR=$BUILD/osprofiler-sidecar
RAW=$BUILD/bench/throughput_raw
FEED=$BUILD/bench/throughput_feed
for b in "$SIDECAR" "$RAW" "$FEED"; do
    if [ ! -x "$b" ]; then
        echo "throughput.sh: $b missing: cmake --build $BUILD --target osprofiler-sidecar throughput_raw throughput_feed" >&2
        exit 2
    fi
done

N=${N:-100000} N_PY=${N_PY:-5000} REPS=${REPS:-3} WINDOW=${WINDOW:-1000}
FRAME=${FRAME:-65536} LAT_RATE=${LAT_RATE:-1000} LAT_SECONDS=${LAT_SECONDS:-10}
LAT_REPS=${LAT_REPS:-2}
BASE_PORT=${BASE_PORT:-5851} SKIP_PY=${SKIP_PY:-0} SKIP_LAT=${SKIP_LAT:-0}
OUT=${OUT:-$HERE/results/throughput.md}

BROKER_SH=$SRC/tests/integration/broker.sh
WORK=$(mktemp -d /tmp/osp-tput.XXXXXX)
RB="" SC_PID="" CONS_PID=""


cleanup() {
    local rc=$?
    set +e
    stop_pid "$CONS_PID" TERM 20
    stop_pid "$SC_PID" TERM 150
    stop_broker
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

# ---------------------------------------------------------------- machine
CMDLINE="bench/throughput.sh $1"
for k in N N_PY REPS WINDOW FRAME LAT_RATE LAT_SECONDS LAT_REPS; do
    d=$(eval echo "\${$k}")
    CMDLINE="$k=$d $CMDLINE"
done
{
    printf '{"date": "%s", ' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf '"command": "%s", ' "$CMDLINE"
    machine_fields
    printf '"busy_before": "%s", ' "$(busy_pct)"
    printf '"python": "%s", ' "$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    printf '"osprofiler": "%s", ' "$(dpkg-query -W -f '${Version}' python3-osprofiler 2>/dev/null || echo missing)"
    printf '"oslo_messaging": "%s", ' "$(dpkg-query -W -f '${Version}' python3-oslo.messaging 2>/dev/null || echo missing)"
    printf '"librabbitmq": "%s", ' "$(dpkg-query -W -f '${Version}' librabbitmq4 2>/dev/null || echo missing)"
    printf '"rabbitmq": "%s", ' "$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo missing)"
    printf '"n": %s, "n_py": %s, "reps": %s, "window": %s, "frame": %s, ' "$N" "$N_PY" "$REPS" "$WINDOW" "$FRAME"
    printf '"lat_rate": %s, "lat_seconds": %s, "lat_reps": %s}\n' "$LAT_RATE" "$LAT_SECONDS" "$LAT_REPS"
} > "$WORK/machine.json"

# ---------------------------------------------------------------- broker
RB=$WORK/rb
log "starting a private RabbitMQ node (ports from $BASE_PORT up)"
"$BROKER_SH" start "$RB" "$BASE_PORT" > /dev/null
while IFS='=' read -r k v; do
    case "$k" in
    OSP_BROKER_PORT) AMQP_PORT=$v ;;
    OSP_BROKER_URL) URL=$v ;;
    OSP_BROKER_NODE) NODE=$v ;;
    OSP_BROKER_BEAM_PID) BEAM_PID=$v ;;
    OSP_BROKER_DIST_PORT) DIST_PORT=$v ;;
    OSP_BROKER_EPMD_PORT) EPMD_PORT=$v ;;
    esac
done < "$RB/env"
RMQ_VER=$(grep -ho 'RabbitMQ [0-9][0-9.]*' "$RB"/log/*.log 2>/dev/null | head -n1 || true)
log "RabbitMQ $NODE on 127.0.0.1:$AMQP_PORT (beam $BEAM_PID, ${RMQ_VER:-version ?})"
"$PY" - "$WORK/machine.json" "$NODE" "$AMQP_PORT" "$DIST_PORT" "$EPMD_PORT" "${RMQ_VER:-}" <<'EOF'
import json, sys
p, node, amqp, dist, epmd, ver = sys.argv[1:7]
m = json.load(open(p))
m["broker"] = ("private node %s on 127.0.0.1, amqp %s, dist %s, epmd %s, no plugins, "
               "no config file%s" % (node, amqp, dist, epmd, ", " + ver if ver else ""))
json.dump(m, open(p, "w"))
EOF

reset_queue() { # delete profiler.info and exchange openstack
    timeout 120 "$RAW" delete --port "$AMQP_PORT" > /dev/null \
        || { log "queue/exchange delete failed"; return 1; }
}

run_raw() { # name durable
    local name=$1 durable=$2
    reset_queue
    log "raw rabbitmq-c publisher: $name"
    timeout 600 "$RAW" publish --port "$AMQP_PORT" --count "$N" --durable "$durable" \
        --window "$WINDOW" --broker-pid "$BEAM_PID" > "$WORK/$name.json" 2> "$WORK/$name.err" \
        || { log "throughput_raw $name failed"; cat "$WORK/$name.err" >&2; }
    reset_queue
}

# start_sidecar name durable spool(0|1): fresh sidecar, SC_PID, $WORK/$name.conf
start_sidecar() {
    local name=$1 durable=$2 spool=$3 sdir=""
    [ "$spool" = 1 ] && sdir=$WORK/spool-$name
    local dq=false
    [ "$durable" = 1 ] && dq=true
    # Without a spool the whole burst must fit in memory (else the sidecar
    # drops, by design); with one, the default memory_limit (8 MiB) applies
    # and the rest goes through the disk.
    local mem=""
    [ "$spool" = 1 ] || mem="memory_limit = ${MEMORY_LIMIT:-134217728}"
    cat > "$WORK/$name.conf" <<EOF
listen_socket = "$WORK/$name.sock"
listen_mode = "0600"
spool_dir = "$sdir"
$mem
amqp_durable_queues = $dq
confirm_window = $WINDOW
log_level = "notice"
shutdown_grace = 10.0
EOF
    "$SIDECAR" --config "$WORK/$name.conf" --transport-url "$URL" > "$WORK/$name.log" 2>&1 &
    SC_PID=$!
    local n=100
    while [ ! -S "$WORK/$name.sock.ctl" ]; do
        kill -0 "$SC_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; SC_PID=""; return 1; }
        [ "$n" -gt 0 ] || { log "sidecar $name: no control socket after 10 s"; return 1; }
        sleep 0.1
        n=$((n - 1))
    done
}

stop_sidecar() { # name
    local name=$1
    timeout 10 "$SIDECAR" --config "$WORK/$name.conf" --stats > "$WORK/$name.stats" 2>&1 || true
    grep -E '^(VmHWM|VmRSS):' "/proc/$SC_PID/status" > "$WORK/$name.mem" 2>/dev/null || true
    stop_pid "$SC_PID" TERM 150
    SC_PID=""
    if [ -d "$WORK/spool-$name" ]; then
        find "$WORK/spool-$name" -name '*.seg' | wc -l > "$WORK/$name.segs_left"
    fi
}

run_sidecar() { # name durable spool
    local name=$1 durable=$2 spool=$3
    reset_queue
    log "sidecar: $name"
    if start_sidecar "$name" "$durable" "$spool"; then
        timeout 600 "$FEED" burst --socket "$WORK/$name.sock" --count "$N" --frame "$FRAME" \
            --pid "$SC_PID" --broker-pid "$BEAM_PID" --timeout 500 \
            > "$WORK/$name.json" 2> "$WORK/$name.err" \
            || { log "throughput_feed $name failed"; cat "$WORK/$name.err" >&2; }
        stop_sidecar "$name"
    fi
    reset_queue
}

run_python() { # name
    local name=$1 pairs=$((N_PY / 2))
    reset_queue
    log "Python osprofiler messaging:// ($N_PY points): $name"
    timeout 900 "$PY" "$HERE/bench_py.py" --mode messaging --port "$AMQP_PORT" \
        --warmup 200 --batches $(((pairs + 99) / 100)) --batch 100 --timed 0 \
        --broker-pid "$BEAM_PID" > "$WORK/$name.json" 2> "$WORK/$name.err" \
        || { log "bench_py $name failed"; tail -n 30 "$WORK/$name.err" >&2; }
    reset_queue
}

# ---------------------------------------------------------------- 1. throughput
for rep in $(seq 1 "$REPS"); do
    log "repetition $rep/$REPS"
    if [ $((rep % 2)) = 1 ]; then
        run_raw "raw-nd.$rep" 0
        run_sidecar "sc-nd.$rep" 0 0
        run_raw "raw-d.$rep" 1
        run_sidecar "sc-d.$rep" 1 0
        run_sidecar "sc-dspool.$rep" 1 1
    else
        run_sidecar "sc-nd.$rep" 0 0
        run_raw "raw-nd.$rep" 0
        run_sidecar "sc-dspool.$rep" 1 1
        run_sidecar "sc-d.$rep" 1 0
        run_raw "raw-d.$rep" 1
    fi
    [ "$SKIP_PY" = 1 ] || run_python "py.$rep"
done

# ---------------------------------------------------------------- 2. latency
# run_latency NAME FEEDER DURABLE SPOOL: FEEDER is lib or rate (the sidecar,
# fed by throughput_feed) or raw (throughput_raw pace, no sidecar).
run_latency() {
    local name=$1 mode=$2 durable=$3 spool=$4 expect
    if [ "$mode" = lib ]; then
        expect=$(awk -v r="$LAT_RATE" -v s="$LAT_SECONDS" 'BEGIN {printf "%d", r / 2 * s}')
    else
        expect=$(awk -v r="$LAT_RATE" -v s="$LAT_SECONDS" 'BEGIN {printf "%d", r * s}')
    fi
    reset_queue
    log "latency at $LAT_RATE points/s for $LAT_SECONDS s: $name"
    if [ "$mode" != raw ]; then
        start_sidecar "$name" "$durable" "$spool" || return 0
    fi
    rm -f "$WORK/$name.ready"
    timeout $((LAT_SECONDS * 3 + 60)) "$RAW" consume --port "$AMQP_PORT" --durable "$durable" \
        --seconds $((LAT_SECONDS * 3 + 30)) --expect "$expect" --ready "$WORK/$name.ready" \
        --dump "$WORK/$name.samples" > "$WORK/$name.cons.json" 2> "$WORK/$name.cons.err" &
    CONS_PID=$!
    local n=100
    while [ ! -e "$WORK/$name.ready" ] && [ "$n" -gt 0 ] && kill -0 "$CONS_PID" 2>/dev/null; do
        sleep 0.1
        n=$((n - 1))
    done
    if [ "$mode" = raw ]; then
        timeout $((LAT_SECONDS * 3 + 60)) "$RAW" pace --port "$AMQP_PORT" --durable "$durable" \
            --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --window "$WINDOW" --broker-pid "$BEAM_PID" \
            > "$WORK/$name.json" 2> "$WORK/$name.err" \
            || { log "throughput_raw pace $name failed"; cat "$WORK/$name.err" >&2; }
    else
        timeout $((LAT_SECONDS * 3 + 60)) "$FEED" "$mode" --socket "$WORK/$name.sock" \
            --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --pid "$SC_PID" --broker-pid "$BEAM_PID" \
            > "$WORK/$name.json" 2> "$WORK/$name.err" \
            || { log "throughput_feed $name failed"; cat "$WORK/$name.err" >&2; }
    fi
    # The consumer ends once it has every point (or after its own bound).
    local t=$((LAT_SECONDS * 10 + 300))
    while kill -0 "$CONS_PID" 2>/dev/null && [ "$t" -gt 0 ]; do
        sleep 0.1
        t=$((t - 1))
    done
    stop_pid "$CONS_PID" TERM 20
    CONS_PID=""
    [ "$mode" = raw ] || stop_sidecar "$name"
    reset_queue
}

if [ "$SKIP_LAT" != 1 ]; then
    for rep in $(seq 1 "$LAT_REPS"); do
        run_latency "lat-raw-nd.$rep" raw 0 0
        run_latency "lat-lib-nd.$rep" lib 0 0
        run_latency "lat-frames-nd.$rep" rate 0 0
        run_latency "lat-lib-dspool.$rep" lib 1 1
        run_latency "lat-raw-d.$rep" raw 1 0
    done
fi

stop_broker

# ---------------------------------------------------------------- 3. report
busy_pct > "$WORK/busy_after.txt"
mkdir -p "$(dirname "$OUT")"
"$PY" "$HERE/throughput_report.py" "$WORK" "$OUT"
