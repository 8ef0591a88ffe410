# SPDX-License-Identifier: MIT
"""HTTP on the bridge's port (docs/protocol.md §7): /healthz, /metrics,
/v1/snapshot, /v1/history and static files, including traversal attempts."""

import json
import os
import socket

import pytest

from sbharness import SOURCE_DIR, new_uuid, status_payload, wait_for

DASHBOARD = os.path.join(SOURCE_DIR, "examples", "dashboard")


def raw_get(port, path, headers=""):
    """Sends a GET with `path` exactly as given (no client-side
    normalisation) and returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, hdrs, body


@pytest.fixture
def web(stack_factory):
    return stack_factory(bridge_overrides={"listen": {"static_dir": DASHBOARD}})


def test_healthz_reports_link_state_and_counters(stack):
    st, h = stack.bridge.health()
    assert st == 200
    assert h["mqtt"] == "connected"
    assert h["mqtt_subscriptions"] >= 1      # deploy statuses, always on
    stack.mosq.stop()
    wait_for(lambda: stack.bridge.health()[0] == 503, 15, what="healthz 503")
    assert stack.bridge.health()[1]["mqtt"] == "disconnected"


def test_metrics_is_prometheus_text(stack):
    st, body = stack.bridge.get("/metrics")
    assert st == 200
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge")
            names.add(name)
        elif line and not line.startswith("#"):
            name = line.split("{")[0].split()[0]
            assert name in names, f"sample {name} without a TYPE line"
            float(line.rsplit(" ", 1)[1])
    for n in ("statusbus_connections", "statusbus_subscriptions", "statusbus_messages_in_total",
              "statusbus_messages_out_total", "statusbus_frames_out_total", "statusbus_batches_total",
              "statusbus_dropped_total", "statusbus_queue_bytes", "statusbus_mqtt_reconnects_total",
              "statusbus_auth_failures_total"):
        assert n in names, n
    assert 'statusbus_dropped_total{reason="schema"}' in body


def test_static_files_with_content_types(web):
    port = web.bridge.port
    st, h, body = raw_get(port, "/")
    assert st == 200 and h["content-type"].startswith("text/html")
    with open(os.path.join(DASHBOARD, "index.html"), "rb") as f:
        assert body == f.read()
    for name in os.listdir(DASHBOARD):
        p = os.path.join(DASHBOARD, name)
        if name.endswith(".js") and os.path.isfile(p):
            st, h, _ = raw_get(port, "/" + name)
            assert st == 200 and h["content-type"].startswith("text/javascript"), name
        if name.endswith(".css"):
            st, h, _ = raw_get(port, "/" + name)
            assert st == 200 and h["content-type"].startswith("text/css"), name
    st, _, _ = raw_get(port, "/no-such-file.html")
    assert st == 404


@pytest.mark.parametrize("path", [
    "/../README.md", "/../../etc/passwd", "/%2e%2e/README.md", "/%2e%2e%2fREADME.md",
    "/..%2fREADME.md", "/vendor/../../../README.md", "/.git/config", "/..\\README.md",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/%00index.html",
])
def test_static_traversal_is_refused(web, path):
    st, _, body = raw_get(web.bridge.port, path)
    assert b"root:" not in body and b"statusbus" not in body[:200].lower() or st == 200 and \
        body.startswith(b"<!"), (path, st, body[:200])
    # whatever lws made of the path, nothing outside static_dir is served
    readme = open(os.path.join(SOURCE_DIR, "README.md"), "rb").read()
    assert readme[:200] not in body
    assert st in (200, 400, 403, 404), (path, st)
    # the bridge is still serving
    assert web.bridge.health()[0] == 200


def test_no_static_dir_means_404(stack):
    st, _, _ = raw_get(stack.bridge.port, "/index.html")
    assert st == 404


def test_snapshot_and_history_in_open_mode(stack):
    m = stack.mqtt()
    app = new_uuid()
    m.publish(f"team/42/app/{app}/status", status_payload("running"), retain=True)
    # the first poll is complete: the bridge follows team.42 from then on,
    # and answers once the broker's retained replay is in
    st, body = stack.bridge.get("/v1/snapshot?channel=team.42")
    assert st == 200, body
    doc = json.loads(body)
    assert doc["live"] is True, doc
    ev = [e for e in doc["events"] if e["topic"] == f"team/42/app/{app}/status"]
    assert ev and ev[0]["event"] == "app.status" and ev[0]["data"]["status"] == "running"

    d = new_uuid()
    m.publish(f"team/42/deploy/{d}/status", {"ts": status_payload("x")["ts"], "status": "running",
                                            "progress": 10}, retain=True)
    st, body = stack.bridge.get(f"/v1/history?channel=deploy.{d}.logs&since=0")
    assert st == 200 and json.loads(body)["live"] is True, body
    for i in range(1, 6):
        m.publish(f"deploy/{d}/logs", {"seq": i, "ts": status_payload("x")["ts"], "level": "info",
                                       "stream": "stdout", "msg": f"line {i}"})

    def hist():
        st, body = stack.bridge.get(f"/v1/history?channel=deploy.{d}.logs&since=2")
        doc = json.loads(body)
        return doc if len(doc["events"]) == 3 else None
    doc = wait_for(hist, 10, what="history after since=2")
    assert [e["seq"] for e in doc["events"]] == [3, 4, 5]
    assert doc["last_seq"] == 5 and doc["gap"] is None

    assert stack.bridge.get("/v1/snapshot?channel=team.4%2B2")[0] == 400
    assert stack.bridge.get("/v1/snapshot?channel=nope.42")[0] == 404
    assert stack.bridge.get("/v1/snapshot")[0] == 400
    assert stack.bridge.get(f"/v1/history?channel=team.42&since=0")[0] == 400
    assert stack.bridge.get(f"/v1/history?channel=deploy.{d}.logs&since=-1")[0] == 400
