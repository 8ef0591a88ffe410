# SPDX-License-Identifier: MIT
#
# Shared by scripts that run a set of processes on loopback ports until
# Ctrl-C (scripts/fleet.sh): port picking, starting children in their own
# session, waiting for readiness with a deadline, stopping by PID.
# Source it after setting RUN_NAME (the prefix of messages), LOGS (the log
# directory), PIDS_FILE and PY.  Nothing here kills by name.

say() { echo "$RUN_NAME: $*" >&2; }
die() { echo "$RUN_NAME: $*" >&2; exit 1; }

port_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
TAKEN=" "
taken() { [[ "$TAKEN" == *" $1 "* ]]; }
# pick_port name env-value default: sets PORT to env-value (which must be
# free), else to default if free, else to any free port
pick_port() {
  if [ -n "$2" ]; then
    port_free "$2" && ! taken "$2" || die "$1 port $2 is busy"
    PORT=$2
  else
    PORT=$3
    while taken "$PORT" || ! port_free "$PORT"; do
      PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    done
    [ "$PORT" = "$3" ] || say "port $3 is busy; $1 uses $PORT"
  fi
  TAKEN="$TAKEN$PORT "
}

NAMES=() PIDS=()
# start name command...: in its own session (setsid, same PID), so that a
# Ctrl-C at the terminal reaches only the script, which stops it in order
start() {
  local name=$1
  shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  NAMES+=("$name")
  PIDS+=("$!")
  echo "$name $!" >>"$PIDS_FILE"
  say "started $name (pid $!), log $LOGS/$name.log"
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid name pid timeout: SIGTERM, then SIGKILL after timeout seconds
stop_pid() {
  local deadline=$((SECONDS + $3))
  alive "$2" || return 0
  kill -TERM "$2" 2>/dev/null || return 0
  while alive "$2"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$1 (pid $2) did not stop in $3 s; killing it"
      kill -KILL "$2" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$2" 2>/dev/null || true
}

# stop_all timeout: every started process, newest first
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${NAMES[$i]}" "${PIDS[$i]}" "$1"
  done
}

# wait_until name timeout pid command...: until command succeeds; dies
# with the tail of the log when the process exits or the time is up
wait_until() {
  local what=$1 deadline=$((SECONDS + $2)) pid=$3
  shift 3
  until "$@"; do
    if ! alive "$pid"; then
      tail -n 30 "$LOGS/$what.log" >&2 || true
      die "$what exited during start-up (log above, full log $LOGS/$what.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$LOGS/$what.log" >&2 || true
      die "$what not ready after $2 s"
    fi
    sleep 0.2
  done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# http_ok url: 200
http_ok() {
  "$PY" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)' "$1"
}

# on_exit_stop timeout file...: installs the EXIT/INT/TERM traps that stop
# every started process (newest first, stop_all timeout) and remove the
# files, keeping the script's exit code
STOPPING=0
on_exit_stop() {
  STOP_TIMEOUT=$1
  shift
  STOP_FILES=("$@")
  trap run_lib_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
run_lib_cleanup() {
  local rc=$?
  [ "$STOPPING" = 0 ] || return 0
  STOPPING=1
  trap - INT TERM
  if [ "${#PIDS[@]}" -gt 0 ]; then
    say "stopping ${NAMES[*]}"
    stop_all "$STOP_TIMEOUT"
    say "stopped; logs are in $LOGS"
  fi
  rm -f "${STOP_FILES[@]}"
  exit "$rc"
}
