# SPDX-License-Identifier: MIT
"""What a client may send, checked before libwebsockets parses it (issue 12
item 5, docs/protocol.md §5.14), with raw sockets so that nothing fixes the
bytes behind the test's back:

- RFC 6455 §5.1: a client frame without a mask is closed with 1002;
- a frame header announcing more than limits.max_frame_bytes for a message
  (one frame, or the fragments so far) is closed with 4009 at once, with
  no payload behind it; exactly max_frame_bytes is fine;
- a request head over limits.max_header_bytes, or with more than 64 header
  lines, is answered 431 (JSON), not closed silently; a request body, even
  a large one, is not a head;
- the same over TLS (wss).

libwebsockets 4.1 alone accepts the unmasked frame, waits for the payload
of the huge one, and closes the long head without a word: each test below
fails against it.  The bridge's ping and idle timeouts are set far out so
that a close can only come from the check under test."""

import json
import os
import socket
import ssl
import struct
import subprocess

import pytest

from sbharness import read_exact, wait_for, ws_frame_header as frame_header, \
    ws_handshake as handshake, ws_read_frame as read_frame, ws_send_frame as send_frame

QUIET = {"heartbeat_s": 300, "idle_timeout_s": 600}
MAX_FRAME = 65536


def connect(port, tls=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return tls.wrap_socket(s) if tls else s


def read_close(s):
    """The code and reason of the bridge's close frame (text frames before
    it are skipped)."""
    while True:
        op, body = read_frame(s)
        if op == 0x8:
            return struct.unpack("!H", body[:2])[0], body[2:].decode()


def hello(s):
    send_frame(s, 0x1, json.dumps({"op": "hello"}).encode())
    op, body = read_frame(s)
    assert op == 0x1 and json.loads(body)["op"] == "welcome", body


def http_response(s):
    """(status, headers text, body) of one response."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise EOFError(f"closed without a response (got {head!r})")
        head += chunk
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    n = next(int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:"))
    return status, head.decode().lower(), read_exact(s, n)


def refused(bridge, reason):
    return bridge.metrics().get(f'statusbus_connections_refused_total{{reason="{reason}"}}', 0)


@pytest.fixture
def bridge(stack_factory):
    return stack_factory(bridge_overrides={"limits": QUIET}).bridge


# ---- RFC 6455 §5.1: client frames are masked -----------------------------------------

def test_unmasked_frame_is_closed_1002(bridge):
    s = handshake(bridge.port)
    payload = json.dumps({"op": "hello"}).encode()
    s.sendall(frame_header(0x1, len(payload), mask=False) + payload)
    code, reason = read_close(s)
    assert code == 1002, (code, reason)
    wait_for(lambda: refused(bridge, "frame_unmasked") == 1, 10, what="the 1002 counted")


def test_unmasked_frame_after_a_hello_is_closed_1002(bridge):
    s = handshake(bridge.port)
    hello(s)
    s.sendall(frame_header(0x9, 0, mask=False))    # even an empty ping
    assert read_close(s)[0] == 1002


# ---- frame headers announcing too much ------------------------------------------------

@pytest.mark.parametrize("length", [2 ** 62, 2 ** 63 - 1, MAX_FRAME + 1])
def test_frame_header_over_max_frame_bytes_is_closed_4009_without_payload(bridge, length):
    s = handshake(bridge.port)
    hello(s)
    # the header and its mask, and not one byte of payload
    s.sendall(frame_header(0x1, length) + os.urandom(4))
    code, reason = read_close(s)
    assert code == 4009, (code, reason)


def test_frame_of_exactly_max_frame_bytes_is_read(bridge):
    s = handshake(bridge.port)
    hello(s)
    text = json.dumps({"op": "ping", "id": 7, "pad": ""})
    text = text.replace('""', '"' + "x" * (MAX_FRAME - len(text)) + '"')
    assert len(text) == MAX_FRAME
    send_frame(s, 0x1, text.encode())
    op, body = read_frame(s)
    # read and answered (an unknown field is a bad_request, the connection stays)
    assert op == 0x1 and json.loads(body)["op"] == "error", body
    send_frame(s, 0x1, json.dumps({"op": "ping", "id": 8}).encode())
    assert json.loads(read_frame(s)[1]) == {"op": "pong", "id": 8}


def test_fragments_announcing_more_than_max_frame_bytes_are_closed_4009(bridge):
    s = handshake(bridge.port)
    hello(s)
    half = MAX_FRAME // 2 + 1
    send_frame(s, 0x1, b"[" + b" " * (half - 1), fin=False)
    # the continuation's header alone takes the message over the limit
    s.sendall(frame_header(0x0, half) + os.urandom(4))
    assert read_close(s)[0] == 4009


def test_pusher_connections_are_checked_too(stack_factory):
    b = stack_factory(bridge_overrides={"pusher": {"app_id": "1", "key": "k", "secret": "s"},
                                        "limits": QUIET}).bridge
    s = handshake(b.port, path="/app/k?protocol=7")
    assert json.loads(read_frame(s)[1])["event"] == "pusher:connection_established"
    s.sendall(frame_header(0x1, 2 ** 62) + os.urandom(4))
    assert read_close(s)[0] == 1009          # Pusher's code for 4009
    s = handshake(b.port, path="/app/k?protocol=7")
    read_frame(s)
    s.sendall(frame_header(0x1, 2, mask=False) + b"{}")
    assert read_close(s)[0] == 1002


# ---- request heads ---------------------------------------------------------------------

def test_long_request_head_gets_431_not_a_silent_close(bridge):
    s = connect(bridge.port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 20000 + b"\r\n\r\n")
    status, headers, body = http_response(s)
    assert status == 431, (status, headers, body)
    assert "content-type: application/json" in headers and "connection: close" in headers
    assert json.loads(body)["error"] == "bad_request"
    wait_for(lambda: refused(bridge, "header_too_large") == 1, 10, what="the 431 counted")


@pytest.fixture
def small_heads(stack_factory):
    return stack_factory(bridge_overrides={"limits": dict(QUIET, max_header_bytes=2048)}).bridge


def head_of(size, lines=0):
    """A GET /healthz head of exactly `size` bytes with `lines` header
    lines (at least 2)."""
    lines = max(lines, 2)
    fixed = [b"GET /healthz HTTP/1.1", b"Host: x"] + [b"X-%d: y" % i for i in range(lines - 2)]
    pad = size - sum(len(x) + 2 for x in fixed) - 2 - len(b"X-Pad: ") - 2
    assert pad >= 0
    return b"\r\n".join(fixed + [b"X-Pad: " + b"p" * pad]) + b"\r\n\r\n"


def test_request_head_size_walks_its_bound(small_heads):
    s = connect(small_heads.port)
    s.sendall(head_of(2048))
    assert http_response(s)[0] == 200
    s.sendall(head_of(2049))            # the same connection, next request
    assert http_response(s)[0] == 431


def test_header_lines_walk_their_bound(small_heads):
    s = connect(small_heads.port)
    s.sendall(head_of(1500, lines=64))
    assert http_response(s)[0] == 200
    s = connect(small_heads.port)
    s.sendall(head_of(1500, lines=65))
    assert http_response(s)[0] == 431


def test_a_large_body_is_not_a_head(small_heads):
    s = connect(small_heads.port)
    body = b"\r\n" * 5000        # blank lines that would end many heads
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert http_response(s)[0] == 405
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert http_response(s)[0] == 200
    assert refused(small_heads, "header_too_large") == 0


# ---- the same over TLS -----------------------------------------------------------------

@pytest.fixture
def tls_bridge(stack_factory, workdir):
    key, crt = os.path.join(workdir, "tls.key"), os.path.join(workdir, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    st = stack_factory(bridge=False)
    b = st.start_bridge({"limits": QUIET, "listen": {"cert_file": crt, "key_file": key}},
                        wait_healthy=False)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def up():
        try:
            s = connect(b.port, ctx)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return http_response(s)[0] == 200
        except (OSError, EOFError):
            return False
    wait_for(up, 15, what="the bridge over TLS")
    return b, ctx


def test_checks_hold_over_tls(tls_bridge):
    b, ctx = tls_bridge
    s = handshake(b.port, ctx)
    hello(s)                                        # a masked frame goes through
    s.sendall(frame_header(0x1, 5, mask=False) + b"hello")
    assert read_close(s)[0] == 1002

    s = handshake(b.port, ctx)
    s.sendall(frame_header(0x1, 2 ** 62) + os.urandom(4))
    assert read_close(s)[0] == 4009

    s = connect(b.port, ctx)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 20000 + b"\r\n\r\n")
    assert http_response(s)[0] == 431
