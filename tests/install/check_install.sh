#!/bin/bash
# install.consumer: `cmake --install` lays out a tree that a program can build
# against with pkg-config and with find_package(osprofiler).
set -euo pipefail
build=$1 src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(realpath "$(dirname "$(find "$tmp/prefix" -name osprofiler.pc)")/..")
test -f "$tmp/prefix/include/osprofiler/osprofiler.h"
test -f "$tmp/prefix/include/osprofiler/export.h"
test -f "$tmp/prefix/etc/osprofiler-c/profiler.conf.example"
# programs, their man pages, the sidecar's config and systemd unit
test -x "$tmp/prefix/bin/osprofiler"
test -x "$tmp/prefix/bin/osprofiler-sidecar"
test -f "$tmp/prefix/etc/osprofiler-c/osprofiler-sidecar.conf"
test -f "$tmp/prefix/lib/systemd/system/osprofiler-sidecar.service"
for m in osprofiler osprofiler-sidecar; do
    page=$(find "$tmp/prefix" -path "*/man1/$m.1")
    grep -q '^\.TH' "$page"
    grep -q -- '--transport-url\|trace show' "$page"
done
"$tmp/prefix/bin/osprofiler-sidecar" --config "$tmp/prefix/etc/osprofiler-c/osprofiler-sidecar.conf" \
    --store "sqlite:///$tmp/t.db" --test-config >/dev/null

# pkg-config (the .pc file is relocatable)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc "$src/consumer.c" -o "$tmp/pc-consumer" \
   $(pkg-config --cflags --libs osprofiler)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"

# find_package
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.22)
project(consumer C)
find_package(osprofiler 0.1 REQUIRED)
add_executable(consumer $src/consumer.c)
target_link_libraries(consumer PRIVATE osp::osp)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cm/build/consumer"
echo "install.consumer: pkg-config and find_package consumers built and ran"
