#!/bin/bash
# The main job: a traced sample service -> osprofiler-sidecar -> a trace store
# -> `osprofiler trace show --html` -> one self-contained report file.
#
#   quickstart.sh             embedded default, no broker: the sidecar writes
#                             the points straight into a local SQLite store.
#   quickstart.sh --rabbitmq  the real path: a private RabbitMQ on 127.0.0.1;
#                             the sidecar publishes oslo.messaging
#                             notifications (printed, as ceilometer gets them)
#                             and a collector sidecar stores them from its
#                             own queue.
# Everything it starts it stops again (by pid); files are in build/demo/.
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
rm -rf "$demo" && mkdir -p "$demo" && chmod 700 "$demo"
store="sqlite:///$demo/traces.db"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" || true; done
    [ "$mode" = embedded ] || tests/integration/broker.sh stop "$demo/broker" >/dev/null || true
}
trap cleanup EXIT
stat_of() { # stat_of SOCKET FIELD
    build/osprofiler-sidecar --socket "$1" --stats 2>/dev/null |
        sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p"
}
wait_for() { # wait_for SOCKET FIELD N
    for _ in $(seq 200); do
        [ "$(stat_of "$1" "$2")" = "$3" ] && return 0
        sleep 0.05
    done
    echo "quickstart: $2 never reached $3" >&2
    return 1
}
start_sidecar() { # start_sidecar NAME ARGS...
    local name=$1; shift
    build/osprofiler-sidecar --socket "$demo/$name.sock" --log-level notice "$@" \
        2>"$demo/$name.log" &
    pids+=($!)
    for _ in $(seq 200); do [ -S "$demo/$name.sock" ] && return 0; sleep 0.05; done
    cat "$demo/$name.log" >&2
    return 1
}

mkdir -m 700 "$demo/spool"
if [ "$mode" = embedded ]; then
    echo "== osprofiler-sidecar, no broker: storing into $store"
    start_sidecar sidecar --store "$store" --spool-dir "$demo/spool"
else
    echo "== private RabbitMQ on 127.0.0.1 (build/demo/broker)"
    tests/integration/broker.sh start "$demo/broker" >/dev/null
    . "$demo/broker/env"
    echo "   $OSP_BROKER_URL"
    echo "== osprofiler-sidecar -> $OSP_BROKER_URL (exchange openstack, queue profiler.info)"
    start_sidecar sidecar --transport-url "$OSP_BROKER_URL" --spool-dir "$demo/spool"
    echo "== osprofiler-sidecar --collect: own queue osprofiler-collector -> $store"
    start_sidecar collector --transport-url "$OSP_BROKER_URL" --spool-dir "" \
        --collect --store "$store"
fi

cat >"$demo/sample.conf" <<CONF
[profiler]
enabled = true
hmac_keys = sample-demo-key
trace_sqlalchemy = true
connection_string = messaging://
sidecar_socket = $demo/sidecar.sock
CONF
echo "== sample_service: 1 traced request (client signs with the demo key)"
id=$(OSPROFILER_HMAC_KEY=sample-demo-key build/sample_service --config "$demo/sample.conf" \
     --requests 1 2>"$demo/sample.log")
n=$(sed -n 's/.*: \([0-9]*\) points sent.*/\1/p' "$demo/sample.log")
echo "   trace $id: $n points sent"
if [ "$mode" = embedded ]; then
    wait_for "$demo/sidecar.sock" stored "$n"
else
    wait_for "$demo/sidecar.sock" confirmed "$n"
    wait_for "$demo/collector.sock" collected "$n"
    echo "== the notifications ceilometer would read from profiler.info"
    scripts/show_notifications.py "$OSP_BROKER_PORT"
fi

export OSPROFILER_CONNECTION_STRING=$store
echo "== osprofiler trace list"
build/osprofiler trace list
echo "== osprofiler trace show $id --dot"
build/osprofiler trace show "$id" --dot
build/osprofiler trace show "$id" --json --out "$demo/trace.json"
build/osprofiler trace show "$id" --html --out "$demo/trace.html"
echo "== report: $demo/trace.html (self-contained; open it in a browser)"
