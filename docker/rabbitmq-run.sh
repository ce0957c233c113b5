#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# rabbitmq-run server|health|ctl ARGS... - the entry point of
# docker/rabbitmq.Dockerfile. With --network host the container shares the
# host's ports, so every port is chosen by the environment and everything
# listens on 127.0.0.1 only:
#   RABBITMQ_NODE_PORT  AMQP [5672]
#   RABBITMQ_DIST_PORT  Erlang distribution [AMQP + 20000]
#   ERL_EPMD_PORT       epmd [AMQP + 19000] (the container's own epmd, not
#                       the host's 4369, which another node may hold)
#   RABBITMQ_NODENAME   [rabbit<AMQP>@localhost]
#   RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS  the user made on first
#                       start [guest/guest]; written to the config file in
#                       the container, never to a command line.
# server: write the config and exec the node (pid 1's child-less successor).
# health: exit 0 when the node runs and accepts AMQP (compose healthcheck).
# ctl: rabbitmqctl with the same node name and ports.
set -eu
# port NAME VALUE: VALUE is a TCP port number, or exit with a clear error
port() {
    case $2 in
    '' | *[!0-9]*)
        echo "rabbitmq-run: $1 is not a port number: '$2'" >&2
        exit 2
        ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        echo "rabbitmq-run: $1 = $2 is out of 1..65535 (AMQP + 20000 must fit too)" >&2
        exit 2
    fi
}
port=${RABBITMQ_NODE_PORT:-5672}
port RABBITMQ_NODE_PORT "$port"
dist=${RABBITMQ_DIST_PORT:-$((port + 20000))}
epmd=${ERL_EPMD_PORT:-$((port + 19000))}
port RABBITMQ_DIST_PORT "$dist"
port ERL_EPMD_PORT "$epmd"
export RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" ERL_EPMD_PORT="$epmd"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME="${RABBITMQ_NODENAME:-rabbit$port@localhost}"
data=/var/lib/rabbitmq/data
export RABBITMQ_MNESIA_BASE=$data/mnesia RABBITMQ_LOG_BASE=$data/log
export RABBITMQ_CONFIG_FILE=$data/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$data/enabled_plugins
export RABBITMQ_CONF_ENV_FILE=$data/rabbitmq-env.conf
export RABBITMQ_ADVANCED_CONFIG_FILE=$data/advanced.config
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
bin=/usr/lib/rabbitmq/bin
case "${1:-server}" in
server)
    mkdir -p "$data/log"
    umask 077
    {
        echo "listeners.tcp.1 = 127.0.0.1:$port"
        echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
        echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
        echo "log.console = true"
        echo "log.file = false"
    } > "$data/rabbitmq.conf"
    [ -e "$data/enabled_plugins" ] || echo "[]." > "$data/enabled_plugins"
    unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS
    exec "$bin/rabbitmq-server"
    ;;
health)
    exec "$bin/rabbitmq-diagnostics" -q check_port_connectivity
    ;;
ctl)
    shift
    exec "$bin/rabbitmqctl" "$@"
    ;;
*)
    echo "usage: rabbitmq-run server|health|ctl ARGS..." >&2
    exit 2
    ;;
esac
