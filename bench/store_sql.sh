#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# store_sql.sh BUILD_DIR - a SQL store's batch commit (Python's sqlalchemy
# layout) beside the engine's own client library writing the same rows, on a
# private server started here and stopped at the end; batches of 100, 500
# and 2000, REPS runs each, medians. ENGINE=pg (bench/store_pg_raw: raw
# libpq COPY and multi-row INSERT, tests/integration/pg.sh) or ENGINE=mysql
# (bench/store_mysql_raw: raw libmariadb multi-row INSERT and one row a
# statement, tests/integration/mysql.sh). Writes bench/results/store_ENGINE.md
# and prints it.
#
# Knobs: ENGINE [pg] ROWS [40000] REPS [3] OUT [bench/results/store_$ENGINE.md]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
ENGINE=${ENGINE:-pg} ROWS=${ROWS:-40000} REPS=${REPS:-3}
OUT=${OUT:-$SRC/bench/results/store_$ENGINE.md}
case $ENGINE in
pg) SERVER_SH=$SRC/tests/integration/pg.sh URL_VAR=OSP_PG_URL RAW=store_pg_raw
    REFS="raw_copy raw_insert" ;;
mysql) SERVER_SH=$SRC/tests/integration/mysql.sh URL_VAR=OSP_MYSQL_URL RAW=store_mysql_raw
    REFS="raw_insert raw_single_row" ;;
*) echo "ENGINE must be pg or mysql" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/osp-store-sql.XXXXXX)
cleanup() {
    "$SERVER_SH" destroy "$WORK/server" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$SERVER_SH" start "$WORK/server" >/dev/null
# the URL holds the server's password: it goes through the environment
export "$URL_VAR=$(sed -n "s/^$URL_VAR=//p" "$WORK/server/env")"
for batch in 100 500 2000; do
    for _ in $(seq "$REPS"); do
        log "$ENGINE batch $batch"
        "$BUILD/bench/$RAW" --rows "$ROWS" --batch "$batch" >>"$WORK/runs.jsonl"
    done
done
mkdir -p "$(dirname "$OUT")"
# shellcheck disable=SC2086 # REFS: one argument a reference
/usr/bin/python3 - "$WORK/runs.jsonl" "$ROWS" "$REPS" "$ENGINE" $REFS >"$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rows, reps, engine, refs = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
print("# %s store: %s points a run, %s runs a batch size, medians (points/s)\n"
      % (engine, rows, reps))
print("| batch | store (prepare+commit) | commit | %s | commit / %s |"
      % (" | ".join(r.replace("_", " ") for r in refs), refs[0].replace("_", " ")))
print("|---|---|---|%s---|" % ("---|" * len(refs)))
for b in sorted({r["batch"] for r in runs}):
    rs = [r for r in runs if r["batch"] == b]
    med = lambda k: statistics.median(r[k] for r in rs)
    ratio = statistics.median(r["store_commit_points_per_s"] / r[refs[0] + "_points_per_s"]
                              for r in rs)
    print("| %d | %.0f | %.0f | %s | %.2f |" % (
        b, med("store_points_per_s"), med("store_commit_points_per_s"),
        " | ".join("%.0f" % med(r + "_points_per_s") for r in refs), ratio))
PY
cat "$OUT"
