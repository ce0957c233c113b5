#!/bin/bash
# install.consumer: `cmake --install` lays out a tree that a program can build
# against with pkg-config and with find_package(osprofiler), shared and static.
# A shared consumer needs jansson's development files only (osprofiler.h
# includes jansson.h): the openssl and uuid ones are hidden from it.
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

# The systemd unit names the program, config and docs of its own prefix.
unit_paths() { # UNIT: the program, config and docs it names, one a line
    sed -n 's|^ExecStart=\([^ ]*\) --config \([^ ]*\)$|\1\n\2|p' "$1"
    sed -n 's|^Documentation=file://\(.*\)$|\1|p' "$1"
}
unit=$tmp/prefix/lib/systemd/system/osprofiler-sidecar.service
! grep -q @ "$unit" || fail "unit has unreplaced @VARS@: $(grep @ "$unit")"
[ "$(unit_paths "$unit" | wc -l)" -eq 3 ] || fail "unit: ExecStart or Documentation: $(cat "$unit")"
for p in $(unit_paths "$unit"); do
    case $p in "$tmp/prefix/"*) ;; *) fail "unit names $p, outside $tmp/prefix" ;; esac
    test -e "$p" || fail "unit names $p, which is not installed"
done
[ "$(unit_paths "$unit" | head -1)" = "$tmp/prefix/bin/osprofiler-sidecar" ] ||
    fail "ExecStart is not the installed sidecar"
grep -qx "EnvironmentFile=-$tmp/prefix/etc/osprofiler-c/osprofiler-sidecar.env" "$unit" ||
    fail "unit: EnvironmentFile (OSPROFILER_TRANSPORT_URL) not under the prefix: $(grep Environment "$unit")"
# with DESTDIR (packaging): the unit names the prefix, not the staging tree
DESTDIR=$tmp/stage cmake --install "$build" --prefix /opt/osp >/dev/null
[ "$(unit_paths "$tmp/stage/opt/osp/lib/systemd/system/osprofiler-sidecar.service" |
     head -2 | tr '\n' ' ')" = "/opt/osp/bin/osprofiler-sidecar /opt/osp/etc/osprofiler-c/osprofiler-sidecar.conf " ] ||
    fail "DESTDIR install: $(grep ExecStart "$tmp/stage/opt/osp/lib/systemd/system/osprofiler-sidecar.service")"
test -f "$tmp/stage/opt/osp/etc/osprofiler-c/osprofiler-sidecar.conf"
no_libosprofiler_needed() { # a static consumer carries the library itself
    ! readelf -d "$1" | grep -q 'NEEDED.*libosprofiler'
}

# A pkg-config search path holding only jansson.pc: the development files of
# the library's private dependencies are "not installed".
mkdir "$tmp/pc-public"
ln -s "$(pkg-config --variable=pcfiledir jansson)/jansson.pc" "$tmp/pc-public/"
hidden() { PKG_CONFIG_LIBDIR="$tmp/pc-public" "$@"; }
for m in openssl libcrypto uuid; do
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

# find_package: one consumer project, linked to the target given in OSP_TARGET
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.22)
project(consumer C)
find_package(osprofiler 0.1 REQUIRED \${OSP_COMPONENTS})
if(NOT DEFINED OSP_EXPECT_STATIC OR NOT osprofiler_static_FOUND STREQUAL OSP_EXPECT_STATIC)
  message(FATAL_ERROR "osprofiler_static_FOUND is '\${osprofiler_static_FOUND}'")
endif()
add_executable(consumer $src/consumer.c)
target_link_libraries(consumer PRIVATE \${OSP_TARGET})
CM
consumer_cmake() { # DIR ARGS...: configure and build the consumer in DIR
    local dir=$1; shift
    cmake -S "$tmp/cm" -B "$dir" -DCMAKE_PREFIX_PATH="$tmp/prefix" "$@" >"$dir.log" 2>&1 &&
        cmake --build "$dir" >>"$dir.log" 2>&1
}
# shared, with OpenSSL and uuid not findable: osp::osp still builds
hidden consumer_cmake "$tmp/cm/shared" -DOSP_TARGET=osp::osp -DOSP_EXPECT_STATIC=FALSE \
    -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON || fail "find_package, shared: $(cat "$tmp/cm/shared.log")"
LD_LIBRARY_PATH="$libdir" "$tmp/cm/shared/consumer"
# asking for the static component then fails, naming what is missing
if hidden consumer_cmake "$tmp/cm/nostatic" -DOSP_TARGET=osp::osp_static \
    -DOSP_EXPECT_STATIC=FALSE -DOSP_COMPONENTS="COMPONENTS;static" \
    -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON; then
    fail "find_package(osprofiler COMPONENTS static) succeeded without OpenSSL"
fi
grep -q 'osp::osp_static needs.*OpenSSL::Crypto' "$tmp/cm/nostatic.log" ||
    fail "no reason given: $(cat "$tmp/cm/nostatic.log")"
# static, everything findable
consumer_cmake "$tmp/cm/static" -DOSP_TARGET=osp::osp_static -DOSP_EXPECT_STATIC=TRUE \
    -DOSP_COMPONENTS="COMPONENTS;static" || fail "find_package, static: $(cat "$tmp/cm/static.log")"
no_libosprofiler_needed "$tmp/cm/static/consumer" || fail "cmake static consumer needs the .so"
"$tmp/cm/static/consumer"
echo "install.consumer: pkg-config and find_package consumers built and ran (shared with" \
    "only jansson's files, static with all)"
