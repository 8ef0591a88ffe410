# SPDX-License-Identifier: MIT
"""Presence channels (docs/protocol.md §5.12) against the real bridge and a
real mosquitto: statusbus.v1 presence.join / presence.leave and
{"op":"presence"}, a user with several connections counted once, and the
cluster-wide member set of two bridges on one broker, including a bridge
killed with -9 (its MQTT will).

Absence is proved, never slept on: a frame the bridge must not send would
be queued before the answer to a later ping of the same client, so a
`pong` with no such frame before it proves it was not sent.  A connection
closed by the client is known gone once the bridge's connections gauge
dropped."""

import asyncio
import json
import os
import signal
import time

import jwt
import pytest

from sbharness import Ws, shipped_config, wait_for

SECRET = "presence-hs256-secret-0123456789abcdef0123"
TEAM = "42"
ROOM = f"room.{TEAM}"


def channels():
    """The shipped map plus one presence channel per team."""
    chans = json.loads(json.dumps(shipped_config()["channels"]))
    chans.append({"name": "room.{team}", "topics": ["team/{team}/incident/+"], "acl": "team",
                  "delivery": {"mode": "immediate"}, "presence": True})
    return chans


def overrides(**kw):
    o = {"mqtt": {"password_file": None},
         "auth": {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
                  "jwt_public_key_file": None, "issuer": None, "audience": None},
         "channels": channels()}
    o.update(kw)
    return o


def token(sub, name=None, teams=(TEAM,)):
    now = int(time.time())
    c = {"sub": sub, "teams": list(teams), "exp": now + 600, "iat": now}
    if name:
        c["name"] = name
    return jwt.encode(c, SECRET, algorithm="HS256")


def is_presence(event, sub=None):
    return lambda m: (m.get("op") == "event" and m.get("event") == event and
                      (sub is None or m["data"]["sub"] == sub))


async def presence_req(ws, channel=ROOM):
    """The answer to {"op":"presence"}: the member list, or an error."""
    rid = ws.next_id()
    await ws.send({"op": "presence", "id": rid, "channel": channel})
    return await ws.expect(lambda m: m.get("id") == rid and m.get("op") in ("presence", "error"),
                           what="presence answer")


async def members(ws, channel=ROOM):
    r = await presence_req(ws, channel)
    assert r.get("op") == "presence", r
    return r


async def no_presence_event_before_pong(ws):
    """Nothing about presence was queued for ws before this ping."""
    before = len(ws.frames)
    r = await ws.request({"op": "ping"})
    assert r["op"] == "pong"
    got = [f for f in ws.frames[before:] if f.get("event", "").startswith("presence.")]
    assert not got, got


def connections(bridge):
    return bridge.metrics().get("statusbus_connections")


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 90))


def test_join_leave_list_one_user_many_connections(stack_factory):
    s = stack_factory(bridge_overrides=overrides())
    b = s.bridge

    async def go():
        bob = await Ws.connect(b.url, token=token("bob", "Bob"))
        assert (await bob.sub(ROOM))["op"] == "ack"
        r = await members(bob)
        assert r["members"] == [{"sub": "bob", "name": "Bob"}]

        # the first connection of alice joins; bob is told, alice is not
        a1 = await Ws.connect(b.url, token=token("alice", "Alice"))
        assert (await a1.sub(ROOM))["op"] == "ack"
        j = await bob.expect(is_presence("presence.join"), what="alice's join")
        assert j["channel"] == ROOM
        assert j["data"] == {"sub": "alice", "name": "Alice"}
        await no_presence_event_before_pong(a1)

        # a second tab of alice: still one member, nobody is told
        a2 = await Ws.connect(b.url, token=token("alice", "Alice"))
        assert (await a2.sub(ROOM))["op"] == "ack"
        await no_presence_event_before_pong(bob)
        r = await members(a2)
        assert r["members"] == [{"sub": "alice", "name": "Alice"}, {"sub": "bob", "name": "Bob"}]

        # alice closes one tab: still a member
        n = connections(b)
        await a1.close()
        wait_for(lambda: connections(b) == n - 1, 10, what="a1 gone at the bridge")
        await no_presence_event_before_pong(bob)
        assert [m["sub"] for m in (await members(bob))["members"]] == ["alice", "bob"]

        # her last one leaves: bob is told once
        assert (await a2.request({"op": "unsub", "channel": ROOM}))["op"] == "ack"
        lv = await bob.expect(is_presence("presence.leave"), what="alice's leave")
        assert lv["data"] == {"sub": "alice", "name": "Alice"}
        assert (await members(bob))["members"] == [{"sub": "bob", "name": "Bob"}]
        await no_presence_event_before_pong(bob)

        # errors: not subscribed, not a presence channel
        r = await presence_req(a2)
        assert r["op"] == "error" and r["code"] == "not_found", r
        assert (await a2.sub(f"team.{TEAM}"))["op"] == "ack"
        r = await presence_req(a2, f"team.{TEAM}")
        assert r["op"] == "error" and r["code"] == "bad_request", r
        for ws in (bob, a2):
            await ws.close()

    run(go())
    m = b.metrics()
    assert m.get("statusbus_presence_joins_total") == 2   # bob, alice
    assert m.get("statusbus_presence_leaves_total") >= 1


def test_members_bounded(stack_factory):
    s = stack_factory(bridge_overrides=overrides(limits={"presence_max_members": 1}))
    b = s.bridge

    async def go():
        a = await Ws.connect(b.url, token=token("alice"))
        assert (await a.sub(ROOM))["op"] == "ack"
        a2 = await Ws.connect(b.url, token=token("alice"))
        assert (await a2.sub(ROOM))["op"] == "ack"     # the same user: fits
        c = await Ws.connect(b.url, token=token("carol"))
        r = await c.sub(ROOM)
        assert r["op"] == "error" and r["code"] == "forbidden" and "full" in r["message"], r
        await no_presence_event_before_pong(a)
        for ws in (a, a2, c):
            await ws.close()

    run(go())
    assert b.metrics().get("statusbus_presence_refused_total") == 1


def test_two_bridges_one_member_set(stack_factory):
    # keepalive 5 s: a bridge killed with -9 is gone within 1.5 x 5 s
    s = stack_factory(bridge_overrides=overrides(mqtt={"password_file": None, "keepalive_s": 5}))
    a_br = s.bridge
    b_br = s.start_bridge(overrides(mqtt={"password_file": None, "keepalive_s": 5}))

    async def go():
        alice = await Ws.connect(a_br.url, token=token("alice", "Alice"))
        assert (await alice.sub(ROOM))["op"] == "ack"
        bob = await Ws.connect(b_br.url, token=token("bob", "Bob"))
        assert (await bob.sub(ROOM))["op"] == "ack"

        # each side learns the other's member through the broker
        j = await alice.expect(is_presence("presence.join", "bob"), 10, what="bob via bridge B")
        assert j["data"]["name"] == "Bob"

        async def both():
            r = await members(bob)
            return [m["sub"] for m in r["members"]] == ["alice", "bob"]
        deadline = time.monotonic() + 10
        while not await both():
            assert time.monotonic() < deadline, bob.frames[-5:]
        assert [m["sub"] for m in (await members(alice))["members"]] == ["alice", "bob"]

        # alice also on bridge B: still one member for everyone
        alice_b = await Ws.connect(b_br.url, token=token("alice", "Alice"))
        assert (await alice_b.sub(ROOM))["op"] == "ack"
        await no_presence_event_before_pong(bob)
        # alice leaves bridge A, stays on B: nobody is told she left
        assert (await alice.request({"op": "unsub", "channel": ROOM}))["op"] == "ack"
        assert [m["sub"] for m in (await members(alice_b))["members"]] == ["alice", "bob"]
        await alice_b.close()
        lv = await bob.expect(is_presence("presence.leave", "alice"), 10, what="alice left B")
        assert lv["channel"] == ROOM

        # carol on bridge A, which dies: bridge B drops her through A's will
        carol = await Ws.connect(a_br.url, token=token("carol", "Carol"))
        assert (await carol.sub(ROOM))["op"] == "ack"
        await bob.expect(is_presence("presence.join", "carol"), 10, what="carol via A")
        a_br.send_signal(signal.SIGKILL)
        wait_for(lambda: not a_br.alive(), 5, what="bridge A dead")
        lv = await bob.expect(is_presence("presence.leave", "carol"), 20,
                              what="carol gone with bridge A's will")
        assert [m["sub"] for m in (await members(bob))["members"]] == ["bob"]
        await bob.close()

    run(go())
    assert b_br.metrics().get("statusbus_presence_bridges_gone_total") == 1


def test_bridge_stop_clears_its_members(stack_factory):
    """A clean stop (SIGTERM) clears the bridge's lists at once: the others'
    members leave without waiting for a keepalive, and a bridge started
    later sees none of them."""
    s = stack_factory(bridge_overrides=overrides())
    a_br = s.bridge
    b_br = s.start_bridge(overrides())

    async def go():
        alice = await Ws.connect(a_br.url, token=token("alice"))
        assert (await alice.sub(ROOM))["op"] == "ack"
        bob = await Ws.connect(b_br.url, token=token("bob"))
        assert (await bob.sub(ROOM))["op"] == "ack"
        deadline = time.monotonic() + 10
        while [m["sub"] for m in (await members(bob))["members"]] != ["alice", "bob"]:
            assert time.monotonic() < deadline
        a_br.stop()
        await bob.expect(is_presence("presence.leave", "alice"), 10, what="alice left with A")
        await bob.close()

    run(go())
    # a new bridge reads the retained state: only what is alive
    c_br = s.start_bridge(overrides())

    async def late():
        dave = await Ws.connect(c_br.url, token=token("dave"))
        assert (await dave.sub(ROOM))["op"] == "ack"
        deadline = time.monotonic() + 10
        # bob left too (his socket closed): the set settles on dave alone
        while [m["sub"] for m in (await members(dave))["members"]] != ["dave"]:
            assert time.monotonic() < deadline, dave.frames[-3:]
        await dave.close()

    run(late())
