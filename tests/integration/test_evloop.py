# SPDX-License-Identifier: MIT
"""The event loop lws runs on (evloop.c): libev on epoll through lws's
evlib-ev plugin by default, lws's own poll() loop with SB_EVENT_LOOP=poll.
On both, a client is served and the bridge's close codes reach it — the
libuv plugin of Debian's lws 4.1.6 closed connections twice and clients
saw 1006 instead — and the bridge exits cleanly (the sanitizer build
reports leaks at exit)."""

import json
import signal
import struct
import time

import pytest

from sbharness import ws_handshake as handshake, ws_read_frame as read_frame, \
    ws_send_frame as send_frame


def close_code(s, deadline):
    """The code of the close frame s gets next, skipping other frames."""
    while True:
        op, body = read_frame(s, deadline)
        if op == 0x8:
            return struct.unpack("!H", body[:2])[0]


@pytest.mark.parametrize("loop", ["epoll", "poll"])
def test_loop_serves_and_closes_with_the_bridges_codes(stack_factory, monkeypatch, loop):
    if loop == "poll":
        monkeypatch.setenv("SB_EVENT_LOOP", "poll")
    else:
        monkeypatch.delenv("SB_EVENT_LOOP", raising=False)
    st = stack_factory()
    with open(f"/proc/{st.bridge.pid}/maps") as f:
        maps = f.read()
    assert ("libwebsockets-evlib_ev" in maps) == (loop == "epoll"), loop
    port = st.bridge.port

    # 4001: a first frame that is not hello
    rude = handshake(port)
    send_frame(rude, 0x1, json.dumps({"op": "ping", "id": 1}).encode())
    assert close_code(rude, time.monotonic() + 10) == 4001
    rude.close()

    # served: hello, welcome, an application ping
    c = handshake(port)
    send_frame(c, 0x1, json.dumps({"op": "hello"}).encode())
    op, body = read_frame(c, time.monotonic() + 10)
    assert op == 0x1 and json.loads(body)["op"] == "welcome"
    send_frame(c, 0x1, json.dumps({"op": "ping", "id": 2}).encode())
    op, body = read_frame(c, time.monotonic() + 10)
    assert op == 0x1 and json.loads(body) == {"op": "pong", "id": 2}

    # 1001 when the bridge shuts down, and a clean exit
    st.bridge.send_signal(signal.SIGTERM)
    assert close_code(c, time.monotonic() + 10) == 1001
    c.close()
    assert st.bridge.stop() == 0, st.bridge.output()
