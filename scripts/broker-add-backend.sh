#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Adds a backend-job user to a broker directory made by broker-init.sh: a
# random password in DIR/secrets/NAME.password and either the platform-wide
# backend ACL (write team/#, deploy/#, user/#, public/#; read
# $statusbus/rejected/#) or, with --team T, the per-team one (write
# team/T/#, or without team/T/deploy/# with --no-deploy-status; read
# $statusbus/rejected/team/T/#).  A broker running with DIR's config reloads
# its users at once (SIGHUP).
set -euo pipefail
# shellcheck source=scripts/broker-lib.sh
. "$(dirname "$0")/broker-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") DIR NAME [--team T [--no-deploy-status]]

Adds the backend user NAME ([A-Za-z0-9_-]{1,64}) to the broker in DIR.
Its password is written to DIR/secrets/NAME.password (mode 600).
  (no --team)  platform-wide: may write team/#, deploy/#, user/#, public/#
               and read \$statusbus/rejected/#
  --team T     team T's own publisher: may write team/T/# only and read
               only \$statusbus/rejected/team/T/# (no deploy logs, user
               notifications or public pages: see docs/broker.md)
  --no-deploy-status
               with --team: not team/T/deploy/# either, so that only the
               platform's deploy runner names deploys (docs/broker.md)
EOF
}

DIR="" NAME="" TEAM="" NO_DEPLOY=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --team) TEAM=${2:-}; shift 2 || sb_usage_die "--team needs a value" ;;
    --no-deploy-status) NO_DEPLOY=1; shift ;;
    -*) sb_usage_die "unknown option $1" ;;
    *)
      if [ -z "$DIR" ]; then DIR=$1
      elif [ -z "$NAME" ]; then NAME=$1
      else sb_usage_die "unexpected argument '$1'"
      fi
      shift ;;
  esac
done
[ -n "$DIR" ] && [ -n "$NAME" ] || { usage >&2; exit 2; }
sb_check_name "user name" "$NAME"
[ -z "$TEAM" ] || sb_check_name team "$TEAM"
[ "$NO_DEPLOY" = 0 ] || [ -n "$TEAM" ] || sb_usage_die "--no-deploy-status needs --team"
DIR=$(sb_broker_dir "$DIR")
sb_lock "$DIR"
! sb_user_exists "$DIR" "$NAME" ||
  sb_die "user $NAME already exists in $DIR (scripts/broker-remove-user.sh $DIR $NAME first)"

sb_add_password_user "$DIR" "$NAME"
if [ -n "$TEAM" ]; then
  sb_write_acl "$DIR" team-backend "$NAME" "$TEAM"
  what="backend user $NAME of team $TEAM (writes team/$TEAM/# only)"
  if [ "$NO_DEPLOY" = 1 ]; then
    # deny lines win over grants, whatever their order (mosquitto.conf(5))
    printf '%s\n' "# --no-deploy-status: the platform's deploy runner names deploys" \
      "topic deny team/$TEAM/deploy/#" >>"$DIR/acl.d/$NAME.acl"
    what="$what, not team/$TEAM/deploy/#"
  fi
else
  sb_write_acl "$DIR" backend "$NAME"
  what="platform-wide backend user $NAME"
fi
sb_rebuild_acl "$DIR"
sb_log "added $what (password in $DIR/secrets/$NAME.password)"
sb_reload_broker "$DIR"
sb_load_env "$DIR"
cat >&2 <<EOF
publish as $NAME:
  mosquitto_pub -h 127.0.0.1 -p $SB_PORT -u $NAME -P "\$(cat $DIR/secrets/$NAME.password)" \\
    -q 1 -r -t 'team/${TEAM:-42}/app/<uuid>/status' -m '{"ts":"...","status":"running"}'
EOF
