#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# store_pg.sh BUILD_DIR - the PostgreSQL store's batch commit beside raw
# libpq COPY and multi-row INSERT of the same rows (bench/store_pg_raw.c), on
# a private cluster started here (tests/integration/pg.sh) and stopped at the
# end; batches of 100, 500 and 2000, REPS runs each, medians. Writes
# bench/results/store_pg.md and prints it.
#
# Knobs: ROWS [40000] REPS [3] OUT [bench/results/store_pg.md]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
ROWS=${ROWS:-40000} REPS=${REPS:-3} OUT=${OUT:-$SRC/bench/results/store_pg.md}
PG_SH=$SRC/tests/integration/pg.sh
WORK=$(mktemp -d /tmp/osp-store-pg.XXXXXX)
chmod 0711 "$WORK" # pg.sh runs the server as the postgres user when we are root
cleanup() {
    "$PG_SH" stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$PG_SH" start "$WORK/pg" >/dev/null
# the URL holds the cluster's password: it goes through the environment
OSP_PG_URL=$(sed -n 's/^OSP_PG_URL=//p' "$WORK/pg/env")
export OSP_PG_URL
for batch in 100 500 2000; do
    for _ in $(seq "$REPS"); do
        log "batch $batch"
        "$BUILD/bench/store_pg_raw" --rows "$ROWS" --batch "$batch" >>"$WORK/runs.jsonl"
    done
done
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 - "$WORK/runs.jsonl" "$ROWS" "$REPS" >"$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("# PostgreSQL store: %s points a run, %s runs a batch size, medians (points/s)\n"
      % (sys.argv[2], sys.argv[3]))
print("| batch | store (prepare+commit) | commit | raw COPY | raw INSERT | commit / raw COPY |")
print("|---|---|---|---|---|---|")
for b in sorted({r["batch"] for r in runs}):
    rs = [r for r in runs if r["batch"] == b]
    med = lambda k: statistics.median(r[k] for r in rs)
    ratio = statistics.median(r["store_commit_points_per_s"] / r["raw_copy_points_per_s"]
                              for r in rs)
    print("| %d | %.0f | %.0f | %.0f | %.0f | %.2f |" % (
        b, med("store_points_per_s"), med("store_commit_points_per_s"),
        med("raw_copy_points_per_s"), med("raw_insert_points_per_s"), ratio))
PY
cat "$OUT"
