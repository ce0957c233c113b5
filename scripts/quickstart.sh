#!/bin/bash
# The main job.
#
#   quickstart.sh             embedded default, no broker: the traced sample
#                             service writes a local JSON-lines file, printed
#                             as a tree.
#   quickstart.sh --rabbitmq  the real path: a private RabbitMQ on 127.0.0.1,
#                             osprofiler-sidecar, the sample service sending
#                             through it; prints the oslo.messaging
#                             notifications that reached profiler.info.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-embedded}
case $mode in
embedded) scripts/deps.sh build ;;
--rabbitmq) scripts/deps.sh test ;;
*) echo "usage: $0 [--rabbitmq]" >&2; exit 2 ;;
esac
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
demo=$PWD/build/demo
mkdir -p "$demo"

if [ "$mode" = embedded ]; then
    rm -f "$demo/points.jsonl"
    echo "== sample_service: 2 traced requests -> build/demo/points.jsonl"
    build/sample_service --points "$demo/points.jsonl" --requests 2
    echo "== osprofiler trace tree build/demo/points.jsonl"
    build/osprofiler trace tree "$demo/points.jsonl"
    exit 0
fi

sidecar_pid=
cleanup() {
    [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2>/dev/null && wait "$sidecar_pid" || true
    tests/integration/broker.sh stop "$demo/broker" >/dev/null || true
}
trap cleanup EXIT
echo "== private RabbitMQ on 127.0.0.1 (build/demo/broker)"
tests/integration/broker.sh start "$demo/broker" >/dev/null
. "$demo/broker/env"
echo "   $OSP_BROKER_URL"
rm -rf "$demo/spool" && mkdir -m 700 "$demo/spool"
echo "== osprofiler-sidecar -> $OSP_BROKER_URL"
build/osprofiler-sidecar --transport-url "$OSP_BROKER_URL" --socket "$demo/sidecar.sock" \
    --spool-dir "$demo/spool" --log-level info 2>"$demo/sidecar.log" &
sidecar_pid=$!
for _ in $(seq 100); do [ -S "$demo/sidecar.sock" ] && break; sleep 0.05; done
cat >"$demo/sample.conf" <<CONF
[profiler]
enabled = true
hmac_keys = sample-demo-key
trace_sqlalchemy = true
connection_string = messaging://
sidecar_socket = $demo/sidecar.sock
CONF
echo "== sample_service: 1 traced request -> sidecar"
OSPROFILER_HMAC_KEY=sample-demo-key build/sample_service --config "$demo/sample.conf" --requests 1
# the sidecar publishes with confirms; wait until the queue holds them all
for _ in $(seq 100); do
    n=$(build/osprofiler-sidecar --socket "$demo/sidecar.sock" --stats |
        sed -n 's/.*"confirmed": *\([0-9]*\).*/\1/p')
    r=$(build/osprofiler-sidecar --socket "$demo/sidecar.sock" --stats |
        sed -n 's/.*"received": *\([0-9]*\).*/\1/p')
    [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" = "$r" ] && break
    sleep 0.1
done
echo "== sidecar counters"
build/osprofiler-sidecar --socket "$demo/sidecar.sock" --stats
echo "== notifications in queue profiler.info (exchange openstack)"
scripts/show_notifications.py "$OSP_BROKER_PORT"
