#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Adds an embedded device to a broker directory made by broker-init.sh.
# The device is the reachability probe of one server of one team: it reads
# the retained status topics of its team and writes only
# team/<T>/server/<UUID>/reachability (broker-conf/acl/device.acl.in).
#   --cert      a client certificate signed by the dev CA, CN = user name,
#               for the TLS listener with client certificates (default)
#   --password  a random password in DIR/secrets/<user>.password, for the
#               TLS + password listener (and the loopback listener)
# A broker running with DIR's config reloads its users at once (SIGHUP).
set -euo pipefail
# shellcheck source=scripts/broker-lib.sh
. "$(dirname "$0")/broker-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") DIR --team T --server UUID [--cert] [--password]
                            [--name USER] [--days N]

Adds a device user (default name device-<UUID>) that may read team T's
status topics and write team/T/server/UUID/reachability.  Prints the user
name on stdout.
  --cert       issue a client certificate (DIR/devices/USER/USER.crt + .key)
               whose CN is USER; the default when neither flag is given
  --password   create a password (DIR/secrets/USER.password)
  --name USER  user name and certificate CN ([A-Za-z0-9_-]{1,64})
  --days N     certificate lifetime in days (default 825)
EOF
}

DIR="" TEAM="" SERVER="" CERT=0 PASSWORD=0 NAME="" DAYS=825
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --team) TEAM=${2:-}; shift 2 || sb_usage_die "--team needs a value" ;;
    --server) SERVER=${2:-}; shift 2 || sb_usage_die "--server needs a value" ;;
    --name) NAME=${2:-}; shift 2 || sb_usage_die "--name needs a value" ;;
    --days) DAYS=${2:-}; shift 2 || sb_usage_die "--days needs a value" ;;
    --cert) CERT=1; shift ;;
    --password) PASSWORD=1; shift ;;
    -*) sb_usage_die "unknown option $1" ;;
    *) [ -z "$DIR" ] || sb_usage_die "one DIR only"; DIR=$1; shift ;;
  esac
done
[ -n "$DIR" ] && [ -n "$TEAM" ] && [ -n "$SERVER" ] || { usage >&2; exit 2; }
sb_check_name team "$TEAM"
sb_check_uuid "$SERVER"
SERVER=$(echo "$SERVER" | tr 'A-F' 'a-f')
NAME=${NAME:-device-$SERVER}
sb_check_name "user name" "$NAME"
[[ "$DAYS" =~ ^[0-9]{1,5}$ ]] && [ "$DAYS" -gt 0 ] || sb_usage_die "bad --days '$DAYS'"
[ "$CERT" = 1 ] || [ "$PASSWORD" = 1 ] || CERT=1
DIR=$(sb_broker_dir "$DIR")
sb_lock "$DIR"
! sb_user_exists "$DIR" "$NAME" ||
  sb_die "user $NAME already exists in $DIR (scripts/broker-remove-user.sh $DIR $NAME first)"
sb_load_env "$DIR"

if [ "$CERT" = 1 ]; then
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  cat >"$TMP/client.cnf" <<EOF
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  out=$DIR/devices/$NAME
  rm -rf "$out"
  mkdir -p "$out"
  chmod 700 "$out"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
     -out "$out/$NAME.key" 2>/dev/null)
  openssl req -new -key "$out/$NAME.key" -subj "/O=statusbus team $TEAM/CN=$NAME" \
    -out "$TMP/client.csr"
  openssl x509 -req -in "$TMP/client.csr" -CA "$DIR/ca/ca.crt" -CAkey "$DIR/ca/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -sha256 \
    -extfile "$TMP/client.cnf" -extensions ext -out "$out/$NAME.crt" 2>/dev/null
  sb_log "issued client certificate $out/$NAME.crt (CN=$NAME, key $out/$NAME.key)"
fi
if [ "$PASSWORD" = 1 ]; then
  sb_add_password_user "$DIR" "$NAME"
  sb_log "created password $DIR/secrets/$NAME.password"
fi
sb_write_acl "$DIR" device "$NAME" "$TEAM" "$SERVER"
sb_rebuild_acl "$DIR"
sb_log "added device $NAME: reads team/$TEAM status, writes team/$TEAM/server/$SERVER/reachability"
sb_reload_broker "$DIR"

echo "$NAME"   # stdout: the user name, for scripts
if [ "$CERT" = 1 ]; then
  cat >&2 <<EOF
watch as $NAME (client certificate):
  mosquitto_sub -h localhost -p $SB_TLS_PORT --cafile $DIR/ca/ca.crt \\
    --cert $DIR/devices/$NAME/$NAME.crt --key $DIR/devices/$NAME/$NAME.key -v -t 'team/$TEAM/#'
EOF
fi
if [ "$PASSWORD" = 1 ] && [ "$SB_TLS_PW_PORT" != 0 ]; then
  cat >&2 <<EOF
watch as $NAME (password):
  mosquitto_sub -h localhost -p $SB_TLS_PW_PORT --cafile $DIR/ca/ca.crt \\
    -u $NAME -P "\$(cat $DIR/secrets/$NAME.password)" -v -t 'team/$TEAM/#'
EOF
fi
