# SPDX-License-Identifier: MIT
"""WebSocket heartbeat (issue 2): the bridge pings every limits.heartbeat_s
and drops a client that stays silent for limits.idle_timeout_s; a client
that answers keeps its connection.  Uses a raw socket client so that
nothing answers pings behind the test's back."""

import json
import socket
import time

from sbharness import ws_handshake as handshake, ws_read_frame as read_frame, \
    ws_send_frame as send_frame


def welcomed(port, n):
    """(t0, n raw clients past hello/welcome): t0 is when the hellos went."""
    socks = [handshake(port) for _ in range(n)]
    for s in socks:
        send_frame(s, 0x1, json.dumps({"op": "hello"}).encode())
    t0 = time.monotonic()
    for s in socks:
        op, body = read_frame(s, t0 + 5)
        assert op == 0x1 and json.loads(body)["op"] == "welcome"
    return t0, socks


def test_ping_then_drop_when_silent_but_not_when_answering(stack_factory):
    st = stack_factory(bridge_overrides={"limits": {"heartbeat_s": 5, "idle_timeout_s": 11}})
    t0, (silent, polite) = welcomed(st.bridge.port, 2)

    # both get a ping after about heartbeat_s of silence
    pings = {}
    for name, s in (("silent", silent), ("polite", polite)):
        op, body = read_frame(s, t0 + 15)
        assert op == 0x9, (name, op, body)
        pings[name] = time.monotonic() - t0
        if name == "polite":
            send_frame(polite, 0xA, body)        # pong
    assert all(3 <= v <= 10 for v in pings.values()), pings

    # the silent one is dropped by idle_timeout_s; the polite one is not
    closed_after = None
    deadline = t0 + 25
    try:
        while time.monotonic() < deadline:
            op, body = read_frame(silent, deadline)
            if op == 0x8:
                break
    except EOFError:
        pass
    except socket.timeout:
        raise AssertionError("the silent client was not dropped within 25 s")
    closed_after = time.monotonic() - t0
    assert 9 <= closed_after <= 25, closed_after

    # the polite client is still served: an application ping gets its pong
    send_frame(polite, 0x1, json.dumps({"op": "ping", "id": 7}).encode())
    deadline = time.monotonic() + 5
    while True:
        op, body = read_frame(polite, deadline)
        if op == 0x9:
            send_frame(polite, 0xA, body)
            continue
        assert op == 0x1, op
        assert json.loads(body) == {"op": "pong", "id": 7}
        break
    silent.close()
    polite.close()


def test_any_frame_counts_as_activity(stack_factory):
    """A client that never answers pings but keeps sending frames is never
    pinged and never dropped: anything it sends counts (heartbeat.c), not
    only pongs.  The witness: a silent client on the same bridge is pinged
    and dropped meanwhile."""
    st = stack_factory(bridge_overrides={"limits": {"heartbeat_s": 5, "idle_timeout_s": 11}})
    t0, (talker, silent) = welcomed(st.bridge.port, 2)

    # the talker sends an application ping every 2 s (never a pong) until
    # the silent one is dropped, and must get only its pongs back
    deadline, n = t0 + 25, 0
    silent.settimeout(0.1)
    dropped = False
    while not dropped:
        assert time.monotonic() < deadline, "the silent client was not dropped within 25 s"
        n += 1
        send_frame(talker, 0x1, json.dumps({"op": "ping", "id": n}).encode())
        op, body = read_frame(talker, time.monotonic() + 5)
        assert op == 0x1, (op, body)     # never a WebSocket ping
        assert json.loads(body) == {"op": "pong", "id": n}
        turn = time.monotonic() + 2
        while time.monotonic() < turn and not dropped:
            try:
                op, _ = read_frame(silent, turn)
                dropped = op == 0x8
            except socket.timeout:
                pass
            except (EOFError, ConnectionResetError):
                dropped = True
    # the talker outlived the silent one's idle_timeout_s and is still served
    assert time.monotonic() - t0 >= 11
    send_frame(talker, 0x1, json.dumps({"op": "ping", "id": 0}).encode())
    op, body = read_frame(talker, time.monotonic() + 5)
    assert op == 0x1 and json.loads(body) == {"op": "pong", "id": 0}
    talker.close()
    silent.close()


def test_a_client_that_answers_is_pinged_every_heartbeat(stack_factory):
    """After a pong the next ping comes heartbeat_s later, not only when
    idle_timeout_s would run out: three pings within 3.5 heartbeats."""
    st = stack_factory(bridge_overrides={"limits": {"heartbeat_s": 5, "idle_timeout_s": 60}})
    t0, (s,) = welcomed(st.bridge.port, 1)
    pings = []
    while len(pings) < 3:
        op, body = read_frame(s, t0 + 17.5)   # socket.timeout: too few pings
        assert op == 0x9, (op, body)
        pings.append(time.monotonic() - t0)
        send_frame(s, 0xA, body)
    assert pings[0] >= 4, pings
    s.close()
