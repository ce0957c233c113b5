#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# build.sh DESTDIR - the one build recipe of the images: install the build
# dependencies (Debian 12), build osprofiler-c in Release mode and install it
# under DESTDIR with prefix /usr/local. The Dockerfile's build stage runs it;
# so does the test docker.build_script, which checks what lands in DESTDIR
# and that the runtime stage's package list covers every library it links.
set -euo pipefail
dest=${1:?usage: build.sh DESTDIR}
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/deps.sh" build
build=${OSP_DOCKER_BUILD_DIR:-$src/build-docker}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DOSP_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
DESTDIR=$dest cmake --install "$build" >/dev/null
# the runtime image runs as this user; its state lives in /var/lib/osprofiler
install -d -m 0750 "$dest/var/lib/osprofiler" "$dest/run/osprofiler"
install -d -m 0700 "$dest/var/lib/osprofiler/spool"
echo "build.sh: installed into $dest"
