#!/bin/bash
# cli.sample_tree: the sample program writes points to a JSON-lines file and
# "osprofiler trace tree" shows them nested, with the failed driver marked.
set -u
. "$(dirname "$0")/lib.sh"
osp=$1 sample=$2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
ids=$("$sample" --points "$dir/p.jsonl" --requests 2 2>"$dir/err")
check "sample exits 0" 0 $?
check "two traces" 2 "$(printf '%s\n' "$ids" | wc -l)"
check "24 points written" 24 "$(wc -l < "$dir/p.jsonl")"
grep -q "24 points sent, 0 dropped" "$dir/err"; check "sample reports its counters" 0 $?
first=$(printf '%s\n' "$ids" | head -1)
out=$("$osp" trace tree --base-id "$first" "$dir/p.jsonl")
check "tree exit 0" 0 $?
shape=$(printf '%s\n' "$out" | sed -E 's/  \[.*//')
check "tree shape" "trace $first
  wsgi
    db
    db
    rpc
      driver
      driver" "$shape"
printf '%s\n' "$out" | grep -q "driver  \[sample-api\]  [0-9.]* ms  ERROR NoValidHost"
check "failed driver is marked" 0 $?
echo '{"not": "a point"}' >> "$dir/p.jsonl"
"$osp" trace tree "$dir/p.jsonl" >/dev/null 2>"$dir/err2"
grep -q "1 of 25 lines" "$dir/err2"; check "bad lines are reported" 0 $?
# A point named "" (Python publishes "-start"/"-stop" for it) is one node,
# with its duration, not two half points.
b=5e1c7a70-0000-4000-8000-0000000000ee t=5e1c7a70-0000-4000-8000-0000000000ef
for n in start stop; do
    printf '{"name": "-%s", "base_id": "%s", "trace_id": "%s", "parent_id": "%s", "timestamp": "2024-01-01T10:00:00.00%s", "info": {"host": "h"}, "project": null, "service": "s"}\n' \
        "$n" "$b" "$t" "$b" "$([ $n = start ] && echo 1000 || echo 3500)"
done > "$dir/empty.jsonl"
out=$("$osp" trace tree "$dir/empty.jsonl")
check "a point named '' is one node of 2.500 ms" "trace $b
    [s]  2.500 ms" "$out"
"$osp" trace tree --base-id nope "$dir/p.jsonl" >/dev/null 2>&1; check "unknown trace exits 1" 1 $?
finish
