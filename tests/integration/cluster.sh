#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cluster.sh - a private N-node RabbitMQ cluster on 127.0.0.1, made of
# broker.sh nodes (each with its own ports, data and logs, stopped by pid).
#
#   cluster.sh start DIR [N] [BASE_PORT]  N (3) fresh nodes DIR/n1..nN joined
#                                         to n1; prints DIR/env
#   cluster.sh stop  DIR                  stop every node, then the epmd
#
# The nodes share one epmd (DIR/epmd, "broker.sh epmd": Erlang nodes on one
# host find each other through it) and one Erlang cookie (DIR/cookie, mode
# 0400, random, handed over in a file). Nodes 2..N join n1 with rabbitmqctl
# stop_app, join_cluster, start_app. Each node is then a broker.sh DIR: the
# tests use broker.sh kill9|restart|ctl DIR/nK on it. DIR/env:
#
#   OSP_CLUSTER_URL=rabbit://guest:guest@127.0.0.1:P1,guest:guest@127.0.0.1:P2,.../
#   OSP_CLUSTER_N=3
#   OSP_CLUSTER_NODE1=ospt5841@localhost   OSP_CLUSTER_PORT1=5841
#   OSP_CLUSTER_DIR1=/abs/DIR/n1           (and so on for each node)
#   OSP_CLUSTER_DIR=/abs/DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BROKER="$HERE/broker.sh"
ME=cluster.sh
log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() {
    sed -n '4,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

do_stop() { # every node (in parallel: each waits up to 30 s), then the epmd
    local d rc=0 pids=()
    for d in "$DIR"/n*; do
        [ -d "$d" ] || continue
        "$BROKER" stop "$d" &
        pids+=($!)
    done
    for d in "${pids[@]}"; do wait "$d" || rc=1; done
    "$BROKER" stop "$DIR/epmd" || rc=1
    rm -f "$DIR/env"
    return "$rc"
}

do_start() {
    local n=$1 base=$2 i pids=() rc=0 url="" sep=""
    [ ! -e "$DIR/env" ] || die "a cluster of $DIR may still run (stop it first)"
    rm -rf "$DIR"/n* "$DIR/epmd"
    trap 'do_stop > /dev/null 2>&1 || true' EXIT
    local epmd_port
    epmd_port=$("$BROKER" epmd "$DIR/epmd" "$base" | sed -n 's/^OSP_BROKER_EPMD_PORT=//p')
    [ -n "$epmd_port" ] || die "no epmd"
    (umask 077 && head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9 > "$DIR/cookie")
    chmod 0400 "$DIR/cookie"
    # In parallel: a node takes 10-30 s to boot on a busy machine.
    for i in $(seq 1 "$n"); do
        OSP_BROKER_SHARED_EPMD=$epmd_port OSP_BROKER_COOKIE_FILE="$DIR/cookie" \
            "$BROKER" start "$DIR/n$i" $((base + i - 1)) > /dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || rc=1; done
    [ "$rc" = 0 ] || die "a node did not start"
    local node1
    node1=$(sed -n 's/^OSP_BROKER_NODE=//p' "$DIR/n1/env")
    for i in $(seq 2 "$n"); do
        "$BROKER" ctl "$DIR/n$i" stop_app > /dev/null
        "$BROKER" ctl "$DIR/n$i" join_cluster "$node1" > /dev/null
        "$BROKER" ctl "$DIR/n$i" start_app > /dev/null
        "$BROKER" status "$DIR/n$i" || die "n$i does not accept AMQP after joining"
    done
    local running
    running=$("$BROKER" ctl "$DIR/n1" eval 'length(rabbit_nodes:all_running()).')
    [ "$running" = "$n" ] || die "n1 sees $running running nodes, not $n"
    {
        for i in $(seq 1 "$n"); do
            local port
            port=$(sed -n 's/^OSP_BROKER_PORT=//p' "$DIR/n$i/env")
            url="$url${sep}guest:guest@127.0.0.1:$port"
            sep=,
            echo "OSP_CLUSTER_NODE$i=$(sed -n 's/^OSP_BROKER_NODE=//p' "$DIR/n$i/env")"
            echo "OSP_CLUSTER_PORT$i=$port"
            echo "OSP_CLUSTER_DIR$i=$DIR/n$i"
        done
        echo "OSP_CLUSTER_N=$n"
        echo "OSP_CLUSTER_URL=rabbit://$url/"
        echo "OSP_CLUSTER_DIR=$DIR"
    } > "$DIR/env.tmp"
    mv -f "$DIR/env.tmp" "$DIR/env"
    trap - EXIT
    log "$n nodes clustered with $node1"
    cat "$DIR/env"
}

[ $# -ge 2 ] || usage
cmd=$1
case "$cmd" in
start)
    [ $# -le 4 ] || usage
    n=${3:-3}
    base=${4:-5841}
    [[ "$n" =~ ^[1-9]$ ]] || die "N must be 1..9"
    [[ "$base" =~ ^[0-9]+$ && "$base" -ge 1024 && "$base" -le 45000 ]] \
        || die "BASE_PORT must be a number in 1024..45000"
    mkdir -p "$2"
    DIR=$(cd "$2" && pwd -P)
    do_start "$n" "$base"
    ;;
stop)
    [ $# -eq 2 ] || usage
    [ -d "$2" ] || exit 0
    DIR=$(cd "$2" && pwd -P)
    do_stop
    ;;
*) usage ;;
esac
