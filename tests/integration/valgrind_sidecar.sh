#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The sidecar under valgrind memcheck, for the integration tests (passed as
# --sidecar): any memory error or definite leak makes it exit 99, which the
# tests see as a failed stop. Reports go to $OSP_VALGRIND_LOGS/<pid>.log.
# --stats and --test-config calls run unwrapped: nothing to check there.
set -eu
sidecar=${OSP_SIDECAR_BIN:?set OSP_SIDECAR_BIN}
for a in "$@"; do
    case $a in --stats|--test-config) exec "$sidecar" "$@" ;; esac
done
mkdir -p "${OSP_VALGRIND_LOGS:=/tmp/osp-valgrind}"
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-fds=no --log-file="$OSP_VALGRIND_LOGS/%p.log" \
    "$sidecar" "$@"
