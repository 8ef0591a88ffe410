# SPDX-License-Identifier: MIT
"""permessage-deflate (RFC 7692) end to end (docs/protocol.md §5.7), on a
real bridge over a real mosquitto.

With listen.compression "logs", a client that offers the extension gets it,
and a log batch reaches it compressed (RSV1 set; inflated here with zlib
exactly as a browser does, one inflater for the whole connection), while
small frames and statuses go as they are (RSV1 clear, legal on a
compressed connection).  The compressed frame is made once and shared:
two compressed clients receive the same bytes and /metrics counts one
compression and two compressed writes.  Python's `websockets`, which
compresses what it sends and inflates what it gets, reads every line in
order.  A client that does not offer the extension gets plain frames on
the same channel.  "all" compresses a large status event too; "off" does
not negotiate at all, and a bad value is refused by --check-config."""

import asyncio
import json
import os
import struct
import subprocess
import time
import zlib

import pytest
import websockets

from sbharness import (SCHEMAS_DIR, binary, new_uuid, read_exact, ws_handshake,
                       ws_send_frame)
from test_delivery import deploy_known, deploy_status, publish_lines

LINES = 300
OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


class Raw:
    """Reads frames by hand: records RSV1 and inflates compressed messages
    with one decompressor for the connection (context takeover, as a
    browser keeps it)."""

    def __init__(self, port, offer=True):
        heads = []
        self.s = ws_handshake(port, headers=OFFER if offer else "", head_out=heads)
        self.head = heads[0].lower()
        self.z = zlib.decompressobj(-15)
        self.frames = []            # (compressed, wire bytes, decoded JSON)

    def send(self, obj):
        ws_send_frame(self.s, 1, json.dumps(obj).encode())

    def read(self, deadline):
        self.s.settimeout(max(0.05, deadline - time.monotonic()))
        b0, b1 = read_exact(self.s, 2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", read_exact(self.s, 2))[0]
        elif n == 127:
            n = struct.unpack("!Q", read_exact(self.s, 8))[0]
        payload = read_exact(self.s, n)
        assert b0 & 0x80, "fragmented frame"
        assert b0 & 0x0F == 1, f"opcode {b0 & 0x0F}"
        rsv1 = bool(b0 & 0x40)
        text = self.z.decompress(payload + b"\x00\x00\xff\xff") if rsv1 else payload
        msg = json.loads(text)
        self.frames.append((rsv1, payload, msg))
        return msg

    def until(self, pred, timeout=15, what="frame"):
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what}; last {[f[2] for f in self.frames[-3:]]}")
            m = self.read(deadline)
            if pred(m):
                return m

    def lines(self, channel):
        out = []
        for _, _, m in self.frames:
            if m.get("channel") != channel:
                continue
            if m.get("op") == "batch":
                out += [e["seq"] for e in m["events"]]
            elif m.get("op") == "event":
                out.append(m["data"]["seq"])
        return out

    def close(self):
        self.s.close()


def subscribed(raw, channel, rid):
    raw.send({"op": "hello"})
    raw.until(lambda m: m.get("op") == "welcome", what="welcome")
    raw.send({"op": "sub", "id": rid, "channel": channel})
    ack = raw.until(lambda m: m.get("id") == rid, what="ack")
    assert ack["op"] == "ack", ack


def value(bridge, name):
    got = bridge.metrics()
    assert name in got, f"{name} not in /metrics"
    return got[name]


def deploy_stack(stack_factory):
    """A bridge with listen.compression "logs" and a running deploy it
    knows: (stack, mqtt client, deploy, its log channel)."""
    s = stack_factory(bridge_overrides={"listen": {"compression": "logs"}})
    m = s.mqtt()
    deploy = new_uuid()
    deploy_status(m, deploy, "running")
    deploy_known(s.bridge, deploy)
    return s, m, deploy, f"deploy.{deploy}.logs"


def test_logs_mode_compresses_batches_once_for_every_compressed_client(stack_factory):
    s, m, deploy, channel = deploy_stack(stack_factory)

    a, b, plain = Raw(s.bridge.port), Raw(s.bridge.port), Raw(s.bridge.port, offer=False)
    try:
        assert "sec-websocket-extensions: permessage-deflate" in a.head, a.head
        assert "permessage-deflate" not in plain.head, plain.head
        for i, c in enumerate((a, b, plain)):
            subscribed(c, channel, 10 + i)
        assert value(s.bridge, "statusbus_ws_compressed_connections") == 2

        # one long line: one batch frame, queued for both compressed
        # clients, compressed once and written twice
        m.publish(f"deploy/{deploy}/logs", {"seq": 1, "ts": "2024-06-01T12:00:01Z",
                                             "level": "info", "stream": "stdout",
                                             "msg": "compiling module " * 60})
        for c in (a, b, plain):
            c.until(lambda _: 1 in c.lines(channel), what="line 1")
        first_a = [p for z, p, msg in a.frames if msg["op"] == "batch"]
        first_b = [p for z, p, msg in b.frames if msg["op"] == "batch"]
        assert a.frames[-1][0] and b.frames[-1][0], "a 1 KB batch goes compressed"
        assert first_a == first_b, "the same compressed bytes for both"
        assert value(s.bridge, "statusbus_ws_deflate_frames_total") == 1
        assert value(s.bridge, "statusbus_ws_deflate_frames_sent_total") == 2
        assert not plain.frames[-1][0]

        publish_lines(m, deploy, 2, LINES)
        for c in (a, b, plain):
            c.until(lambda _: LINES in c.lines(channel), what=f"line {LINES}")
            assert c.lines(channel) == list(range(1, LINES + 1))

        # welcome and ack are small: as they are, RSV1 clear
        assert not any(z for z, _, msg in a.frames if msg["op"] in ("welcome", "ack"))
        assert all(msg["op"] == "batch" for z, _, msg in a.frames + b.frames if z)
        assert not any(z for z, _, _ in plain.frames)
        # the plain client read the same lines in more bytes
        def batch_bytes(c):
            return sum(len(p) for _, p, msg in c.frames if msg["op"] == "batch")
        assert batch_bytes(a) * 2 < batch_bytes(plain), (batch_bytes(a), batch_bytes(plain))

        # every compressed frame written is counted; a frame is compressed
        # at most once (a client that fell behind gets its own merged
        # batches, compressed for it alone, so made may exceed the
        # distinct bytes seen)
        made = value(s.bridge, "statusbus_ws_deflate_frames_total")
        sent = value(s.bridge, "statusbus_ws_deflate_frames_sent_total")
        assert sent == sum(1 for z, _, _ in a.frames + b.frames if z)
        assert len({p for z, p, _ in a.frames + b.frames if z}) <= made <= sent
        assert value(s.bridge, "statusbus_ws_deflate_output_bytes_total") < \
            value(s.bridge, "statusbus_ws_deflate_input_bytes_total")
    finally:
        for c in (a, b, plain):
            c.close()


def test_websockets_client_compresses_both_ways(stack_factory):
    """Python's websockets negotiates the extension by default and then
    compresses what it sends: the bridge inflates hello and sub, and the
    client inflates the batches."""
    s, m, deploy, channel = deploy_stack(stack_factory)

    async def body():
        conn = await websockets.connect(s.bridge.url, subprotocols=["statusbus.v1"],
                                        compression="deflate", max_size=2**24)
        try:
            assert "permessage-deflate" in conn.response_headers.get(
                "Sec-WebSocket-Extensions", "")
            await conn.send(json.dumps({"op": "hello"}))
            assert json.loads(await conn.recv())["op"] == "welcome"
            await conn.send(json.dumps({"op": "sub", "id": 1, "channel": channel}))
            ack = json.loads(await asyncio.wait_for(conn.recv(), 10))
            assert ack["op"] == "ack", ack
            await asyncio.get_running_loop().run_in_executor(
                None, publish_lines, m, deploy, 1, LINES)
            seqs, deadline = [], time.monotonic() + 15
            while len(seqs) < LINES:
                f = json.loads(await asyncio.wait_for(conn.recv(), deadline - time.monotonic()))
                if f.get("op") == "batch":
                    seqs += [e["seq"] for e in f["events"]]
                elif f.get("op") == "event":
                    seqs.append(f["data"]["seq"])
            assert seqs == list(range(1, LINES + 1))
        finally:
            await conn.close()
    asyncio.run(body())
    assert value(s.bridge, "statusbus_ws_deflate_frames_sent_total") >= 1


def test_all_mode_compresses_a_large_status_and_off_does_not_negotiate(stack_factory):
    s = stack_factory(bridge_overrides={"listen": {"compression": "all",
                                                    "compression_min_bytes": 256}})
    m = s.mqtt()
    app = new_uuid()
    c = Raw(s.bridge.port)
    try:
        subscribed(c, "team.42", 1)
        m.publish(f"team/42/app/{app}/status", {"ts": "2024-06-01T12:00:00Z", "status": "running",
                                                 "name": "n" * 60, "reason": "m" * 600},
                  retain=True)
        ev = c.until(lambda x: x.get("op") == "event", what="the status")
        assert ev["data"]["reason"] == "m" * 600
        assert c.frames[-1][0], "a 600-byte status is compressed under all"
        assert not any(z for z, _, msg in c.frames if msg["op"] in ("welcome", "ack"))
    finally:
        c.close()

    off = stack_factory()
    raw = Raw(off.bridge.port)
    try:
        assert "permessage-deflate" not in raw.head
        assert value(off.bridge, "statusbus_ws_compressed_connections") == 0
    finally:
        raw.close()


def test_bad_compression_value_is_refused(workdir):
    conf = os.path.join(workdir, "bridge.json")
    with open(conf, "w") as f:
        json.dump({"schemas_dir": SCHEMAS_DIR,
                   "listen": {"compression": "gzip"}}, f)
    r = subprocess.run([binary("statusbus-bridge"), "--check-config", "-c", conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "listen.compression: must be off, logs or all" in r.stdout + r.stderr


def test_a_small_compressed_frame_that_inflates_too_large_is_closed_4009(stack_factory):
    """The size limit holds for what a compressed message inflates to: 1 MB
    of spaces is about 1 KB on the wire, and still closes 4009."""
    s = stack_factory(bridge_overrides={"listen": {"compression": "all"}})

    async def body():
        conn = await websockets.connect(s.bridge.url, subprotocols=["statusbus.v1"],
                                        compression="deflate")
        await conn.send(json.dumps({"op": "hello"}))
        assert json.loads(await conn.recv())["op"] == "welcome"
        await conn.send('{"op":"ping","id":1' + " " * (1 << 20) + "}")
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(conn.recv(), 10)
        return conn.close_code
    assert asyncio.run(body()) == 4009
    assert s.bridge.alive()
