#!/bin/bash
# The benchmark (not a test): C start/stop pairs beside the Python reference
# in one run, ratios in bench/results/latest.md. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target bench_pairs bench_receiver >/dev/null
exec bench/run.sh build-bench
