#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What an app backend answers on /broadcasting/auth for Pusher clients
(pusher-js, Laravel Echo) connecting to statusbus-bridge's /app/<key>.

pusher-js POSTs ``socket_id=<digits>.<digits>&channel_name=private-team.42``
(form-encoded) when it subscribes a private channel.  The backend decides
whether the *logged-in user* may see that channel and, if so, answers

    {"auth": "<app key>:<hex HMAC-SHA256(app secret, "<socket_id>:<channel_name>")>"}

The bridge recomputes the HMAC with the same key and secret (its config's
"pusher" section) and subscribes the socket to that one channel.

A presence channel (``presence-room.42``, Laravel's ``Echo.join('room.42')``)
also names the member: the answer carries ``channel_data``, a JSON string
``{"user_id": …, "user_info": {…}}``, and the HMAC covers
``"<socket_id>:<channel_name>:<channel_data>"`` (docs/pusher.md, "Presence
channels").  Here the user id is the login name and user_info
``{"id": …, "name": …}`` (name from --names), what a Laravel channel
callback returns and Echo's here()/joining()/leaving() hand over.

This example is Python standard library only.  Its "login" is a demo: the
user is named by ``Authorization: Bearer <user>`` and the teams of each user
come from --users.  Replace ``current_user()`` and ``may_subscribe()`` with
your session and your permission checks.

    python3 server.py --key k --secret s --port 8081 \
        --users '{"alice": ["42"], "bob": ["43"]}' \
        --deploys '{"0b8f7c1e-1111-2222-3333-444455556666": "42"}'
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOCKET_ID = re.compile(r"\A\d{1,20}\.\d{1,20}\Z")
ID = r"[A-Za-z0-9_-]{1,64}"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# the private statusbus channels (docs/protocol.md §3) and who may see them
TEAM = re.compile(rf"\A(?:team)\.({ID})(?:\.stats)?\Z")
DEPLOY = re.compile(rf"\Adeploy\.({UUID})(?:\.logs)?\Z")
USER = re.compile(rf"\Auser\.({ID})\Z")
# the presence channel of a team (docs/pusher.md: the template room.{team})
ROOM = re.compile(rf"\Aroom\.({ID})\Z")
MAX_BODY = 4096


def sign(secret, socket_id, channel_name, channel_data=None):
    """hex(HMAC-SHA256(secret, "<socket_id>:<channel_name>[:<channel_data>]"))."""
    msg = f"{socket_id}:{channel_name}"
    if channel_data is not None:
        msg += f":{channel_data}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


def statusbus_channel(channel_name):
    """"private-cache-team.42" -> "team.42", "presence-room.42" -> "room.42";
    None when the name needs no auth."""
    for prefix in ("private-cache-", "private-", "presence-"):
        if channel_name.startswith(prefix):
            return channel_name[len(prefix):]
    return None


class App:
    def __init__(self, key, secret, users, deploys, names=None):
        self.key = key
        self.secret = secret
        self.users = users          # user -> [team, ...]
        self.deploys = deploys      # deploy uuid -> owning team
        self.names = names or {}    # user -> display name (presence user_info)

    def current_user(self, headers):
        """The logged-in user.  Demo: "Authorization: Bearer <user>"."""
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            user = auth[7:].strip()
            if user in self.users:
                return user
        return None

    def may_subscribe(self, user, channel):
        """The app's own permission check for a statusbus channel."""
        teams = self.users.get(user, [])
        m = TEAM.match(channel) or ROOM.match(channel)
        if m:
            return m.group(1) in teams
        m = DEPLOY.match(channel)
        if m:
            return self.deploys.get(m.group(1).lower()) in teams
        m = USER.match(channel)
        if m:
            return m.group(1) == user
        return False

    def authorize(self, headers, socket_id, channel_name):
        """(HTTP status, JSON body) for one /broadcasting/auth request."""
        user = self.current_user(headers)
        if user is None:
            return 401, {"error": "not logged in"}
        if not socket_id or not SOCKET_ID.match(socket_id):
            return 400, {"error": "socket_id must be <digits>.<digits>"}
        channel = statusbus_channel(channel_name or "")
        if channel is None:
            return 400, {"error": "only private-, private-cache- and presence- channels need auth"}
        if not self.may_subscribe(user, channel):
            return 403, {"error": f"{user} may not subscribe to {channel}"}
        if channel_name.startswith("presence-"):
            # what a Laravel channel callback returns: ['id' => …, 'name' => …]
            data = json.dumps({"user_id": user,
                               "user_info": {"id": user, "name": self.names.get(user, user)}})
            return 200, {"auth": f"{self.key}:{sign(self.secret, socket_id, channel_name, data)}",
                         "channel_data": data}
        return 200, {"auth": f"{self.key}:{sign(self.secret, socket_id, channel_name)}"}


def make_handler(app, cors_origin):
    class Handler(BaseHTTPRequestHandler):
        server_version = "pusher-auth-example/1"

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if cors_origin:
                self.send_header("Access-Control-Allow-Origin", cors_origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self):
            self.send_response(204)
            if cors_origin:
                self.send_header("Access-Control-Allow-Origin", cors_origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Socket-Id, X-CSRF-TOKEN")
            self.end_headers()

        def do_POST(self):
            if urllib.parse.urlsplit(self.path).path != "/broadcasting/auth":
                return self.reply(404, {"error": "not found"})
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                return self.reply(413, {"error": "body too large"})
            raw = self.rfile.read(length).decode("utf-8", "replace")
            if self.headers.get("Content-Type", "").startswith("application/json"):
                try:
                    form = json.loads(raw)
                except ValueError:
                    return self.reply(400, {"error": "body is not JSON"})
                if not isinstance(form, dict):
                    return self.reply(400, {"error": "body must be an object"})
            else:
                form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
            status, body = app.authorize(self.headers, form.get("socket_id"), form.get("channel_name"))
            self.reply(status, body)

        def log_message(self, fmt, *args):
            sys.stderr.write("pusher-auth: " + (fmt % args) + "\n")

    return Handler


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--key", default=os.environ.get("PUSHER_APP_KEY"),
                    help="the bridge's pusher.key (env PUSHER_APP_KEY)")
    ap.add_argument("--secret", default=os.environ.get("PUSHER_APP_SECRET"),
                    help="the bridge's pusher.secret (env PUSHER_APP_SECRET)")
    ap.add_argument("--users", default='{"alice": ["42"]}',
                    help='demo users and their teams, JSON: {"alice": ["42"]}')
    ap.add_argument("--names", default="{}",
                    help='display names for presence channels, JSON: {"alice": "Alice"}')
    ap.add_argument("--deploys", default="{}",
                    help='deploys and their owning team, JSON: {"<uuid>": "42"}')
    ap.add_argument("--cors-origin", default=None,
                    help="allow this browser origin to call the endpoint (not needed same-origin)")
    args = ap.parse_args(argv)
    if not args.key or not args.secret:
        ap.error("--key and --secret (or PUSHER_APP_KEY and PUSHER_APP_SECRET) are required")
    app = App(args.key, args.secret, json.loads(args.users),
              {k.lower(): v for k, v in json.loads(args.deploys).items()},
              json.loads(args.names))
    httpd = ThreadingHTTPServer((args.host, args.port), make_handler(app, args.cors_origin))
    print(f"pusher-auth: POST http://{args.host}:{httpd.server_port}/broadcasting/auth", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
