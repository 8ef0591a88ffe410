# SPDX-License-Identifier: MIT
"""Slow and flooding clients are bounded (issue 12 item 1, docs/protocol.md
§5.14): from one process, 2000 connections that send half a request and
hang, and 200 that dribble a header line every 2 s, while 50 normal
clients connect, hello, subscribe and receive a status: every normal client
is served, /healthz answers, every hanger and dribbler is closed by the
request deadline (limits.handshake_timeout_s, for the whole request head),
and each is counted in statusbus_connections_refused_total.

All of these come from 127.0.0.1, so the first test turns the per-address
limits off (they would refuse most hangers at once, which is the point of
them but not of this test); the per-address limits are tested on their own
below, with clients bound to other loopback addresses (127.0.0.2, ...) to
show that one address at its limit does not shut out another.

Nothing here asserts a latency: waits are conditions with generous
deadlines.  What the first test measured is printed (pytest -s)."""

import asyncio
import contextlib
import resource
import statistics
import time

import pytest

from sbharness import Ws, new_uuid, status_payload, wait_for

HANGERS = 2000
DRIBBLERS = 200
NORMAL = 50
# the default is 5 s; 10 leaves the normal clients a wide window to be
# served while the slow ones are still open, even on a loaded machine
DEADLINE_S = 10


@pytest.fixture(autouse=True)
def open_files():
    """Room for every connection of the test (and the bridge, its child)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (HANGERS + DRIBBLERS + NORMAL) + 512
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def refused(bridge, reason):
    return bridge.metrics().get(f'statusbus_connections_refused_total{{reason="{reason}"}}', 0)


class Slow:
    """One raw connection that sends half a request: all at once and then
    nothing (a hanger), or a header line every `every` seconds (a
    dribbler).  `lived` is how long it stayed open, from the connect to the
    bridge's close."""

    def __init__(self, port, every=None, source="127.0.0.1"):
        self.port, self.every, self.source = port, every, source
        self.opened = self.closed = None
        self.lines = 0

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(self.source, 0))
        self.opened = time.monotonic()
        self.writer.write(f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n".encode())
        await self.writer.drain()

    async def run(self):
        """Dribbles (if a dribbler) until the bridge closes the connection."""
        reading = asyncio.ensure_future(self.reader.read(4096))
        try:
            while True:
                done, _ = await asyncio.wait({reading}, timeout=self.every)
                if done:
                    break
                self.lines += 1
                self.writer.write(f"X-Dribble-{self.lines}: {'a' * 20}\r\n".encode())
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
            with contextlib.suppress(ConnectionError):
                reading.result()
        finally:
            self.closed = time.monotonic()
            self.writer.close()

    @property
    def lived(self):
        return self.closed - self.opened


async def open_all(slow, parallel=100):
    sem = asyncio.Semaphore(parallel)

    async def one(s):
        async with sem:
            await s.open()
    await asyncio.gather(*(one(s) for s in slow))


def summary(name, xs):
    xs = sorted(xs)
    return (f"{name}: {len(xs)} closed after {xs[0]:.2f} s (min), {statistics.median(xs):.2f} s "
            f"(median), {xs[-1]:.2f} s (max)")


def test_hangers_and_dribblers_are_dropped_while_normal_clients_are_served(stack_factory):
    st = stack_factory(bridge_overrides={"limits": {
        "max_connections": 5000, "handshake_timeout_s": DEADLINE_S,
        "max_connections_per_ip": 0, "max_handshakes_per_ip": 0}})
    b = st.bridge
    b.wait_subscribed()
    pub = st.mqtt()
    team = "42"
    topic = f"team/{team}/app/{new_uuid()}/status"
    payload = status_payload("running", name="api", reason="through the flood")

    async def normal_client(i):
        w = await Ws.connect(b.url)
        try:
            ack = await w.sub(f"team.{team}")
            assert ack["op"] == "ack", ack
            return w
        except BaseException:
            await w.close()
            raise

    async def body():
        hangers = [Slow(b.port) for _ in range(HANGERS)]
        dribblers = [Slow(b.port, every=2.0) for _ in range(DRIBBLERS)]
        t0 = time.monotonic()
        await open_all(hangers + dribblers)
        opened = time.monotonic() - t0
        runs = [asyncio.ensure_future(s.run()) for s in hangers + dribblers]

        # while they hang: every normal client gets in, subscribes, and
        # receives a status published now; /healthz answers
        clients = await asyncio.wait_for(
            asyncio.gather(*(normal_client(i) for i in range(NORMAL))), 60)
        served_in_flood = sum(1 for s in hangers + dribblers if s.closed is None)
        health = await asyncio.get_running_loop().run_in_executor(None, b.health)
        pub.publish(topic, payload, retain=True)
        for w in clients:
            ev = await w.expect(lambda m: m.get("op") == "event" and m.get("topic") == topic, 30,
                                what="the status published during the flood")
            assert ev["data"] == payload
        for w in clients:
            await w.close()

        # every hanger and dribbler is closed by the bridge (a generous
        # wait: the deadline is DEADLINE_S from accept)
        await asyncio.wait_for(asyncio.gather(*runs), 120)
        return hangers, dribblers, opened, served_in_flood, health

    hangers, dribblers, opened, in_flood, health = asyncio.run(asyncio.wait_for(body(), 300))
    assert health[0] == 200, health
    # the normal clients were served while the slow ones were still open
    assert in_flood > 0, "every slow connection was closed before the normal clients came"
    # each one counted (the normal clients' requests all completed)
    wait_for(lambda: refused(b, "handshake_timeout") >= HANGERS + DRIBBLERS, 10,
             what=f"the deadline closes counted ({ {k: v for k, v in b.metrics().items() if 'refused' in k} })")
    got = refused(b, "handshake_timeout")
    print(f"\nslowloris: {HANGERS} hangers and {DRIBBLERS} dribblers opened in {opened:.2f} s; "
          f"{in_flood} still open when all {NORMAL} normal clients had subscribed; "
          f"/healthz {health[0]}")
    print(summary("hangers", [h.lived for h in hangers]))
    print(summary("dribblers", [d.lived for d in dribblers]) +
          f", {max(d.lines for d in dribblers)} header lines at most")
    print(f"statusbus_connections_refused_total{{reason=\"handshake_timeout\"}} {got:.0f}, "
          f"per_ip {refused(b, 'per_ip'):.0f}, max_connections {refused(b, 'max_connections'):.0f}")
    assert refused(b, "per_ip") == 0 and refused(b, "max_connections") == 0


async def refused_at_once(port, source):
    """True when the bridge closes a new connection from `source` before
    it sends anything (a refusal at accept), False when it keeps it open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        return await asyncio.wait_for(reader.read(100), 10) == b""
    except asyncio.TimeoutError:
        return False
    except ConnectionError:
        return True
    finally:
        writer.close()


def test_per_address_limits_refuse_one_address_not_another(stack_factory):
    st = stack_factory(bridge_overrides={"limits": {
        "handshake_timeout_s": 30, "max_handshakes_per_ip": 20, "max_connections_per_ip": 25}})
    b = st.bridge

    async def body():
        # 20 requests from .2 hang: the 21st from .2 is refused at once,
        # .3 is not affected
        hangers = [Slow(b.port, source="127.0.0.2") for _ in range(20)]
        await open_all(hangers)
        runs = [asyncio.ensure_future(h.run()) for h in hangers]
        assert await refused_at_once(b.port, "127.0.0.2")
        w = await Ws.connect(b.url, local_addr=("127.0.0.3", 0))
        await w.close()
        assert all(h.closed is None for h in hangers)

        # 25 WebSocket clients from .4: the 26th is refused, at accept
        clients = [await Ws.connect(b.url, local_addr=("127.0.0.4", 0)) for _ in range(25)]
        assert await refused_at_once(b.port, "127.0.0.4")
        await clients.pop().close()
        wait_for(lambda: b.metrics().get("statusbus_connections") == 24, 10,
                 what="the closed client gone")
        clients.append(await Ws.connect(b.url, local_addr=("127.0.0.4", 0)))
        for c in clients:
            await c.close()
        for r in runs:
            r.cancel()
        for h in hangers:
            h.writer.close()

    asyncio.run(asyncio.wait_for(body(), 120))
    assert refused(b, "per_ip") == 2
    assert refused(b, "handshake_timeout") == 0


def test_max_connections_bounds_requests_in_flight(stack_factory):
    # max_connections 10: at most 10 connections in their request at once
    st = stack_factory(bridge_overrides={"limits": {
        "max_connections": 10, "handshake_timeout_s": 30, "max_handshakes_per_ip": 0}})
    b = st.bridge

    async def body():
        hangers = [Slow(b.port) for _ in range(10)]
        await open_all(hangers)
        assert await refused_at_once(b.port, "127.0.0.1")
        for h in hangers:
            h.writer.close()

    asyncio.run(asyncio.wait_for(body(), 60))
    assert refused(b, "max_connections") == 1
    # the closed hangers free their places
    wait_for(lambda: b.health()[0] == 200, 10, what="/healthz after the hangers left")


def test_keep_alive_next_request_has_its_own_deadline(stack_factory):
    # a quick first request, then the next one dribbled: closed by the
    # deadline of the next request, counted
    st = stack_factory(bridge_overrides={"limits": {"handshake_timeout_s": 2}})
    b = st.bridge

    async def body():
        reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        n = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")))
        await reader.readexactly(n)
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        lines = 0
        reading = asyncio.ensure_future(reader.read(100))
        while not reading.done() and lines < 120:
            await asyncio.wait({reading}, timeout=0.5)
            lines += 1
            writer.write(b"X-Slow-%d: y\r\n" % lines)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        writer.close()
        return reading.done() and (reading.exception() is not None or reading.result() == b"")

    assert asyncio.run(asyncio.wait_for(body(), 90)), "the dribbled second request was not closed"
    wait_for(lambda: refused(b, "handshake_timeout") == 1, 10, what="the close counted")
