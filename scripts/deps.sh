#!/bin/bash
# Install the Debian packages osprofiler-c needs.
#   deps.sh build   - to build the library, CLI and examples
#   deps.sh test    - also what the tests talk to (real Python osprofiler, cmocka)
#   deps.sh bench   - also the references: the Python stack, RabbitMQ, Redis,
#                     LTTng-UST
#   deps.sh docker  - also the Docker engine, debootstrap and docker-compose
#                     (tests/docker: images built from Debian, run offline)
# apt-get runs only when something is missing, so a prepared machine needs no
# network. Uses sudo when not root.
set -euo pipefail
want=(build-essential cmake pkg-config libjansson-dev uuid-dev libssl-dev
      librabbitmq-dev libconfuse-dev libsqlite3-dev libhiredis-dev help2man
      libpq-dev libmicrohttpd-dev libmariadb-dev)
case "${1:-build}" in
build) ;;
test) want+=(libcmocka-dev python3 python3-osprofiler python3-webob clang-format
            python3-oslo.messaging python3-amqp rabbitmq-server openssl
            ceilometer-agent-notification python3-yaml redis-server python3-redis
            chromium python3-websocket valgrind python3-graphviz
            postgresql python3-sqlalchemy python3-psycopg2 prometheus
            mariadb-server python3-pymysql) ;;
bench) want+=(libcmocka-dev python3 python3-osprofiler python3-webob python3-oslo.messaging
              rabbitmq-server redis-server python3-redis lttng-tools liblttng-ust-dev
              postgresql python3-psycopg2 mariadb-server) ;;
docker) want+=(docker.io debootstrap docker-compose) ;;
*) echo "usage: $0 build|test|bench|docker" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps.sh: installing ${missing[*]}"
# Packaged daemons (rabbitmq-server) must not start as system services: the
# tests run private instances. policy-rc.d 101 tells invoke-rc.d "not now".
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
    $SUDO chmod +x $policy
    trap '$SUDO rm -f $policy' EXIT
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
