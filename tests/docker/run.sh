#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh [DIR] - the Docker test (issue 13), offline: no registry is used.
#
#  1. starts a private dockerd: data root, exec root, socket and pid file in
#     DIR [build-docker-engine/ of the source tree], --bridge=none, no
#     iptables; containers use --network host and loopback only;
#  2. builds the base image osprofiler-c/debian:bookworm with debootstrap
#     (minbase) from http://deb.debian.org and `docker import` - only when the
#     data root lacks it (it is the cache);
#  3. builds osprofiler-c (docker/Dockerfile) and osprofiler-c/rabbitmq
#     (docker/rabbitmq.Dockerfile, Debian's rabbitmq-server) on that base;
#  4. runs tests/docker/test_image.py: `docker run` and docker/compose.yaml
#     (Debian's docker-compose 1.29), a traced command, its points checked;
#  5. on success writes tests/docker/last-run.txt (hash of docker/, date,
#     durations, versions) - commit it: the always-on test
#     docker.recorded_run fails while docker/ differs from the recorded run;
#  6. stops dockerd by the pid in DIR/pid, also on failure (trap).
#
# Needs root (debootstrap, dockerd), Debian's docker.io, debootstrap and
# docker-compose (scripts/deps.sh docker), python3-amqp (scripts/deps.sh
# test), and HTTP access to deb.debian.org (the apt steps of debootstrap and
# of the image builds).
# OSP_HOST_CLI=PATH also runs a traced command on the host with that
# osprofiler CLI. OSP_DOCKER_RECORD=0: do not write last-run.txt.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-$src/build-docker-engine}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
DOCKER=${OSP_DOCKER:-/usr/bin/docker} # the docker.io client, whatever else is on PATH
BASE=osprofiler-c/debian:bookworm
MIRROR=${OSP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SLOW=${OSP_TEST_TIMEOUT_MULTIPLIER:-1}
export DOCKER_HOST=unix://$DIR/docker.sock
export OSP_DOCKER=$DOCKER DOCKER_BUILDKIT=0
log() { printf 'run.sh: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root (dockerd, debootstrap)"
for t in /usr/sbin/dockerd "$DOCKER" /usr/sbin/debootstrap /usr/bin/docker-compose; do
    [ -x "$t" ] || die "$t missing: scripts/deps.sh docker"
done
/usr/bin/python3 -c 'import amqp' 2>/dev/null || die "python3-amqp missing: scripts/deps.sh test"

# ------------------------------------------------------------------ dockerd
# ours PID: PID is a live dockerd started with this DIR's pid file.
ours() {
    [[ "${1:-}" =~ ^[0-9]+$ ]] && { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null |
        grep -qF -- "--pidfile $DIR/pid"
}
engine_stop() {
    local pid n
    pid=$(cat "$DIR/pid" 2>/dev/null || true)
    ours "$pid" || return 0
    kill -TERM "$pid"
    # dockerd stops its containers (10 s each at most) and its containerd
    for ((n = 0; n < 600; n++)); do
        ours "$pid" || break
        sleep 0.1
    done
    if ours "$pid"; then
        log "dockerd $pid still runs after 60 s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # the bind mount of the host's network namespace dockerd leaves behind
    if mountpoint -q "$DIR/exec/netns/default" 2>/dev/null; then
        umount "$DIR/exec/netns/default" || true
    fi
}
engine_start() {
    local n
    engine_stop # a leftover of an interrupted run
    setsid /usr/sbin/dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" \
        --pidfile "$DIR/pid" --host "$DOCKER_HOST" --bridge=none --iptables=false \
        --ip6tables=false > "$DIR/dockerd.log" 2>&1 < /dev/null &
    for ((n = 0; n < 600 * SLOW; n++)); do
        "$DOCKER" version > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -20 "$DIR/dockerd.log" >&2
    die "dockerd did not answer on $DOCKER_HOST within $((60 * SLOW)) s"
}
# dockerd runs in its own session, so a kill of this script's process group
# misses it: TERM/INT/HUP end here through the EXIT trap, and a leftover of a
# SIGKILLed run is stopped by the next run's engine_start.
trap engine_stop EXIT
trap 'exit 143' TERM INT HUP

# ------------------------------------------------------------------ images
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
base_image() {
    local root=$DIR/rootfs t
    if "$DOCKER" image inspect "$BASE" > /dev/null 2>&1; then
        T_DEBOOTSTRAP=cached
        return 0
    fi
    t=$(now)
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 ||
        { tail -20 "$DIR/debootstrap.log" >&2; die "debootstrap failed"; }
    # updates and security fixes, from the same mirror host; no package lists
    # or caches in the image (apt-get update runs in every build step)
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
        "$MIRROR" "$MIRROR" "$MIRROR" > "$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" --numeric-owner -c . |
        "$DOCKER" import -c 'CMD ["/bin/bash"]' -m "debootstrap --variant=minbase bookworm $MIRROR" - "$BASE" > /dev/null
    rm -rf "$root"
    T_DEBOOTSTRAP=$(since "$t")
}
build() { # NAME SECONDS-VAR DOCKERFILE CONTEXT
    local t
    t=$(now)
    "$DOCKER" build --network host --build-arg BASE="$BASE" -f "$3" -t "$1" "$4" > "$DIR/build-${1//\//_}.log" 2>&1 ||
        { tail -30 "$DIR/build-${1//\//_}.log" >&2; die "docker build $1 failed"; }
    printf -v "$2" %s "$(since "$t")"
}

# hash of what the image builds read from docker/ (tests/docker/recorded_run.sh)
hash_docker() { "$src/tests/docker/test_recorded_run.sh" --hash; }

t0=$(now)
engine_start
base_image
build osprofiler-c T_IMAGE "$src/docker/Dockerfile" "$src"
build osprofiler-c/rabbitmq T_RABBITMQ "$src/docker/rabbitmq.Dockerfile" "$src/docker"
t=$(now)
/usr/bin/python3 "$src/tests/docker/test_image.py" "$src"
T_TEST=$(since "$t")
if [ "${OSP_DOCKER_RECORD:-1}" != 0 ]; then
    {
        echo "# tests/docker/run.sh: the last successful run (docker.recorded_run compares docker_hash)"
        echo "docker_hash=$(hash_docker)"
        echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        # the sources the image was built from (a dirty tree says so)
        echo "source=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"
        echo "docker=$("$DOCKER" version -f 'server {{.Server.Version}} client {{.Client.Version}}')"
        echo "docker_compose=$(docker-compose version --short)"
        echo "image_size_MB=$("$DOCKER" image inspect -f '{{.Size}}' osprofiler-c | awk '{printf "%.0f", $1 / 1e6}')"
        echo "rabbitmq_image_size_MB=$("$DOCKER" image inspect -f '{{.Size}}' osprofiler-c/rabbitmq | awk '{printf "%.0f", $1 / 1e6}')"
        echo "seconds_debootstrap_import=$T_DEBOOTSTRAP"
        echo "seconds_build_osprofiler_c=$T_IMAGE"
        echo "seconds_build_rabbitmq=$T_RABBITMQ"
        echo "seconds_test=$T_TEST"
        echo "seconds_total=$(since "$t0")"
    } > "$src/tests/docker/last-run.txt"
    log "recorded in tests/docker/last-run.txt: commit it"
fi
log "passed"
