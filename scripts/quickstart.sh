#!/bin/bash
# The main job on its embedded default, no broker needed: build, run the
# traced sample service (points go to a local JSON-lines file), print the
# trace as a tree.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p build/demo
rm -f build/demo/points.jsonl
echo "== sample_service: 2 traced requests -> build/demo/points.jsonl"
build/sample_service --points "$PWD/build/demo/points.jsonl" --requests 2
echo "== osprofiler trace tree build/demo/points.jsonl"
build/osprofiler trace tree build/demo/points.jsonl
