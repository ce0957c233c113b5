#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# docker.build_script: what the Dockerfile's build stage does (docker/build.sh)
# lays out a working tree, and the runtime stage's package list provides every
# shared library the installed programs link.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OSP_DOCKER_BUILD_DIR=$tmp/build "$src/docker/build.sh" "$tmp/out" >/dev/null
out=$tmp/out/usr/local
for f in bin/osprofiler bin/osprofiler-sidecar etc/osprofiler-c/osprofiler-sidecar.conf \
         include/osprofiler/osprofiler.h share/man/man1/osprofiler-sidecar.1; do
    test -e "$out/$f" || { echo "missing $f" >&2; exit 1; }
done
test -d "$tmp/out/var/lib/osprofiler/spool"
"$out/bin/osprofiler" --version >/dev/null
"$out/bin/osprofiler-sidecar" --config "$out/etc/osprofiler-c/osprofiler-sidecar.conf" \
    --store "sqlite:///$tmp/t.db" --test-config >/dev/null
# every library the programs link comes from RUNTIME_PACKAGES (or libc6)
want=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"/\1/p' "$src/docker/Dockerfile")
missing=""
# The libraries the programs name themselves (DT_NEEDED), where ldd finds
# them: apt installs what those packages depend on in turn.
direct_libs() {
    local bin soname
    for bin in "$@"; do
        for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            ldd "$bin" | awk -v so="$soname" '$1 == so && $2 == "=>" {print $3}'
        done
    done | sort -u
}
for lib in $(direct_libs "$out/bin/osprofiler" "$out/bin/osprofiler-sidecar"); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
    pkg=${pkg%%:*}
    case " $want libc6 " in *" $pkg "*) ;; *) missing="$missing $lib(${pkg:-?})" ;; esac
done
if [ -n "$missing" ]; then
    echo "docker/Dockerfile RUNTIME_PACKAGES lacks:$missing" >&2
    exit 1
fi
grep -q '^USER osprofiler' "$src/docker/Dockerfile"
echo "docker.build_script: layout, programs and runtime packages ok"
