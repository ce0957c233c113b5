#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# standalone.paths: no tracked file refers to a path outside the repository
# (golden files or specs kept in a folder beside the clone, the machine's work
# directory), so a fresh clone with nothing beside it builds, tests and
# benchmarks. Prints every offending line; exit 1 if there is one, 77 (skip)
# when SRC is not the top of a git checkout (a source tarball).
#   check_paths.sh SRC
set -u
src=$1
top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) || {
    echo "standalone.paths: $src is not a git checkout: skipped"
    exit 77
}
if [ "$(cd "$top" && pwd -P)" != "$(cd "$src" && pwd -P)" ]; then
    echo "standalone.paths: $src is inside another checkout ($top): skipped"
    exit 77
fi
# Written so that this file does not match itself.
pattern='shared/(golden|spec)|\.\./shared|/wor[k]/'
hits=$(git -C "$src" grep -n -I -E "$pattern" -- . 2>&1)
rc=$?
if [ $rc -eq 1 ]; then
    echo "standalone.paths: no tracked file refers outside the repository" \
        "($(git -C "$src" ls-files | wc -l) files)"
    exit 0
fi
if [ $rc -ne 0 ]; then
    echo "standalone.paths: git grep failed: $hits" >&2
    exit 1
fi
echo "standalone.paths: these tracked lines refer to paths outside the repository" \
    "(cite a doc of the project, keep test data under tests/):" >&2
echo "$hits" >&2
exit 1
