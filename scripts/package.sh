#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the Debian package statusbus_<version>_<arch>.deb: a build tree of
# its own configured for /usr (so that the installed config and systemd unit
# name /etc/statusbus, /usr/share/statusbus and /usr/bin), then
# `cpack -G DEB` (dependencies from dpkg-shlibdeps).  Prints the .deb's path.
#   scripts/package.sh [BUILD_DIR]      default build-deb/
# Install it with `apt install ./statusbus_*.deb` (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-deb}
cmake -S . -B "$B" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=OFF ${SB_CMAKE_ARGS:-} >/dev/null
cmake --build "$B" -j"$(nproc)" >&2
rm -f "$B"/statusbus_*.deb
(cd "$B" && cpack -G DEB >&2)
ls "$B"/statusbus_*.deb
