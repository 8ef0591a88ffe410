# SPDX-License-Identifier: MIT
"""SIGTERM drains (docs/protocol.md §10): /readyz turns 503 at once while
/livez stays 200, a new WebSocket upgrade is answered 503, every client
gets its pending batch and then a 1001 close whose reason tells it to
reconnect elsewhere, the closes are spread over limits.drain_s, and the
bridge exits 0.  The spread is asserted by construction: the bridge closes
at most floor(N * t / drain_s) + 1 of N clients t seconds into the drain,
and it starts draining after the test sent the signal."""

import asyncio
import json
import signal
import socket
import time

import sbharness
from sbharness import Ws, new_uuid, wait_for

N = 10
DRAIN_S = 2


def run(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def channels_with_slow_batches():
    """The shipped map with deploy logs batched for a minute: a line
    reaches a client only when its batch is flushed (the drain's flush)."""
    chans = sbharness.shipped_config()["channels"]
    for c in chans:
        if c["name"] == "deploy.{deploy:uuid}.logs":
            c["delivery"] = dict(c["delivery"], max_events=1000, max_delay_ms=60000)
    return chans


def upgrade_status(port):
    """The status code an upgrade to /v1/ws is answered with (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: statusbus.v1\r\n\r\n")
                  .encode())
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def test_sigterm_drains_clients_over_drain_s(stack_factory):
    s = stack_factory(bridge_overrides={"limits": {"drain_s": DRAIN_S},
                                        "channels": channels_with_slow_batches()})
    b = s.bridge
    m = s.mqtt()
    deploy = new_uuid()
    channel = f"deploy.{deploy}.logs"
    m.publish(f"team/42/deploy/{deploy}/status",
              {"ts": "2024-06-01T12:00:00Z", "status": "running", "progress": 10,
               "step": "Building image"}, retain=True)

    async def body():
        clients = [await Ws.connect(b.url) for _ in range(N)]
        for w in clients:
            assert (await w.sub(channel))["op"] == "ack"
        for seq in (1, 2, 3):
            m.publish(f"deploy/{deploy}/logs",
                      {"seq": seq, "ts": "2024-06-01T12:00:01Z", "level": "info",
                       "stream": "stdout", "msg": f"line {seq}"})
        # the bridge holds the lines (its history) but their batch waits
        wait_for(lambda: json.loads(b.get(f"/v1/history?channel={channel}")[1])
                 .get("last_seq") == 3, 15, what="the lines at the bridge")
        assert not any(w.events(channel) for w in clients)
        assert b.get("/readyz")[0] == 200
        closes = [None] * N

        async def watch(i, w):
            code, reason = await w.closed(DRAIN_S + 15)
            closes[i] = (time.monotonic(), code, reason)
        watchers = [asyncio.create_task(watch(i, w)) for i, w in enumerate(clients)]
        t0 = time.monotonic()
        b.send_signal(signal.SIGTERM)
        # /readyz 503 at once, /livez still 200, new upgrades refused 503
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: wait_for(lambda: b.get("/readyz")[0] == 503, 5, what="readyz 503"))
        assert json.loads(b.get("/readyz")[1])["draining"] is True
        assert b.get("/livez")[0] == 200
        open_then = sum(1 for c in closes if c is None)
        st = await asyncio.get_running_loop().run_in_executor(None, upgrade_status, b.port)
        assert st == 503, st
        await asyncio.gather(*watchers)
        for w, (t, code, reason) in zip(clients, closes):
            assert code == 1001, (code, reason)
            assert "reconnect" in reason, reason
            # the pending batch went out before the close
            assert [e["data"]["seq"] for e in w.events(channel)] == [1, 2, 3]
        times = sorted(t - t0 for t, _, _ in closes)
        # by construction: k clients closed before t => k <= N * t / DRAIN_S + 1
        for k, t in enumerate(times, 1):
            assert k <= N * t / DRAIN_S + 1, (k, t, times)
        assert times[-1] >= DRAIN_S * (N - 1) / N, times
        print(f"drain of {N} clients over {DRAIN_S} s: closes at "
              f"{', '.join(f'{t:.2f}' for t in times)} s after SIGTERM "
              f"({open_then} still open when /readyz was 503)")
    run(body())
    wait_for(lambda: not b.alive(), DRAIN_S + 10, what="the bridge's exit")
    assert b.proc.returncode == 0
    out = b.output()
    assert "draining: /readyz 503" in out and "drained: 10 client(s) closed" in out, out
    assert not sbharness.port_open(b.port)
