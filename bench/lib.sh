# SPDX-License-Identifier: Apache-2.0
# lib.sh - helpers shared by the benchmark scripts (sourced, not run):
# logging, stopping our own processes by pid, the private broker, and
# whole-machine busy time. Callers set BROKER_SH and RB.

# bench_dirs BUILD_DIR: the one argument every benchmark takes; sets BUILD
# (absolute), HERE (bench/) and SRC (the source tree).
bench_dirs() {
    if [ $# -ne 1 ] || [ ! -d "$1" ]; then
        echo "usage: $0 BUILD_DIR" >&2
        exit 2
    fi
    BUILD=$(cd "$1" && pwd)
    HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    SRC=$(cd "$HERE/.." && pwd)
}

# machine_fields: the machine and the build (BUILD, SRC, WORK, SIDECAR) as
# JSON object members, each followed by ", ", for a benchmark's meta file.
machine_fields() {
    local ccbin
    printf '"nproc": "%s", ' "$(nproc)"
    printf '"cpu": "%s", ' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    printf '"kernel": "%s", ' "$(uname -r)"
    # shellcheck source=/dev/null
    printf '"os": "%s", ' "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf '"mem": "%s", ' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    printf '"disk": "%s", ' "$(df -hT "$WORK" | awk 'NR==2 {print $2 " on " $7}')"
    ccbin=$(sed -n 's/^CMAKE_C_COMPILER:[^=]*=//p' "$BUILD/CMakeCache.txt")
    printf '"cc": "%s", ' "$("${ccbin:-cc}" --version 2>/dev/null | head -n1)"
    printf '"build_type": "%s", ' "$(sed -n 's/^CMAKE_BUILD_TYPE:[^=]*=//p' "$BUILD/CMakeCache.txt")"
    printf '"git": "%s", ' "$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?')"
    printf '"sidecar_mtime": "%s", ' "$(date -u -r "$SIDECAR" '+%Y-%m-%d %H:%M:%S UTC')"
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${0##*/}" -1 "$*" >&2; }

wait_gone() { # pid, tenths of a second; 0 when it is gone
    local pid=$1 n=$2
    while [ "$n" -gt 0 ]; do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

stop_pid() { # pid, signal, tenths to wait before SIGKILL
    local pid=$1 sig=$2 t=$3
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$t"; then
        log "pid $pid still alive after SIG$sig, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 50 || true
    fi
    wait "$pid" 2>/dev/null || true
}

# broker.sh stops beam, its wrapper, beam's children and epmd by the pids in
# $RB/pids (TERM, then KILL after a bounded wait).
stop_broker() {
    if [ -n "$RB" ]; then
        [ -f "$RB/pids" ] && log "stopping RabbitMQ ($(tr '\n' ' ' < "$RB/pids" | sed 's/ *$//'))"
        "$BROKER_SH" stop "$RB" || log "broker.sh stop failed"
        RB=""
    fi
}

busy_pct() { # all-CPU busy % over 1 s, from /proc/stat
    local a b
    read -r -a a < /proc/stat
    sleep 1
    read -r -a b < /proc/stat
    local ta=0 tb=0 i
    for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
    local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) tot=$((tb - ta))
    [ "$tot" -gt 0 ] || { echo "n/a"; return; }
    echo "$(((100 * (tot - idle)) / tot)) %"
}
