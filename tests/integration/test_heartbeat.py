# SPDX-License-Identifier: MIT
"""WebSocket heartbeat (issue 2): the bridge pings every limits.heartbeat_s
and drops a client that stays silent for limits.idle_timeout_s; a client
that answers keeps its connection.  Uses a raw socket client so that
nothing answers pings behind the test's back."""

import base64
import json
import os
import socket
import struct
import time


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: statusbus.v1\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def send_frame(s, opcode, payload=b""):
    mask = os.urandom(4)
    hdr = bytes([0x80 | opcode])
    n = len(payload)
    hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(s, deadline):
    """(opcode, payload) of the next frame, EOFError when the peer closed."""
    s.settimeout(max(0.05, deadline - time.monotonic()))
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


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
