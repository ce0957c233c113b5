#!/bin/bash
# Every test: installs what is needed, builds, runs the whole suite (unit,
# abi, fuzz corpora, cli, live interop with Debian's python3-osprofiler), then
# the same again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
run() { # run BUILD_DIR [cmake args...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DOSP_WERROR=ON -DOSP_TEST_INTEROP=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}
echo "== build-test: RelWithDebInfo"
run build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build-asan: AddressSanitizer + UndefinedBehaviorSanitizer"
run build-asan -DCMAKE_BUILD_TYPE=Debug -DOSP_SANITIZE=address,undefined
