# SPDX-License-Identifier: MIT
"""Core behaviour of statusbus-bridge (issue 2) against a real mosquitto and
a real bridge: retained snapshots and the bridge's cache, one MQTT
subscription per filter, live order, deletions, unsub, broker restarts, the
statusbus.v1 error contract (docs/protocol.md §5), hello timeout, SIGTERM,
the command line (§11) and where the bridge listens.

Absence is proved with a sentinel: the message that must not arrive is
published first, an allowed one after it on the same MQTT connection and
the same WebSocket; once the sentinel has arrived, the other would have
arrived before it."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import websockets

import sbharness
from sbharness import Publisher, Ws, new_uuid, status_payload, wait_for

TEAM_FILTERS = next(c for c in sbharness.shipped_config()["channels"]
                    if c["name"] == "team.{team}")["topics"]


@pytest.fixture
def start(stack_factory):
    """start(overrides=None, **kw) -> a started Stack (broker + bridge)."""
    return lambda overrides=None, **kw: stack_factory(bridge_overrides=overrides, **kw)


def run(coro, timeout=90):
    """Runs one test body with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def app_topic(team="42", app=None):
    return f"team/{team}/app/{app or new_uuid()}/status"


def mqtt_subs(bridge):
    return bridge.metrics()["statusbus_mqtt_subscriptions"]


async def close_all(*clients):
    for c in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.close(), 5)


def is_event(topic, event=None):
    return lambda m: (m.get("op") == "event" and m.get("topic") == topic and
                      (event is None or m.get("event") == event))


# ---- retained status and the bridge's cache ------------------------------------

def test_retained_status_published_before_subscribe_is_delivered_after_ack(stack):
    m = stack.mqtt()
    topic = app_topic()
    payload = status_payload("running", name="api", reason="published before any subscriber")
    m.publish(topic, payload, retain=True)

    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            ack = await w.sub("team.42")
            assert ack["op"] == "ack" and ack["channel"] == "team.42", ack
            assert "recovered" not in ack, ack
            ev = await w.expect(is_event(topic), what=f"snapshot of {topic}")
            assert ev == {"op": "event", "channel": "team.42", "event": "app.status",
                          "topic": topic, "retained": True, "data": payload}
            # nothing of the channel came before the ack
            before = w.frames[:w.frames.index(ack)]
            assert not [f for f in before if f.get("op") == "event"], before
        finally:
            await close_all(w)
    run(body())


def test_second_client_gets_snapshot_from_cache_with_one_mqtt_subscription_per_filter(stack):
    m = stack.mqtt()
    topic = app_topic()
    payload = status_payload("degraded", reason="cache test")
    m.publish(topic, payload, retain=True)
    base = mqtt_subs(stack.bridge)

    async def body():
        w1 = await Ws.connect(stack.bridge.url)
        w2 = await Ws.connect(stack.bridge.url)
        try:
            await w1.sub("team.42")
            await w1.expect(is_event(topic), what="first client's snapshot")
            one = mqtt_subs(stack.bridge)
            # the app, db, service and deploy status filters ride on the
            # bridge's own team/+/<kind>/+/status (protocol.md §3.4)
            carried = [f for f in TEAM_FILTERS if f.split("/")[2] in ("app", "db", "service", "deploy")
                       and f.endswith("/+/status")]
            assert one == base + len(TEAM_FILTERS) - len(carried), (base, one, TEAM_FILTERS)
            assert stack.bridge.metrics()["statusbus_mqtt_subscriptions_carried"] == len(carried)

            ack = await w2.sub("team.42")
            assert ack["op"] == "ack", ack
            ev = await w2.expect(is_event(topic), what="second client's snapshot")
            assert ev["data"] == payload and ev["retained"] is True, ev
            # no new MQTT subscription: the snapshot came from the bridge's cache
            assert mqtt_subs(stack.bridge) == one

            r = await w1.request({"op": "unsub", "channel": "team.42"})
            assert r["op"] == "ack", r
            assert mqtt_subs(stack.bridge) == one, "a subscriber is left: filters stay"
            r = await w2.request({"op": "unsub", "channel": "team.42"})
            assert r["op"] == "ack", r
            wait_for(lambda: mqtt_subs(stack.bridge) == base, 5,
                     what=f"mqtt subscriptions back to {base}")
        finally:
            await close_all(w1, w2)
    run(body())


def test_live_status_updates_arrive_in_publish_order(stack):
    """Each topic's updates arrive in publish order and end with its latest.
    A newer status replaces a queued one of the same topic (docs/protocol.md
    §6), so a client may see a subsequence; order across topics is checked for
    events that are never conflated (next test)."""
    m = stack.mqtt()
    topics = [app_topic() for _ in range(5)]

    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            await w.sub("team.42")
            published = []
            infos = []
            for n in range(1, 101):
                t = topics[n % len(topics)]
                infos.append(m.c.publish(t, json.dumps(status_payload("running", reason=f"n={n}")),
                                         qos=1, retain=True))
                published.append((t, n))
            for i in infos:
                i.wait_for_publish(10)
            last = {t: n for t, n in published}
            got = []
            while {t: n for t, n in got} != last:
                ev = await w.expect(lambda f: f.get("op") == "event", 10,
                                    what=f"latest status of every topic; got {got[-5:]}")
                got.append((ev["topic"], int(ev["data"]["reason"][2:])))
            for t in topics:
                ns = [n for tt, n in got if tt == t]
                assert ns == sorted(ns) and len(set(ns)) == len(ns), f"{t} out of order: {ns}"
                assert ns[-1] == last[t]
            ns = [n for _, n in got]
            inversions = sum(1 for a, b in zip(ns, ns[1:]) if b < a)
            print(f"{len(got)} of {len(published)} updates delivered (rest conflated); "
                  f"{inversions} cross-topic inversions: {ns}")
        finally:
            await close_all(w)
    run(body())


def test_live_notifications_arrive_in_publish_order_without_loss(stack):
    """Non-retained events are never conflated: every one, in order."""
    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            await w.sub("user.u1")
            pub = Publisher(stack.mosq.port, [{"kind": "notify", "topic": "user/u1/notify",
                                               "count": 300}])
            got = []
            while len(got) < 300:
                ev = await w.expect(lambda f: f.get("op") == "event", 15,
                                    what=f"notification {len(got) + 1}")
                assert ev["event"] == "notify" and ev["retained"] is False, ev
                got.append(int(ev["data"]["title"][2:]))
            await pub.wait_async()
            assert got == list(range(1, 301))
        finally:
            await close_all(w)
    run(body())


def test_empty_retained_publish_arrives_as_deleted_and_leaves_the_snapshot(stack):
    m = stack.mqtt()
    gone, kept, sentinel = app_topic(), app_topic(), app_topic()
    m.publish(gone, status_payload("running"), retain=True)
    m.publish(kept, status_payload("running"), retain=True)

    async def body():
        w1 = await Ws.connect(stack.bridge.url)
        w2 = await Ws.connect(stack.bridge.url)
        try:
            await w1.sub("team.42")
            await w1.expect(is_event(gone), what="snapshot of the topic to delete")
            m.publish(gone, b"", retain=True)
            ev = await w1.expect(is_event(gone, "deleted"), what="deleted event")
            assert ev["data"] is None and ev["channel"] == "team.42", ev

            ack = await w2.sub("team.42")
            await w2.expect(is_event(kept), what="snapshot of the kept topic")
            m.publish(sentinel, status_payload("starting"), retain=True)
            await w2.expect(is_event(sentinel), what="sentinel")
            after = w2.frames[w2.frames.index(ack):]
            assert not [f for f in after if f.get("topic") == gone], after
        finally:
            await close_all(w1, w2)
    run(body())


def test_unsub_stops_delivery(stack):
    m = stack.mqtt()
    t42, t43 = app_topic("42"), app_topic("43")

    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            await w.sub("team.42")
            await w.sub("team.43")
            m.publish(t42, status_payload("running"), retain=True)
            await w.expect(is_event(t42), what="delivery before unsub")
            ack = await w.request({"op": "unsub", "channel": "team.42"})
            assert ack["op"] == "ack" and ack["channel"] == "team.42", ack
            m.publish(t42, status_payload("stopped", "running"), retain=True)
            m.publish(t43, status_payload("running"), retain=True)
            await w.expect(is_event(t43), what="sentinel on team.43")
            after = w.frames[w.frames.index(ack) + 1:]
            assert not [f for f in after if f.get("channel") == "team.42"], after
        finally:
            await close_all(w)
    run(body())


def test_many_new_channels_at_once_are_all_acked(stack):
    """1000 channels nobody followed, asked for at once by 10 clients: each
    grant is followed by a replay barrier the bridge publishes (QoS 1), and
    Paho refused publishes past 100 queued for its send thread; those
    channels answered `unavailable`.  Every one is acked now."""
    async def body():
        ws = [await Ws.connect(stack.bridge.url) for _ in range(10)]
        try:
            for k, w in enumerate(ws):
                for i in range(100):
                    await w.send({"op": "sub", "id": i + 1, "channel": f"team.m{k}x{i}"})
            for w in ws:
                replies = {}
                while len(replies) < 100:
                    m = await w.expect(lambda m: m.get("op") in ("ack", "error"), 60,
                                       what="the replies to 100 subs")
                    replies[m["id"]] = m
                refused = [m for m in replies.values() if m["op"] != "ack"]
                assert not refused, refused[:3]
        finally:
            for w in ws:
                await w.close()
    asyncio.run(asyncio.wait_for(body(), 120))
    assert "No more messages can be buffered" not in stack.bridge.output()


def test_broker_restart_bridge_reports_unhealthy_then_resubscribes(stack):
    m = stack.mqtt()
    t1, t2 = app_topic(), app_topic()

    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            await w.sub("team.42")
            m.publish(t1, status_payload("running"), retain=True)
            await w.expect(is_event(t1), what="delivery before the broker stops")
            m.close()
            stack.clients.remove(m)
            reconnects = stack.bridge.metrics()["statusbus_mqtt_reconnects_total"]

            stack.mosq.stop()
            st = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(stack.bridge.health()),
                          15, what="/healthz 503 while the broker is down")
            assert st[1].get("mqtt") == "disconnected", st

            stack.mosq.restart()
            st = wait_for(lambda: (lambda h: h if h[0] == 200 else None)(stack.bridge.health()),
                          45, what="/healthz 200 after the broker is back")
            assert st[1].get("mqtt") == "connected", st
            assert stack.bridge.metrics()["statusbus_mqtt_reconnects_total"] > reconnects

            m2 = stack.mqtt()
            # a restart of a persistent broker, not a fresh empty one
            m2.subscribe(t1)
            wait_for(lambda: any(t == t1 and r for t, _, r in m2.received), 10,
                     what="the status retained before the restart")
            m2.publish(t2, status_payload("restarting", "running"), retain=True)
            ev = await w.expect(is_event(t2), 15, what="live event after the broker restart")
            assert ev["data"]["status"] == "restarting"
            assert w.conn.open, "the client had to reconnect"
            assert w.conn.close_code is None
            # an ack means every filter of team.42 is synced again (its
            # replay barrier came back); mosquitto replayed t1 to them, so
            # no empty replay of known statuses was counted (RabbitMQ's
            # would be: docs/scaling.md)
            w2 = await Ws.connect(stack.bridge.url)
            assert (await w2.sub("team.42"))["op"] == "ack"
            await close_all(w2)
            assert stack.bridge.metrics()["statusbus_mqtt_retained_missing_total"] == 0
        finally:
            await close_all(w)
    run(body())


# ---- the error contract ----------------------------------------------------------

BAD_FRAMES = [
    # (name, frame, expected code, id echoed)
    ("not_json", "this is not json", "bad_request", None),
    ("json_array", '[{"op":"ping","id":1}]', "bad_request", None),
    ("unknown_op", {"op": "subscribe", "id": 7, "channel": "team.42"}, "bad_request", 7),
    ("missing_channel", {"op": "sub", "id": 8}, "bad_request", 8),
    ("channel_plus", {"op": "sub", "id": 9, "channel": "team.+"}, "bad_request", 9),
    ("channel_hash", {"op": "sub", "id": 10, "channel": "team.#"}, "bad_request", 10),
    ("channel_slash", {"op": "sub", "id": 11, "channel": "team.42/app"}, "bad_request", 11),
    ("channel_dotdot", {"op": "sub", "id": 12, "channel": "team..42"}, "bad_request", 12),
    ("channel_nul", {"op": "sub", "id": 13, "channel": "team.4\u00002"}, "bad_request", 13),
    ("channel_empty_segment", {"op": "sub", "id": 14, "channel": "team.42."}, "bad_request", 14),
    ("channel_empty", {"op": "sub", "id": 15, "channel": ""}, "bad_request", 15),
    ("unknown_channel", {"op": "sub", "id": 16, "channel": "nosuch.42"}, "not_found", 16),
    ("non_integer_id", {"op": "ping", "id": "four"}, "bad_request", None),
    ("fractional_id", {"op": "sub", "id": 1.5, "channel": "team.42"}, "bad_request", None),
]


async def assert_still_serving(stack, other, mqtt_client):
    """The other client keeps getting live events, and a new client is
    welcomed."""
    t = app_topic()
    mqtt_client.publish(t, status_payload("running"), retain=True)
    await other.expect(is_event(t), what="live event on the other client")
    fresh = await Ws.connect(stack.bridge.url)
    r = await fresh.request({"op": "ping"})
    assert r["op"] == "pong", r
    await close_all(fresh)


@pytest.mark.parametrize("name,frame,code,echo_id", BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES])
def test_bad_frame_gets_error_and_bridge_keeps_serving(stack, name, frame, code, echo_id):
    m = stack.mqtt()

    async def body():
        other = await Ws.connect(stack.bridge.url)
        w = await Ws.connect(stack.bridge.url)
        try:
            await other.sub("team.42")
            await w.send(frame)
            err = await w.expect(lambda f: f.get("op") in ("error", "ack", "pong"),
                                 what=f"reply to {name}")
            assert err["op"] == "error" and err["code"] == code, err
            assert isinstance(err.get("message"), str) and err["message"], err
            if echo_id is not None:
                assert err.get("id") == echo_id, err
            # the bad frame subscribed nothing
            assert not [f for f in w.frames if f.get("op") == "ack"], w.frames
            await assert_still_serving(stack, other, m)
        finally:
            await close_all(w, other)
    run(body())


def test_more_than_max_subscriptions_is_refused(start):
    s = start({"limits": {"max_subscriptions": 3}})
    m = s.mqtt()

    async def body():
        other = await Ws.connect(s.bridge.url)
        w = await Ws.connect(s.bridge.url)
        try:
            assert w.welcome["limits"]["max_subscriptions"] == 3, w.welcome
            await other.sub("team.42")
            for ch in ("team.1", "team.2", "team.3"):
                r = await w.sub(ch)
                assert r["op"] == "ack", r
            r = await w.sub("team.4")
            assert r["op"] == "error" and r["code"] == "too_many_subscriptions", r
            await assert_still_serving(s, other, m)
        finally:
            await close_all(w, other)
    run(body())


def test_frame_over_max_frame_bytes_is_closed_4009(start):
    s = start({"limits": {"max_frame_bytes": 1024}})
    m = s.mqtt()

    async def body():
        other = await Ws.connect(s.bridge.url)
        w = await Ws.connect(s.bridge.url)
        try:
            await other.sub("team.42")
            await w.send(json.dumps({"op": "sub", "id": 1, "channel": "team.42" + "x" * 2000}))
            code, _ = await w.closed(5)
            assert code == 4009
            await assert_still_serving(s, other, m)
        finally:
            await close_all(w, other)
    run(body())


def test_binary_frame_is_closed_4000(stack):
    m = stack.mqtt()

    async def body():
        other = await Ws.connect(stack.bridge.url)
        w = await Ws.connect(stack.bridge.url)
        try:
            await other.sub("team.42")
            await w.send(b'{"op":"ping","id":1}')
            code, _ = await w.closed(5)
            assert code == 4000
            await assert_still_serving(stack, other, m)
        finally:
            await close_all(w, other)
    run(body())


def test_ping_gets_pong_with_its_id(stack):
    async def body():
        w = await Ws.connect(stack.bridge.url)
        try:
            await w.send({"op": "ping", "id": 4})
            assert await w.recv() == {"op": "pong", "id": 4}
        finally:
            await close_all(w)
    run(body())


def test_client_without_hello_is_closed_4001_after_hello_timeout(start):
    s = start({"limits": {"hello_timeout_s": 1}})

    async def body():
        # connected first: its hello deadline passes before the silent one's
        polite = await Ws.connect(s.bridge.url)
        t0 = time.monotonic()
        silent = await Ws.connect(s.bridge.url, hello=False)
        try:
            code, _ = await silent.closed(5)
            elapsed = time.monotonic() - t0
            assert code == 4001
            assert 0.9 <= elapsed <= 3.5, elapsed
            # a client that said hello in time stays
            r = await polite.request({"op": "ping"})
            assert r["op"] == "pong", r
        finally:
            await close_all(silent, polite)
    run(body())


def test_sigterm_closes_clients_1001_and_exits_0(stack):
    async def body():
        a = await Ws.connect(stack.bridge.url)
        b = await Ws.connect(stack.bridge.url)
        await a.sub("team.42")
        stack.bridge.send_signal(signal.SIGTERM)
        assert (await a.closed(10))[0] == 1001
        assert (await b.closed(10))[0] == 1001
    run(body())
    assert stack.bridge.proc.wait(10) == 0, stack.bridge.output()


# ---- command line ------------------------------------------------------------------

def bridge_cli(*args, cwd=None):
    return subprocess.run([sbharness.binary("statusbus-bridge"), *args], capture_output=True,
                          text=True, timeout=30, cwd=cwd or sbharness.SOURCE_DIR)


def shipped_with_secrets(workdir):
    """examples/bridge.json with its secret files written to workdir."""
    cfg = sbharness.shipped_config()
    for section, key, text in (("mqtt", "password_file", "bridge-password\n"),
                               ("auth", "jwt_secret_file", "0123456789abcdef0123456789abcdef\n")):
        path = os.path.join(workdir, f"{section}.{key}")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        cfg[section][key] = path
    return cfg


def write_config(workdir, cfg, name="bridge.json"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def test_check_config_accepts_the_shipped_config(workdir):
    r = bridge_cli("--check-config", "-c", write_config(workdir, shipped_with_secrets(workdir)))
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_config_accepts_open_mode_on_loopback(workdir):
    cfg = sbharness.shipped_config()
    cfg.pop("auth")
    r = bridge_cli("--check-config", "-c", write_config(workdir, cfg))
    assert r.returncode == 0, r.stdout + r.stderr


def _unknown_key(cfg):
    cfg["limits"]["max_conections"] = 5
    return "limits.max_conections"


def _unknown_top_key(cfg):
    cfg["listen_port"] = 8080
    return "listen_port"


def _bad_type(cfg):
    cfg["limits"]["max_frame_bytes"] = "64k"
    return "limits.max_frame_bytes"


def _bad_type_bool(cfg):
    cfg["listen"]["port"] = True
    return "listen.port"


def _open_mode_not_loopback(cfg):
    cfg.pop("auth")
    cfg["listen"]["host"] = "0.0.0.0"
    return "listen.host"


@pytest.mark.parametrize("breaker", [_unknown_key, _unknown_top_key, _bad_type, _bad_type_bool,
                                     _open_mode_not_loopback],
                         ids=lambda f: f.__name__.strip("_"))
def test_check_config_rejects_and_names_the_key(workdir, breaker):
    cfg = shipped_with_secrets(workdir)
    key = breaker(cfg)
    r = bridge_cli("--check-config", "-c", write_config(workdir, cfg))
    assert r.returncode == 1, r.stdout + r.stderr
    assert key in r.stdout + r.stderr, r.stdout + r.stderr


def test_help_and_version_exit_0():
    r = bridge_cli("--help")
    assert r.returncode == 0 and "Usage" in r.stdout and "--check-config" in r.stdout, r
    r = bridge_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("statusbus-bridge "), r


# ---- where the bridge listens ---------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/v2/ws", "/v1/ws/x", "/v1/wss", "/healthz"])
def test_websocket_upgrade_on_another_path_is_refused(stack, path):
    async def body():
        with pytest.raises(websockets.exceptions.InvalidHandshake):
            c = await websockets.connect(f"ws://127.0.0.1:{stack.bridge.port}{path}",
                                         subprotocols=["statusbus.v1"], open_timeout=5)
            await c.close()
        # and the right path works
        w = await Ws.connect(stack.bridge.url)
        await close_all(w)
    run(body())


def local_addresses():
    """Addresses of this machine's interfaces (link-local IPv6 left out)."""
    out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    addrs = []
    for line in out.splitlines():
        parts = line.split()
        fam = parts[2]
        if fam not in ("inet", "inet6"):
            continue
        addr = parts[3].split("/")[0]
        if addr.startswith("fe80:"):
            continue
        addrs.append((socket.AF_INET if fam == "inet" else socket.AF_INET6, addr))
    return addrs


def connects(family, addr, port):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect((addr, port))
            return True
        except OSError:
            return False


def test_listens_only_on_127_0_0_1_not_the_rest_of_loopback(stack):
    port = stack.bridge.port
    assert connects(socket.AF_INET, "127.0.0.1", port)
    assert not connects(socket.AF_INET, "127.0.0.2", port), "bound to more than 127.0.0.1"
    assert not connects(socket.AF_INET6, "::1", port), "bound to ::1 as well"


def test_not_reachable_on_other_interfaces(stack):
    others = [(f, a) for f, a in local_addresses()
              if not a.startswith("127.") and a != "::1"]
    if not others:
        pytest.skip("this machine has no address other than loopback")
    port = stack.bridge.port
    reachable = [a for f, a in others if connects(f, a, port)]
    assert not reachable, f"bridge reachable on {reachable}; listen.host is 127.0.0.1"


# ---- a quick measure -------------------------------------------------------------

def test_measure_events_per_second_to_100_clients_on_one_channel(stack):
    """Prints the rate; asserts only that every client got every event."""
    n_clients, n_events = 100, 1000

    async def body():
        clients = []
        for _ in range(n_clients):
            clients.append(await Ws.connect(stack.bridge.url))
        try:
            for c in clients:
                await c.sub("user.u1")

            async def drain(c):
                got = 0
                while got < n_events:
                    raw = await asyncio.wait_for(c.conn.recv(), 30)
                    if '"op":"event"' in raw:
                        got += 1
                return time.time(), json.loads(raw)["data"]["title"]
            tasks = [asyncio.create_task(drain(c)) for c in clients]
            pub = Publisher(stack.mosq.port, [{"kind": "notify", "topic": "user/u1/notify",
                                               "count": n_events}])
            ends = await asyncio.gather(*tasks)
            res = await pub.wait_async()
            assert all(title == f"n={n_events}" for _, title in ends), ends[:3]
            secs = max(t for t, _ in ends) - res["start"]
            print(f"\n{n_clients} clients x {n_events} events on user.u1: "
                  f"{n_clients * n_events / secs:.0f} events/s delivered "
                  f"({secs:.2f} s from first publish to last receipt)")
        finally:
            await close_all(*clients)
    run(body(), 120)
