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


def test_livez_and_readyz_follow_process_and_link(stack):
    # /livez: the process serves; /readyz: the broker link is up (not draining)
    for path in ("/livez", "/readyz"):
        st, body = stack.bridge.get(path)
        assert st == 200, path
        assert json.loads(body)["mqtt"] == "connected"
    assert json.loads(stack.bridge.get("/readyz")[1]) == {
        "status": "ready", "mqtt": "connected", "following": "live", "draining": False}
    stack.mosq.stop()
    wait_for(lambda: stack.bridge.get("/readyz")[0] == 503, 15, what="readyz 503")
    assert json.loads(stack.bridge.get("/readyz")[1])["status"] == "not_ready"
    # a broker outage must not make an orchestrator restart the process
    st, body = stack.bridge.get("/livez")
    assert st == 200 and json.loads(body) == {
        "status": "alive", "mqtt": "disconnected", "following": "settling", "draining": False}
    assert stack.bridge.health()[0] == 503      # /healthz kept as it was


def test_metrics_is_prometheus_text(stack):
    st, body = stack.bridge.get("/metrics")
    assert st == 200
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge", "histogram")
            names.add(name)
            if kind == "histogram":    # its samples: _bucket{le}, _sum, _count
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
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


# ---- numbers read from the request: since, Content-Length --------------------------------

class RawConn:
    """One keep-alive HTTP/1.1 connection, requests written byte for byte
    and responses read by their Content-Length."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def request(self, method, path, body=None, headers=""):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n{headers}"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
        self.send(head.encode() + b"\r\n" + (body or b""))
        return self.response()

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the bridge")
        self.buf += chunk

    def response(self):
        """(status, headers, body) of the next response, complete."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), hdrs, body

    def closed(self):
        """True once the bridge closed the connection (waits for it)."""
        try:
            while True:
                self._fill()
        except (ConnectionError, OSError):
            return True

    def close(self):
        self.s.close()


def healthz_on(conn):
    st, h, body = conn.request("GET", "/healthz")
    assert st == 200 and json.loads(body)["mqtt"] == "connected", (st, body)


def test_history_since_walks_its_range(stack):
    """since is an integer from 0 to 2^53 - 1 written as JSON writes one;
    anything else is 400, and nothing near the top overflows."""
    m = stack.mqtt()
    d = new_uuid()
    m.publish(f"team/42/deploy/{d}/status", {"ts": status_payload("x")["ts"], "status": "running",
                                            "progress": 1}, retain=True)
    ch = f"deploy.{d}.logs"
    assert stack.bridge.get(f"/v1/history?channel={ch}")[0] == 200
    for i in (1, 2, 3):
        m.publish(f"deploy/{d}/logs", {"seq": i, "ts": status_payload("x")["ts"], "level": "info",
                                       "stream": "stdout", "msg": f"line {i}"})

    def hist(since):
        st, body = stack.bridge.get(f"/v1/history?channel={ch}&since={since}")
        return st, json.loads(body) if body else None
    wait_for(lambda: len(hist(0)[1]["events"]) == 3, 10, what="three lines")
    assert hist("")[0] == 400                       # no digits
    assert hist("-1")[0] == 400                     # min - 1
    st, doc = hist("0")                             # min
    assert st == 200 and [e["seq"] for e in doc["events"]] == [1, 2, 3]
    st, doc = hist("2")
    assert st == 200 and [e["seq"] for e in doc["events"]] == [3]
    for top in ("9007199254740990", "9007199254740991"):      # max - 1, max
        st, doc = hist(top)
        assert st == 200, doc
        assert doc["events"] == [] and doc["gap"] is None and doc["gaps"] == [], doc
        assert doc["last_seq"] == 3
    for bad in ("9007199254740992",                 # max + 1
                "9223372036854775807", "9223372036854775808",   # int64 max, and past it
                "99999999999999999999999",          # issue 12: clamped, then since + 1
                "1" * 400,                          # longer than any buffer
                "abc", "1x", "+1", "01", "1e3", "1.0", "0x10", "%201", "1%2C2"):
        st, doc = hist(bad)
        assert st == 400 and doc["code"] == "bad_request", (bad, st, doc)
        assert "since" in doc["message"], doc
    # an argument longer than lws's own buffer before since does not hide it
    st, body = stack.bridge.get(f"/v1/history?channel={ch}&pad={'x' * 500}&since=2")
    assert st == 200 and [e["seq"] for e in json.loads(body)["events"]] == [3], body
    st, body = stack.bridge.get(f"/v1/snapshot?channel={'x' * 400}")
    assert st == 400 and "too long" in body
    assert stack.bridge.health()[0] == 200


def test_request_with_body_is_answered_and_the_connection_kept(stack):
    """issue 12: a POST with a body and keep-alive (as the Pusher server SDK
    sends its events) got headers and no body, and the client waited."""
    c = RawConn(stack.bridge.port)
    try:
        body = json.dumps({"name": "e", "channel": "c", "data": "{\"x\":1}"}).encode()
        body = body.ljust(63)
        # the Pusher HTTP API (docs/pusher.md) is off without a pusher
        # section: answered in full all the same
        st, h, out = c.request("POST", "/apps/1/events", body)
        assert st == 404 and b"no pusher section" in out, (st, h, out)
        healthz_on(c)
        st, h, out = c.request("POST", "/v1/snapshot", body)
        assert st == 405 and h["allow"] == "GET, OPTIONS", (st, h)
        assert json.loads(out)["code"] == "bad_request"
        healthz_on(c)
        # a GET may carry a body too: read, dropped, answered
        st, _, out = c.request("GET", "/healthz", b"12345")
        assert st == 200 and json.loads(out)["mqtt"] == "connected"
        # POST with Content-Length: 0 (lws gives it body callbacks)
        assert c.request("POST", "/v1/snapshot?channel=team.42", b"")[0] == 405
        # PUT and an OPTIONS preflight with a body
        assert c.request("PUT", "/healthz", b"{}")[0] == 405
        assert c.request("OPTIONS", "/v1/history", b"x")[0] in (204, 403)
        # the body in pieces, the headers first
        c.send(b"POST /v1/history HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        c.send(b"defghij")
        assert c.response()[0] == 405
        # leading zeros are allowed in Content-Length (1*DIGIT)
        c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 003\r\n\r\nabc")
        assert c.response()[0] == 405
        # a query with a body is answered like one without
        st, _, out = c.request("GET", "/v1/snapshot?channel=team.42", b"{}")
        assert st == 200 and json.loads(out)["channel"] == "team.42", out
        healthz_on(c)
    finally:
        c.close()


def test_body_length_walks_its_range(stack):
    """Content-Length from 0 to 1 MiB is read and dropped (keep-alive); past
    it, or not an integer, or absent on a POST, the bridge answers and
    closes: where the next request would start is not known."""
    port = stack.bridge.port
    mib = 1 << 20
    c = RawConn(port)
    try:
        assert c.request("POST", "/x", b"")[0] == 405                  # min
        assert c.request("POST", "/x", b"a")[0] == 405
        assert c.request("POST", "/x", b"b" * mib)[0] == 405          # max
        healthz_on(c)
    finally:
        c.close()
    refused = [
        (b"Content-Length: -1\r\n", 400),                            # min - 1
        (b"Content-Length: 1048577\r\n", 413),                       # max + 1
        (b"Content-Length: 9223372036854775808\r\n", 413),           # past int64
        (b"Content-Length: 99999999999999999999999\r\n", 413),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: 1e3\r\n", 400),
        (b"Content-Length: +5\r\n", 400),
        (b"Content-Length: 0x10\r\n", 400),
        (b"", 411),                                                  # no length
        (b"Transfer-Encoding: chunked\r\n", 411),
    ]
    for hdr, want in refused:
        c = RawConn(port)
        try:
            c.send(b"POST /apps/1/events HTTP/1.1\r\nHost: x\r\n" + hdr + b"\r\n")
            st, h, out = c.response()
            assert st == want, (hdr, st, out)
            assert h.get("connection") == "close" and json.loads(out)["code"] == "bad_request"
            assert c.closed()
        finally:
            c.close()
    assert stack.bridge.health()[0] == 200


def test_body_must_be_in_within_the_deadline(stack):
    """A body sent a byte at a time, each within lws's per-read timeout, is
    still cut off at the deadline (10 s) for the whole body."""
    c = RawConn(stack.bridge.port)
    try:
        c.send(b"POST /apps/1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n")
        c.s.settimeout(1.0)
        sent = 0
        closed = False
        for _ in range(60):
            try:
                c.send(b"x")
                sent += 1
                if not c.s.recv(1):
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        assert closed and sent < 60, sent
    finally:
        c.close()
    assert stack.bridge.health()[0] == 200
