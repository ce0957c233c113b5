#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# docker.recorded_run: the Docker test (tests/docker/run.sh, slow, needs root
# and deb.debian.org) ran, and passed, on docker/ as it is now. run.sh
# records the hash of docker/ in tests/docker/last-run.txt; this compares.
#   test_recorded_run.sh          check (exit 1 with what to do when stale)
#   test_recorded_run.sh --hash   print the hash of docker/ now
# The hash covers what the image builds take from docker/ and .dockerignore
# (the build context's filter): every file there, tracked or not (ignored ones
# excepted), by path, executable bit (what git keeps of the mode, whatever
# the umask) and content. The rest of the source tree is left out on purpose:
# the programs have their own tests.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
record=$src/tests/docker/last-run.txt
hash_docker() {
    (
        cd "$src"
        { git ls-files -co --exclude-standard -- docker .dockerignore || find docker .dockerignore -type f; } |
            LC_ALL=C sort -u | while read -r f; do
            [ -f "$f" ] && printf '%s %s %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$([ -x "$f" ] && echo x || echo -)" "$f"
        done | sha256sum | cut -d' ' -f1
    )
}
if [ "${1:-}" = --hash ]; then
    hash_docker
    exit 0
fi
now=$(hash_docker)
[ -n "$now" ] || { echo "docker.recorded_run: could not hash docker/" >&2; exit 1; }
rec=$(sed -n 's/^docker_hash=//p' "$record" 2>/dev/null || true)
if [ "$rec" != "$now" ]; then
    echo "docker.recorded_run: docker/ changed since the last recorded Docker test run" >&2
    echo "  recorded: ${rec:-none} ($record)" >&2
    echo "  now:      $now" >&2
    echo "  run (as root, with deb.debian.org reachable): tests/docker/run.sh" >&2
    echo "  or configure with -DOSP_TEST_DOCKER=ON and run ctest -R docker.image;" >&2
    echo "  then commit tests/docker/last-run.txt with the change" >&2
    exit 1
fi
echo "docker.recorded_run: docker/ matches the run of $(sed -n 's/^date=//p' "$record")"
