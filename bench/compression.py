#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""permessage-deflate, measured: the same log stream to the same viewers
with listen.compression "off" and "logs", one after the other, each twice.

  bench/compression.py --build-dir build-rel            # ~2 min
  bench/compression.py --viewers 200 --rate 1000 --seconds 10 --idle 2000

For each mode it starts mosquitto and the bridge (shipped config, open
development mode) on free loopback ports, pinned to --server-cpus, opens
--viewers raw WebSocket clients on one deploy's log channel (they offer
permessage-deflate; under "off" the bridge does not take it) and publishes
--rate lines/s for --seconds from a child process.  Every client reads and
inflates what it gets, checks the lines arrive in order with none missing,
and counts the bytes it read off the socket.  Printed per mode:

  wire bytes per delivered line, frames per line (batching), bridge CPU
  (utime+stime, every thread) per delivered line, and the compression
  ratio the bridge reports in /metrics;

then RSS per idle connection, plain and compressed: --idle connections
that each sent a compressed hello (so that lws's inflater for them
exists), RSS before and after, divided by the count.
"""

import argparse
import base64
import json
import os
import selectors
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

sb = benchlib.sb


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: statusbus.v1\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(4096 if not head else 1)
        if not c:
            raise EOFError("closed in the handshake")
        head += c
    head, _, rest = head.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, b"permessage-deflate" in head.lower(), rest


def client_frame(text, deflated):
    """A masked client text frame, compressed (RSV1) when asked."""
    payload = text.encode()
    b0 = 0x81
    if deflated:
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = (z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
        b0 |= 0x40
    n = len(payload)
    hdr = bytes([b0, 0x80 | n]) if n < 126 else bytes([b0, 0x80 | 126]) + struct.pack("!H", n)
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class Viewer:
    def __init__(self, port):
        self.s, self.deflate, self.buf = handshake(port)
        self.s.setblocking(False)
        self.z = zlib.decompressobj(-15)
        self.wire = 0
        self.frames = 0
        self.seqs = []
        self.last = 0
        self.bad = None
        self.acked = False

    def send(self, obj):
        self.s.setblocking(True)
        self.s.sendall(client_frame(json.dumps(obj), self.deflate))
        self.s.setblocking(False)

    def feed(self):
        try:
            data = self.s.recv(1 << 16)
        except BlockingIOError:
            return
        if not data:
            raise EOFError("bridge closed a viewer")
        self.wire += len(data)
        self.buf += data
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                return
            p, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if b0 & 0x0F != 1:
                continue
            self.frames += 1
            text = self.z.decompress(p + b"\x00\x00\xff\xff") if b0 & 0x40 else p
            self.on(json.loads(text))

    def on(self, m):
        op = m.get("op")
        if op == "ack":
            self.acked = True
            return
        if op == "batch":
            seqs = [e["seq"] for e in m["events"]]
        elif op == "event" and "seq" in m.get("data", {}):
            seqs = [m["data"]["seq"]]
        elif op == "gap":
            self.bad = self.bad or f"gap {m}"
            return
        else:
            return
        for q in seqs:
            if q != self.last + 1:
                self.bad = self.bad or f"seq {q} after {self.last}"
            self.last = q
        self.seqs.extend(seqs)


def pump(viewers, until, timeout):
    sel = selectors.DefaultSelector()
    for v in viewers:
        sel.register(v.s, selectors.EVENT_READ, v)
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            key.data.feed()
    sel.close()
    return until()


def stream_run(args, mode, workdir):
    conf = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 1000000\n")
    overrides = {"limits": {"max_connections": args.idle + args.viewers + 100},
                 "log_level": "warn", "listen": {"compression": mode}}
    procs = []
    try:
        with benchlib.pinned(args.server_cpus):
            mosq = sb.Mosquitto(workdir, conf=conf)
            procs.append(mosq)
            bridge = sb.Bridge(workdir, mosq.port, overrides=overrides)
            procs.append(bridge)
        m = sb.Mqtt(mosq.port)
        deploy = sb.new_uuid()
        m.publish(f"team/42/deploy/{deploy}/status",
                  {"ts": "2024-06-01T12:00:00Z", "status": "running", "progress": 1}, retain=True)
        channel = f"deploy.{deploy}.logs"
        sb.wait_for(lambda: json.loads(bridge.get(f"/v1/snapshot?channel=deploy.{deploy}")[1])
                    .get("events"), 15, what="deploy known")
        viewers = [Viewer(bridge.port) for _ in range(args.viewers)]
        for i, v in enumerate(viewers):
            v.send({"op": "hello"})
            v.send({"op": "sub", "id": i + 1, "channel": channel})
        if not pump(viewers, lambda: all(v.acked for v in viewers), 30):
            raise RuntimeError(f"{mode}: not every viewer got its ack")
        for v in viewers:
            v.wire = v.frames = 0
        n = int(args.rate * args.seconds)
        t0 = benchlib.proc_ticks(bridge.pid)
        pub = sb.Publisher(mosq.port, [{"kind": "log", "topic": f"deploy/{deploy}/logs",
                                        "count": n, "rate": args.rate}])
        ok = pump(viewers, lambda: all(len(v.seqs) >= n for v in viewers), args.seconds + 60)
        ticks = benchlib.proc_ticks(bridge.pid) - t0
        pub.wait(60)
        bad = [v.bad for v in viewers if v.bad]
        if not ok or bad:
            raise RuntimeError(f"{mode}: lines missing or out of order: "
                               f"{min(len(v.seqs) for v in viewers)}/{n}; {bad[:3]}")
        got = bridge.metrics()
        delivered = n * len(viewers)
        row = {
            "mode": mode,
            "negotiated": sum(v.deflate for v in viewers),
            "lines": delivered,
            "wire_bytes_per_line": sum(v.wire for v in viewers) / delivered,
            "frames_per_line": sum(v.frames for v in viewers) / delivered,
            "cpu_us_per_line": ticks / benchlib.CLK_TCK * 1e6 / delivered,
            "deflate_ratio": (got.get("statusbus_ws_deflate_output_bytes_total", 0) /
                              got["statusbus_ws_deflate_input_bytes_total"])
            if got.get("statusbus_ws_deflate_input_bytes_total") else None,
        }
        for v in viewers:
            v.s.close()
        m.close()

        # idle connections: RSS per connection, each having sent a hello
        rss0 = benchlib.proc_rss_kb(bridge.pid)
        idle = []
        for _ in range(args.idle):
            v = Viewer(bridge.port)
            v.send({"op": "hello"})
            idle.append(v)
        pump(idle, lambda: all(v.frames for v in idle), 60)
        time.sleep(1)   # RSS settles (malloc); a reading, not a sync
        row["rss_kb_per_idle_conn"] = (benchlib.proc_rss_kb(bridge.pid) - rss0) / args.idle
        for v in idle:
            v.s.close()
        return row
    finally:
        for p in reversed(procs):
            p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--json")
    args = ap.parse_args()
    args.server_cpus = {int(c) for c in args.server_cpus.split(",")}
    os.environ["SB_BINARY_DIR"] = os.path.abspath(args.build_dir)
    sb.BINARY_DIR = os.path.abspath(args.build_dir)
    benchlib.raise_nofile()
    import tempfile
    rows = []
    for rep in range(args.reps):
        for mode in ("off", "logs"):
            with tempfile.TemporaryDirectory(prefix="sbz-") as d:
                r = stream_run(args, mode, d)
                r["rep"] = rep + 1
                r["load1"] = benchlib.load1()
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(f"\n{args.viewers} viewers of one deploy log, {args.rate:.0f} lines/s for "
          f"{args.seconds:.0f} s; {args.idle} idle connections for RSS\n")
    print("| mode | rep | wire bytes/line | frames/line | bridge CPU µs/line | deflate out/in "
          "| RSS KB/idle conn | load1 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['deflate_ratio']:.2f}" if r["deflate_ratio"] else "—"
        print(f"| {r['mode']} | {r['rep']} | {r['wire_bytes_per_line']:.1f} | "
              f"{r['frames_per_line']:.3f} | {r['cpu_us_per_line']:.2f} | {ratio} | "
              f"{r['rss_kb_per_idle_conn']:.2f} | {r['load1']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
