#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# broker.sh - a private RabbitMQ node on 127.0.0.1 for tests and benchmarks.
#
#   broker.sh start   DIR [BASE_PORT]  fresh node (empty data), prints DIR/env
#   broker.sh stop    DIR              stop it (idempotent, exit 0 when gone)
#   broker.sh kill9   DIR              SIGKILL the beam only (fault tests)
#   broker.sh restart DIR              stop if needed, start again with the
#                                      same ports, node name and data
#   broker.sh ctl     DIR ARGS...      rabbitmqctl -n NODE ARGS... (same env)
#   broker.sh status  DIR              exit 0 when the node accepts AMQP
#   broker.sh epmd    DIR [BASE_PORT]  only an epmd, for a cluster's nodes
#                                      (cluster.sh); stop it with stop
#
# For a cluster (cluster.sh), start takes two variables: OSP_BROKER_SHARED_EPMD
# (the port of a running "broker.sh epmd": nodes on one host find each other
# only through one epmd, so this node starts none) and OSP_BROKER_COOKIE_FILE
# (copied to DIR/.erlang.cookie, mode 0400: the nodes of a cluster share one
# cookie; never on a command line).
#
# start: creates DIR with mnesia/ and log/ (both emptied first), an
# enabled_plugins file holding "[]." and an empty env file; there is no
# config file. Ports are the first free ones at or above BASE_PORT (amqp,
# default 5801), BASE_PORT+20000 (Erlang distribution) and BASE_PORT+19000
# (epmd); ports handed to another live DIR are skipped even while its node is
# down, so parallel starts do not collide (registry: /tmp/osprofiler-c-broker-
# ports/, an entry lasts as long as its DIR/ports file). The node is
# ospt<amqp port>@localhost and has its own epmd (started first, in the
# foreground, so its pid is known; beam and rabbitmqctl get -start_epmd false
# so that no untracked "epmd -daemon" appears). Both run in their own session
# (setsid), stdin/stdout/stderr away from the caller's (DIR/*.out):
# the node outlives the calling process, so one process may start it and
# another stop it. Ready = an AMQP login as guest succeeds, within
# OSP_BROKER_START_TIMEOUT [90] s. Then DIR/env is written and printed:
#
#   OSP_BROKER_PORT=5801
#   OSP_BROKER_URL=rabbit://guest:guest@127.0.0.1:5801/
#   OSP_BROKER_NODE=ospt5801@localhost
#   OSP_BROKER_DIST_PORT=25801
#   OSP_BROKER_EPMD_PORT=24801
#   OSP_BROKER_BEAM_PID=12345
#   OSP_BROKER_DIR=/abs/DIR
#
# and DIR/pids (EPMD_PID=, WRAPPER_PID=, BEAM_PID=, CHILD_PIDS=). On failure
# the broker's last output and log lines go to stderr, whatever was started is
# stopped and the exit status is 1. start refuses (exit 1) while anything of
# an earlier start in DIR still runs; restart keeps DIR/ports and the data.
#
# Processes are only ever signalled by the pids recorded in DIR/pids (plus the
# descendants of the wrapper and beam found at stop time), and only if
# /proc/PID/environ carries OSP_BROKER_DIR=DIR, so a recycled pid is never
# hit. TERM first, KILL after a bounded wait. Only loopback is used.
# Operations on one DIR are serialized with flock(DIR/.lock).
#
# Needs root (the /usr/lib/rabbitmq/bin scripts are run directly; the
# /usr/sbin wrappers switch to the rabbitmq user), Debian's rabbitmq-server,
# erlang epmd, python3-amqp, util-linux (setsid, flock), coreutils timeout.
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin
EPMD_BIN=/usr/bin/epmd
PY=/usr/bin/python3
START_TIMEOUT=${OSP_BROKER_START_TIMEOUT:-90}
CTL_TIMEOUT=${OSP_BROKER_CTL_TIMEOUT:-120}
REG=/tmp/osprofiler-c-broker-ports

ME=broker.sh
log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() {
    sed -n '4,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ------------------------------------------------------------------ pids
# alive PID: PID exists, is not a zombie and belongs to this DIR.
alive() {
    local pid=$1 st
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ] || return 1
    grep -qzxF "OSP_BROKER_DIR=$DIR" "/proc/$pid/environ" 2> /dev/null
}

wait_gone() { # pid, tenths of a second; 0 when it is gone
    local pid=$1 n=$2
    while [ "$n" -gt 0 ]; do
        alive "$pid" || return 0
        sleep 0.1
        n=$((n - 1))
    done
    ! alive "$pid"
}

stop_pid() { # pid, signal, tenths to wait before SIGKILL
    local pid=$1 sig=$2 t=$3
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_gone "$pid" "$t" && return 0
    log "pid $pid still alive after SIG$sig, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 50
}

descendants() { # pids of all descendants of the given pids
    [ $# -gt 0 ] || return 0
    ps -e -o pid=,ppid= | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { kids[$2] = kids[$2] " " $1 }
        END {
            for (i = 1; i <= n; i++) queue[++q] = r[i]
            for (h = 1; h <= q; h++) {
                m = split(kids[queue[h]], k, " ")
                for (j = 1; j <= m; j++) if (!(k[j] in want)) { want[k[j]] = 1; queue[++q] = k[j]; print k[j] }
            }
        }'
}

EPMD_PID="" WRAPPER_PID="" BEAM_PID="" CHILD_PIDS=""
read_pids() {
    EPMD_PID="" WRAPPER_PID="" BEAM_PID="" CHILD_PIDS=""
    local k v
    if [ -f "$DIR/pids" ]; then
        while IFS='=' read -r k v; do
            case "$k" in
            EPMD_PID) EPMD_PID=$v ;;
            WRAPPER_PID) WRAPPER_PID=$v ;;
            BEAM_PID) BEAM_PID=$v ;;
            CHILD_PIDS) CHILD_PIDS=$v ;;
            esac
        done < "$DIR/pids"
    fi
    # A launch that a killed "start" did not get to record.
    [ -n "$EPMD_PID" ] || EPMD_PID=$(cat "$DIR/.epmd.pid" 2> /dev/null || true)
    [ -n "$WRAPPER_PID" ] || WRAPPER_PID=$(cat "$DIR/.server.pid" 2> /dev/null || true)
}
write_pids() {
    printf 'EPMD_PID=%s\nWRAPPER_PID=%s\nBEAM_PID=%s\nCHILD_PIDS=%s\n' \
        "$EPMD_PID" "$WRAPPER_PID" "$BEAM_PID" "$CHILD_PIDS" > "$DIR/pids.tmp"
    mv -f "$DIR/pids.tmp" "$DIR/pids"
}
any_alive() {
    local p
    for p in $EPMD_PID $WRAPPER_PID $BEAM_PID $CHILD_PIDS; do
        alive "$p" && return 0
    done
    return 1
}

beam_pid() { # the beam.smp child of the rabbitmq-server wrapper, if any yet
    [ -n "$WRAPPER_PID" ] || return 0
    ps -o pid=,comm= --ppid "$WRAPPER_PID" 2>/dev/null | awk '$2 == "beam.smp" {print $1; exit}' || true
}

# Stop everything recorded in DIR/pids. 0 when all of it is gone.
do_stop() {
    read_pids
    local extra p rc=0
    # beam's own children (erl_child_setup, inet_gethost) end after it.
    # shellcheck disable=SC2086
    extra=$(descendants $WRAPPER_PID $BEAM_PID $CHILD_PIDS)
    if alive "$WRAPPER_PID" || alive "$BEAM_PID"; then
        # The wrapper's TERM trap forwards TERM to beam (a graceful stop).
        if alive "$WRAPPER_PID"; then
            kill -TERM "$WRAPPER_PID" 2>/dev/null || true
        else
            kill -TERM "$BEAM_PID" 2>/dev/null || true
        fi
        wait_gone "$BEAM_PID" 300 || true
        wait_gone "$WRAPPER_PID" 50 || true
    fi
    stop_pid "$BEAM_PID" TERM 100 || rc=1
    stop_pid "$WRAPPER_PID" TERM 50 || rc=1
    for p in $CHILD_PIDS $extra; do stop_pid "$p" TERM 30 || rc=1; done
    stop_pid "$EPMD_PID" TERM 30 || rc=1
    if [ "$rc" = 0 ]; then
        rm -f "$DIR/pids" "$DIR/env" "$DIR/.epmd.pid" "$DIR/.server.pid"
    else
        log "some processes of $DIR survived SIGKILL"
    fi
    return "$rc"
}

# ------------------------------------------------------------------ ports
port_free() { # bindable on 127.0.0.1 the way a listener binds (SO_REUSEADDR)
    "$PY" -c 'import socket,sys
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
reserved_by_other() { # port: handed to another DIR that still exists
    local f="$REG/$1" owner
    [ -f "$f" ] || return 1
    owner=$(cat "$f" 2>/dev/null) || return 1
    [ -n "$owner" ] && [ "$owner" != "$DIR" ] || return 1
    grep -qx "[A-Z_]*_PORT=$1" "$owner/ports" 2>/dev/null
}
others_ports() { # ports reserved by other DIRs that still exist (global lock held)
    local f owner
    for f in "$REG"/*; do
        [ -f "$f" ] || continue
        if reserved_by_other "${f##*/}"; then
            echo "${f##*/}"
        else
            # Stale: its DIR is gone or has other ports now.
            owner=$(cat "$f" 2> /dev/null || true)
            [ "$owner" = "$DIR" ] || rm -f "$f"
        fi
    done
}
pick_ports() { # base...: for each base, the first free unreserved port at or above it
    local excl
    excl=$(others_ports | tr '\n' ',')
    "$PY" - "$excl" "$@" << 'EOF'
import socket, sys
excl = {int(p) for p in sys.argv[1].split(",") if p}
def free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for base in map(int, sys.argv[2:]):
    p = next((p for p in range(base, base + 200) if p not in excl and free(p)), None)
    if p is None:
        sys.exit("broker.sh: no free port in %d..%d" % (base, base + 199))
    print(p)
EOF
}
reserve() { # ports... (global lock held)
    local p
    for p in "$@"; do echo "$DIR" > "$REG/$p"; done
}

AMQP_PORT="" DIST_PORT="" EPMD_PORT="" NODE="" SHARED_EPMD=""
read_ports() {
    [ -f "$DIR/ports" ] || die "$DIR/ports missing: not a broker directory (use start)"
    local k v
    while IFS='=' read -r k v; do
        case "$k" in
        AMQP_PORT) AMQP_PORT=$v ;;
        DIST_PORT) DIST_PORT=$v ;;
        EPMD_PORT) EPMD_PORT=$v ;;
        NODE) NODE=$v ;;
        SHARED_EPMD) SHARED_EPMD=$v ;;
        esac
    done < "$DIR/ports"
    if [ -z "$AMQP_PORT" ] || [ -z "$DIST_PORT" ] || [ -z "$EPMD_PORT" ] || [ -z "$NODE" ]; then
        die "$DIR/ports is incomplete"
    fi
}

# ------------------------------------------------------------------ env
BROKER_ENV=()
set_env() {
    BROKER_ENV=(
        PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME="$DIR"
        OSP_BROKER_DIR="$DIR"
        RABBITMQ_NODENAME="$NODE"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT"
        RABBITMQ_DIST_PORT="$DIST_PORT"
        RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log"
        RABBITMQ_PID_FILE="$DIR/rabbit.pid"
        RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
        RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$DIR/rabbitmq"
        RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
        ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
        # -start_epmd false: neither beam nor the CLI may spawn an untracked
        # "epmd -daemon"; our own epmd runs before them, or they fail.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
        RABBITMQ_CTL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
    )
}

# launch VAR NAME OUTFILE CMD...: run CMD in a new session with BROKER_ENV
# only, stdin /dev/null, output to OUTFILE, no inherited lock fds; its pid
# goes to VAR and DIR/pids before INT or TERM can end this script.
PENDING=""
launch() {
    local var=$1 name=$2 out=$3 pf="$DIR/.$2.pid" n=50 child
    shift 3
    rm -f "$pf"
    trap 'PENDING=130' INT
    trap 'PENDING=143' TERM
    # shellcheck disable=SC2016 # $$ and $0 belong to the inner sh
    setsid env -i "${BROKER_ENV[@]}" /bin/sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
        "$pf" "$@" < /dev/null > "$out" 2>&1 8>&- 9>&- &
    child=$!
    while [ ! -s "$pf" ]; do
        if [ "$n" -le 0 ]; then
            # Our unreaped child: its pid cannot have been reused.
            kill -KILL "$child" 2> /dev/null || true
            log "$name did not start"
            return 1
        fi
        sleep 0.1
        n=$((n - 1))
    done
    printf -v "$var" '%s' "$(cat "$pf")"
    write_pids
    rm -f "$pf"
    trap 'exit 130' INT
    trap 'exit 143' TERM
    [ -z "$PENDING" ] || exit "$PENDING"
}

dump_logs() {
    log "RabbitMQ in $DIR did not come up; its last output:"
    local f
    for f in "$DIR/epmd.out" "$DIR/server.out" "$DIR"/log/*.log; do
        [ -s "$f" ] || continue
        printf -- '--- %s\n' "$f" >&2
        tail -n 30 "$f" >&2 || true
    done
}

# ------------------------------------------------------------------ start
STARTING=0 WAITER=""
on_exit() {
    local rc=$?
    if [ "$STARTING" = 1 ]; then
        set +e
        STARTING=0
        # Our unreaped child, so its pid is still ours.
        [ -z "$WAITER" ] || kill -TERM "$WAITER" 2> /dev/null
        dump_logs
        do_stop > /dev/null
        rc=1
    fi
    exit "$rc"
}

# do_start fresh|same: the per-DIR lock is held and nothing of DIR runs.
# Called plainly (not in an || or if), so that set -e applies inside; a
# failure exits through on_exit, which dumps the logs and stops everything.
do_start() {
    local mode=$1 base=${2:-5801}
    local t0=$SECONDS
    [ -x "$RMQ_BIN/rabbitmq-server" ] || die "$RMQ_BIN/rabbitmq-server missing (apt install rabbitmq-server)"
    [ -x "$EPMD_BIN" ] || die "$EPMD_BIN missing"
    "$PY" -c 'import amqp' 2> /dev/null || die "python3-amqp missing"
    [ "$(id -u)" = 0 ] || die "must run as root (the rabbitmq scripts are run directly)"

    mkdir -p "$REG"
    exec 9> "$REG.lock"
    flock -w 60 9 || die "could not lock $REG.lock within 60 s"
    if [ "$mode" = fresh ]; then
        local picked shared=${OSP_BROKER_SHARED_EPMD:-}
        [ -z "$shared" ] || [[ "$shared" =~ ^[0-9]+$ ]] || die "OSP_BROKER_SHARED_EPMD must be a port"
        picked=$(pick_ports "$base" $((base + 20000)) $((base + 19000)))
        { read -r AMQP_PORT; read -r DIST_PORT; read -r EPMD_PORT; } <<< "$picked"
        SHARED_EPMD=""
        if [ -n "$shared" ]; then
            EPMD_PORT=$shared SHARED_EPMD=1
        fi
        NODE="ospt$AMQP_PORT@localhost"
        printf 'AMQP_PORT=%s\nDIST_PORT=%s\nEPMD_PORT=%s\nNODE=%s\nSHARED_EPMD=%s\n' \
            "$AMQP_PORT" "$DIST_PORT" "$EPMD_PORT" "$NODE" "$SHARED_EPMD" > "$DIR/ports.tmp"
        mv -f "$DIR/ports.tmp" "$DIR/ports"
    else
        read_ports
        local p
        for p in "$AMQP_PORT" "$DIST_PORT" $([ -n "$SHARED_EPMD" ] || echo "$EPMD_PORT"); do
            if ! port_free "$p" || reserved_by_other "$p"; then
                exec 9>&-
                die "port $p of $DIR is taken now; cannot restart on the same ports"
            fi
        done
    fi
    reserve "$AMQP_PORT" "$DIST_PORT"
    [ -n "$SHARED_EPMD" ] || reserve "$EPMD_PORT"
    exec 9>&-

    if [ "$mode" = fresh ]; then
        rm -rf "$DIR/mnesia" "$DIR/log" "$DIR/.erlang.cookie"
        if [ -n "${OSP_BROKER_COOKIE_FILE:-}" ]; then
            install -m 0400 "$OSP_BROKER_COOKIE_FILE" "$DIR/.erlang.cookie"
        fi
    fi
    mkdir -p "$DIR/mnesia" "$DIR/log"
    echo '[].' > "$DIR/enabled_plugins"
    : > "$DIR/rabbitmq-env.conf"
    rm -f "$DIR/env" "$DIR/pids" "$DIR/rabbit.pid"
    set_env

    STARTING=1
    EPMD_PID="" WRAPPER_PID="" BEAM_PID="" CHILD_PIDS=""
    # Our own epmd, in the foreground so we know its pid. It must listen
    # before beam starts (beam is told not to start one itself).
    # A cluster's node uses the cluster's epmd instead (cluster.sh).
    [ -n "$SHARED_EPMD" ] \
        || launch EPMD_PID epmd "$DIR/epmd.out" "$EPMD_BIN" -port "$EPMD_PORT" -address 127.0.0.1
    local n=100
    while port_free "$EPMD_PORT"; do
        [ -n "$SHARED_EPMD" ] || alive "$EPMD_PID" || { log "epmd exited"; return 1; }
        [ "$n" -gt 0 ] || { log "epmd not listening on $EPMD_PORT after 10 s"; return 1; }
        sleep 0.1
        n=$((n - 1))
    done

    launch WRAPPER_PID server "$DIR/server.out" "$RMQ_BIN/rabbitmq-server"
    # Wait for an AMQP login (the listener opens at the end of boot).
    local left=$((START_TIMEOUT - (SECONDS - t0)))
    [ "$left" -gt 0 ] || left=1
    # In the background, so that INT/TERM interrupt the wait at once.
    timeout -k 5 $((left + 15)) "$PY" - "$AMQP_PORT" "$WRAPPER_PID" "$left" << 'EOF' &
import socket, sys, time
import amqp
port, wrapper, end = int(sys.argv[1]), sys.argv[2], time.monotonic() + float(sys.argv[3])
def alive(pid):
    try:
        st = open("/proc/%s/stat" % pid).read()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"
while time.monotonic() < end:
    if not alive(wrapper):
        sys.exit("rabbitmq-server exited")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        time.sleep(0.1)
        continue
    try:
        c = amqp.Connection("127.0.0.1:%d" % port, userid="guest", password="guest",
                            connect_timeout=2, read_timeout=5, write_timeout=5)
        c.connect()
        c.close()
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("no AMQP login on 127.0.0.1:%d within %s s" % (port, sys.argv[3]))
EOF
    WAITER=$!
    if ! wait "$WAITER"; then
        WAITER=""
        return 1
    fi
    WAITER=""
    BEAM_PID=$(beam_pid)
    local filepid
    filepid=$(cat "$DIR/rabbit.pid" 2> /dev/null || true)
    [ -n "$BEAM_PID" ] || BEAM_PID=$filepid
    alive "$BEAM_PID" || { log "cannot find the beam.smp pid"; return 1; }
    [ -z "$filepid" ] || [ "$filepid" = "$BEAM_PID" ] \
        || log "note: $DIR/rabbit.pid says $filepid, the wrapper's child is $BEAM_PID"
    CHILD_PIDS=$(descendants "$BEAM_PID" | tr '\n' ' ' | sed 's/ $//')
    write_pids
    printf '%s\n' "OSP_BROKER_PORT=$AMQP_PORT" \
        "OSP_BROKER_URL=rabbit://guest:guest@127.0.0.1:$AMQP_PORT/" \
        "OSP_BROKER_NODE=$NODE" "OSP_BROKER_DIST_PORT=$DIST_PORT" \
        "OSP_BROKER_EPMD_PORT=$EPMD_PORT" "OSP_BROKER_BEAM_PID=$BEAM_PID" \
        "OSP_BROKER_DIR=$DIR" > "$DIR/env.tmp"
    mv -f "$DIR/env.tmp" "$DIR/env"
    STARTING=0
    log "$NODE ready on 127.0.0.1:$AMQP_PORT after $((SECONDS - t0)) s (beam $BEAM_PID)"
    cat "$DIR/env"
}

lock_dir() {
    exec 8> "$DIR/.lock"
    flock -w 150 8 || die "could not lock $DIR/.lock within 150 s"
}

# ------------------------------------------------------------------ main
[ $# -ge 2 ] || usage
cmd=$1
case "$cmd" in
start)
    [ $# -le 3 ] || usage
    [ -z "${3:-}" ] || [[ "$3" =~ ^[0-9]+$ && "$3" -ge 1024 && "$3" -le 45000 ]] \
        || die "BASE_PORT must be a number in 1024..45000"
    mkdir -p "$2"
    ;;
epmd)
    [ $# -le 3 ] || usage
    mkdir -p "$2"
    ;;
stop | kill9 | restart | ctl | status)
    [ "$cmd" = ctl ] || [ $# -eq 2 ] || usage
    if [ ! -d "$2" ]; then
        [ "$cmd" = stop ] && exit 0
        die "no such directory: $2"
    fi
    ;;
*) usage ;;
esac
DIR=$(cd "$2" && pwd -P)
[ "$DIR" != / ] || die "refusing to use /"

case "$cmd" in
start)
    lock_dir
    read_pids
    if any_alive; then
        die "a broker of $DIR is still running (use stop or restart)"
    fi
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    do_start fresh "${3:-5801}"
    ;;
epmd)
    lock_dir
    read_pids
    any_alive && die "an epmd of $DIR is still running"
    mkdir -p "$REG"
    exec 9> "$REG.lock"
    flock -w 60 9 || die "could not lock $REG.lock within 60 s"
    EPMD_PORT=$(pick_ports $((${3:-5801} + 19000)))
    printf 'EPMD_PORT=%s\n' "$EPMD_PORT" > "$DIR/ports"
    reserve "$EPMD_PORT"
    exec 9>&-
    BROKER_ENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin OSP_BROKER_DIR="$DIR")
    launch EPMD_PID epmd "$DIR/epmd.out" "$EPMD_BIN" -port "$EPMD_PORT" -address 127.0.0.1
    n=100
    while port_free "$EPMD_PORT"; do
        alive "$EPMD_PID" || die "epmd exited"
        [ "$n" -gt 0 ] || { do_stop; die "epmd not listening on $EPMD_PORT after 10 s"; }
        sleep 0.1
        n=$((n - 1))
    done
    echo "OSP_BROKER_EPMD_PORT=$EPMD_PORT"
    ;;
restart)
    lock_dir
    read_ports
    do_stop > /dev/null || die "could not stop the old node"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    do_start same
    ;;
stop)
    lock_dir
    do_stop
    ;;
kill9)
    lock_dir
    read_pids
    alive "$BEAM_PID" || die "no running beam in $DIR"
    kill -KILL "$BEAM_PID"
    wait_gone "$BEAM_PID" 50 || die "beam $BEAM_PID still there after SIGKILL"
    # The wrapper sees beam exit and ends; erl_child_setup follows.
    wait_gone "$WRAPPER_PID" 50 || true
    log "beam $BEAM_PID killed"
    ;;
status)
    read_pids
    read_ports
    alive "$BEAM_PID" || die "no running beam in $DIR"
    timeout -k 2 15 "$PY" - "$AMQP_PORT" << 'EOF' || die "$NODE does not accept AMQP logins"
import sys, amqp
c = amqp.Connection("127.0.0.1:%s" % sys.argv[1], userid="guest", password="guest",
                    connect_timeout=2, read_timeout=5, write_timeout=5)
c.connect(); c.close()
EOF
    ;;
ctl)
    read_ports
    read_pids
    # Without our epmd the CLI could not reach the node anyway.
    alive "$EPMD_PID" || [ -n "$SHARED_EPMD" ] || die "the broker of $DIR is not running"
    set_env
    shift 2
    exec timeout -k 5 "$CTL_TIMEOUT" env -i "${BROKER_ENV[@]}" "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@" 8>&- 9>&-
    ;;
esac
