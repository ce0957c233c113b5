#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# show.sh BUILD_DIR - `osprofiler trace show --json` of one trace of POINTS
# points (default 10000) stored in Redis, the C CLI against Python's
# osprofiler CLI (3.4.3) reading the same keys of the same private
# redis-server, REPS times each (wall time of the whole command, output to a
# file, medians; the runs alternate C and Python after one warm-up run
# each). The two outputs must be identical. Writes
# bench/results/show.md and prints it.
#
# Knobs: POINTS [10000] REPS [5] OUT [bench/results/show.md] KEEP_WORK [0]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_dirs "$@" # BUILD, HERE, SRC
POINTS=${POINTS:-10000} REPS=${REPS:-5} OUT=${OUT:-$SRC/bench/results/show.md}
WORK=$(mktemp -d /tmp/osp-show.XXXXXX)
RS=""
cleanup() {
    stop_pid "$RS" TERM 50
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
RS=$!
for _ in $(seq 100); do /usr/bin/redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
URL=redis://127.0.0.1:$PORT
BASE=3c000000-0000-4000-8000-000000000000
log "Python's redis driver stores $POINTS points of trace $BASE"
/usr/bin/python3 - "$URL" "$BASE" "$POINTS" <<'PY'
import datetime, sys
from oslo_config import cfg
from osprofiler import opts
from osprofiler.drivers import base
conf = cfg.ConfigOpts(); opts.set_defaults(conf); conf([])
d = base.get_driver(sys.argv[1], project="bench", service="api", host="h", conf=conf)
b, n = sys.argv[2], int(sys.argv[3]) // 2
t0 = datetime.datetime(2024, 1, 1, 10, 0, 0)
for i in range(n):
    tid = "%08x-0000-4000-8000-%012d" % (0x40000000 + i, i)
    parent = b if i < 10 else "%08x-0000-4000-8000-%012d" % (0x40000000 + i // 10, i // 10)
    st = t0 + datetime.timedelta(microseconds=i * 50)
    for name, ts in (("db-start", st), ("db-stop", st + datetime.timedelta(microseconds=37))):
        info = {"host": "h"}
        if name == "db-start":
            info["db"] = {"statement": "SELECT * FROM instances WHERE id = %(id)s",
                          "params": {"id": i}}
        d.notify({"name": name, "base_id": b, "trace_id": tid, "parent_id": parent,
                  "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%f"), "info": info})
PY
log "C and Python CLIs, $REPS runs each, interleaved, after one warm-up run each"
/usr/bin/python3 - "$WORK" "$REPS" "$BUILD/osprofiler" "$URL" "$BASE" <<'PY'
import subprocess, sys, time
work, reps, c_bin, url, base = sys.argv[1:]
cmds = {
    "c": [c_bin, "trace", "show", "--connection-string", url, "--json", "--out",
          work + "/c.json", base],
    "py": ["/usr/bin/python3", "-m", "osprofiler.cmd.shell", "trace", "show", base,
           "--connection-string", url, "--json", "--out", work + "/py.json"],
}
times = {"c": [], "py": []}
for i in range(int(reps) + 1):
    for k, cmd in cmds.items():
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=work, stdout=subprocess.DEVNULL)
        if i:  # the first round warms the page cache
            times[k].append(time.perf_counter() - t0)
for k in times:
    with open("%s/%s.times" % (work, k), "w") as f:
        f.write("\n".join("%.6f" % t for t in times[k]) + "\n")
PY
same=no
cmp -s "$WORK/c.json" "$WORK/py.json" && same=yes
/usr/bin/python3 - "$WORK" "$POINTS" "$REPS" "$same" >"$OUT" <<'PY'
import statistics, sys
work, points, reps, same = sys.argv[1:]
c = [float(x) for x in open(work + "/c.times")]
py = [float(x) for x in open(work + "/py.times")]
mc, mp = statistics.median(c), statistics.median(py)
print("# trace show --json: C CLI vs Python CLI, same Redis (bench/show.sh)\n")
print("One trace of %s points stored by Python osprofiler's redis driver in a private "
      "redis-server; whole-command wall time (fork to exit), %s runs each, alternating, after "
      "a warm-up run of each; output to a file." % (points, reps))
print()
print("| CLI | runs (s) | median (s) |\n|---|---|---|")
print("| osprofiler-c `osprofiler trace show --json` | %s | **%.3f** |"
      % (", ".join("%.3f" % x for x in c), mc))
print("| Python osprofiler 3.4.3 `osprofiler trace show --json` | %s | **%.3f** |"
      % (", ".join("%.3f" % x for x in py), mp))
print()
print("Ratio: C is **%.1f×** faster (target ≥ 20×). Outputs identical: **%s**." % (mp / mc, same))
PY
cat "$OUT"
