#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""statusbus-bridge fan-out benchmark (issue 4): batching on vs off.

Starts its own mosquitto and statusbus-bridge on free loopback ports (with
the integration harness, tests/integration/sbharness.py, loaded by path),
connects N WebSocket clients that each subscribe to one logs channel and one
stats channel, floods both from a child publisher process for a fixed time,
and prints per run:

  frames/s and events/s delivered (counted by the clients), the share of
  the expected events that arrived, bridge CPU (utime+stime from
  /proc/<pid>/stat over the run, in % of one core), p50/p99 publish ->
  receive latency (payload "ts" is the publish time; one clock), and the
  bridge's own counters (frames out, drops to slow clients, gaps, 4029s).

"batching on" is the shipped delivery of deploy.<uuid>.logs (batch: 10
events or 100 ms); "off" overrides it with {"mode": "immediate"}.  The
clients are a minimal asyncio WebSocket client (not the websockets package)
so that 1000 of them fit in one Python process; "probe" clients decode
every frame for latency, the others count frames and lines from the bytes.

Usage: bench/run.py [--clients 10,100,1000] [--modes on,off] [--seconds 5]
                    [--log-rate 500] [--stats-rate 50] [--stats-topics 2]
                    [--json FILE]
Needs a built bridge (SB_BINARY_DIR, default build/) and mosquitto in PATH.
"""

import argparse
import asyncio
import base64
import json
import os
import platform
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import sb  # noqa: E402  the integration harness, loaded by path

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOGS_TEMPLATE = "deploy.{deploy:uuid}.logs"


# ---- a minimal WebSocket client --------------------------------------------------

def ws_frame(payload, opcode=1):
    """One masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        hdr = bytes([0x80 | opcode, 0xFE]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([0x80 | opcode, 0xFF]) + n.to_bytes(8, "big")
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
    return hdr + mask + body


class Client(asyncio.Protocol):
    """statusbus.v1 over a raw asyncio transport: hello, two subs, then it
    counts what arrives.  A probe decodes every frame and records
    latencies."""

    def __init__(self, host, port, channels, probe, run):
        self.host, self.port, self.channels = host, port, channels
        self.probe = probe
        self.run = run
        self.buf = bytearray()
        self.upgraded = False
        self.acks = 0
        self.frames = 0
        self.events = 0
        self.log_lines = 0
        self.last_seq = 0
        self.last_stats = {}
        self.close_code = None
        self.partial = None
        self.ready = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET /v1/ws HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: statusbus.v1\r\n\r\n").encode())

    def send(self, obj):
        self.transport.write(ws_frame(json.dumps(obj).encode()))

    def data_received(self, data):
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.fail(RuntimeError(f"upgrade refused: {head[:80]!r}"))
                return
            self.upgraded = True
            self.send({"op": "hello"})
            for i, ch in enumerate(self.channels):
                self.send({"op": "sub", "id": i + 1, "channel": ch})
        buf = self.buf
        off, n = 0, len(buf)
        while n - off >= 2:
            b0, b1 = buf[off], buf[off + 1]
            length = b1 & 0x7F
            hl = 2
            if length == 126:
                if n - off < 4:
                    break
                length = int.from_bytes(buf[off + 2:off + 4], "big")
                hl = 4
            elif length == 127:
                if n - off < 10:
                    break
                length = int.from_bytes(buf[off + 2:off + 10], "big")
                hl = 10
            if n - off < hl + length:
                break
            payload = bytes(buf[off + hl:off + hl + length])
            off += hl + length
            self.on_frame(b0 & 0x80, b0 & 0x0F, payload)
        del buf[:off]

    def on_frame(self, fin, opcode, payload):
        if opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.transport.close()
            return
        if opcode == 0x9:
            self.transport.write(ws_frame(payload, 0xA))
            return
        if opcode in (0x1, 0x0):
            if opcode == 0x1 and fin:
                self.on_text(payload)
            elif opcode == 0x1:
                self.partial = bytearray(payload)
            else:
                self.partial += payload
                if fin:
                    self.on_text(bytes(self.partial))
                    self.partial = None

    def on_text(self, p):
        now = time.time()
        if p.startswith(b'{"op":"batch"') or p.startswith(b'{"op":"event"'):
            self.frames += 1
            if self.probe:
                f = json.loads(p)
                evs = f["events"] if f["op"] == "batch" else [f["data"]]
                for e in evs:
                    self.run.latencies.append(now - sb.ts_epoch(e["ts"]))
                    if "seq" in e:
                        self.last_seq = e["seq"]
                        self.log_lines += 1
                    else:
                        self.last_stats[f.get("topic")] = e["mem"]["used"]
                self.events += len(evs)
            else:
                k = p.count(b'"seq":')
                self.events += k or 1
                if k:
                    self.log_lines += k
                    i = p.rfind(b'"seq":') + 6
                    while p[i] == 32:
                        i += 1
                    j = i
                    while 48 <= p[j] <= 57:
                        j += 1
                    self.last_seq = int(p[i:j])
            self.run.progress(True)
        elif p.startswith(b'{"op":"ack"'):
            self.acks += 1
            if self.acks == len(self.channels) and not self.ready.done():
                self.ready.set_result(True)
        elif p.startswith(b'{"op":"error"'):
            self.fail(RuntimeError(p[:200].decode()))

    def fail(self, exc):
        if not self.ready.done():
            self.ready.set_exception(exc)
        self.transport.close()

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before subscribing"))
        self.run.progress()


class Run:
    """Shared state of one run, and the wake-up for the drain wait."""

    def __init__(self):
        self.latencies = []
        self.changed = asyncio.Event()
        self.last_receipt = 0.0

    def progress(self, received=False):
        if received:
            self.last_receipt = time.time()
        self.changed.set()


# ---- one run ---------------------------------------------------------------------------

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime, stime


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


async def one_run(args, n_clients, batching):
    workdir = tempfile.mkdtemp(prefix="sbbench-")
    channels = json.loads(json.dumps(sb.shipped_config()["channels"]))
    if not batching:
        for c in channels:
            if c["name"] == LOGS_TEMPLATE:
                c["delivery"] = {"mode": "immediate"}
    overrides = {"channels": channels, "log_level": "warn",
                 "limits": {"max_connections": n_clients + 100}}
    load_before = round(os.getloadavg()[0], 2)
    stack = sb.Stack(workdir).start(bridge_overrides=overrides)
    run = Run()
    clients = []
    try:
        bridge = stack.bridge
        m = stack.mqtt()
        deploy = sb.new_uuid()
        m.publish(f"team/bench/deploy/{deploy}/status",
                  {"ts": "2024-06-01T12:00:00Z", "status": "running", "progress": 1},
                  retain=True)
        subs = [f"deploy.{deploy}.logs", "team.bench.stats"]
        loop = asyncio.get_running_loop()
        n_probes = min(n_clients, args.probes)
        for start in range(0, n_clients, 100):
            batch = []
            for i in range(start, min(n_clients, start + 100)):
                batch.append(loop.create_connection(
                    lambda i=i: Client("127.0.0.1", bridge.port, subs, i < n_probes, run),
                    "127.0.0.1", bridge.port))
            for _, proto in await asyncio.gather(*batch):
                clients.append(proto)
        await asyncio.wait_for(asyncio.gather(*(c.ready for c in clients)), 30)

        n_lines = int(args.log_rate * args.seconds)
        n_stats = int(args.stats_rate * args.seconds)
        stats_topics = [f"team/bench/app/{sb.new_uuid()}/stats" for _ in range(args.stats_topics)]
        streams = [{"kind": "log", "topic": f"deploy/{deploy}/logs", "count": n_lines,
                    "rate": args.log_rate, "pad": args.line_bytes}]
        streams += [{"kind": "stats", "topic": t, "count": n_stats, "rate": args.stats_rate}
                    for t in stats_topics]
        m0 = bridge.metrics()
        cpu0, mcpu0 = cpu_seconds(bridge.pid), cpu_seconds(stack.mosq.pid)
        own0 = os.times()
        pub = sb.Publisher(stack.mosq.port, streams)
        res = await pub.wait_async(args.seconds * 4 + 30)

        # drain: until every open client has the last line (and probes the
        # last stats), or the deadline
        def done():
            for c in clients:
                if c.close_code is None and not c.transport.is_closing():
                    if c.last_seq < n_lines:
                        return False
                    if c.probe and any(c.last_stats.get(t) != n_stats for t in stats_topics):
                        return False
            return True
        deadline = time.monotonic() + args.drain
        while not done() and time.monotonic() < deadline:
            run.changed.clear()
            try:
                await asyncio.wait_for(run.changed.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass
        t1 = time.time()
        cpu1, mcpu1 = cpu_seconds(bridge.pid), cpu_seconds(stack.mosq.pid)
        own1 = os.times()
        m1 = bridge.metrics()
        # from the first publish to the last receipt
        window = max(run.last_receipt, res["acked"]) - res["start"]

        def delta(name):
            return m1.get(name, 0) - m0.get(name, 0)
        frames = sum(c.frames for c in clients)
        events = sum(c.events for c in clients)
        lines = sum(c.log_lines for c in clients)
        expected_events = n_clients * (n_lines + len(stats_topics) * n_stats)
        return {
            "batching": "on" if batching else "off", "clients": n_clients,
            "loadavg_1m_before": load_before,
            "published_lines": n_lines, "published_stats": n_stats * len(stats_topics),
            "publish_s": round(res["sent"] - res["start"], 3), "window_s": round(window, 3),
            "frames_per_s": frames / window, "events_per_s": events / window,
            "lines_delivered_pct": 100.0 * lines / (n_clients * n_lines),
            "events_expected_if_unconflated": expected_events,
            "bridge_cpu_pct": 100.0 * (cpu1 - cpu0) / window,
            "bridge_cpu_us_per_event": 1e6 * (cpu1 - cpu0) / max(1, events),
            "mosquitto_cpu_pct": 100.0 * (mcpu1 - mcpu0) / window,
            "client_cpu_pct": 100.0 * ((own1.user - own0.user) + (own1.system - own0.system)) / window,
            "latency_p50_ms": 1000 * pct(run.latencies, 50),
            "latency_p99_ms": 1000 * pct(run.latencies, 99),
            "latency_samples": len(run.latencies),
            "bridge_frames_out_per_s": delta("statusbus_frames_out_total") / window,
            "bridge_batches": delta("statusbus_batches_total"),
            "slow_client_line_drops": delta('statusbus_dropped_total{reason="slow_client"}'),
            "gaps": delta("statusbus_gaps_total"),
            "closed_4029": delta("statusbus_slow_client_closes_total"),
            "clients_closed": sum(1 for c in clients if c.close_code is not None),
        }
    finally:
        for c in clients:
            if c.transport and not c.transport.is_closing():
                c.transport.abort()
        stack.stop()


def fmt_row(r):
    return (f"{r['batching']:>3} {r['clients']:>5} {r['window_s']:>6.2f} "
            f"{r['frames_per_s']:>10.0f} {r['events_per_s']:>10.0f} {r['lines_delivered_pct']:>6.1f}% "
            f"{r['bridge_cpu_pct']:>6.1f}% {r['bridge_cpu_us_per_event']:>7.2f} "
            f"{r['latency_p50_ms']:>7.1f} {r['latency_p99_ms']:>7.1f} "
            f"{r['slow_client_line_drops']:>8.0f} {r['closed_4029']:>5.0f} {r['client_cpu_pct']:>6.1f}%")


HEADER = ("bat     N  win s   frames/s   events/s  lines%   bCPU  us/ev    p50ms   p99ms"
          "    drops  4029   cCPU")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="10,100,1000")
    ap.add_argument("--modes", default="on,off", help="batching modes to run: on,off")
    ap.add_argument("--seconds", type=float, default=5.0, help="flood duration per run")
    ap.add_argument("--log-rate", type=float, default=500.0, help="log lines/s on the logs channel")
    ap.add_argument("--line-bytes", type=int, default=80, help="padding in each log line's msg")
    ap.add_argument("--stats-rate", type=float, default=50.0, help="stats msgs/s per topic")
    ap.add_argument("--stats-topics", type=int, default=2)
    ap.add_argument("--probes", type=int, default=20, help="clients that decode every frame")
    ap.add_argument("--drain", type=float, default=8.0, help="max seconds to wait after the flood")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(x) for x in args.clients.split(",")]
    modes = [m.strip() == "on" for m in args.modes.split(",")]
    print(f"statusbus bench: {platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"bridge {sb.binary('statusbus-bridge')}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews "
          "every figure)")
    print(f"flood {args.seconds:g} s: logs {args.log_rate:g} lines/s ({args.line_bytes} B pad), "
          f"stats {args.stats_topics} x {args.stats_rate:g}/s; each client subscribes to both")
    print(HEADER)
    results = []
    for n in sizes:
        for batching in modes:
            r = asyncio.run(one_run(args, n, batching))
            results.append(r)
            print(fmt_row(r), flush=True)
    print("\nbatching on vs off (same N): on / off = ratio")
    for n in sizes:
        on = next((r for r in results if r["clients"] == n and r["batching"] == "on"), None)
        off = next((r for r in results if r["clients"] == n and r["batching"] == "off"), None)
        if not (on and off):
            continue
        parts = []
        for key, label in (("frames_per_s", "frames/s"), ("events_per_s", "events/s"),
                           ("bridge_cpu_pct", "bridge CPU %"),
                           ("bridge_cpu_us_per_event", "CPU us/event"),
                           ("latency_p50_ms", "p50 ms"), ("latency_p99_ms", "p99 ms")):
            a, b = on[key], off[key]
            parts.append(f"{label} {a:.4g} / {b:.4g} = {a / b if b else float('nan'):.3g}")
        print(f"  N={n}: " + "; ".join(parts))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": platform.node(),
                       "cores": os.cpu_count(), "args": vars(args), "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    sys.exit(main())
