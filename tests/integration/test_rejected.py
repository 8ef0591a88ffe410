# SPDX-License-Identifier: MIT
"""Payload validation in the bridge (docs/protocol.md §8): payloads that are
not JSON, invalid for their topic's schema or over limits.max_payload_bytes,
published with mosquitto_pub, never reach a subscribed WebSocket client;
with validation.republish_rejected they appear under
$statusbus/rejected/<topic> with the reason, and /metrics counts every drop
by reason.

Absence is proved with a sentinel: every refused payload is followed by a
valid one on the same topic; once the valid one has arrived, the refused
one would have arrived before it (the bridge handles one topic's messages
in order)."""

import asyncio
import json
import re
import os
import subprocess
import time

import paho.mqtt.client as mqtt

import sbharness
from sbharness import Ws, binary, new_uuid, wait_for

MAX_PAYLOAD = 1024
REJECTING = {"validation": {"enabled": True, "republish_rejected": True},
             "limits": {"max_payload_bytes": MAX_PAYLOAD}}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def mosquitto_pub(port, topic, payload, retain=False):
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
            "-m", payload]
    if retain:
        argv.append("-r")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def subscribe_acked(client, *topics):
    acked = []
    client.c.on_subscribe = lambda c, u, mid, granted: acked.append(mid)
    rc, mid = client.c.subscribe([(t, 1) for t in topics])
    assert rc == mqtt.MQTT_ERR_SUCCESS
    wait_for(lambda: mid in acked, 5, what=f"SUBACK for {topics}")


async def until(ws, cond, timeout, what):
    """Receives frames until cond() holds (checked first) or the deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {what} within {timeout}s; got {ws.frames[-5:]}")
        await ws.recv(left)


def dropped(metrics, reason):
    return metrics.get(f'statusbus_dropped_total{{reason="{reason}"}}', 0)


def cases(app, dep):
    """(topic, refused payload, retained, reason fragment, valid sentinel).
    One case per topic: two statuses of one topic may be conflated for a
    slow client (docs/protocol.md §6), which would hide a sentinel."""
    app_topic = f"team/42/app/{app}/status"
    app2_topic = f"team/42/app/{new_uuid()}/status"
    dep_topic = f"team/42/deploy/{dep}/status"
    log_topic = f"deploy/{dep}/logs"
    oversize = json.dumps({"ts": now(), "status": "running", "reason": "r" * 1000,
                           "name": "n" * 100})
    assert len(oversize) > MAX_PAYLOAD      # but valid for the schema
    return [
        (app_topic, "not json {", True, "payload is not JSON",
         {"ts": now(), "status": "starting"}),
        (dep_topic, json.dumps({"ts": now(), "status": "running", "progress": 140}), True,
         "deploy-status.json: /progress: 140 is greater than maximum 100",
         {"ts": now(), "status": "running", "progress": 40}),
        (app2_topic, oversize, True,
         f"payload of {len(oversize)} bytes is over the limit of {MAX_PAYLOAD}",
         {"ts": now(), "status": "running"}),
        (log_topic, json.dumps({"seq": 0, "ts": now(), "level": "info", "stream": "stdout",
                                "msg": "zero"}), False,
         "log-line.json: /seq: 0 is less than minimum 1",
         {"seq": 1, "ts": now(), "level": "info", "stream": "stdout", "msg": "one"}),
    ]


def test_rejected_payloads_never_reach_browsers_and_are_republished(stack_factory):
    stack = stack_factory(bridge_overrides=REJECTING)
    app, dep = new_uuid(), new_uuid()
    todo = cases(app, dep)
    rejected = stack.mqtt()
    subscribe_acked(rejected, "$statusbus/rejected/#")
    before = stack.bridge.metrics()

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        for ch in ("team.42", f"deploy.{dep}.logs"):
            assert (await ws.sub(ch))["op"] == "ack"
        stack.bridge.wait_subscribed()
        for topic, bad, retain, _, sentinel in todo:
            mosquitto_pub(stack.mosq.port, topic, bad, retain)
            mosquitto_pub(stack.mosq.port, topic, json.dumps(sentinel), retain)
        # every sentinel arrives ...
        for topic, _, _, _, sentinel in todo:
            await until(ws, lambda: any(e["data"] == sentinel for e in ws.events()), 10,
                        f"sentinel on {topic}")
        await ws.close()
        return ws.events()

    events = asyncio.run(main())
    # ... and nothing else of these topics came before or after it
    sentinels = [s for _, _, _, _, s in todo]
    delivered = [e["data"] for e in events
                 if e.get("topic") in {t for t, *_ in todo} or e["channel"].endswith(".logs")]
    assert sorted(map(json.dumps, delivered)) == sorted(map(json.dumps, sentinels)), delivered

    # republished with the reason, for the publisher to see
    wait_for(lambda: len(rejected.received) >= len(todo), 10, what="republished rejections")
    got = {}
    for topic, payload, retained in rejected.received:
        r = json.loads(payload)
        assert set(r) == {"topic", "reason", "ts", "bytes", "payload", "truncated"}, r
        assert topic == f"$statusbus/rejected/{r['topic']}"
        got[r["reason"]] = r
    assert len(got) == len(todo), got
    for topic, bad, _, reason, _ in todo:
        r = next((v for k, v in got.items() if reason in k), None)
        assert r is not None, f"no rejection with {reason!r} in {list(got)}"
        assert r["topic"] == topic and r["bytes"] == len(bad.encode())
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["ts"]), r["ts"]
        if len(bad) > 1024:
            assert r["truncated"] is True and bad.startswith(r["payload"])
            assert len(r["payload"]) == 1024
        else:
            assert r["truncated"] is False and r["payload"] == bad

    after = stack.bridge.metrics()
    assert dropped(after, "invalid_json") - dropped(before, "invalid_json") == 1
    assert dropped(after, "schema") - dropped(before, "schema") == 2
    assert dropped(after, "oversize") - dropped(before, "oversize") == 1
    assert after["statusbus_rejected_republished_total"] - \
        before.get("statusbus_rejected_republished_total", 0) == len(todo)


def test_rejections_are_counted_but_not_republished_by_default(stack_factory):
    stack = stack_factory(bridge_overrides={"validation": {"enabled": True}})
    app = new_uuid()
    topic = f"team/42/app/{app}/status"
    sentinel = {"ts": now(), "status": "running"}
    before = stack.bridge.metrics()

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        await ws.sub("team.42")
        stack.bridge.wait_subscribed()
        mosquitto_pub(stack.mosq.port, topic, json.dumps({"ts": now(), "status": "runing"}))
        mosquitto_pub(stack.mosq.port, topic, json.dumps(sentinel))
        ev = await ws.expect(lambda m: m.get("op") == "event" and m.get("topic") == topic, 10)
        assert ev["data"] == sentinel
        await ws.close()

    asyncio.run(main())
    after = stack.bridge.metrics()
    assert dropped(after, "schema") - dropped(before, "schema") == 1
    assert after.get("statusbus_rejected_republished_total", 0) == 0


def test_bridge_and_publisher_refuse_the_same_record_for_the_same_reason(stack_factory):
    """statusbus-publish validates with the bridge's own validator: what it
    refuses locally, the bridge would refuse with the same words."""
    stack = stack_factory(bridge_overrides=REJECTING)
    dep = new_uuid()
    topic = f"team/42/deploy/{dep}/status"
    rejected = stack.mqtt()
    subscribe_acked(rejected, "$statusbus/rejected/#")

    r = subprocess.run([binary("statusbus-publish"), "--port", str(stack.mosq.port),
                        "--team", "42", "--deploy", dep, "--deploy-status", "running",
                        "--progress", "140", "--step", "build"],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, STATUSBUS_SCHEMAS=sbharness.SCHEMAS_DIR))
    assert r.returncode == 1
    cli_reason = r.stderr.strip().split("payload invalid for ", 1)[1]

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        await ws.sub("team.42")
        stack.bridge.wait_subscribed()
        mosquitto_pub(stack.mosq.port, topic, json.dumps(
            {"ts": now(), "status": "running", "progress": 140, "step": "build"}))
        await ws.close()

    asyncio.run(main())
    wait_for(lambda: rejected.received, 10, what="republished rejection")
    bridge_reason = json.loads(rejected.received[0][1])["reason"]
    assert bridge_reason == cli_reason
