#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# outage.sh BUILD_DIR - a broker outage under load: osprofiler-sidecar fed
# RATE points/s (throughput_feed rate: hop frames) for SECONDS s into a
# durable queue with the disk spool on; the private RabbitMQ node is stopped
# at DOWN_AT s and started again OUTAGE s later. Measured: the sidecar's RSS
# (max, sampled by the feeder), the spool's size on disk, points received,
# confirmed and finally in the queue (all of them must be there, duplicates
# allowed), and how long the backlog took to drain. Writes
# bench/results/outage.md and prints it.
#
# Knobs: RATE [10000] DURATION [90] DOWN_AT [10] OUTAGE [60] BASE_PORT [5871]
# KEEP_WORK [0] OUT [bench/results/outage.md]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
BROKER_SH=$SRC/tests/integration/broker.sh
RATE=${RATE:-10000} SECONDS_=${DURATION:-90} DOWN_AT=${DOWN_AT:-10} OUTAGE=${OUTAGE:-60}
OUT=${OUT:-$SRC/bench/results/outage.md}
WORK=$(mktemp -d /tmp/osp-outage.XXXXXX)
RB=$WORK/broker
SC_PID="" SAMPLER=""
cleanup() {
    stop_pid "$SAMPLER" TERM 10
    stop_pid "$SC_PID" TERM 300
    stop_broker
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log "starting a private RabbitMQ node (ports from ${BASE_PORT:-5871} up)"
"$BROKER_SH" start "$RB" "${BASE_PORT:-5871}" >/dev/null
. "$RB/env"
mkdir -m 700 "$WORK/spool"
cat >"$WORK/sc.conf" <<CONF
listen_socket = "$WORK/sc.sock"
transport_url = "$OSP_BROKER_URL"
amqp_durable_queues = true
spool_dir = "$WORK/spool"
rabbit_retry_interval = 1.0
rabbit_interval_max = 2.0
stats_interval = 0
log_level = "notice"
CONF
"$BUILD/osprofiler-sidecar" --config "$WORK/sc.conf" 2>"$WORK/sc.log" &
SC_PID=$!
for _ in $(seq 100); do [ -S "$WORK/sc.sock" ] && break; sleep 0.1; done

# spool size and RSS every second, into $WORK/samples (t spool_kib rss_kib)
(
    t0=$(date +%s)
    while kill -0 "$SC_PID" 2>/dev/null; do
        echo "$(($(date +%s) - t0)) $(du -sk "$WORK/spool" | cut -f1)" \
             "$(awk '/VmRSS/ {print $2}' /proc/"$SC_PID"/status 2>/dev/null || echo 0)"
        sleep 1
    done
) >"$WORK/samples" &
SAMPLER=$!

log "feeding $RATE points/s for $SECONDS_ s; broker down at ${DOWN_AT}s for ${OUTAGE}s"
"$BUILD/bench/throughput_feed" rate --socket "$WORK/sc.sock" --rate "$RATE" \
    --seconds "$SECONDS_" --pid "$SC_PID" --timeout $((SECONDS_ + 60)) \
    >"$WORK/feed.json" &
FEED=$!
sleep "$DOWN_AT"
log "stopping the broker"
"$BROKER_SH" stop "$RB" >/dev/null
sleep "$OUTAGE"
log "starting the broker again"
RB_SAVE=$RB
"$BROKER_SH" restart "$RB" >/dev/null
back=$(date +%s.%N)
wait "$FEED" || log "feeder failed"
log "waiting for the backlog to drain"
drained=""
for _ in $(seq 1200); do
    st=$("$BUILD/osprofiler-sidecar" --socket "$WORK/sc.sock" --stats 2>/dev/null || true)
    rec=$(sed -n 's/.*"received": \([0-9]*\).*/\1/p' <<<"$st")
    con=$(sed -n 's/.*"confirmed": \([0-9]*\).*/\1/p' <<<"$st")
    spooled=$(sed -n 's/.*"spool": {"points": \([0-9]*\).*/\1/p' <<<"$st")
    if [ -n "$rec" ] && [ "$rec" = "$con" ] && [ "$spooled" = 0 ]; then
        drained=$(date +%s.%N)
        break
    fi
    sleep 0.25
done
in_queue=$("$BROKER_SH" ctl "$RB_SAVE" list_queues -q name messages | awk '$1 == "profiler.info" {print $2}')
stop_pid "$SAMPLER" TERM 10
SAMPLER=""
/usr/bin/python3 - "$WORK" "$RATE" "$SECONDS_" "$DOWN_AT" "$OUTAGE" "$back" "${drained:-0}" \
    "${in_queue:-0}" "$st" >"$OUT" <<'PY'
import json, sys
work, rate, secs, down_at, outage, back, drained, in_queue, st = sys.argv[1:]
feed = json.load(open(work + "/feed.json"))
st = json.loads(st) if st.strip() else {}
samples = [tuple(map(int, l.split())) for l in open(work + "/samples") if len(l.split()) == 3]
max_spool = max((s[1] for s in samples), default=0)
max_rss = max((s[2] for s in samples), default=0)
points = feed["points"]
drain = float(drained) - float(back) if float(drained) else None
print("# Broker outage under load (bench/outage.sh)\n")
print("%s points/s for %s s into a durable queue; the broker was down from %s s for %s s."
      % (rate, secs, down_at, outage))
print()
print("| measure | value |\n|---|---|")
print("| points sent | %d |" % points)
print("| points received by the sidecar | %s |" % st.get("received"))
print("| spooled to disk | %s |" % st.get("spooled"))
d = st.get("dropped", {})
print("| dropped (memory / spool / invalid / shutdown) | %s / %s / %s / %s |" % (
    d.get("nomem"), d.get("spool"), d.get("invalid"), d.get("shutdown")))
print("| confirmed by the broker | %s |" % st.get("confirmed"))
print("| messages in profiler.info at the end | %s (%s) |" % (
    in_queue, "all delivered" if int(in_queue) >= points else "MISSING %d" % (points - int(in_queue))))
print("| sidecar RSS max (feeder samples / 1 s samples) | %.1f MiB / %.1f MiB |" % (
    feed["rss_max_kib"] / 1024, max_rss / 1024))
print("| spool on disk, max | %.1f MiB |" % (max_spool / 1024))
print("| backlog drained after the broker came back | %s |" % (
    "%.1f s" % drain if drain is not None else "not within 300 s"))
print("| late ticks of the feeder (it could not keep the rate) | %d |" % feed["late_ticks"])
PY
cat "$OUT"
