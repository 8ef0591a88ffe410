#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Makes (or updates) a Mosquitto broker directory for statusbus: config from
# broker-conf/mosquitto.conf, a development CA and server certificate
# (EC P-256), the password file, the ACL file and the two standard users,
# `bridge` and `backend`, with random passwords in DIR/secrets/.
#
# Safe to run again on the same DIR: it rewrites mosquitto.conf with the
# ports given now and creates only what is missing (CA, certificates and
# users are kept).  See docs/broker.md.
set -euo pipefail
# shellcheck source=scripts/broker-lib.sh
. "$(dirname "$0")/broker-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") DIR [options]

Creates DIR (e.g. run/broker) with a Mosquitto config, CA, server
certificate, password file, ACL file and the users 'bridge' and 'backend'.

options:
  --port P               plain MQTT listener on 127.0.0.1 (default 1883)
  --tls-port P           TLS listener, client certificates (default 8883)
  --tls-password-port P  TLS listener, user name + password (default 8884;
                         0 leaves it out)
  --bind ADDR            address of the TLS listeners (default 127.0.0.1;
                         0.0.0.0 to serve devices on the network)
  --san SAN              extra subjectAltName of a new server certificate,
                         e.g. DNS:mqtt.example.com (repeatable)
  -h, --help             this text

Then: mosquitto -c DIR/mosquitto.conf
EOF
}

DIR="" PORT=1883 TLS_PORT=8883 TLS_PW_PORT=8884 BIND=127.0.0.1 SANS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --port) PORT=${2:-}; shift 2 || sb_usage_die "--port needs a value" ;;
    --tls-port) TLS_PORT=${2:-}; shift 2 || sb_usage_die "--tls-port needs a value" ;;
    --tls-password-port) TLS_PW_PORT=${2:-}; shift 2 || sb_usage_die "--tls-password-port needs a value" ;;
    --bind) BIND=${2:-}; shift 2 || sb_usage_die "--bind needs a value" ;;
    --san) SANS+=("${2:-}"); shift 2 || sb_usage_die "--san needs a value" ;;
    -*) sb_usage_die "unknown option $1" ;;
    *) [ -z "$DIR" ] || sb_usage_die "one DIR only"; DIR=$1; shift ;;
  esac
done
[ -n "$DIR" ] || { usage >&2; exit 2; }
sb_check_port --port "$PORT"
sb_check_port --tls-port "$TLS_PORT"
sb_check_port --tls-password-port "$TLS_PW_PORT"
[[ "$BIND" =~ ^[0-9A-Za-z.:-]+$ ]] || sb_usage_die "bad --bind '$BIND'"
for s in "${SANS[@]+"${SANS[@]}"}"; do
  [[ "$s" =~ ^(DNS|IP):[0-9A-Za-z.:*-]+$ ]] || sb_usage_die "bad --san '$s' (DNS:name or IP:addr)"
done
command -v mosquitto_passwd >/dev/null || sb_die "mosquitto_passwd not found (apt-get install mosquitto)"
command -v openssl >/dev/null || sb_die "openssl not found"

umask 022
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
sb_lock "$DIR"
mkdir -p "$DIR/ca" "$DIR/tls" "$DIR/secrets" "$DIR/devices" "$DIR/acl.d" "$DIR/data"
chmod 700 "$DIR/ca" "$DIR/secrets" "$DIR/devices"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---- development CA -----------------------------------------------------------
if [ ! -s "$DIR/ca/ca.crt" ] || [ ! -s "$DIR/ca/ca.key" ]; then
  cat >"$TMP/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = statusbus development
CN = statusbus dev CA $(hostname -s 2>/dev/null || echo host) $(date -u +%Y%m%d%H%M%S)
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
     -out "$DIR/ca/ca.key" 2>/dev/null)
  openssl req -x509 -new -config "$TMP/ca.cnf" -key "$DIR/ca/ca.key" -sha256 -days 3650 \
    -set_serial "0x$(openssl rand -hex 16)" -out "$DIR/ca/ca.crt"
  rm -f "$DIR/tls/server.crt"   # a new CA needs a new server certificate
  sb_log "created development CA $DIR/ca/ca.crt"
fi

# ---- server certificate ------------------------------------------------------
if [ ! -s "$DIR/tls/server.crt" ] || [ ! -s "$DIR/tls/server.key" ]; then
  san="IP:127.0.0.1,IP:::1,DNS:localhost"
  for s in "${SANS[@]+"${SANS[@]}"}"; do san="$san,$s"; done
  cat >"$TMP/server.cnf" <<EOF
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
     -out "$DIR/tls/server.key" 2>/dev/null)
  openssl req -new -key "$DIR/tls/server.key" -subj "/O=statusbus development/CN=localhost" \
    -out "$TMP/server.csr"
  openssl x509 -req -in "$TMP/server.csr" -CA "$DIR/ca/ca.crt" -CAkey "$DIR/ca/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
    -extfile "$TMP/server.cnf" -extensions ext -out "$DIR/tls/server.crt" 2>/dev/null
  sb_log "created server certificate $DIR/tls/server.crt ($san)"
fi

# ---- mosquitto.conf --------------------------------------------------------------
template=$SB_BROKER_CONF/mosquitto.conf
[ -f "$template" ] || sb_die "missing template $template"
if [ "$TLS_PW_PORT" = 0 ]; then
  strip='/^#@begin tls_password/,/^#@end tls_password/d'
else
  strip='/^#@\(begin\|end\) tls_password/d'
fi
sed -e "$strip" \
    -e "s|@SB_DIR@|$DIR|g" -e "s|@SB_PORT@|$PORT|g" -e "s|@SB_TLS_PORT@|$TLS_PORT|g" \
    -e "s|@SB_TLS_PW_PORT@|$TLS_PW_PORT|g" -e "s|@SB_BIND@|$BIND|g" \
    -e "s|@SB_USER@|$(id -un)|g" \
    "$template" >"$DIR/mosquitto.conf.tmp"
mv -f "$DIR/mosquitto.conf.tmp" "$DIR/mosquitto.conf"
cat >"$DIR/broker.env" <<EOF
# Written by broker-init.sh; read by the other broker-*.sh scripts.
SB_PORT=$PORT
SB_TLS_PORT=$TLS_PORT
SB_TLS_PW_PORT=$TLS_PW_PORT
SB_BIND=$BIND
EOF

# ---- users ---------------------------------------------------------------------
[ -f "$DIR/passwd" ] || { : >"$DIR/passwd"; chmod 600 "$DIR/passwd"; }
for role in bridge backend; do
  if ! sb_user_exists "$DIR" "$role"; then
    sb_add_password_user "$DIR" "$role"
    sb_log "created user $role (password in $DIR/secrets/$role.password)"
  fi
  # the built-in roles' rules are the templates' (a re-run after an upgrade
  # brings new ones, e.g. the bridge's pusher/#); the password is kept
  sb_write_acl "$DIR" "$role" "$role"
done
sb_rebuild_acl "$DIR"
sb_reload_broker "$DIR"

tls_pw_line="  TLS + password on $BIND:$TLS_PW_PORT (devices added with --password)"
[ "$TLS_PW_PORT" != 0 ] || tls_pw_line="  (no TLS + password listener)"
cat >&2 <<EOF
broker directory ready: $DIR
  plain MQTT on 127.0.0.1:$PORT (backend jobs, the bridge)
  TLS + client certificate on $BIND:$TLS_PORT (devices added with --cert)
$tls_pw_line
start it:     mosquitto -c $DIR/mosquitto.conf
add a job:    scripts/broker-add-backend.sh $DIR NAME [--team T]
add a device: scripts/broker-add-device.sh $DIR --team T --server UUID --cert
EOF
