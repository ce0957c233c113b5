#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# sidecar.sample_config: etc/osprofiler-sidecar.conf shows every option of the
# sidecar's option table with the table's default, commented out
# ("#name = value"), once, and sets none; uncommented it is a valid
# configuration. The descriptions in between are written by hand.
set -euo pipefail
sidecar=$1 conf=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
"$sidecar" --print-sample-config >"$tmp/table"
[ -s "$tmp/table" ] || { echo "sample_config: --print-sample-config printed nothing"; exit 1; }
grep -E '^#[a-z_]+ = ' "$conf" >"$tmp/file" || true
if ! diff -u <(sort "$tmp/table") <(sort "$tmp/file") >"$tmp/diff"; then
    echo "sample_config: $conf and the option table (src/sidecar/config.c) disagree"
    echo "(- the table's default, missing or different in the file; + only in the file):"
    grep -E '^[-+]#' "$tmp/diff" || true
    fail=1
fi
if dups=$(cut -d' ' -f1 "$tmp/file" | sort | uniq -d) && [ -n "$dups" ]; then
    echo "sample_config: shown more than once:" $dups
    fail=1
fi
# an option the file sets would win over an oslo_config import
if grep -nE '^[[:space:]]*[a-z_]+[[:space:]]*=' "$conf"; then
    echo "sample_config: the lines above set options; show defaults commented out"
    fail=1
fi
# uncommented, the sample is a configuration the sidecar accepts as it is
sed -E 's/^#([a-z_]+ = )/\1/' "$conf" >"$tmp/all.conf"
if ! "$sidecar" --config "$tmp/all.conf" --store "sqlite:///$tmp/t.db" --test-config \
    >"$tmp/out" 2>&1; then
    echo "sample_config: the sample, uncommented, is refused:"; cat "$tmp/out"
    fail=1
fi
[ $fail -eq 0 ] && echo "sample_config: $(wc -l <"$tmp/table") options, as the table has them"
exit $fail
