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
"$osp" trace tree --base-id nope "$dir/p.jsonl" >/dev/null 2>&1; check "unknown trace exits 1" 1 $?
finish
