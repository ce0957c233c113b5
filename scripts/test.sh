#!/bin/bash
# Every test: installs what is needed, builds, runs the whole suite (unit,
# abi, fuzz corpora, cli, install, live interop with Debian's
# python3-osprofiler, the sidecar against a private RabbitMQ node it starts
# and stops itself, the sidecar's integration tests again with the sidecar
# under valgrind memcheck), then the same under AddressSanitizer +
# UndefinedBehaviorSanitizer, the unit tests and the sidecar's integration
# tests (its three threads, under load) under ThreadSanitizer, and finally
# both quick-start modes of the README.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
run() { # run BUILD_DIR [cmake args...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DOSP_WERROR=ON -DOSP_TEST_INTEROP=ON -DOSP_TEST_BROKER=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" ${CTEST_ARGS:-}
}
echo "== build-test: RelWithDebInfo"
run build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSP_TEST_VALGRIND=ON
echo "== build-asan: AddressSanitizer + UndefinedBehaviorSanitizer"
run build-asan -DCMAKE_BUILD_TYPE=Debug -DOSP_SANITIZE=address,undefined
echo "== build-tsan: ThreadSanitizer (unit tests, and the sidecar's integration tests; time bounds x10)"
OSP_TEST_TIMEOUT_MULTIPLIER=10 CTEST_ARGS="-L unit|integration" \
    run build-tsan -DCMAKE_BUILD_TYPE=Debug -DOSP_SANITIZE=thread
echo "== secrets: no test log of any build holds a password or key the tests used"
# integration.secrets drives these through every path; here the whole
# suite's recorded output (CTest logs, valgrind reports) is searched too.
secrets='Brk-S3cret-7fd2|Hmac-S3cret-91ac|Rds-S3cret-c044|s3cr%t-pw|s3cr%25t-pw'
if grep -rlE "$secrets" build-test/Testing build-asan/Testing build-tsan/Testing \
       build-test/valgrind 2>/dev/null; then
    echo "a secret reached a log (files above)" >&2
    exit 1
fi
echo "secrets: none in $(find build-test/Testing build-asan/Testing build-tsan/Testing \
    build-test/valgrind -type f 2>/dev/null | wc -l) log files"
echo "== quick start, both modes (README)"
for m in "" --rabbitmq; do
    scripts/quickstart.sh $m >build-test/quickstart$m.out
    grep -q 'sample-api:driver - ' build-test/quickstart$m.out
    grep -q 'id="osp-report"' build/demo/trace.html
done
grep -q "12 notifications in queue profiler.info" build-test/quickstart--rabbitmq.out
echo "quick start: ok"
