#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# campaign.sh FUZZ_BUILD_DIR [RUNS] [MAX_SECONDS] - a longer libFuzzer run of
# every target (clang build with -DOSP_FUZZ=ON), one after another, each
# seeded with tests/fuzz/corpus/<target> and stopped after RUNS executions
# [10000000] or MAX_SECONDS [900]. New inputs stay in a work corpus; a crash
# leaves crash-* files in OUT/<target>/ to turn into corpus files and fixes.
# Prints a markdown table (target, executions, seconds, exec/s, coverage,
# result) for docs/fuzzing.md.
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DOSP_FUZZ=ON
#   cmake --build build-fuzz && tests/fuzz/campaign.sh build-fuzz
set -euo pipefail
BUILD=$(cd "$1" && pwd)
RUNS=${2:-10000000} MAX=${3:-900}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/osp-fuzz-campaign}
TARGETS=${TARGETS:-hop unpack config transport_url notification report spool sidecar_config}
mkdir -p "$OUT"
# A Debug (-O0) build fuzzes at about half the speed of RelWithDebInfo.
if grep -q '^CMAKE_BUILD_TYPE:STRING=Debug$' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "campaign.sh: $BUILD is a Debug build; RelWithDebInfo runs twice as fast" >&2
fi
echo "| target | executions | seconds | exec/s | coverage (edges) | result |"
echo "|---|---|---|---|---|---|"
for t in $TARGETS; do
    bin=$BUILD/tests/fuzz/fuzz_$t
    mkdir -p "$OUT/$t/corpus"
    start=$(date +%s)
    set +e
    (cd "$OUT/$t" && "$bin" -runs="$RUNS" -max_total_time="$MAX" -max_len=8192 \
        -print_final_stats=1 corpus "$HERE/corpus/$t" >log 2>&1)
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$t/log" | tail -1 | cut -d' ' -f2)
    crashes=$(ls "$OUT/$t" | grep -c '^crash-\|^leak-\|^timeout-' || true)
    result="no crash"
    [ "$rc" -eq 0 ] || result="**exit $rc, $crashes artifact(s) in $OUT/$t**"
    echo "| $t | ${execs:-?} | $secs | $(( ${execs:-0} / (secs > 0 ? secs : 1) )) | ${cov:-?} | $result |"
done
