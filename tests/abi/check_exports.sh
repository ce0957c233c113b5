#!/bin/sh
# abi.exports: the shared library exports exactly the symbols listed in
# src/lib/libosprofiler.sym (hidden visibility + version script).
set -eu
lib=$1
expected=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' |
         grep -v '^OSPROFILER_' | sort -u)
if [ "$actual" = "$(sort -u "$expected")" ]; then
    echo "abi.exports: $(printf '%s\n' "$actual" | wc -l) symbols as expected"
    exit 0
fi
echo "abi.exports: exported symbols differ from $expected (< expected, > actual):"
printf '%s\n' "$actual" | diff "$expected" - || true
exit 1
