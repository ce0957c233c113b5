#!/bin/bash
# The benchmarks (not tests), each measuring its reference (Python osprofiler,
# LTTng-UST, raw rabbitmq-c, raw SQLite or hiredis) in the same run and
# reporting ratios (bench/README.md):
#   scripts/bench.sh             start/stop pair cost with the real sidecar vs LTTng-UST and Python -> bench/results/pairs.md
#   scripts/bench.sh throughput  sidecar throughput, latency, RSS -> bench/results/throughput.md
#   scripts/bench.sh outage      60 s broker outage at 10k points/s -> bench/results/outage.md
#   scripts/bench.sh show        trace show --json, 10k points from Redis, C vs Python -> bench/results/show.md
#   scripts/bench.sh store       sidecar store writer into SQLite/Redis vs raw -> bench/results/store.md
#   scripts/bench.sh pg          PostgreSQL store commit vs raw libpq COPY/INSERT -> bench/results/store_pg.md
#   scripts/bench.sh mysql       MariaDB store commit vs raw libmariadb INSERTs -> bench/results/store_mysql.md
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DOSP_BUILD_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
case "${1:-pairs}" in
pairs) exec /usr/bin/python3 bench/pairs.py build-bench ;;
throughput) exec bench/throughput.sh build-bench ;;
outage) exec bench/outage.sh build-bench ;;
show) exec bench/show.sh build-bench ;;
store) exec bench/store.sh build-bench ;;
pg | mysql) ENGINE=$1 exec bench/store_sql.sh build-bench ;;
*) echo "usage: $0 [pairs|throughput|outage|show|store|pg|mysql]" >&2; exit 2 ;;
esac
