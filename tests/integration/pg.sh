#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# pg.sh - a private PostgreSQL cluster on 127.0.0.1 for tests and benchmarks.
#
#   pg.sh start  DIR   fresh cluster (any earlier one of DIR destroyed), prints DIR/env
#   pg.sh stop   DIR   stop it (idempotent, exit 0 when gone); `again` restarts it
#   pg.sh destroy DIR  stop it and remove its files
#   pg.sh kill9  DIR   SIGKILL the postmaster and its children (a crash)
#   pg.sh again  DIR   start the stopped cluster again, same port and data
#   pg.sh psql   DIR ARGS...  psql on the test database (over the socket)
#
# Debian's server (/usr/lib/postgresql/NN/bin, the newest installed). initdb
# refuses to run as root, and tests run as root in CI: then the cluster
# belongs to the `postgres` system user the package creates and every server
# command runs as it (setpriv). A non-root caller
# runs it as itself. The data and the server's log are in DIR/srv, a link to
# a 0700 directory of the owner's under /tmp (it may not enter DIR). Role
# `osp`, a random password (a 0600 file for initdb, removed after it; never
# on a command line: initdb --pwfile), scram-sha-256 on the loopback port,
# trust on the Unix socket (a 0700 directory of its own under /tmp: a socket
# path is limited to 107 bytes, a build tree's is not). Database `osprofiler`.
# The port is a free one chosen at start. DIR/env:
#
#   OSP_PG_PORT=5432
#   OSP_PG_URL=postgresql://osp:PASSWORD@127.0.0.1:5432/osprofiler
#   OSP_PG_SOCKET_URL=postgresql://osp@:5432/osprofiler?host=/tmp/osp-pg.XXXX
#   OSP_PG_SOCKET_DIR=/tmp/osp-pg.XXXX
#   OSP_PG_PID=12345
#   OSP_PG_DIR=/abs/DIR
#   OSP_PG_SRV=/tmp/osp-pg-srv.XXXX
#
# Stopping uses pg_ctl (fast), then the pid in DIR/srv/data/postmaster.pid,
# only if /proc/PID/cmdline names that data directory, so a recycled pid is
# never hit.
set -euo pipefail

BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
START_TIMEOUT=${OSP_PG_START_TIMEOUT:-60}
ME=pg.sh
log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
    log "$*"
    exit 1
}
[ $# -ge 2 ] || {
    sed -n '4,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
CMD=$1
DIR=$(realpath -m "$2")
shift 2
# The server's own files (data, log) live in SRV, a private directory under
# /tmp that DIR/srv points to: the server's user must reach them, and it may
# not be able to enter DIR (a build tree under a 0700 directory).
SRV=$(readlink "$DIR/srv" 2>/dev/null || echo /nonexistent)
[ -x "$BIN/initdb" ] || die "no PostgreSQL server found (Debian's postgresql package)"

# as the cluster's owner
if [ "$(id -u)" = 0 ]; then
    OWNER=postgres
    id -u "$OWNER" >/dev/null 2>&1 || die "user $OWNER missing (Debian's postgresql creates it)"
    as_owner() { setpriv --reuid="$OWNER" --regid="$OWNER" --init-groups --inh-caps=-all -- "$@"; }
else
    OWNER=$(id -un)
    as_owner() { "$@"; }
fi

pid_of() { # the postmaster's pid when it runs from SRV/data
    local pid
    pid=$(head -n 1 "$SRV/data/postmaster.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SRV/data" || return 1
    echo "$pid"
}

serve() { # start the server in SRV/data with DIR/env's port and socket
    # shellcheck disable=SC1091
    . "$DIR/env"
    as_owner "$BIN/pg_ctl" -D "$SRV/data" -l "$SRV/server.log" -w -t "$START_TIMEOUT" \
        -o "-k $OSP_PG_SOCKET_DIR -p $OSP_PG_PORT -c listen_addresses=127.0.0.1 -c fsync=on" \
        start >/dev/null || {
        tail -n 20 "$SRV/server.log" >&2 || true
        die "server did not start"
    }
    local pid
    pid=$(pid_of) || die "server started but no postmaster.pid"
    sed -i "s/^OSP_PG_PID=.*/OSP_PG_PID=$pid/" "$DIR/env"
}

start() {
    if pid_of >/dev/null; then die "a server of $DIR still runs"; fi
    destroy
    mkdir -p "$DIR"
    rm -f "$DIR/env"
    local sock port pass
    SRV=$(mktemp -d /tmp/osp-pg-srv.XXXXXX)
    ln -sfn "$SRV" "$DIR/srv"
    sock=$(mktemp -d /tmp/osp-pg.XXXXXX)
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pass=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    (umask 077 && printf '%s\n' "$pass" >"$SRV/password")
    chown "$OWNER" "$SRV" "$SRV/password" "$sock"
    chmod 0700 "$SRV" "$sock"
    as_owner "$BIN/initdb" -D "$SRV/data" -U osp --pwfile="$SRV/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log" 2>&1 || {
        tail -n 20 "$DIR/initdb.log" >&2
        rmdir "$sock"
        die "initdb failed"
    }
    rm -f "$SRV/password" # the URL in DIR/env (0600) holds it
    (
        umask 077
        cat >"$DIR/env" <<EOF
OSP_PG_PORT=$port
OSP_PG_URL=postgresql://osp:$pass@127.0.0.1:$port/osprofiler
OSP_PG_SOCKET_URL=postgresql://osp@:$port/osprofiler?host=$sock
OSP_PG_SOCKET_DIR=$sock
OSP_PG_PID=
OSP_PG_DIR=$DIR
OSP_PG_SRV=$SRV
EOF
    )
    serve
    as_owner "$BIN/createdb" -h "$sock" -p "$port" -U osp osprofiler ||
        die "createdb failed"
    cat "$DIR/env"
}

stop() {
    [ -d "$SRV/data" ] || return 0
    local pid
    pid=$(pid_of) || return 0
    as_owner "$BIN/pg_ctl" -D "$SRV/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    if pid=$(pid_of); then
        log "postmaster $pid still alive after pg_ctl stop, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
}

stop_all() { # the server stopped, its socket directory removed
    stop
    if [ -f "$DIR/env" ]; then
        # shellcheck disable=SC1091
        . "$DIR/env"
        [ ! -d "${OSP_PG_SOCKET_DIR:-/nonexistent}" ] || rm -rf "$OSP_PG_SOCKET_DIR"
    fi
}

destroy() { # stopped, and its files gone (SRV under /tmp)
    stop_all
    case $SRV in /tmp/osp-pg-srv.*) rm -rf "$SRV" ;; esac
    rm -f "$DIR/srv"
}

case $CMD in
start) start ;;
stop) stop_all ;;
destroy) destroy ;;
kill9)
    pid=$(pid_of) || die "no server runs in $DIR"
    # its backends too: an orphaned one keeps the shared memory, and a new
    # postmaster refuses to start while it lives
    kids=$(ps -e -o pid=,ppid= | awk -v p="$pid" '$2 == p { print $1 }')
    kill -STOP "$pid" 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
    for _ in $(seq 50); do
        # shellcheck disable=SC2086
        kill -0 "$pid" $kids 2>/dev/null || break
        sleep 0.1
    done
    ;;
again)
    if pid_of >/dev/null; then die "a server of $DIR still runs"; fi
    # shellcheck disable=SC1091
    . "$DIR/env"
    mkdir -p "$OSP_PG_SOCKET_DIR"
    chown "$OWNER" "$OSP_PG_SOCKET_DIR"
    chmod 0700 "$OSP_PG_SOCKET_DIR"
    rm -f "$SRV/data/postmaster.pid" # a kill9'd server's
    serve
    ;;
psql)
    # shellcheck disable=SC1091
    . "$DIR/env"
    as_owner "$BIN/psql" -X -q -h "$OSP_PG_SOCKET_DIR" -p "$OSP_PG_PORT" -U osp -d osprofiler "$@"
    ;;
*) die "unknown command $CMD" ;;
esac
