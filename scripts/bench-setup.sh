#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs what bench/compare.sh needs beyond scripts/setup.sh: nginx with the
# nchan module (the reference server of the comparison), taskset (util-linux)
# and procps.  They are not in setup.sh's list because only the benchmark uses
# them.  Safe to run again: it installs only what is missing.  It does not
# build; run scripts/setup.sh (or cmake) for that.
#
# On a machine with an init system, Debian starts the packaged nginx on
# port 80 when it is installed; compare.sh never uses that instance (it runs
# its own nginx with a generated config on a free loopback port), so stop or
# disable it if you do not want it: `systemctl disable --now nginx`.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PKGS=(nginx libnginx-mod-nchan mosquitto libpaho-mqtt-dev util-linux procps)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench-setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# the module package drops a load_module line into modules-enabled; compare.sh
# loads the .so by path itself, so it only checks that the file is there
mod=$(ls /usr/lib/nginx/modules/ngx_nchan_module.so 2>/dev/null || true)
if [ -z "$mod" ]; then
  echo "bench-setup: ngx_nchan_module.so not found under /usr/lib/nginx/modules" >&2
  exit 1
fi
echo "bench-setup: nginx $(nginx -v 2>&1 | sed 's/.*\///'), nchan module $mod" >&2
