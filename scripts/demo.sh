#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's first command: on a fresh Debian 12 machine, install and build
# statusbus (scripts/setup.sh), make a broker directory (scripts/broker-init.sh),
# then run Mosquitto, statusbus-bridge and the platform simulator on loopback
# ports, wait until they are ready, and print the dashboard URL with a
# development token.  Ctrl-C stops everything it started, by PID.
#
# Environment:
#   SB_DEMO_PORT           bridge HTTP/WebSocket port (default 8080, or a free one)
#   SB_DEMO_MQTT_PORT      broker plain port on 127.0.0.1 (default 1883, or a free one)
#   SB_DEMO_TLS_PORT       broker TLS port, client certificates (default 8883, or free)
#   SB_DEMO_TLS_PASSWORD_PORT  broker TLS port, passwords (default 8884, or free)
#   SB_DEMO_RUN_DIR        where generated config, secrets and logs go (default run/)
#   SB_DEMO_SKIP_SETUP=1   do not run scripts/setup.sh (the build must exist)
#   SB_DEMO_SIM_ARGS       extra simulator arguments, e.g. "--speed 5"
#   SB_BUILD_DIR           build directory (default build/, as scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=/usr/bin/python3

RUN_NAME=demo
# shellcheck source=scripts/run-lib.sh
. "$ROOT/scripts/run-lib.sh"   # say, die, pick_port, start, stop_pid, wait_until

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '3,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
  exit 0
fi

# ---- build --------------------------------------------------------------------------
BUILD_DIR=${SB_BUILD_DIR:-build}
if [ "${SB_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  say "running scripts/setup.sh (packages and build; the first time takes a few minutes)"
  scripts/setup.sh
fi
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || die "no build directory $BUILD_DIR (run scripts/setup.sh)"
BRIDGE_BIN=$BUILD_DIR/statusbus-bridge
TOKEN_BIN=$BUILD_DIR/statusbus-token
for b in "$BRIDGE_BIN" "$TOKEN_BIN"; do
  [ -x "$b" ] || die "$b is not built (run scripts/setup.sh)"
done
for c in mosquitto mosquitto_passwd openssl setsid "$PY"; do
  command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"
done

# ---- run directory and ports -----------------------------------------------------------
RUN=${SB_DEMO_RUN_DIR:-$ROOT/run}
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
BROKER=$RUN/broker
LOGS=$RUN/logs
mkdir -p "$LOGS" "$RUN/secrets"
chmod 700 "$RUN/secrets"

if [ -f "$BROKER/mosquitto.pid" ]; then
  old=$(tr -dc 0-9 <"$BROKER/mosquitto.pid")
  if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = mosquitto ]; then
    hint="kill $old"
    [ ! -s "$RUN/demo.pids" ] || hint="kill $(awk '{printf "%s ", $2}' "$RUN/demo.pids")"
    die "a broker for $RUN already runs (pid $old): another demo is running, or one was killed
      without cleaning up. Stop it with Ctrl-C, or: $hint"
  fi
fi

pick_port bridge "${SB_DEMO_PORT:-}" 8080; HTTP_PORT=$PORT
pick_port mqtt "${SB_DEMO_MQTT_PORT:-}" 1883; MQTT_PORT=$PORT
pick_port mqtt-tls "${SB_DEMO_TLS_PORT:-}" 8883; TLS_PORT=$PORT
pick_port mqtt-tls-password "${SB_DEMO_TLS_PASSWORD_PORT:-}" 8884; TLS_PW_PORT=$PORT

# ---- broker directory, secrets, bridge config ---------------------------------------------
scripts/broker-init.sh "$BROKER" --port "$MQTT_PORT" --tls-port "$TLS_PORT" \
  --tls-password-port "$TLS_PW_PORT" 2>"$LOGS/broker-init.log" ||
  { cat "$LOGS/broker-init.log" >&2; die "broker-init.sh failed"; }
DEVICE=demo-device-42
if [ ! -f "$BROKER/acl.d/$DEVICE.acl" ]; then
  scripts/broker-add-device.sh "$BROKER" --team 42 --server "$(cat /proc/sys/kernel/random/uuid)" \
    --name "$DEVICE" --cert >/dev/null 2>>"$LOGS/broker-init.log" ||
    { cat "$LOGS/broker-init.log" >&2; die "broker-add-device.sh failed"; }
fi

# the dev secret and token, as the README's scripts/dev-init.sh makes them
SB_DEMO_RUN_DIR=$RUN SB_BUILD_DIR=$BUILD_DIR scripts/dev-init.sh 2>>"$LOGS/broker-init.log" ||
  die "scripts/dev-init.sh failed"
JWT_SECRET=$RUN/secrets/jwt.secret

STATIC_DIR=$ROOT/examples/dashboard
[ -d "$STATIC_DIR" ] || { say "no examples/dashboard yet: the bridge serves no dashboard"; STATIC_DIR=""; }
"$PY" - "$ROOT/examples/bridge.json" "$RUN/bridge.json" <<EOF
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["mqtt"].update(uri="tcp://127.0.0.1:$MQTT_PORT", client_id="statusbus-demo",
                   username="bridge", password_file="$BROKER/secrets/bridge.password")
cfg["mqtt"].pop("password", None)
cfg["listen"].update(host="127.0.0.1", port=$HTTP_PORT, static_dir="$STATIC_DIR" or None)
cfg["auth"].update(jwt_alg="HS256", jwt_secret=None, jwt_secret_file="$JWT_SECRET")
cfg["schemas_dir"] = "$ROOT/schemas"
with open(sys.argv[2], "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
EOF

# ---- processes -----------------------------------------------------------------------
# Each child gets its own session (setsid, same PID): a Ctrl-C at the terminal
# reaches only this script, which then stops them in order.
PIDS_FILE=$RUN/demo.pids
: >"$PIDS_FILE"
# newest first: the simulator clears its deployments while the broker
# still runs, the bridge closes its clients with 1001, then the broker
on_exit_stop 20 "$PIDS_FILE" "$RUN/simulator.ready"

healthy() { http_ok "http://127.0.0.1:$HTTP_PORT/healthz"; }

start mosquitto mosquitto -c "$BROKER/mosquitto.conf"
MOSQ_PID=$!
wait_until mosquitto 15 "$MOSQ_PID" tcp_open "$MQTT_PORT"

start bridge "$BRIDGE_BIN" -c "$RUN/bridge.json"
BRIDGE_PID=$!
wait_until bridge 30 "$BRIDGE_PID" healthy

rm -f "$RUN/simulator.ready"
# shellcheck disable=SC2086 # SB_DEMO_SIM_ARGS is a list of words
start simulator "$PY" "$ROOT/examples/simulator/simulate.py" --host 127.0.0.1 --port "$MQTT_PORT" \
  --username backend --password-file "$BROKER/secrets/backend.password" --users u1,dev \
  --cleanup --ready-file "$RUN/simulator.ready" ${SB_DEMO_SIM_ARGS:-}
SIM_PID=$!
sim_ready() { [ -s "$RUN/simulator.ready" ]; }
wait_until simulator 60 "$SIM_PID" sim_ready

# ---- token and what to open ---------------------------------------------------------------
TOKEN=$(cat "$RUN/dev.token")

REL_RUN=$RUN
case "$RUN" in "$ROOT"/*) REL_RUN=${RUN#"$ROOT"/} ;; esac
REL_BROKER=$REL_RUN/broker
cat <<EOF

statusbus demo is running (teams 42, 43 and acme are simulated).

  dashboard:  http://127.0.0.1:$HTTP_PORT/?token=$TOKEN&team=42
  websocket:  ws://127.0.0.1:$HTTP_PORT/v1/ws   (subprotocol statusbus.v1)
  token:      $TOKEN
              (user dev, teams 42,43,acme, 24 h; also in $REL_RUN/dev.token)

watch a channel from a shell:
  $PY examples/simulator/watch.py ws://127.0.0.1:$HTTP_PORT/v1/ws --token-file $REL_RUN/dev.token team.42

subscribe on MQTT directly, as the device $DEVICE of team 42 (TLS, client certificate):
  mosquitto_sub -h localhost -p $TLS_PORT --cafile $REL_BROKER/ca/ca.crt \\
    --cert $REL_BROKER/devices/$DEVICE/$DEVICE.crt --key $REL_BROKER/devices/$DEVICE/$DEVICE.key \\
    -v -t 'team/42/#'
  (another device: scripts/broker-add-device.sh $REL_BROKER --team 43 --server <uuid> --cert)

publish as a backend job:
  mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT -u backend -P "\$(cat $REL_BROKER/secrets/backend.password)" \\
    -q 1 -r -t team/42/app/00000000-0000-4000-8000-000000000042/status \\
    -m '{"ts":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","status":"degraded","name":"hand-made"}'

  mqtt:  127.0.0.1:$MQTT_PORT (plain, loopback)   tls: $TLS_PORT (certificates), $TLS_PW_PORT (passwords)
  pids:  mosquitto $MOSQ_PID, bridge $BRIDGE_PID, simulator $SIM_PID  ($REL_RUN/demo.pids)
  logs:  $LOGS/

Press Ctrl-C to stop everything.
EOF

# ---- run until Ctrl-C, or until the broker or the bridge dies -------------------------------
SIM_REPORTED=0
while true; do
  if [ "$SIM_REPORTED" = 0 ]; then
    wait -n "$MOSQ_PID" "$BRIDGE_PID" "$SIM_PID" 2>/dev/null || true
  else
    wait -n "$MOSQ_PID" "$BRIDGE_PID" 2>/dev/null || true
  fi
  if ! alive "$MOSQ_PID"; then
    tail -n 20 "$LOGS/mosquitto.log" >&2 || true
    die "mosquitto exited (log above)"
  fi
  if ! alive "$BRIDGE_PID"; then
    tail -n 20 "$LOGS/bridge.log" >&2 || true
    die "the bridge exited (log above)"
  fi
  if ! alive "$SIM_PID" && [ "$SIM_REPORTED" = 0 ]; then
    SIM_REPORTED=1
    say "the simulator has finished; the broker and the bridge keep running (Ctrl-C stops them)"
  fi
done
