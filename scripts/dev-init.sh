#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What a clone needs before `build/statusbus-bridge --check-config -c
# examples/bridge.json` passes and a client can say hello: the development
# HS256 secret examples/bridge.json names (run/secrets/jwt.secret, made
# once, as scripts/demo.sh makes it) and a development token signed with it
# (run/dev.token: user dev, teams 42, 43 and acme, 24 h; made again on every
# run).  Needs the build (scripts/setup.sh).
#   scripts/dev-init.sh            then: TOKEN=$(cat run/dev.token)
# Environment: SB_DEMO_RUN_DIR (default run/), SB_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${SB_DEMO_RUN_DIR:-run}
TOKEN_BIN=${SB_BUILD_DIR:-build}/statusbus-token
[ -x "$TOKEN_BIN" ] || { echo "dev-init: $TOKEN_BIN is not built (run scripts/setup.sh)" >&2; exit 1; }

mkdir -p "$RUN/secrets"
chmod 700 "$RUN/secrets"
SECRET=$RUN/secrets/jwt.secret
if [ ! -s "$SECRET" ]; then
  (umask 077 && openssl rand -hex 32 | tr -d '\n' >"$SECRET")
  echo "dev-init: made $SECRET" >&2
fi
(umask 077 && "$TOKEN_BIN" --secret-file "$SECRET" --sub dev --teams 42,43,acme \
  --channels 'deploy.*,deploy.*.logs' --ttl 86400 >"$RUN/dev.token")
echo "dev-init: made $RUN/dev.token (user dev, teams 42,43,acme, 24 h): TOKEN=\$(cat $RUN/dev.token)" >&2
