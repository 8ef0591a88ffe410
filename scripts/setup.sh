#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs everything statusbus needs on a fresh Debian 12 machine and builds
# it into build/.  Safe to run again: it installs only what is missing.
#   scripts/setup.sh            build deps + build
#   SB_SETUP_BROWSER=1 ...      also chromium and the npm test packages
#   SB_SETUP_CADDY=1 ...        also caddy, for the Caddy half of test_proxy.py
#                               (on a host with systemd its package starts a
#                               web server on port 80, as nginx's does)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PKGS=(build-essential cmake pkg-config git
      libpaho-mqtt-dev mosquitto mosquitto-clients libwebsockets-dev
      libwebsockets-evlib-ev libev-dev
      libcjson-dev libssl-dev openssl libcmocka-dev libpcre2-dev
      zlib1g-dev   # permessage-deflate (bridge/domain/ws_deflate.c)
      clang libclang-rt-dev llvm
      python3 python3-pytest python3-websockets python3-paho-mqtt
      python3-jwt python3-cryptography python3-jsonschema json-schema-test-suite
      nodejs npm
      file man-db systemd nginx    # packaging, man pages, systemd-analyze, the proxy test
      nats-server haproxy)         # scripts/fleet.sh and the fleet test (docs/scaling.md)
if [ "${SB_SETUP_BROWSER:-0}" = 1 ]; then
  PKGS+=(chromium)
fi
if [ "${SB_SETUP_CADDY:-0}" = 1 ]; then
  PKGS+=(caddy)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere (nodesource, nvm): accept them on PATH
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  # Packages with a daemon (mosquitto, nginx, ...) must not start it
  # system-wide on their default ports (1883, 80 on every interface):
  # the tests and the demo start their own on loopback.  A policy-rc.d
  # that answers 101 tells invoke-rc.d "not now" (Debian policy §9.3.3);
  # only ours is removed afterwards.
  policy=/usr/sbin/policy-rc.d
  ours=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && ours=1
  fi
  rc=0
  { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } || rc=$?
  [ -z "$ours" ] || $SUDO rm -f "$policy"
  [ "$rc" = 0 ] || exit "$rc"
fi

# npm packages for the JS client, browser and Pusher tests (lockfile-pinned)
if [ -f tests/package.json ]; then
  (cd tests && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
                else npm install --no-audit --no-fund --loglevel=error; fi) >&2
fi

BUILD_DIR=${SB_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${SB_BUILD_TYPE:-RelWithDebInfo} \
  ${SB_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
