# SPDX-License-Identifier: MIT
"""limits.max_connections_per_ip behind the documented nginx
(docs/protocol.md §5.14, docs/deploy.md "Client addresses"): the proxy
(127.0.0.1, in listen.trusted_proxies) is exempt from the per-address
limits at accept, and each WebSocket it forwards is counted under the
client's address X-Forwarded-For names.  The test's clients send their
own X-Forwarded-For through nginx (which appends the real peer,
127.0.0.1, trusted), so that they look like distinct clients: two
WebSockets of 198.51.100.9 connect, the third is answered 429 with a
JSON body saying why, 198.51.100.10 still connects; closing one lets a
new one of .9 in; many more connections than the limit pass through the
one proxy address; opening and closing many leaves nothing counted; a
SIGHUP that stops trusting the proxy while .9's connections are open
releases them under the address they were counted with.  A client that
connects directly with a forged header is counted by its own address."""

import asyncio
import http.client
import json
import os
import signal

import pytest
import websockets

from sbharness import Ws, free_port, wait_for
from test_proxy import NGINX, Nginx, self_signed, site_for_test, tls_ctx

LIMIT = 2
TRUSTED = ["127.0.0.1", "::1"]


def refused(bridge, reason="per_ip"):
    return bridge.metrics().get(f'statusbus_connections_refused_total{{reason="{reason}"}}', 0)


def connections(bridge):
    return bridge.metrics().get("statusbus_connections")


def upgrade_answer(port, crt, xff):
    """(status, JSON body) of a WebSocket upgrade through the proxy that
    the bridge refuses."""
    c = http.client.HTTPSConnection("localhost", port, timeout=10, context=tls_ctx(crt))
    try:
        c.request("GET", "/v1/ws", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": "statusbus.v1", "X-Forwarded-For": xff})
        r = c.getresponse()
        return r.status, json.loads(r.read().decode() or "null")
    finally:
        c.close()


def hup(bridge, trusted, want):
    """Rewrites listen.trusted_proxies, SIGHUP, waits for reload number
    `want` to be counted."""
    cfg = dict(bridge.config)
    cfg["listen"] = dict(cfg["listen"], trusted_proxies=trusted)
    with open(bridge.config_path, "w") as f:
        json.dump(cfg, f, indent=1)
    bridge.send_signal(signal.SIGHUP)
    wait_for(lambda: bridge.metrics().get('statusbus_config_reloads_total{result="ok"}', 0)
             >= want, 10, what=f"reload {want}")


@pytest.mark.skipif(not os.path.exists(NGINX),
                    reason="nginx not installed (scripts/setup.sh installs it)")
def test_per_address_limits_count_forwarded_clients(stack_factory, workdir):
    crt, key = self_signed(workdir)
    stack = stack_factory(bridge_overrides={
        "mqtt": {"password_file": None},
        "listen": {"trusted_proxies": TRUSTED},
        "limits": {"max_connections_per_ip": LIMIT, "max_handshakes_per_ip": LIMIT}})
    b = stack.bridge
    port = free_port()
    nginx = Nginx(workdir, site_for_test(crt, key, port, b.port), port)
    stack.procs.append(nginx)
    url = f"wss://localhost:{port}/v1/ws"

    async def proxied(xff=None):
        return await Ws.connect(url, ssl=tls_ctx(crt),
                                extra_headers={"X-Forwarded-For": xff} if xff else {})

    async def direct(source, xff):
        return await Ws.connect(b.url, local_addr=(source, 0),
                                extra_headers={"X-Forwarded-For": xff})

    async def closed_all(ws, left):
        for w in ws:
            await w.close()
        wait_for(lambda: connections(b) == left, 10, what=f"{left} connections left")

    async def body():
        # two of .9; the third is refused with 429 and why; .10 is not
        nine = [await proxied("198.51.100.9") for _ in range(LIMIT)]
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await proxied("198.51.100.9")
        assert e.value.status_code == 429
        assert refused(b) == 1
        st, why = await asyncio.to_thread(upgrade_answer, port, crt, "198.51.100.9")
        assert st == 429, (st, why)
        assert why["code"] == "rate_limited", why
        assert "198.51.100.9" in why["message"] and "max_connections_per_ip" in why["message"]
        assert refused(b) == 2
        ten = await proxied("198.51.100.10")

        # closing one of .9 lets a new one in
        await nine.pop().close()
        wait_for(lambda: connections(b) == LIMIT, 10, what="the closed one gone")
        nine.append(await proxied("198.51.100.9"))
        # "198.51.100.9, 127.0.0.1" is read from the right: an untrusted
        # entry left of .9 changes nothing
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            await proxied("203.0.113.5, 198.51.100.9")
        assert refused(b) == 3

        # a direct client that forges the header is counted by its own
        # address (127.0.0.3), not as .9 (full), and is limited as itself
        forged = [await direct("127.0.0.3", "198.51.100.9") for _ in range(LIMIT)]
        with pytest.raises((websockets.exceptions.InvalidHandshake, OSError, EOFError)):
            await direct("127.0.0.3", f"198.51.100.{77}")
        assert refused(b) == 4
        await closed_all(forged, LIMIT + 1)

        # the proxy itself is exempt: many more connections than the
        # limit through its one address, of distinct clients and of
        # clients with no header (then the client is the proxy, trusted)
        many = [await proxied(f"198.51.100.{20 + i}") for i in range(4 * LIMIT)]
        many += [await proxied() for _ in range(2 * LIMIT)]
        assert connections(b) == LIMIT + 1 + 6 * LIMIT
        await closed_all(many, LIMIT + 1)
        assert refused(b) == 4

        # opened and closed many times over: nothing left counted
        await closed_all(nine, 1)
        for _ in range(10):
            ws = [await proxied("198.51.100.9") for _ in range(LIMIT)]
            await closed_all(ws, 1)
        await closed_all([ten], 0)

        # a reload that stops trusting the proxy while .9 is counted:
        # .9's connections are released under .9, not under the proxy
        nine = [await proxied("198.51.100.9") for _ in range(LIMIT)]
        hup(b, ["::1"], 1)
        await closed_all(nine, 0)
        hup(b, TRUSTED, 2)
        nine = [await proxied("198.51.100.9") for _ in range(LIMIT)]
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            await proxied("198.51.100.9")
        await closed_all(nine, 0)
        assert refused(b) == 5

    asyncio.run(asyncio.wait_for(body(), 120))
    assert refused(b, "max_connections") == 0
    assert nginx.stop() == 0
