#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Removes a user (backend job or device) from a broker directory: its
# password, its ACL block, its secrets and its client certificate files.  A
# running broker reloads at once (SIGHUP); from then on the user cannot log
# in with a password and, with no ACL block, can neither read nor write, and
# its retained messages are no longer handed out (check_retain_source).  A
# device certificate stays cryptographically valid until it expires: see
# docs/broker.md for revoking it with a CRL.
set -euo pipefail
# shellcheck source=scripts/broker-lib.sh
. "$(dirname "$0")/broker-lib.sh"

usage() { echo "usage: $(basename "$0") DIR NAME"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 2; }
sb_check_name "user name" "$2"
DIR=$(sb_broker_dir "$1")
NAME=$2
sb_lock "$DIR"
sb_user_exists "$DIR" "$NAME" || sb_die "no user $NAME in $DIR"

if grep -q "^$NAME:" "$DIR/passwd"; then
  mosquitto_passwd -D "$DIR/passwd" "$NAME" >/dev/null
fi
rm -f "$DIR/acl.d/$NAME.acl" "$DIR/secrets/$NAME.password"
rm -rf "${DIR:?}/devices/$NAME"
sb_rebuild_acl "$DIR"
sb_log "removed user $NAME"
sb_reload_broker "$DIR"
