# SPDX-License-Identifier: MIT
"""Pusher Channels protocol 7 on /app/<key> (docs/protocol.md §9), tested with
the real pusher-js (its Node build, tests/node_modules, driven by
tests/pusher/client.mjs) against a real bridge and mosquitto; statuses are
published with mosquitto_pub.  Raw WebSocket clients check what pusher-js
hides: the handshake's close codes, the server's pusher:ping and 4201."""

import asyncio
import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import websockets

from sbharness import SOURCE_DIR, new_uuid, status_payload, wait_for

KEY, SECRET = "k", "s"
PUSHER = {"pusher": {"app_id": "1", "key": KEY, "secret": SECRET}}
JWT_SECRET = "integration test secret, 32 bytes"
AUTH = {"auth": {"jwt_alg": "HS256", "jwt_secret": JWT_SECRET, "jwt_secret_file": None,
                 "jwt_public_key_file": None, "issuer": None, "audience": None}}
CLIENT = os.path.join(SOURCE_DIR, "tests", "pusher", "client.mjs")
AUTH_SERVER = os.path.join(SOURCE_DIR, "examples", "pusher-auth", "server.py")
D1 = "0b8f7c1e-1111-2222-3333-444455556666"


def prerequisites():
    if not shutil.which("node"):
        pytest.fail("node is not installed (Debian: nodejs)")
    if not os.path.isdir(os.path.join(SOURCE_DIR, "tests", "node_modules", "pusher-js")):
        pytest.fail("tests/node_modules/pusher-js is missing (cd tests && npm ci)")
    if not shutil.which("mosquitto_pub"):
        pytest.fail("mosquitto_pub is not installed (Debian: mosquitto-clients)")


def sign(socket_id, channel, secret=SECRET):
    return hmac.new(secret.encode(), f"{socket_id}:{channel}".encode(), hashlib.sha256).hexdigest()


def mosquitto_pub(stack, topic, payload, retain=False):
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(stack.mosq.port), "-q", "1",
            "-t", topic, "-m", json.dumps(payload)]
    if retain:
        argv.append("-r")
    subprocess.run(argv, check=True, timeout=10, capture_output=True)


class PusherJs:
    """One pusher-js client in a node process: commands in, JSON lines out."""

    def __init__(self, workdir, port, **opts):
        prerequisites()
        self.lines = []
        self.q = queue.Queue()
        self.pos = 0
        self.err_path = os.path.join(workdir, f"pusher-js-{len(os.listdir(workdir))}.err")
        self.err = open(self.err_path, "wb")
        cfg = dict({"key": KEY, "secret": SECRET, "port": port}, **opts)
        self.proc = subprocess.Popen(["node", CLIENT, json.dumps(cfg)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(lambda m: m["type"] == "ready", 15, "node client ready")

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"type": "noise", "line": line})
        self.q.put(None)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def expect(self, pred, timeout=10.0, what="line"):
        """The first line from the cursor on for which pred holds; moves the
        cursor past it.  Lines before it stay in self.lines."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pos < len(self.lines):
                m = self.lines[self.pos]
                self.pos += 1
                if pred(m):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"pusher-js: no {what} within {timeout}s; last lines: "
                                   f"{self.lines[-8:]}\nstderr: {self.stderr()}")
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                raise RuntimeError(f"pusher-js exited; stderr: {self.stderr()}")
            self.lines.append(m)

    def event(self, channel, event, timeout=10.0):
        return self.expect(lambda m: m["type"] == "event" and m["channel"] == channel and
                           m["event"] == event, timeout, f"{event} on {channel}")

    def connected(self, timeout=15.0):
        return self.expect(lambda m: m["type"] == "state" and m["current"] == "connected",
                           timeout, "state connected")["socket_id"]

    def seen(self, pred):
        while True:
            try:
                m = self.q.get_nowait()
            except queue.Empty:
                break
            if m is not None:
                self.lines.append(m)
        return [m for m in self.lines if pred(m)]

    def stderr(self):
        self.err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()    # by PID (Popen)
                self.proc.wait(5)
        self.err.close()


@pytest.fixture
def clients(workdir):
    made = []

    def make(port, **opts):
        c = PusherJs(workdir, port, **opts)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def pstack(stack_factory):
    return stack_factory(bridge_overrides=PUSHER)


def app_status(m):
    """(topic, status) of an app.status event's data."""
    return m["data"]["topic"], m["data"]["data"]["status"]


# ---- pusher-js ----------------------------------------------------------------------

def test_private_channel_retained_and_live_statuses(pstack, clients):
    a1, a2 = new_uuid(), new_uuid()
    mosquitto_pub(pstack, f"team/42/app/{a1}/status", status_payload("running"), retain=True)
    c = clients(pstack.bridge.port)
    socket_id = c.connected()
    assert socket_id.split(".")[0].isdigit() and socket_id.split(".")[1].isdigit()
    c.send(cmd="subscribe", channel="private-team.42")
    asked = c.expect(lambda m: m["type"] == "auth", what="authorizer call")
    assert asked == {"type": "auth", "channel": "private-team.42", "socket_id": socket_id}
    assert c.event("private-team.42", "pusher:subscription_succeeded")["data"] == {}
    # succeeded means live: the broker's replay of the retained status came
    # before it, and a plain channel has no snapshot (private-cache- has)
    # a live one, and a retained one published while subscribed
    mosquitto_pub(pstack, f"team/42/app/{a2}/status", status_payload("starting"))
    assert app_status(c.event("private-team.42", "app.status")) == \
        (f"team/42/app/{a2}/status", "starting")
    mosquitto_pub(pstack, f"team/42/app/{a1}/status", status_payload("stopped", old="running"),
                  retain=True)
    m = c.event("private-team.42", "app.status")
    assert app_status(m) == (f"team/42/app/{a1}/status", "stopped")
    assert m["data"]["data"]["old_status"] == "running"
    # deleted: an empty retained publish
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(pstack.mosq.port), "-q", "1",
                    "-t", f"team/42/app/{a2}/status", "-r", "-n"], check=True, timeout=10)
    m = c.event("private-team.42", "deleted")
    assert m["data"] == {"topic": f"team/42/app/{a2}/status", "retained": True, "data": None}
    # the Pusher connection counts like any other
    assert pstack.bridge.metrics().get("statusbus_connections", 0) >= 1


def test_wrong_signature_gets_subscription_error_and_no_data(pstack, clients):
    c = clients(pstack.bridge.port)
    c.connected()
    c.send(cmd="subscribe", channel="private-team.42", secret="not-the-secret")
    m = c.event("private-team.42", "pusher:subscription_error")
    assert m["data"]["type"] == "AuthError" and m["data"]["status"] == 401
    # a correctly signed channel on the same connection is the barrier:
    # team 42's status is published first and would arrive first
    c.send(cmd="subscribe", channel="private-team.43")
    c.event("private-team.43", "pusher:subscription_succeeded")
    mosquitto_pub(pstack, f"team/42/app/{new_uuid()}/status", status_payload("running"), retain=True)
    mosquitto_pub(pstack, f"team/43/app/{new_uuid()}/status", status_payload("running"), retain=True)
    c.event("private-team.43", "app.status")
    assert c.seen(lambda m: m["type"] == "event" and m["channel"] == "private-team.42" and
                  m["event"] != "pusher:subscription_error") == []
    # counted, in the Pusher counters and among the bridge's auth failures
    m = pstack.bridge.metrics()
    assert m["statusbus_pusher_signature_failures_total"] == 1
    assert m["statusbus_auth_failures_total"] >= 1


def test_signature_is_bound_to_socket_and_channel(pstack):
    """What pusher-js cannot do on purpose: reuse a signature."""
    async def run():
        url = f"ws://127.0.0.1:{pstack.bridge.port}/app/{KEY}?protocol=7&client=py&version=1"
        async with websockets.connect(url) as a, websockets.connect(url) as b:
            sa = json.loads(json.loads(await a.recv())["data"])["socket_id"]
            await b.recv()
            auth = f"{KEY}:{sign(sa, 'private-team.42')}"
            for ws, ch in ((b, "private-team.42"), (a, "private-team.43"), (a, "private-cache-team.42")):
                await ws.send(json.dumps({"event": "pusher:subscribe",
                                          "data": {"auth": auth, "channel": ch}}))
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert m["event"] == "pusher:subscription_error" and m["channel"] == ch, m
                assert json.loads(m["data"])["status"] == 401
            await a.send(json.dumps({"event": "pusher:subscribe",
                                     "data": {"auth": auth, "channel": "private-team.42"}}))
            m = json.loads(await asyncio.wait_for(a.recv(), 5))
            assert m == {"event": "pusher_internal:subscription_succeeded",
                         "channel": "private-team.42", "data": "{}"}
    asyncio.run(run())


def test_cache_channel_gets_the_last_status(pstack, clients):
    a1 = new_uuid()
    live = clients(pstack.bridge.port)
    live.connected()
    live.send(cmd="subscribe", channel="private-team.42")
    live.event("private-team.42", "pusher:subscription_succeeded")
    mosquitto_pub(pstack, f"team/42/app/{a1}/status", status_payload("degraded"), retain=True)
    live.event("private-team.42", "app.status")

    c = clients(pstack.bridge.port)
    c.connected()
    c.send(cmd="subscribe", channel="private-cache-team.42")
    m = c.expect(lambda m: m["type"] == "event" and m["channel"] == "private-cache-team.42",
                 10, "subscription answer")
    assert m["event"] == "pusher:subscription_succeeded", m
    # the last status right after it, under the name subscribed with
    m = c.expect(lambda m: m["type"] == "event" and m["channel"] == "private-cache-team.42",
                 5, "the cached status")
    assert m["event"] == "app.status"
    assert app_status(m) == (f"team/42/app/{a1}/status", "degraded")
    # nothing known: pusher:cache_miss
    c.send(cmd="subscribe", channel="private-cache-team.77")
    c.event("private-cache-team.77", "pusher:subscription_succeeded")
    c.event("private-cache-team.77", "pusher:cache_miss")
    # live statuses reach both, each under its own name
    mosquitto_pub(pstack, f"team/42/app/{a1}/status", status_payload("running"), retain=True)
    assert app_status(c.event("private-cache-team.42", "app.status"))[1] == "running"
    assert app_status(live.event("private-team.42", "app.status"))[1] == "running"


def test_bridge_restart_pusher_js_reconnects_and_resubscribes(pstack, clients):
    c = clients(pstack.bridge.port)
    first = c.connected()
    c.send(cmd="subscribe", channel="private-team.42")
    c.event("private-team.42", "pusher:subscription_succeeded")
    port = pstack.bridge.port
    assert pstack.bridge.stop() == 0              # SIGTERM by PID: graceful
    # graceful shutdown closes Pusher clients with 4200 ("reconnect now")
    m = c.expect(lambda m: m["type"] == "error" and
                 (m["error"].get("data") or {}).get("code") == 4200, 10, "close 4200")
    pstack.start_bridge(PUSHER, port=port)
    second = c.connected(timeout=60)
    assert second != first
    asked = c.expect(lambda m: m["type"] == "auth" and m["socket_id"] == second, 10,
                     "authorizer call for the new socket")
    assert asked["channel"] == "private-team.42"
    c.event("private-team.42", "pusher:subscription_succeeded")
    a1 = new_uuid()
    mosquitto_pub(pstack, f"team/42/app/{a1}/status", status_payload("restarting"), retain=True)
    m = c.expect(lambda m: m["type"] == "event" and m["event"] == "app.status" and
                 m["data"]["topic"] == f"team/42/app/{a1}/status", 10, "new status")
    assert m["data"]["data"]["status"] == "restarting"


def test_acl_with_auth_on_public_and_private(stack_factory, clients):
    s = stack_factory(bridge_overrides=dict(PUSHER, **AUTH))
    c = clients(s.bridge.port)
    c.connected()
    c.send(cmd="subscribe", channel="team.42")            # not public: needs private-
    m = c.event("team.42", "pusher:subscription_error")
    assert m["data"]["status"] == 401 and "private-team.42" in m["data"]["error"]
    c.send(cmd="subscribe", channel="public.acme")        # public: no signature
    c.event("public.acme", "pusher:subscription_succeeded")
    c.send(cmd="subscribe", channel="private-team.42")    # the app backend signed it
    c.event("private-team.42", "pusher:subscription_succeeded")
    mosquitto_pub(s, "public/acme/status", {"ts": status_payload("x")["ts"], "status": "operational",
                                            "components": []}, retain=True)
    mosquitto_pub(s, f"team/42/app/{new_uuid()}/status", status_payload("running"), retain=True)
    assert c.event("public.acme", "public.status")["data"]["topic"] == "public/acme/status"
    c.event("private-team.42", "app.status")


def test_deploy_logs_batch_is_one_event(pstack, clients):
    c = clients(pstack.bridge.port)
    c.connected()
    c.send(cmd="subscribe", channel=f"private-deploy.{D1}.logs")
    c.event(f"private-deploy.{D1}.logs", "pusher:subscription_succeeded")
    lines = "\n".join(json.dumps({"seq": i, "ts": status_payload("x")["ts"], "level": "info",
                                  "stream": "stdout", "msg": f"step {i}"}) for i in range(1, 26))
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(pstack.mosq.port), "-q", "1",
                    "-t", f"deploy/{D1}/logs", "-l"], input=lines + "\n", text=True, check=True,
                   timeout=10)
    seqs = []
    while len(seqs) < 25:
        m = c.event(f"private-deploy.{D1}.logs", "deploy.log.batch")
        assert isinstance(m["data"], list) and m["data"]
        seqs += [line["seq"] for line in m["data"]]
    assert seqs == list(range(1, 26))


def test_client_events_refused_unless_enabled(stack_factory, clients):
    off = stack_factory(bridge_overrides=PUSHER)
    c = clients(off.bridge.port)
    c.connected()
    c.send(cmd="subscribe", channel="private-team.42")
    c.event("private-team.42", "pusher:subscription_succeeded")
    c.send(cmd="trigger", channel="private-team.42", event="client-typing", data={"who": "a"})
    m = c.expect(lambda m: m["type"] == "error", 10, "pusher:error")
    assert m["error"]["data"]["code"] == 4301

    on = stack_factory(bridge_overrides={"pusher": dict(PUSHER["pusher"], client_events=True)})
    a, b = clients(on.bridge.port), clients(on.bridge.port)
    for x in (a, b):
        x.connected()
        x.send(cmd="subscribe", channel="private-team.42")
        x.event("private-team.42", "pusher:subscription_succeeded")
    a.send(cmd="trigger", channel="private-team.42", event="client-typing", data={"who": "a"})
    assert b.event("private-team.42", "client-typing")["data"] == {"who": "a"}
    assert a.seen(lambda m: m.get("event") == "client-typing") == []


def test_example_auth_endpoint_with_pusher_js(stack_factory, clients, workdir):
    s = stack_factory(bridge_overrides=dict(PUSHER, **AUTH))
    log = open(os.path.join(workdir, "pusher-auth.log"), "wb")
    srv = subprocess.Popen(["python3", AUTH_SERVER, "--key", KEY, "--secret", SECRET, "--port", "0",
                            "--users", json.dumps({"alice": ["42"]})],
                           stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        first = srv.stdout.readline()
        assert "/broadcasting/auth" in first, first
        endpoint = first.split("POST ", 1)[1].strip()

        def post(body, user="alice"):
            req = urllib.request.Request(endpoint, data=body.encode(), method="POST",
                                         headers={"Authorization": f"Bearer {user}",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert post("socket_id=1.2&channel_name=private-team.42") == \
            (200, {"auth": f"{KEY}:{sign('1.2', 'private-team.42')}"})
        assert post("socket_id=1.2&channel_name=private-team.43")[0] == 403
        assert post("socket_id=1.2&channel_name=private-team.42", user="mallory")[0] == 401
        assert post("socket_id=1.2;x&channel_name=private-team.42")[0] == 400

        c = clients(s.bridge.port, authEndpoint=endpoint, authHeaders={"Authorization": "Bearer alice"})
        c.connected()
        c.send(cmd="subscribe", channel="private-team.42")
        c.event("private-team.42", "pusher:subscription_succeeded")
        c.send(cmd="subscribe", channel="private-team.43")
        m = c.event("private-team.43", "pusher:subscription_error")
        assert m["data"]["status"] == 403          # the endpoint said no; pusher-js reports it
        mosquitto_pub(s, f"team/42/app/{new_uuid()}/status", status_payload("running"), retain=True)
        c.event("private-team.42", "app.status")
    finally:
        srv.terminate()
        srv.wait(5)
        log.close()


# ---- raw WebSocket: what pusher-js does not show --------------------------------------

async def closed_with(ws, timeout):
    """Reads until the server closes; returns (code, reason, frames)."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.ConnectionClosed as e:
        return (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else None), frames


def test_handshake_close_codes(pstack):
    async def one(path):
        async with websockets.connect(f"ws://127.0.0.1:{pstack.bridge.port}{path}") as ws:
            return await closed_with(ws, 5)

    for path, code in ((f"/app/nope?protocol=7", 4001), (f"/app/{KEY}", 4008),
                       (f"/app/{KEY}?protocol=six", 4006), (f"/app/{KEY}?protocol=6", 4007)):
        got, reason, frames = asyncio.run(one(path))
        assert got == code, (path, got, reason)
        assert frames and frames[0]["event"] == "pusher:error", frames
        assert frames[0]["data"]["code"] == code
    # and one that is accepted
    ok = asyncio.run(websockets_first(pstack, f"/app/{KEY}?protocol=7&client=js&version=8.6.0"))
    assert ok["event"] == "pusher:connection_established"
    data = json.loads(ok["data"])
    assert data["activity_timeout"] == 120
    a, b = data["socket_id"].split(".")
    assert a.isdigit() and b.isdigit()


async def websockets_first(stack, path):
    async with websockets.connect(f"ws://127.0.0.1:{stack.bridge.port}{path}") as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_server_ping_then_4201_without_pong(stack_factory):
    s = stack_factory(bridge_overrides={"pusher": dict(PUSHER["pusher"], activity_timeout_s=10)})

    async def run():
        url = f"ws://127.0.0.1:{s.bridge.port}/app/{KEY}?protocol=7"
        async with websockets.connect(url, ping_interval=None) as ws:
            hello = json.loads(await ws.recv())
            assert json.loads(hello["data"])["activity_timeout"] == 10
            # the client's ping is answered
            await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] == "pusher:pong"
            t0 = time.monotonic()
            # silence: the server pings after activity_timeout ...
            m = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert m["event"] == "pusher:ping", m
            assert 9 <= time.monotonic() - t0 <= 13
            # ... and closes 4201 when no pong comes within 30 s
            code, reason, _ = await closed_with(ws, 40)
            assert code == 4201, (code, reason)
            assert 29 <= time.monotonic() - t0 - 10 <= 34
    asyncio.run(run())
