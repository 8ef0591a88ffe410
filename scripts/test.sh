#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's test command: set up a fresh Debian 12 machine, build with
# -Werror and ASan+UBSan (SB_SANITIZE= to turn them off) and the fuzz
# targets (clang), run every CTest (unit, integration, js, browser, fuzz).
# Extra args go to ctest, e.g.
#   scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
export SB_SETUP_BROWSER=1
export SB_BUILD_DIR=${SB_BUILD_DIR:-build-test}
export SB_CMAKE_ARGS="-DSB_WERROR=ON -DSB_SANITIZE=${SB_SANITIZE-address,undefined} -DSB_FUZZ=ON ${SB_CMAKE_ARGS:-}"
scripts/setup.sh
cd "$SB_BUILD_DIR"
ctest --output-on-failure --timeout 600 -j2 "$@"
