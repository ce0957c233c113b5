#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# redis_fixture.sh [--password PW] -- COMMAND [ARG...]
#
# Runs COMMAND against a private redis-server: 127.0.0.1 only, a free port,
# its own temporary directory, no persistence, in the foreground of a
# background job whose pid is kept. COMMAND sees OSP_REDIS_PORT and
# OSP_REDIS_DIR. The server is stopped by that pid when COMMAND ends, fails
# or this script is interrupted. Exit status: COMMAND's; 77 (skip) when
# there is no redis-server.
set -u

password=
while [ $# -gt 0 ]; do
    case $1 in
    --password) password=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--password PW] -- COMMAND [ARG...]" >&2; exit 2; }

server=${REDIS_SERVER:-/usr/bin/redis-server}
[ -x "$server" ] || { echo "redis_fixture: no $server, skipped" >&2; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/osp-redis.XXXXXX") || exit 1
pid=

stop_server() {
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    pid=
}
cleanup() {
    stop_server
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# A random port; another process may hold it, so a server that cannot bind
# is retried on another one.
for attempt in $(seq 20); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    # the password goes in the config file, not on a command line
    cat >"$dir/redis.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir
logfile $dir/redis.log
save ""
appendonly no
daemonize no
EOF
    if [ -n "$password" ]; then
        quoted=${password//\\/\\\\}
        echo "requirepass \"${quoted//\"/\\\"}\"" >>"$dir/redis.conf"
    fi
    : >"$dir/redis.log"
    "$server" "$dir/redis.conf" </dev/null >"$dir/stderr.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q "Ready to accept connections" "$dir/redis.log" && break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null && grep -q "Ready to accept" "$dir/redis.log"; then
        break
    fi
    echo "redis_fixture: port $port failed (attempt $attempt):" >&2
    tail -n 3 "$dir/redis.log" "$dir/stderr.log" >&2
    stop_server
    # only a port someone else holds is worth another try
    grep -q "Address already in use" "$dir/redis.log" "$dir/stderr.log" || break
done
[ -n "$pid" ] || { echo "redis_fixture: redis-server did not start" >&2; exit 1; }

echo "redis_fixture: redis-server pid $pid on 127.0.0.1:$port, dir $dir" >&2
export OSP_REDIS_PORT=$port OSP_REDIS_DIR=$dir
"$@"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
    echo "redis_fixture: redis-server died during the test:" >&2
    tail -n 20 "$dir/redis.log" >&2
    [ $rc -ne 0 ] || rc=1
fi
exit $rc
