#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# check-fresh-clone.sh - does a fresh clone, with nothing beside it, pass the
# README's test command?
#
#   scripts/check-fresh-clone.sh [--keep] [-- COMMAND ARGS...]
#
# Clones HEAD of this repository (`git clone --no-local`: a real copy, no
# hard links, no alternates) into an empty temporary directory, so no file
# outside the repository can be reached by a relative path, and runs
# COMMAND there (default: scripts/test.sh, what README.md and .ci/run run).
# Only committed files are in the clone. The environment is passed on, so
# CTEST_ARGS (honoured by scripts/test.sh) narrows the suite, e.g.
#   CTEST_ARGS='-R golden' scripts/check-fresh-clone.sh
# The command's output goes to a log; on failure the script prints where the
# clone was, which stage and which tests failed, and the log's last lines.
# Afterwards (also on failure or Ctrl-C) it stops what the command left
# running (its process group; brokers the suite started under the clone)
# and removes the directory, unless --keep. Exit status: the command's.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd -P)
keep=false
if [ "${1:-}" = --keep ]; then
    keep=true
    shift
fi
[ "${1:-}" = -- ] && shift
[ $# -eq 0 ] && set -- scripts/test.sh

head=$(git -C "$here" rev-parse HEAD) || exit 1
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
    echo "check-fresh-clone: uncommitted changes are not in the clone (testing $head)" >&2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/osp-fresh-clone.XXXXXX") || exit 1
clone=$tmp/osprofiler-c
log=$tmp/run.log
pid=

# shellcheck disable=SC2317 # called through the trap
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null # the command's own process group
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null
    fi
    # broker.sh nodes run in sessions of their own: stop them by their DIR.
    for d in "$clone"/build*/broker; do
        [ -f "$d/pids" ] && "$clone/tests/integration/broker.sh" stop "$d" >/dev/null 2>&1
    done
    if $keep; then
        echo "check-fresh-clone: kept $clone (log: $log)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'echo "check-fresh-clone: interrupted" >&2; exit 130' INT TERM

echo "check-fresh-clone: cloning $head into $clone"
if ! git clone -q --no-local "$here" "$clone" >"$log" 2>&1 ||
    ! git -C "$clone" checkout -q --detach "$head" >>"$log" 2>&1; then
    echo "check-fresh-clone: the clone failed:" >&2
    cat "$log" >&2
    exit 1
fi
echo "check-fresh-clone: running '$*' in $clone (log: $log)"
start=$(date +%s)
# Job control puts the command in a process group of its own (its pid), so
# cleanup can stop everything it started, and nothing else.
set -m
(cd "$clone" && exec "$@") >"$log" 2>&1 </dev/null &
pid=$!
set +m
wait "$pid"
rc=$?
pid=
took=$(($(date +%s) - start))
if [ $rc -eq 0 ]; then
    echo "check-fresh-clone: '$*' passed in the fresh clone ($took s)"
    grep -E '^(== |[0-9]+% tests passed)' "$log"
    exit 0
fi
echo "check-fresh-clone: '$*' FAILED in $clone, exit $rc after $took s" >&2
stage=$(grep '^== ' "$log" | tail -1)
[ -n "$stage" ] && echo "  last stage: $stage" >&2
if grep -q 'The following tests FAILED' "$log"; then
    sed -n '/The following tests FAILED/,/^Errors while running/p' "$log" >&2
fi
echo "  last lines of the log:" >&2
tail -n 40 "$log" | sed 's/^/  | /' >&2
$keep || echo "  (the clone and its log are removed; --keep keeps them)" >&2
exit $rc
