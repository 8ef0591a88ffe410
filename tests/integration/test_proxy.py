# SPDX-License-Identifier: MIT
"""The bridge behind Debian's nginx and Caddy with the configs
docs/deploy.md gives (the first ```nginx and ```caddyfile blocks of that
file, with host name, certificate and ports filled in for the test): over
TLS through the proxy a statusbus.v1 session gets its welcome, its
snapshot and a live event, a Pusher client its connection_established,
GET /v1/snapshot its body, while /metrics stays unreachable.
X-Forwarded-For: the bridge logs the address the client connected to the
proxy from (127.0.0.2), and a client that connects to the bridge directly
with a forged header is logged under its own address."""

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse

import jwt
import pytest
import websockets

from sbharness import SOURCE_DIR, Process, Ws, free_port, port_open, status_payload, wait_for

SECRET = "proxy-test-secret-0123456789abcdef"
TEAM = "42"
KEY = "proxy-app-key"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"



def documented(lang):
    """The first ```<lang> block of docs/deploy.md."""
    with open(os.path.join(SOURCE_DIR, "docs", "deploy.md")) as f:
        m = re.search(r"```" + lang + r"\n(.*?)```", f.read(), re.S)
    assert m, f"no {lang} block in docs/deploy.md"
    return m.group(1)


def self_signed(d):
    crt, key = os.path.join(d, "proxy.crt"), os.path.join(d, "proxy.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-subj", "/CN=localhost", "-days", "2", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


class Nginx(Process):
    """nginx -c <conf> in the foreground, its site the documented block."""

    def __init__(self, workdir, site, port):
        self.port = port
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(workdir, "nginx-tmp", d), exist_ok=True)
        conf = os.path.join(workdir, "nginx.conf")
        t = os.path.join(workdir, "nginx-tmp")
        with open(conf, "w") as f:
            f.write(f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {workdir}/nginx-access.log;
    client_body_temp_path {t}/client_body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
{site}
}}
""")
        r = subprocess.run([NGINX, "-t", "-c", conf, "-p", workdir], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        super().__init__("nginx", [NGINX, "-c", conf, "-p", workdir], workdir)
        wait_for(lambda: port_open(port) or not self.alive(), 10, what="nginx")
        assert self.alive(), self.output()


def site_for_test(crt, key, nginx_port, bridge_port):
    site = documented("nginx")
    site = site.replace("status.example.com/fullchain.pem", "X").replace(
        "/etc/letsencrypt/live/X", crt)
    site = site.replace("/etc/letsencrypt/live/status.example.com/privkey.pem", key)
    site = site.replace("status.example.com", "localhost")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{nginx_port} ssl;")
    site = site.replace("127.0.0.1:8080", f"127.0.0.1:{bridge_port}")
    assert crt in site and key in site and str(bridge_port) in site, site
    return site


def tls_ctx(crt):
    ctx = ssl.create_default_context(cafile=crt)
    return ctx


def mint():
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 600, "teams": [TEAM]},
                      SECRET, algorithm="HS256")


def https_get(port, crt, path, token=None, source="127.0.0.1"):
    c = http.client.HTTPSConnection("localhost", port, timeout=10, context=tls_ctx(crt),
                                    source_address=(source, 0))
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def start_stack(stack_factory):
    stack = stack_factory(bridge_overrides={
        "mqtt": {"password_file": None},
        "auth": {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None},
        "pusher": {"app_id": "1", "key": KEY, "secret": "proxy-app-secret"},
        "listen": {"trusted_proxies": ["127.0.0.1", "::1"]}})
    return stack, stack.bridge


def through(stack, port, crt):
    """A session, a Pusher connection and a snapshot through the proxy on
    `port` (clients from 127.0.0.2), a direct client with a forged header
    (from 127.0.0.3); then what the bridge logged."""
    b = stack.bridge
    pub = stack.mqtt()
    app = "proxy-app"
    pub.publish(f"team/{TEAM}/app/{app}/status", status_payload("running", reason="first"),
                retain=True)
    token = mint()

    async def body():
        # statusbus.v1 over wss through the proxy
        w = await Ws.connect(f"wss://localhost:{port}/v1/ws", token=token, ssl=tls_ctx(crt),
                             local_addr=("127.0.0.2", 0))
        ack = await w.sub(f"team.{TEAM}")
        assert ack["op"] == "ack", ack
        await w.expect(lambda m: m.get("op") == "event" and "first" in json.dumps(m), 10,
                       what="snapshot event")
        pub.publish(f"team/{TEAM}/app/{app}/status", status_payload("degraded", reason="live"),
                    retain=True)
        await w.expect(lambda m: m.get("op") == "event" and "live" in json.dumps(m), 10,
                       what="live event")
        assert (await w.request({"op": "ping"}))["op"] == "pong"
        await w.close()

        # Pusher protocol 7 on /app/<key>
        async with websockets.connect(f"wss://localhost:{port}/app/{KEY}?protocol=7",
                                      ssl=tls_ctx(crt), open_timeout=10,
                                      local_addr=("127.0.0.2", 0)) as p:
            first = json.loads(await asyncio.wait_for(p.recv(), 10))
            assert first["event"] == "pusher:connection_established", first

        # a client that reaches the bridge directly and forges the header
        direct = await websockets.connect(b.url, subprotocols=["statusbus.v1"],
                                          extra_headers={"X-Forwarded-For": "203.0.113.66"},
                                          local_addr=("127.0.0.3", 0), open_timeout=10)
        await direct.close()
    asyncio.run(asyncio.wait_for(body(), 60))

    # the snapshot over HTTPS through the proxy
    def snap():
        st, text = https_get(port, crt, "/v1/snapshot?channel=" +
                             urllib.parse.quote(f"team.{TEAM}"), token, source="127.0.0.2")
        return text if st == 200 and "live" in text else None
    body = json.loads(wait_for(snap, 10, what="snapshot through the proxy"))
    assert any(e.get("data", {}).get("reason") == "live" for e in body["events"]), body
    # /metrics is not forwarded
    assert https_get(port, crt, "/metrics")[0] == 404

    log = b.output()
    for kind in ("statusbus\\.v1", "Pusher"):
        assert re.search(r"client \S+: connected from 127\.0\.0\.2 \(" + kind + r"\)", log), log
    assert re.search(r"client \S+: connected from 127\.0\.0\.3 \(statusbus\.v1\)", log), log
    assert "203.0.113.66" not in log, "a forged X-Forwarded-For was believed"


@pytest.mark.skipif(not os.path.exists(NGINX),
                    reason="nginx not installed (scripts/setup.sh installs it)")
def test_bridge_behind_the_documented_nginx(stack_factory, workdir):
    crt, key = self_signed(workdir)
    stack, b = start_stack(stack_factory)
    port = free_port()
    nginx = Nginx(workdir, site_for_test(crt, key, port, b.port), port)
    stack.procs.append(nginx)
    through(stack, port, crt)
    assert nginx.stop() == 0


@pytest.mark.skipif(not shutil.which("caddy"), reason="caddy not installed (Debian's caddy)")
def test_bridge_behind_the_documented_caddy(stack_factory, workdir):
    crt, key = self_signed(workdir)
    stack, b = start_stack(stack_factory)
    port = free_port()
    site = documented("caddyfile")
    site = site.replace("status.example.com {", f"https://localhost:{port} {{\n\ttls {crt} {key}"
                        "\n\tbind 127.0.0.1")
    site = site.replace("127.0.0.1:8080", f"127.0.0.1:{b.port}")
    assert f"127.0.0.1:{b.port}" in site and crt in site, site
    conf = os.path.join(workdir, "Caddyfile")
    with open(conf, "w") as f:
        # no admin endpoint (its port is shared), state in the test's directory
        f.write(f"{{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system "
                f"{workdir}/caddy\n}}\n\n{site}")
    env = dict(os.environ, HOME=workdir, XDG_DATA_HOME=workdir, XDG_CONFIG_HOME=workdir)
    caddy = Process("caddy", ["caddy", "run", "--config", conf, "--adapter", "caddyfile"],
                    workdir, env=env)
    stack.procs.append(caddy)
    wait_for(lambda: port_open(port) or not caddy.alive(), 15, what="caddy")
    assert caddy.alive(), caddy.output()
    through(stack, port, crt)
