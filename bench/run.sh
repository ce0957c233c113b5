#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh BUILD_DIR - the osprofiler-c pair benchmark, C and Python in one run.
#
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench -j2 --target bench_pairs bench_receiver
#   bench/run.sh build-bench
#
# Measures, in this order and on this machine:
#   A. C (BUILD_DIR/bench/bench_pairs): start/stop pairs with the sidecar
#      notifier feeding bench_receiver (top-level and nested shapes), through
#      socket frames only (ring_size 0) and through the shared-memory ring
#      (receiver busy-polling, or polling every RING_POLL_US); with the
#      sidecar socket configured but nobody listening; and enabled=false;
#   B. Python osprofiler 3.4.3 (/usr/bin/python3 bench/bench_py.py): no-op
#      notifier, and messaging:// to a private RabbitMQ node on 127.0.0.1
#      started and stopped with tests/integration/broker.sh (ports picked
#      free, from 5791/25791/24791 up);
#   C. writes bench/results/latest.md (bench/report.py) and prints it.
#
# Needs: python3-osprofiler, python3-oslo.messaging, rabbitmq-server (Debian
# packages). Everything is bounded in time; the broker, its epmd and the
# receivers are stopped by PID on exit, failure or interrupt, and the
# temporary directory is removed. Only loopback is used.
#
# Environment knobs (defaults in brackets): C_BATCHES [200] C_BATCH [1000]
# C_TIMED [20000] PY_BATCHES [200] PY_BATCH [1000] PY_TIMED [20000]
# MSG_BATCHES [20] MSG_BATCH [100] MSG_WARMUP [200] MSG_TIMED [1000]
# REPS [3] (each mode runs REPS times, interleaved; the report shows the
# median run and all runs) RING_POLL_US [20] (the polling receiver's sleep
# between ring drains) SKIP_MESSAGING [0] KEEP_WORK [0]
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
PY=/usr/bin/python3
BIN=$BUILD/bench
for b in bench_pairs bench_receiver; do
    if [ ! -x "$BIN/$b" ]; then
        echo "run.sh: $BIN/$b missing: cmake --build $BUILD --target bench_pairs bench_receiver" >&2
        exit 2
    fi
done

C_BATCHES=${C_BATCHES:-200} C_BATCH=${C_BATCH:-1000} C_TIMED=${C_TIMED:-20000}
PY_BATCHES=${PY_BATCHES:-200} PY_BATCH=${PY_BATCH:-1000} PY_TIMED=${PY_TIMED:-20000}
MSG_BATCHES=${MSG_BATCHES:-20} MSG_BATCH=${MSG_BATCH:-100}
MSG_WARMUP=${MSG_WARMUP:-200} MSG_TIMED=${MSG_TIMED:-1000}
SKIP_MESSAGING=${SKIP_MESSAGING:-0}
REPS=${REPS:-3}
RING_POLL_US=${RING_POLL_US:-20}

BROKER_SH=$SRC/tests/integration/broker.sh
WORK=$(mktemp -d /tmp/osp-bench.XXXXXX)
RX_PID="" RB=""


cleanup() {
    local rc=$?
    set +e
    stop_pid "$RX_PID" KILL 20
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
{
    printf '{"date": "%s", ' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf '"build_dir": "%s", ' "$1"
    printf '"nproc": "%s", ' "$(nproc)"
    printf '"cpu": "%s", ' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    printf '"kernel": "%s", ' "$(uname -r)"
    # shellcheck source=/dev/null
    printf '"os": "%s", ' "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf '"mem": "%s", ' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    CCBIN=$(sed -n 's/^CMAKE_C_COMPILER:[^=]*=//p' "$BUILD/CMakeCache.txt")
    printf '"cc": "%s", ' "$("${CCBIN:-cc}" --version 2>/dev/null | head -n1)"
    printf '"build_type": "%s", ' "$(sed -n 's/^CMAKE_BUILD_TYPE:[^=]*=//p' "$BUILD/CMakeCache.txt")"
    printf '"git": "%s", ' "$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?')"
    printf '"busy_before": "%s", ' "$(busy_pct)"
    printf '"python": "%s", ' "$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    printf '"osprofiler": "%s", ' "$(dpkg-query -W -f '${Version}' python3-osprofiler 2>/dev/null || echo missing)"
    printf '"oslo_messaging": "%s", ' "$(dpkg-query -W -f '${Version}' python3-oslo.messaging 2>/dev/null || echo missing)"
    printf '"rabbitmq": "%s", ' "$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo missing)"
    printf '"ring_poll_us": "%s"}\n' "$RING_POLL_US"
} > "$WORK/machine.json"

# ---------------------------------------------------------------- A. C
start_receiver() { # name [receiver options...]
    local name=$1
    shift
    rm -f "$WORK/rx-$name.ready"
    "$BIN/bench_receiver" "$@" "$WORK/$name.sock" "$WORK/rx-$name.ready" \
        > "$WORK/rx-$name.txt" 2> "$WORK/rx-$name.err" &
    RX_PID=$!
    local n=50
    while [ ! -e "$WORK/rx-$name.ready" ]; do
        kill -0 "$RX_PID" 2>/dev/null || { cat "$WORK/rx-$name.err" >&2; return 1; }
        [ "$n" -gt 0 ] || { echo "run.sh: receiver not ready" >&2; return 1; }
        sleep 0.1
        n=$((n - 1))
    done
}
stop_receiver() {
    kill -TERM "$RX_PID" 2>/dev/null || true
    if ! wait_gone "$RX_PID" 100; then
        log "receiver did not exit on SIGTERM"
        kill -KILL "$RX_PID" 2>/dev/null || true
    fi
    wait "$RX_PID" 2>/dev/null || true
    RX_PID=""
}

C_ARGS=(--batches "$C_BATCHES" --batch "$C_BATCH" --timed "$C_TIMED")
# C variants: name | bench_pairs arguments | receiver arguments ("-": none
# started, "absent": the socket path has no listener).
C_VARIANTS=(
    "top-frames|--mode top --ring-size 0|"
    "nested-frames|--mode nested --ring-size 0|"
    "top-ring-busy|--mode top|--rings --poll-us 0"
    "nested-ring-busy|--mode nested|--rings --poll-us 0"
    "top-ring-poll|--mode top|--rings --poll-us $RING_POLL_US"
    "nested-ring-poll|--mode nested|--rings --poll-us $RING_POLL_US"
    "absent|--mode top|absent"
    "off|--mode off|-"
)
# Repetitions interleave the modes so that a burst of load from elsewhere on
# the machine hits all of them alike; the report takes the median run.
for rep in $(seq 1 "$REPS"); do
    for v in "${C_VARIANTS[@]}"; do
        IFS='|' read -r name bargs rargs <<< "$v"
        log "rep $rep/$REPS: C $name"
        sockargs=()
        case "$rargs" in
        -) ;;
        absent) sockargs=(--socket "$WORK/absent.sock") ;;
        *)
            # shellcheck disable=SC2086 # word splitting of the receiver args is intended
            start_receiver "$name.$rep" $rargs
            sockargs=(--socket "$WORK/$name.$rep.sock")
            ;;
        esac
        # shellcheck disable=SC2086
        timeout 300 "$BIN/bench_pairs" $bargs "${sockargs[@]}" "${C_ARGS[@]}" \
            > "$WORK/c-$name.$rep.json" 2> "$WORK/c-$name.$rep.err" \
            || { log "bench_pairs $name failed"; cat "$WORK/c-$name.$rep.err" >&2; }
        [ -z "$RX_PID" ] || stop_receiver
    done

    # ------------------------------------------------------------ B. Python
    log "rep $rep/$REPS: Python no-op notifier"
    timeout 600 "$PY" "$HERE/bench_py.py" --mode noop --batches "$PY_BATCHES" --batch "$PY_BATCH" \
        --timed "$PY_TIMED" > "$WORK/py-noop.$rep.json" 2> "$WORK/py-noop.$rep.err" \
        || { log "bench_py noop failed"; tail -n 30 "$WORK/py-noop.$rep.err" >&2; }
done

if [ "$SKIP_MESSAGING" != 1 ]; then
    if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || ! "$PY" -c 'import oslo_messaging' 2>/dev/null; then
        log "rabbitmq-server or python3-oslo.messaging missing: skipping messaging"
    else
        # A private node on 127.0.0.1 (ports from 5791/25791/24791 up), up to
        # 90 s to become ready; on failure broker.sh prints its log tail.
        RB=$WORK/rb
        ready=0
        if "$BROKER_SH" start "$RB" 5791 > /dev/null; then
            ready=1
            while IFS='=' read -r k v; do
                case "$k" in
                OSP_BROKER_PORT) AMQP_PORT=$v ;;
                OSP_BROKER_DIST_PORT) DIST_PORT=$v ;;
                OSP_BROKER_EPMD_PORT) EPMD_PORT=$v ;;
                OSP_BROKER_NODE) NODE=$v ;;
                OSP_BROKER_BEAM_PID) BEAM_PID=$v ;;
                esac
            done < "$RB/env"
            log "RabbitMQ: private node $NODE on 127.0.0.1 amqp=$AMQP_PORT dist=$DIST_PORT epmd=$EPMD_PORT"
        fi
        if [ "$ready" != 1 ]; then
            log "RabbitMQ did not come up (broker.sh printed its output above)"
        else
            RMQ_VER=$(grep -ho 'RabbitMQ [0-9][0-9.]*' "$RB"/log/*.log 2>/dev/null | head -n1 || true)
            log "RabbitMQ up (beam pid ${BEAM_PID:-?}, ${RMQ_VER:-version ?})"
            for rep in $(seq 1 "$REPS"); do
                log "rep $rep/$REPS: Python messaging://"
                timeout 600 "$PY" "$HERE/bench_py.py" --mode messaging --port "$AMQP_PORT" \
                    --warmup "$MSG_WARMUP" --batches "$MSG_BATCHES" --batch "$MSG_BATCH" \
                    --timed "$MSG_TIMED" ${BEAM_PID:+--broker-pid "$BEAM_PID"} \
                    > "$WORK/py-messaging.$rep.json" 2> "$WORK/py-messaging.$rep.err" \
                    || { log "bench_py messaging failed"; tail -n 30 "$WORK/py-messaging.$rep.err" >&2; }
            done
            "$PY" - "$WORK/machine.json" "$AMQP_PORT" "$DIST_PORT" "$EPMD_PORT" "${RMQ_VER:-}" "$NODE" <<'EOF'
import json, sys
p, amqp, dist, epmd, ver, node = sys.argv[1:7]
m = json.load(open(p))
m["broker"] = ("private node %s on 127.0.0.1, amqp %s, dist %s, epmd %s, "
               "no plugins, no config file%s" % (node, amqp, dist, epmd, ", " + ver if ver else ""))
json.dump(m, open(p, "w"))
EOF
        fi
        stop_broker
    fi
fi

# ---------------------------------------------------------------- C. report
busy_pct > "$WORK/busy_after.txt"
mkdir -p "$HERE/results"
"$PY" "$HERE/report.py" "$WORK" "$HERE/results/latest.md"
