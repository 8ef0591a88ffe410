# SPDX-License-Identifier: MIT
"""/metrics as an operator uses it (docs/metrics.md): metrics.listen moves
it to an address of its own (and off the public port), and the histograms
count what they say they count, against a real mosquitto and bridge."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import urllib.request

from sbharness import (SCHEMAS_DIR, Publisher, Ws, binary, free_port, new_uuid, status_payload,
                       wait_for)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def http(url, method="GET"):
    """(status, content type, body) of one request."""
    req = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("content-type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read().decode()


def histogram(text, name):
    """{"buckets": [(le, cumulative)], "sum": float, "count": int} of a
    histogram family in Prometheus text, checking its TYPE line."""
    assert f"# TYPE {name} histogram" in text.splitlines(), name
    h = {"buckets": []}
    for line in text.splitlines():
        k, _, v = line.rpartition(" ")
        if k.startswith(name + '_bucket{le="'):
            h["buckets"].append((k[len(name) + 12:-2], int(v)))
        elif k == name + "_sum":
            h["sum"] = float(v)
        elif k == name + "_count":
            h["count"] = int(v)
    return h


def check_shape(h):
    """Cumulative buckets, ascending bounds, +Inf last and equal to _count."""
    les = [b[0] for b in h["buckets"]]
    counts = [b[1] for b in h["buckets"]]
    assert les[-1] == "+Inf", les
    assert [float(x) for x in les[:-1]] == sorted(float(x) for x in les[:-1]), les
    assert counts == sorted(counts), counts
    assert counts[-1] == h["count"], h


def test_metrics_listen_moves_metrics_off_the_public_port(stack_factory):
    mport = free_port()
    s = stack_factory(bridge_overrides={"metrics": {"listen": f"127.0.0.1:{mport}"}})
    st, ctype, body = http(f"http://127.0.0.1:{mport}/metrics")
    assert st == 200, (st, body)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    assert "statusbus_mqtt_connected 1" in body.splitlines()
    check_shape(histogram(body, "statusbus_delivery_latency_seconds"))
    # the public port: no /metrics; everything else as before
    st, _, body = http(f"{s.bridge.http}/metrics")
    assert st == 404 and json.loads(body)["code"] == "not_found", (st, body)
    assert s.bridge.health()[0] == 200
    # the metrics address: /metrics only, GET only
    st, _, body = http(f"http://127.0.0.1:{mport}/healthz")
    assert st == 404 and json.loads(body)["code"] == "not_found", (st, body)
    st, _, _ = http(f"http://127.0.0.1:{mport}/metrics", method="POST")
    assert st == 405
    # and still serves after those (keep-alive or not)
    assert http(f"http://127.0.0.1:{mport}/metrics")[0] == 200
    assert f"metrics: listening on http://127.0.0.1:{mport}/metrics" in s.bridge.output()


def test_sighup_does_not_move_metrics_listen(stack_factory):
    """metrics.listen needs a restart: SIGHUP with it changed (or removed)
    says so, and /metrics stays where it is, off the public port."""
    mport = free_port()
    s = stack_factory(bridge_overrides={"metrics": {"listen": f"127.0.0.1:{mport}"}})
    said = "need a restart (the running values stay): metrics.listen"
    for n, changed in enumerate(({"listen": f"127.0.0.1:{free_port()}"}, {"listen": None})):
        ok = s.bridge.metrics()['statusbus_config_reloads_total{result="ok"}']
        cfg = dict(s.bridge.config, metrics=changed)
        with open(s.bridge.config_path, "w") as f:
            json.dump(cfg, f)
        s.bridge.send_signal(signal.SIGHUP)
        wait_for(lambda: s.bridge.metrics()['statusbus_config_reloads_total{result="ok"}'] > ok,
                 10, what="the reload counted")
        wait_for(lambda: s.bridge.output().count(said) == n + 1, 10, what="the restart named")
        assert http(f"http://127.0.0.1:{mport}/metrics")[0] == 200
        assert http(f"{s.bridge.http}/metrics")[0] == 404


def test_metrics_listen_on_a_busy_port_is_a_clear_error_at_start(workdir):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg = {"mqtt": {"uri": "tcp://127.0.0.1:1", "client_id": "sb-test-metrics"},
           "listen": {"host": "127.0.0.1", "port": free_port()},
           "schemas_dir": SCHEMAS_DIR, "metrics": {"listen": f"127.0.0.1:{port}"}}
    path = os.path.join(workdir, "metrics-busy.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    try:
        p = subprocess.run([binary("statusbus-bridge"), "-c", path], capture_output=True,
                           text=True, timeout=30)
    finally:
        busy.close()
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}" in p.stdout + p.stderr


def test_histograms_count_live_deliveries_messages_and_batches(stack):
    """One client, N statuses of N topics (so none conflates): N delivery
    observations; a second client's snapshot of them adds none; every
    message taken from MQTT is one ingest observation; a deploy's lines
    are batched, each batch one observation of its size."""
    m = stack.mqtt()
    team = f"t{new_uuid()[:8]}"
    n = 12
    deploy = new_uuid()
    m.publish(f"team/{team}/deploy/{deploy}/status",
              {"ts": "2024-06-01T12:00:00Z", "status": "running", "progress": 1}, retain=True)

    async def body():
        a = await Ws.connect(stack.bridge.url)
        assert (await a.sub(f"team.{team}"))["op"] == "ack"
        assert (await a.sub(f"deploy.{deploy}.logs"))["op"] == "ack"
        # the deploy's status, from the snapshot or live: before the count starts
        def deploy_status(f):
            return f.get("topic") == f"team/{team}/deploy/{deploy}/status"
        if not any(deploy_status(f) for f in a.frames):
            await a.expect(deploy_status, 10, "the deploy's status")
        before = stack.bridge.metrics()
        for i in range(n):
            m.publish(f"team/{team}/app/{new_uuid()}/status", status_payload("running"),
                      retain=True)
        for _ in range(n):
            await a.expect(lambda f: f.get("op") == "event" and f.get("event") == "app.status",
                           10, "a status")
        mid = stack.bridge.metrics()
        d = "statusbus_delivery_latency_seconds_count"
        assert mid[d] - before[d] == n, (before[d], mid[d])

        b = await Ws.connect(stack.bridge.url)
        assert (await b.sub(f"team.{team}"))["op"] == "ack"
        for _ in range(n):
            await b.expect(lambda f: f.get("op") == "event" and f.get("event") == "app.status",
                           10, "a snapshot status")
        assert stack.bridge.metrics()[d] == mid[d], "a snapshot is no delivery"

        Publisher(stack.mosq.port, [{"kind": "log", "topic": f"deploy/{deploy}/logs",
                                     "count": 25, "rate": 0, "first": 1, "pad": 10,
                                     "start": 0.0}]).wait()
        seen = 0
        while seen < 25:
            f = await a.expect(lambda f: f.get("op") in ("batch", "event") and
                               f.get("channel") == f"deploy.{deploy}.logs", 10, "log lines")
            seen += len(f["events"]) if f["op"] == "batch" else 1
        text = stack.bridge.get("/metrics", base=stack.bridge.metrics_http)[1]
        after = stack.bridge.metrics()
        batches = histogram(text, "statusbus_batch_lines")
        check_shape(batches)
        assert batches["count"] == after["statusbus_batches_total"]
        assert batches["sum"] - before.get("statusbus_batch_lines_sum", 0) == 25
        ingest = histogram(text, "statusbus_mqtt_ingest_seconds")
        check_shape(ingest)
        assert ingest["count"] == after["statusbus_messages_in_total"]
        delivery = histogram(text, "statusbus_delivery_latency_seconds")
        check_shape(delivery)
        assert delivery["sum"] >= 0
        for w in (a, b):
            await w.conn.close()
    run(body())
