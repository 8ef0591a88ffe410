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


def test_ping_then_drop_when_silent_but_not_when_answering(stack_factory):
    st = stack_factory(bridge_overrides={"limits": {"heartbeat_s": 5, "idle_timeout_s": 11}})
    port = st.bridge.port
    silent, polite = handshake(port), handshake(port)
    for s in (silent, polite):
        send_frame(s, 0x1, json.dumps({"op": "hello"}).encode())
    t0 = time.monotonic()
    for s in (silent, polite):
        op, body = read_frame(s, t0 + 5)
        assert op == 0x1 and json.loads(body)["op"] == "welcome"

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
