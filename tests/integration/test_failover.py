# SPDX-License-Identifier: MIT
"""mqtt.uri as a list of brokers (docs/protocol.md §10): the bridge uses one
node per connection attempt, in turn, and when its node dies it connects to
the next one and keeps delivering to the clients it has, on the same
WebSockets.  Two independent mosquitto brokers stand in for the nodes of a
cluster (the NATS cluster of tests/integration/test_fleet.py replicates the
session too); every wait has a deadline."""

import asyncio
import os
import signal

from sbharness import Bridge, Mosquitto, Mqtt, Ws, new_uuid, status_payload, wait_for


def run(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def is_event(topic):
    return lambda m: m.get("op") == "event" and m.get("topic") == topic


def node(workdir, name):
    d = os.path.join(workdir, name)
    os.mkdir(d)
    return Mosquitto(d)


def test_bridge_fails_over_to_the_next_uri_and_keeps_delivering(workdir):
    procs, clients = [], []
    try:
        m1 = node(workdir, "m1")
        procs.append(m1)
        m2 = node(workdir, "m2")
        procs.append(m2)
        uris = [f"tcp://127.0.0.1:{m1.port}", f"tcp://127.0.0.1:{m2.port}"]
        b = Bridge(workdir, m1.port, {"mqtt": {"uri": uris}})
        procs.append(b)
        assert f"connecting to {uris[0]} (node 1 of 2)" in b.output()
        b.wait_subscribed()
        p1 = Mqtt(m1.port)
        clients.append(p1)
        topic = f"team/42/app/{new_uuid()}/status"

        async def body():
            w = await Ws.connect(b.url)
            try:
                assert (await w.sub("team.42"))["op"] == "ack"
                first = status_payload("running", name="api")
                p1.publish(topic, first, retain=True)
                await w.expect(lambda m: is_event(topic)(m) and m["data"] == first,
                               what="the status via node 1")
                m1.stop(signal.SIGKILL)
                wait_for(lambda: b.get("/readyz")[0] == 503, 15, what="readyz 503 (node 1 dead)")
                assert b.get("/livez")[0] == 200
                wait_for(lambda: f"mqtt: connected to {uris[1]}" in b.output(), 30,
                         what="the bridge on node 2")
                assert f"connecting to {uris[1]} (node 2 of 2)" in b.output()
                b.wait_subscribed(20)
                wait_for(lambda: b.get("/readyz")[0] == 200, 15, what="readyz 200 on node 2")
                p2 = Mqtt(m2.port)
                clients.append(p2)
                second = status_payload("degraded", old="running", name="api")
                p2.publish(topic, second, retain=True)
                await w.expect(lambda m: is_event(topic)(m) and m["data"] == second, 15,
                               what="the status via node 2, on the same WebSocket")
                # a new client's snapshot comes from node 2
                w2 = await Ws.connect(b.url)
                try:
                    await w2.sub("team.42")
                    await w2.expect(lambda m: is_event(topic)(m) and m["data"] == second,
                                    what="node 2's retained status in a new snapshot")
                finally:
                    await w2.close()
            finally:
                await w.close()
        run(body())
        assert b.stop() == 0
    except BaseException:
        for p in procs:
            print(f"\n===== {p.name} (pid {p.pid}) log =====\n{p.output()}")
        raise
    finally:
        for c in clients:
            c.close()
        for p in reversed(procs):
            p.stop()
