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
# every linked library comes from RUNTIME_PACKAGES (or libc6)
want=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"/\1/p' "$src/docker/Dockerfile")
missing=""
for lib in $(ldd "$out/bin/osprofiler" "$out/bin/osprofiler-sidecar" | awk '/=>/ {print $3}' | sort -u); do
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
