#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# mysql.sh - a private MariaDB server on 127.0.0.1 for tests and benchmarks.
#
#   mysql.sh start  DIR   fresh server (any earlier one of DIR destroyed), prints DIR/env
#   mysql.sh stop   DIR   stop it (idempotent, exit 0 when gone)
#   mysql.sh destroy DIR  stop it and remove its files
#   mysql.sh kill9  DIR   SIGKILL the server (a crash)
#   mysql.sh again  DIR   start the stopped server again, same port and data
#   mysql.sh sql    DIR ARGS...  the mariadb client as root over the socket
#
# Debian's mariadb-server. mariadbd refuses to run as root unless told a
# user: when root, the server runs as the `mysql` system user the package
# creates (--user=mysql) and DIR is made that user's. /etc/mysql is not read
# (--no-defaults); the server's character set is Debian's default
# (utf8mb4), which Python's create_all inherits. User `osp` (TCP and
# socket), a random password (in DIR/env, 0600; set by an SQL file fed to
# the client on stdin, never on a command line), database `osprofiler`.
# root has no password and is reachable on the socket only (a 0700
# directory of its own under /tmp: a socket path is limited to 107 bytes,
# a build tree's is not). The port is a free one chosen at start. DIR/env:
#
#   OSP_MYSQL_PORT=3306
#   OSP_MYSQL_URL=mysql+pymysql://osp:PASSWORD@127.0.0.1:3306/osprofiler
#   OSP_MYSQL_SOCKET=/tmp/osp-my.XXXX/sock
#   OSP_MYSQL_PID=12345
#   OSP_MYSQL_DIR=/abs/DIR
#   OSP_MYSQL_SRV=/tmp/osp-my-srv.XXXX
#
# The data, pid file and log are in DIR/srv, a link to a 0700 directory of
# the server user's under /tmp (it may not enter DIR). Stopping sends SIGTERM
# to the pid in DIR/srv/mysqld.pid, only if /proc/PID/cmdline names that
# data directory, so a recycled pid is never hit.
set -euo pipefail

START_TIMEOUT=${OSP_MYSQL_START_TIMEOUT:-60}
ME=mysql.sh
log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
    log "$*"
    exit 1
}
[ $# -ge 2 ] || {
    sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
CMD=$1
DIR=$(realpath -m "$2")
shift 2
# The server's own files (data, pid, log) live in SRV, a private directory
# under /tmp that DIR/srv points to: the server's user must reach them, and
# it may not be able to enter DIR (a build tree under a 0700 directory).
SRV=$(readlink "$DIR/srv" 2>/dev/null || echo /nonexistent)
[ -x /usr/sbin/mariadbd ] || die "no MariaDB server found (Debian's mariadb-server package)"

if [ "$(id -u)" = 0 ]; then
    OWNER=mysql
    id -u "$OWNER" >/dev/null 2>&1 || die "user $OWNER missing (Debian's mariadb-server creates it)"
else
    OWNER=$(id -un)
fi

pid_of() { # the server's pid when it runs from SRV/data
    local pid
    pid=$(head -n 1 "$SRV/mysqld.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SRV/data" || return 1
    echo "$pid"
}

client() { # the mariadb client as root over the socket
    # shellcheck disable=SC1091
    . "$DIR/env"
    mariadb --no-defaults --protocol=socket --socket="$OSP_MYSQL_SOCKET" -u root "$@"
}

serve() { # start the server in SRV/data with DIR/env's port and socket
    # shellcheck disable=SC1091
    . "$DIR/env"
    rm -f "$SRV/mysqld.pid"
    setsid /usr/sbin/mariadbd --no-defaults --user="$OWNER" --datadir="$SRV/data" \
        --skip-networking=0 --bind-address=127.0.0.1 --port="$OSP_MYSQL_PORT" \
        --socket="$OSP_MYSQL_SOCKET" --pid-file="$SRV/mysqld.pid" \
        --log-error="$SRV/server.log" --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_general_ci --innodb-buffer-pool-size=64M \
        --skip-name-resolve --max-connections=200 </dev/null >/dev/null 2>&1 &
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if mariadb-admin --no-defaults --protocol=socket --socket="$OSP_MYSQL_SOCKET" \
            -u root --connect-timeout=2 ping >/dev/null 2>&1 && pid_of >/dev/null; then
            sed -i "s/^OSP_MYSQL_PID=.*/OSP_MYSQL_PID=$(pid_of)/" "$DIR/env"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$SRV/server.log" >&2 || true
    die "server did not start"
}

start() {
    if pid_of >/dev/null; then die "a server of $DIR still runs"; fi
    destroy
    mkdir -p "$DIR"
    rm -f "$DIR/env" "$DIR/init.sql" "$DIR/password"
    local sock port pass
    SRV=$(mktemp -d /tmp/osp-my-srv.XXXXXX)
    ln -sfn "$SRV" "$DIR/srv"
    sock=$(mktemp -d /tmp/osp-my.XXXXXX)
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pass=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    chown "$OWNER" "$SRV" "$sock"
    chmod 0700 "$SRV" "$sock"
    mariadb-install-db --no-defaults --user="$OWNER" --datadir="$SRV/data" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$DIR/install.log" 2>&1 || {
        tail -n 20 "$DIR/install.log" >&2
        rmdir "$sock"
        die "mariadb-install-db failed"
    }
    (
        umask 077
        cat >"$DIR/env" <<EOF
OSP_MYSQL_PORT=$port
OSP_MYSQL_URL=mysql+pymysql://osp:$pass@127.0.0.1:$port/osprofiler
OSP_MYSQL_SOCKET=$sock/sock
OSP_MYSQL_PID=
OSP_MYSQL_DIR=$DIR
OSP_MYSQL_SRV=$SRV
EOF
        cat >"$DIR/init.sql" <<EOF
CREATE USER 'osp'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER 'osp'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON *.* TO 'osp'@'127.0.0.1';
GRANT ALL ON *.* TO 'osp'@'localhost';
CREATE DATABASE osprofiler;
EOF
    )
    serve
    client <"$DIR/init.sql" || die "creating user osp failed"
    rm -f "$DIR/init.sql"
    cat "$DIR/env"
}

stop() {
    local pid i
    pid=$(pid_of) || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "mariadbd $pid still alive 30 s after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
}

stop_all() { # the server stopped, its socket directory removed
    stop
    if [ -f "$DIR/env" ]; then
        # shellcheck disable=SC1091
        . "$DIR/env"
        local sock
        sock=$(dirname "${OSP_MYSQL_SOCKET:-/nonexistent/x}")
        [ ! -d "$sock" ] || rm -rf "$sock"
    fi
}

destroy() { # stopped, and its files gone (SRV under /tmp)
    stop_all
    case $SRV in /tmp/osp-my-srv.*) rm -rf "$SRV" ;; esac
    rm -f "$DIR/srv"
}

case $CMD in
start) start ;;
stop) stop_all ;;
destroy) destroy ;;
kill9)
    pid=$(pid_of) || die "no server runs in $DIR"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    ;;
again)
    if pid_of >/dev/null; then die "a server of $DIR still runs"; fi
    # shellcheck disable=SC1091
    . "$DIR/env"
    sock=$(dirname "$OSP_MYSQL_SOCKET")
    mkdir -p "$sock"
    chown "$OWNER" "$sock"
    chmod 0700 "$sock"
    serve
    ;;
sql) client "$@" ;;
*) die "unknown command $CMD" ;;
esac
