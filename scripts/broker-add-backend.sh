#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Adds a backend-job user to a broker directory made by broker-init.sh: a
# random password in DIR/secrets/NAME.password and the backend ACL (write
# team/#, deploy/#, user/#, public/#; read $statusbus/rejected/#).  A broker
# running with DIR's config reloads its users at once (SIGHUP).
set -euo pipefail
# shellcheck source=scripts/broker-lib.sh
. "$(dirname "$0")/broker-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") DIR NAME

Adds the backend user NAME ([A-Za-z0-9_-]{1,64}) to the broker in DIR.
Its password is written to DIR/secrets/NAME.password (mode 600).
EOF
}
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 2; }
sb_check_name "user name" "$2"
DIR=$(sb_broker_dir "$1")
NAME=$2
sb_lock "$DIR"
! sb_user_exists "$DIR" "$NAME" ||
  sb_die "user $NAME already exists in $DIR (scripts/broker-remove-user.sh $DIR $NAME first)"

sb_add_password_user "$DIR" "$NAME"
sb_write_acl "$DIR" backend "$NAME"
sb_rebuild_acl "$DIR"
sb_log "added backend user $NAME (password in $DIR/secrets/$NAME.password)"
sb_reload_broker "$DIR"
sb_load_env "$DIR"
cat >&2 <<EOF
publish as $NAME:
  mosquitto_pub -h 127.0.0.1 -p $SB_PORT -u $NAME -P "\$(cat $DIR/secrets/$NAME.password)" \\
    -q 1 -r -t 'team/42/app/<uuid>/status' -m '{"ts":"...","status":"running"}'
EOF
