#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The fleet of docs/scaling.md on one machine, on loopback ports: a 3-node
# NATS cluster (JetStream, MQTT on every node), N statusbus bridges (2 by
# default), each on its own node first with the others to fail over to and
# a unique MQTT client id, HAProxy in front routing by team and
# health-checking /readyz, and the platform simulator publishing to node 1.
# Prints the dashboard URL (through HAProxy) with a development token.
# Ctrl-C stops everything it started, by PID.
#
# Environment:
#   SB_FLEET_PORT          HAProxy port, the one to open (default 8080, or a free one)
#   SB_FLEET_BRIDGES       number of bridges, 1 to 3 (default 2)
#   SB_FLEET_RUN_DIR       configs, JetStream stores, secrets and logs (default run/fleet)
#   SB_FLEET_SKIP_SETUP=1  do not run scripts/setup.sh (the build must exist)
#   SB_FLEET_SIM_ARGS      extra simulator arguments, e.g. "--speed 5"
#   SB_BUILD_DIR           build directory (default build/, as scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=/usr/bin/python3
RUN_NAME=fleet

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '3,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
  exit 0
fi

BUILD_DIR=${SB_BUILD_DIR:-build}
if [ "${SB_FLEET_SKIP_SETUP:-0}" != 1 ]; then
  echo "fleet: running scripts/setup.sh (packages and build; the first time takes a few minutes)" >&2
  scripts/setup.sh
fi
RUN=${SB_FLEET_RUN_DIR:-$ROOT/run/fleet}
mkdir -p "$RUN/logs" "$RUN/secrets" "$RUN/conf"
RUN=$(cd "$RUN" && pwd)
LOGS=$RUN/logs
PIDS_FILE=$RUN/fleet.pids
# shellcheck source=scripts/run-lib.sh
. "$ROOT/scripts/run-lib.sh"

BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || die "no build directory $BUILD_DIR (run scripts/setup.sh)"
BRIDGE_BIN=$BUILD_DIR/statusbus-bridge
[ -x "$BRIDGE_BIN" ] || die "$BRIDGE_BIN is not built (run scripts/setup.sh)"
for c in nats-server haproxy setsid "$PY"; do
  command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"
done
N=${SB_FLEET_BRIDGES:-2}
[[ "$N" =~ ^[1-3]$ ]] || die "SB_FLEET_BRIDGES must be 1, 2 or 3"
if [ -s "$PIDS_FILE" ]; then
  while read -r name pid; do
    alive "$pid" && die "a fleet for $RUN already runs ($name, pid $pid): stop it with Ctrl-C, or: kill $(awk '{printf "%s ", $2}' "$PIDS_FILE")"
  done <"$PIDS_FILE"
fi
: >"$PIDS_FILE"

# ---- ports and configs --------------------------------------------------------------------
pick_port haproxy "${SB_FLEET_PORT:-}" 8080; LB_PORT=$PORT
NODES=""
for i in 1 2 3; do
  pick_port "n$i client" "" $((4221 + i)); c=$PORT
  pick_port "n$i monitor" "" $((8221 + i)); h=$PORT
  pick_port "n$i cluster" "" $((6221 + i)); k=$PORT
  pick_port "n$i mqtt" "" $((1882 + i)); m=$PORT
  NODES="$NODES${NODES:+,}{\"client\":$c,\"http\":$h,\"cluster\":$k,\"mqtt\":$m}"
done
BRIDGES=""
for ((i = 1; i <= N; i++)); do
  pick_port "bridge b$i" "" $((8180 + i))
  BRIDGES="$BRIDGES${BRIDGES:+,}$PORT"
done
SB_DEMO_RUN_DIR=$RUN SB_BUILD_DIR=$BUILD_DIR scripts/dev-init.sh 2>"$LOGS/dev-init.log" ||
  { cat "$LOGS/dev-init.log" >&2; die "scripts/dev-init.sh failed"; }
cat >"$RUN/conf/plan.json" <<EOF2
{"host": "127.0.0.1", "run": "$RUN", "nodes": [$NODES], "bridges": [$BRIDGES],
 "haproxy": $LB_PORT, "jwt_secret_file": "$RUN/secrets/jwt.secret",
 "static_dir": "$ROOT/examples/dashboard", "client_id_prefix": "statusbus-fleet"}
EOF2
"$PY" scripts/fleet_config.py "$RUN/conf/plan.json" "$RUN/conf" >/dev/null
plan() { "$PY" -c "import json, sys; p = json.load(open('$RUN/conf/plan.json')); print($1)"; }

# ---- processes ----------------------------------------------------------------------------
# newest first: simulator, haproxy, bridges (they drain), nodes
on_exit_stop 30 "$PIDS_FILE" "$RUN/simulator.ready"

NODE_PIDS=()
for i in 1 2 3; do
  start "n$i" nats-server -c "$RUN/conf/n$i.conf"
  NODE_PIDS+=("$!")
done
for i in 1 2 3; do
  # JetStream is up and the cluster has its meta leader
  wait_until "n$i" 60 "${NODE_PIDS[$((i - 1))]}" http_ok "http://127.0.0.1:$(plan "p['nodes'][$((i - 1))]['http']")/healthz"
done
BRIDGE_PIDS=()
for ((i = 1; i <= N; i++)); do
  start "bridge-b$i" "$BRIDGE_BIN" -c "$RUN/conf/bridge-b$i.json"
  BRIDGE_PIDS+=("$!")
done
for ((i = 1; i <= N; i++)); do
  wait_until "bridge-b$i" 60 "${BRIDGE_PIDS[$((i - 1))]}" http_ok "http://127.0.0.1:$(plan "p['bridges'][$((i - 1))]")/readyz"
done
start haproxy haproxy -db -f "$RUN/conf/haproxy.cfg"
LB_PID=$!
wait_until haproxy 15 "$LB_PID" http_ok "http://127.0.0.1:$LB_PORT/readyz"
rm -f "$RUN/simulator.ready"
# shellcheck disable=SC2086 # SB_FLEET_SIM_ARGS is a list of words
start simulator "$PY" "$ROOT/examples/simulator/simulate.py" --host 127.0.0.1 \
  --port "$(plan "p['nodes'][0]['mqtt']")" --users u1,dev --cleanup \
  --ready-file "$RUN/simulator.ready" ${SB_FLEET_SIM_ARGS:-}
SIM_PID=$!
sim_ready() { [ -s "$RUN/simulator.ready" ]; }
wait_until simulator 60 "$SIM_PID" sim_ready

TOKEN=$(cat "$RUN/dev.token")
BUS="ws%3A%2F%2F127.0.0.1%3A$LB_PORT%2Fv1%2Fws%3Fteam%3D42"
cat <<EOF2

statusbus fleet is running: 3 NATS nodes, $N bridge(s), HAProxy, the simulator.

  dashboard:  http://127.0.0.1:$LB_PORT/?team=42&token=$TOKEN&bus=$BUS
  websocket:  ws://127.0.0.1:$LB_PORT/v1/ws?team=42   (HAProxy routes by team)
  token:      $RUN/dev.token (user dev, teams 42,43,acme)
  bridges:    $(for ((i = 1; i <= N; i++)); do printf 'b%d http://127.0.0.1:%s/readyz  ' "$i" "$(plan "p['bridges'][$((i - 1))]")"; done)
  nats mqtt:  $(for i in 0 1 2; do printf 'n%d 127.0.0.1:%s  ' $((i + 1)) "$(plan "p['nodes'][$i]['mqtt']")"; done)
  pids:       $(awk '{printf "%s %s  ", $1, $2}' "$PIDS_FILE")

try a failover:  kill -9 <pid of n2>   (b2 moves to the next node; until n2 is back
                 NATS refuses new subscriptions: docs/scaling.md)
try a drain:     kill -TERM <pid of bridge-b1>   (its clients move to b2 through HAProxy)

Press Ctrl-C to stop everything.
EOF2

while true; do
  wait -n "${PIDS[@]}" 2>/dev/null || true
  for ((i = 0; i < ${#PIDS[@]}; i++)); do
    if ! alive "${PIDS[$i]}" && [ "${NAMES[$i]}" != simulator ] && [ -z "${REPORTED[$i]:-}" ]; then
      REPORTED[$i]=1
      say "${NAMES[$i]} (pid ${PIDS[$i]}) exited; the rest keeps running (log $LOGS/${NAMES[$i]}.log)"
    fi
  done
  alive_any=0
  for p in "${PIDS[@]}"; do alive "$p" && alive_any=1; done
  [ "$alive_any" = 1 ] || die "every process has exited"
  sleep 1
done
