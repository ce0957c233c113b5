#!/bin/bash
# install.consumer: `cmake --install` lays out a tree that a program can build
# against with pkg-config (shared and static) and with find_package(osprofiler).
# A shared pkg-config consumer needs jansson's development files only
# (osprofiler.h includes jansson.h): the openssl, uuid and inih ones are hidden.
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

fail() { echo "install.consumer: $*" >&2; exit 1; }
no_libosprofiler_needed() { # a static consumer carries the library itself
    ! readelf -d "$1" | grep -q 'NEEDED.*libosprofiler'
}

# A pkg-config search path holding only jansson.pc: the development files of
# the library's private dependencies are "not installed".
mkdir "$tmp/pc-public"
ln -s "$(pkg-config --variable=pcfiledir jansson)/jansson.pc" "$tmp/pc-public/"
hidden() { PKG_CONFIG_LIBDIR="$tmp/pc-public" "$@"; }
for m in openssl libcrypto uuid inih; do
    ! hidden pkg-config --exists "$m" || fail "$m.pc is not hidden"
done

# pkg-config, shared (the .pc file is relocatable)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ -z "$(hidden pkg-config --print-requires-private osprofiler)" ] ||
    fail "osprofiler.pc has Requires.private"
flags=$(hidden pkg-config --cflags --libs osprofiler) ||
    fail "pkg-config --cflags --libs osprofiler needs more than jansson.pc"
cc "$src/consumer.c" -o "$tmp/pc-consumer" $flags
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"

# pkg-config, static: a copy of the install without the shared library, every
# .pc file findable; --static adds Libs.private
cp -a "$tmp/prefix" "$tmp/static"
rm -f "$tmp"/static/lib*/libosprofiler.so*
slibdir=$(realpath "$(dirname "$(find "$tmp/static" -name osprofiler.pc)")/..")
flags=$(PKG_CONFIG_PATH="$slibdir/pkgconfig" pkg-config --static --cflags --libs osprofiler)
cc "$src/consumer.c" -o "$tmp/pc-static-consumer" $flags
no_libosprofiler_needed "$tmp/pc-static-consumer" || fail "pc static consumer needs the .so"
"$tmp/pc-static-consumer"

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
echo "install.consumer: pkg-config (shared with only jansson's files, static with all) and" \
    "find_package consumers built and ran"
