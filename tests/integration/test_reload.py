# SPDX-License-Identifier: MIT
"""SIGHUP (docs/protocol.md §11) against the real bridge: the config file is
read again and what may change live changes, the rest is named in the log
as needing a restart, a broken file changes nothing, and each reload is
counted in /metrics.

The JWT secret file is rotated under a running bridge: after SIGHUP the
old secret's tokens are refused at the next hello and the new secret's
accepted, while a client connected before keeps its session and its
subscription.  Reloads are waited for through statusbus_config_reloads_total,
never slept on."""

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import jwt
import pytest

from sbharness import Ws, status_payload, wait_for

OLD_SECRET = "old-secret-0123456789abcdef-rotate-me"
NEW_SECRET = "new-secret-fedcba9876543210-rotated!!"
TEAM = "42"
TEST_TIMEOUT = 60


def mint(secret, sub="alice", teams=(TEAM,)):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600, "teams": list(teams)},
                      secret, algorithm="HS256")


def write(path, text):
    """Replaces the file as an operator's tooling would: write aside, rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def reloads(bridge):
    m = bridge.metrics()
    return (m.get('statusbus_config_reloads_total{result="ok"}', 0),
            m.get('statusbus_config_reloads_total{result="failed"}', 0))


def hup(bridge, want_ok, want_failed):
    """SIGHUP, then waits until /metrics counts the reload."""
    bridge.send_signal(signal.SIGHUP)
    wait_for(lambda: reloads(bridge) == (want_ok, want_failed), 10,
             what=f"reload counted ({want_ok} ok, {want_failed} failed)")
    assert bridge.alive(), bridge.output()


def start(stack_factory, workdir, secret=OLD_SECRET, **overrides):
    secret_file = os.path.join(workdir, "jwt.secret")
    write(secret_file, secret + "\n")
    o = {"mqtt": {"password_file": None},
         "auth": {"jwt_alg": "HS256", "jwt_secret": None, "jwt_secret_file": secret_file}}
    o.update(overrides)
    stack = stack_factory(bridge_overrides=o)
    return stack, secret_file


def rewrite_config(bridge, change):
    """Applies change(cfg) to the bridge's config file."""
    cfg = json.loads(json.dumps(bridge.config))
    change(cfg)
    write(bridge.config_path, json.dumps(cfg, indent=1))
    return cfg


async def hello_refused(url, token):
    w = await Ws.connect(url, hello=False)
    await w.send({"op": "hello", "id": 1, "token": token})
    err = await w.expect(lambda m: m.get("op") == "error", 5, what="hello refusal")
    code, _ = await w.closed(5)
    assert code == 4001, (code, w.frames)
    return err


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT))


def test_sighup_rotates_the_jwt_secret(stack_factory, workdir):
    stack, secret_file = start(stack_factory, workdir)
    b = stack.bridge
    pub = stack.mqtt()

    async def body():
        before = await Ws.connect(b.url, token=mint(OLD_SECRET))
        assert (await before.sub(f"team.{TEAM}"))["op"] == "ack"
        await hello_refused(b.url, mint(NEW_SECRET))

        write(secret_file, NEW_SECRET + "\n")
        hup(b, 1, 0)

        err = await hello_refused(b.url, mint(OLD_SECRET))
        assert err["code"] == "unauthorized", err
        after = await Ws.connect(b.url, token=mint(NEW_SECRET))
        assert (await after.sub(f"team.{TEAM}"))["op"] == "ack"

        # the client of before the reload keeps its session and subscription
        app = "reload-app"
        for w in (before, after):
            deadline = time.monotonic() + 10
            while True:
                mark = f"m{time.monotonic_ns()}"
                pub.publish(f"team/{TEAM}/app/{app}/status",
                            status_payload("running", reason=mark), retain=True)
                try:
                    await w.expect(lambda m: m.get("op") == "event" and mark in json.dumps(m), 1)
                    break
                except (TimeoutError, asyncio.TimeoutError):
                    assert time.monotonic() < deadline, w.frames[-5:]
        assert (await before.request({"op": "ping"}))["op"] == "pong"
        await before.close()
        await after.close()
    run(body())
    out = b.output()
    assert "reload: auth: HS256 key read again from " + secret_file in out, out
    assert NEW_SECRET not in out and OLD_SECRET not in out, "a secret reached the log"
    assert b.metrics()["statusbus_config_last_reload_successful"] == 1


def test_broken_files_change_nothing(stack_factory, workdir):
    stack, secret_file = start(stack_factory, workdir)
    b = stack.bridge
    good = open(b.config_path).read()

    async def still_old():
        w = await Ws.connect(b.url, token=mint(OLD_SECRET))
        await w.close()

    # a config that is not JSON
    write(b.config_path, good[: len(good) // 2])
    hup(b, 0, 1)
    run(still_old())
    assert "reload: refused, the running config is kept: " + b.config_path + \
        ": not a JSON object" in b.output()
    assert b.metrics()["statusbus_config_last_reload_successful"] == 0

    # a valid config naming a secret file that is too short: nothing of the
    # file applies, not even its other keys
    write(b.config_path, good)
    write(secret_file, "short\n")
    rewrite_config(b, lambda c: c["limits"].update(max_subscriptions=3))
    hup(b, 0, 2)
    assert "auth.jwt_secret_file: " + secret_file + ": shorter than 16 bytes" in b.output()

    async def limits_kept():
        w = await Ws.connect(b.url, token=mint(OLD_SECRET))
        assert w.welcome["limits"]["max_subscriptions"] == b.config["limits"]["max_subscriptions"]
        await w.close()
    run(limits_kept())

    # a broken channel map, which needs a restart to change, is refused too
    write(secret_file, OLD_SECRET + "\n")
    rewrite_config(b, lambda c: c["channels"][0].update(acl="nobody"))
    hup(b, 0, 3)
    assert ": channels: " in b.output()

    # fixed: applied
    write(b.config_path, good)
    hup(b, 1, 3)
    run(still_old())
    assert b.metrics()["statusbus_config_last_reload_successful"] == 1


def test_reload_applies_live_keys_and_names_the_others(stack_factory, workdir):
    stack, _ = start(stack_factory, workdir)
    b = stack.bridge
    port = b.port
    rewrite_config(b, lambda c: (c["limits"].update(max_subscriptions=7),
                                 c["listen"].update(port=port + 1),
                                 c.update(log_format="json")))
    hup(b, 1, 0)

    async def body():
        w = await Ws.connect(b.url, token=mint(OLD_SECRET))
        assert w.welcome["limits"]["max_subscriptions"] == 7, w.welcome
        await w.close()
    run(body())
    out = b.output()
    # the restart-only key is named; the bridge still listens where it did
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    restart = [x for x in lines if "need a restart" in x["msg"]]
    assert restart and "listen.port" in restart[0]["msg"], out
    assert restart[0]["level"] == "warn" and restart[0]["fields"]["component"] == "reload"
    applied = [x for x in lines if x["msg"].startswith("reload: applied: ")]
    assert applied and "limits.max_subscriptions" in applied[0]["msg"] and \
        "log_format" in applied[0]["msg"], out
    assert b.health()[0] == 200


def test_sighup_before_and_without_a_broker_does_not_kill(stack_factory, workdir):
    """Before this, SIGHUP's default action killed the bridge (exit 129)."""
    stack, _ = start(stack_factory, workdir)
    stack.mosq.stop()
    hup(stack.bridge, 1, 0)
    assert stack.bridge.stop() == 0, stack.bridge.output()


# ---- TLS: new connections get the new certificate ------------------------------------

def self_signed(d, name, cn="localhost"):
    key, crt = os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-subj", f"/CN={cn}", "-days", "2", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def served_cert(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def der(crt):
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_sighup_reads_the_tls_certificate_again(stack_factory, workdir):
    crt_a, key_a = self_signed(workdir, "a", "first")
    crt_b, key_b = self_signed(workdir, "b", "second")
    live_crt, live_key = os.path.join(workdir, "live.crt"), os.path.join(workdir, "live.key")
    write(live_crt, open(crt_a).read())
    write(live_key, open(key_a).read())
    stack = stack_factory(bridge=False)
    b = stack.start_bridge({"mqtt": {"password_file": None},
                            "listen": {"cert_file": live_crt, "key_file": live_key}},
                           wait_healthy=False)
    wait_for(lambda: served_cert(b.port) == der(crt_a), 10, what="first certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = ctx.wrap_socket(socket.create_connection(("127.0.0.1", b.port), timeout=10),
                           server_hostname="localhost")

    def metrics_tls():
        req = f"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"
        held.sendall(req.encode())
        data = b""
        while b"statusbus_config_reloads_total" not in data or not data.endswith(b"\n"):
            chunk = held.recv(65536)
            assert chunk, "connection closed"
            data += chunk
            if b"statusbus_config_last_reload_successful" in data:
                break
        return data.decode("utf-8", "replace")

    # a key that does not match the certificate: refused, the old one served
    write(live_crt, open(crt_b).read())
    b.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: refused, the running config is kept: " in b.output(), 10,
             what="refusal")
    assert "listen.key_file: " in b.output() and "mismatch" in b.output(), b.output()
    assert served_cert(b.port) == der(crt_a)

    write(live_key, open(key_b).read())
    b.send_signal(signal.SIGHUP)
    wait_for(lambda: served_cert(b.port) == der(crt_b), 10, what="second certificate")
    assert "reload: listen: TLS certificate read again for new connections (/CN=second" in \
        b.output(), b.output()
    # the connection made before the reload still works
    assert 'statusbus_config_reloads_total{result="ok"} 1' in metrics_tls()
    held.close()
    assert b.stop() == 0
