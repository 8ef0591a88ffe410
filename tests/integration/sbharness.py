# SPDX-License-Identifier: MIT
"""Start real mosquitto and statusbus-bridge processes on free loopback ports,
wait for readiness with deadlines, stop them by PID, and drive WebSocket and
MQTT clients against them.  Used by every tests/integration/test_*.py."""

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import paho.mqtt.client as mqtt
import websockets

SOURCE_DIR = os.environ.get(
    "SB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("SB_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
SCHEMAS_DIR = os.path.join(SOURCE_DIR, "schemas")


def binary(name):
    for sub in ("", "examples"):
        p = os.path.join(BINARY_DIR, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name} not built in {BINARY_DIR}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _due(cond, deadline, timeout, what):
    """cond()'s value; TimeoutError when it is falsy past the deadline."""
    v = cond()
    if not v and time.monotonic() > deadline:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
    return v


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not (v := _due(cond, deadline, timeout, what)):
        time.sleep(interval)
    return v


async def wait_for_async(cond, timeout=10.0, interval=0.05, what="condition"):
    """wait_for inside an event loop: its other tasks run meanwhile."""
    deadline = time.monotonic() + timeout
    while not (v := _due(cond, deadline, timeout, what)):
        await asyncio.sleep(interval)
    return v


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A child process whose output goes to a log file, stopped by PID."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=workdir, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the process by PID; returns its exit code."""
        if self.alive():
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.flush()
        return self.proc.returncode

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Mosquitto(Process):
    """mosquitto -c <generated conf>: by default one anonymous loopback
    listener with persistence in the test's directory.  `conf` replaces the
    whole config; {port} and {dir} in it are filled in.

    Started as root (CI), mosquitto would switch to the user `mosquitto`,
    who can neither write its database into the test's private (0700)
    directory nor read the test's files: a config without a `user` line
    therefore stays the user who owns the directory.  restart() proves that
    a broker with persistence on really saved and restored its database."""

    # mosquitto's log lines when it cannot save or load its database (the
    # save error is followed by "Error: <strerror>.")
    PERSISTENCE_ERRORS = ("Error saving in-memory database", "Couldn't open database",
                          "Error: Permission denied")

    def __init__(self, workdir, port=None, conf=None):
        self.port = port or free_port()
        self.workdir = workdir
        if conf is None:
            conf = ("listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence true\npersistence_location {dir}/\n"
                    "max_queued_messages 100000\n")
        conf = conf.replace("{port}", str(self.port)).replace("{dir}", workdir)
        if os.geteuid() == 0 and not conf_values(conf, "user"):
            conf = "user root\n" + conf
        self.db_path = persistence_path(conf, workdir)
        self.conf_path = os.path.join(workdir, "mosquitto.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf)
        super().__init__("mosquitto", ["mosquitto", "-c", self.conf_path], workdir)
        wait_for(lambda: port_open(self.port) or not self.alive(), 10, what="mosquitto")
        if not self.alive():
            raise RuntimeError("mosquitto failed to start:\n" + self.output())

    def restart(self):
        """Stops the broker (SIGTERM: it saves its database) unless it is
        stopped already, checks the save, starts it again on the same port
        and checks the load."""
        self.stop()
        self.check_persistence("stopped")
        self.log.close()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_for(lambda: port_open(self.port) or not self.alive(), 10, what="mosquitto restart")
        if not self.alive():
            raise RuntimeError("mosquitto failed to restart:\n" + self.output())
        self.check_persistence("restarted")

    def check_persistence(self, when):
        """With persistence on: the database file exists and mosquitto's log
        (every run so far) reports no failure to save or load it.  Without
        this, a test of a restart passes with nothing carried over."""
        if self.db_path is None:
            return
        out = self.output()
        bad = [line for line in out.splitlines()
               if any(e in line for e in self.PERSISTENCE_ERRORS)]
        assert not bad and os.path.exists(self.db_path), (
            f"mosquitto {when} without a usable database {self.db_path} "
            f"(exists: {os.path.exists(self.db_path)}); errors {bad}; log:\n{out}")


def conf_values(conf, key):
    """The values of `key` in a mosquitto config text, in order."""
    out = []
    for line in conf.splitlines():
        parts = line.split(None, 1)
        if parts and parts[0] == key:
            out.append(parts[1].strip() if len(parts) > 1 else "")
    return out


def persistence_path(conf, workdir):
    """Where a broker with this config keeps its database (relative paths
    are taken from its working directory, workdir), or None when
    persistence is off."""
    if (conf_values(conf, "persistence") or ["false"])[-1] != "true":
        return None
    loc = (conf_values(conf, "persistence_location") or [""])[-1]
    name = (conf_values(conf, "persistence_file") or ["mosquitto.db"])[-1]
    # mosquitto joins location and file name as strings: "dir/" + "file"
    return os.path.join(workdir, loc + name)


def shipped_config():
    with open(os.path.join(SOURCE_DIR, "examples", "bridge.json")) as f:
        return json.load(f)


class Bridge(Process):
    """The real statusbus-bridge with a config made from examples/bridge.json
    and `overrides` (merged one level deep)."""

    def __init__(self, workdir, mqtt_port, overrides=None, port=None, wait_healthy=True):
        self.port = port or free_port()
        cfg = shipped_config()
        cfg["mqtt"] = dict(cfg.get("mqtt", {}), uri=f"tcp://127.0.0.1:{mqtt_port}",
                           client_id=f"sb-test-{uuid.uuid4().hex[:8]}")
        cfg["mqtt"].pop("username", None)
        cfg["mqtt"].pop("password", None)
        cfg["mqtt"].pop("password_file", None)
        cfg["listen"] = dict(cfg.get("listen", {}), host="127.0.0.1", port=self.port)
        cfg["listen"]["static_dir"] = None
        cfg["schemas_dir"] = SCHEMAS_DIR
        # SIGTERM closes every client at once (no drain window: a stop stays
        # fast) unless a test's overrides give limits.drain_s
        cfg["limits"] = dict(cfg.get("limits", {}), drain_s=0)
        cfg.pop("auth", None)
        cfg.pop("pusher", None)
        for k, v in (overrides or {}).items():
            if v is None:
                cfg.pop(k, None)
            elif isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k] = dict(cfg[k], **v)
            else:
                cfg[k] = v
        self.config = cfg
        self.config_path = os.path.join(workdir, f"bridge-{self.port}.json")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=1)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1")
        super().__init__(f"bridge-{self.port}", [binary("statusbus-bridge"), "-c", self.config_path],
                         workdir, env=env)
        self.url = f"ws://127.0.0.1:{self.port}/v1/ws"
        self.http = f"http://127.0.0.1:{self.port}"
        # /metrics moves to metrics.listen when the config has one
        mlisten = (cfg.get("metrics") or {}).get("listen")
        self.metrics_http = f"http://{mlisten}" if mlisten else self.http
        wait_for(lambda: port_open(self.port) or not self.alive(), 15, what="bridge port")
        if not self.alive():
            raise RuntimeError("bridge failed to start:\n" + self.output())
        if wait_healthy:
            wait_for(lambda: self.health()[0] == 200, 15, what="bridge healthy")
            # and settled: its own subscriptions live (/readyz).  Not a
            # failure here when it never is (a test of a broker that
            # refuses them): what needs it asserts it
            try:
                wait_for(lambda: self.get("/readyz")[0] == 200, 15, what="bridge ready")
            except TimeoutError:
                pass

    def get(self, path, headers=None, base=None):
        """(status, body text) of GET path (on base, by default the
        bridge's port)."""
        req = urllib.request.Request((base or self.http) + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return 0, ""

    def health(self):
        st, body = self.get("/healthz")
        try:
            return st, json.loads(body) if body else {}
        except ValueError:
            return st, {}

    def wait_subscribed(self, timeout=10):
        """Waits until the broker acknowledged every MQTT subscription the
        bridge holds: from then on nothing published is missed."""
        def ok():
            m = self.metrics()
            return m.get("statusbus_mqtt_subscriptions_active") == \
                m.get("statusbus_mqtt_subscriptions") and m.get("statusbus_mqtt_connected") == 1
        wait_for(ok, timeout, what="MQTT subscriptions acknowledged")

    def metrics(self):
        """Prometheus text -> {name{labels}: value}."""
        st, body = self.get("/metrics", base=self.metrics_http)
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out


class Mqtt:
    """A paho client connected to the test broker, with a thread loop."""

    def __init__(self, port, client_id=None, username=None, password=None, tls=None,
                 clean_session=True):
        self.c = mqtt.Client(client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                             clean_session=clean_session, protocol=mqtt.MQTTv311)
        if username:
            self.c.username_pw_set(username, password)
        if tls:
            self.c.tls_set(**tls)
        self.received = []
        self.connected = False
        self.rc = None
        self.session_present = None
        self.c.on_message = lambda c, u, m: self.received.append(
            (m.topic, m.payload, m.retain))

        def on_connect(c, u, flags, rc):
            self.session_present = bool(flags.get("session present"))
            self.connected = rc == 0
            self.rc = rc            # last: the constructor waits for it
        self.c.on_connect = on_connect
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        wait_for(lambda: self.rc is not None, 10, what="mqtt connack")

    def publish(self, topic, payload, retain=False, qos=1):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0 and self.connected:
            info.wait_for_publish(10)
        return info

    def subscribe(self, topic, qos=1):
        self.c.subscribe(topic, qos)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class Ws:
    """An asyncio statusbus.v1 client with deadline-bounded receive helpers."""

    def __init__(self, conn):
        self.conn = conn
        self.frames = []     # every decoded frame received, in order
        self._next_id = 100

    @classmethod
    async def connect(cls, url, hello=True, token=None, subprotocol="statusbus.v1",
                      **kw):
        conn = await websockets.connect(
            url, subprotocols=[subprotocol] if subprotocol else None,
            max_size=2**24, open_timeout=10, **kw)
        self = cls(conn)
        if hello:
            msg = {"op": "hello"}
            if token is not None:
                msg["token"] = token
            await self.send(msg)
            w = await self.recv(5)
            assert w["op"] == "welcome", w
            self.welcome = w
        return self

    def next_id(self):
        self._next_id += 1
        return self._next_id

    async def send(self, obj):
        await self.conn.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def recv(self, timeout=5.0):
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        msg = json.loads(raw)
        self.frames.append(msg)
        return msg

    async def expect(self, pred, timeout=5.0, what="frame"):
        """Receives until pred(frame) holds; returns that frame.  Frames
        before it stay in self.frames."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; got {self.frames[-5:]}")
            msg = await self.recv(left)
            if pred(msg):
                return msg

    async def request(self, obj, timeout=5.0):
        """Sends obj with a fresh id and returns the ack/error/pong with it."""
        obj = dict(obj)
        obj.setdefault("id", self.next_id())
        await self.send(obj)
        return await self.expect(lambda m: m.get("id") == obj["id"] and
                                 m.get("op") in ("ack", "error", "pong"), timeout,
                                 what=f"reply to {obj}")

    async def sub(self, channel, **kw):
        r = await self.request(dict({"op": "sub", "channel": channel}, **kw))
        return r

    async def closed(self, timeout=5.0):
        """Waits for the server to close; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(websockets.ConnectionClosed):
            while time.monotonic() < deadline:
                await self.recv(deadline - time.monotonic())
        await asyncio.wait_for(self.conn.wait_closed(), max(0.1, deadline - time.monotonic()))
        return self.conn.close_code, self.conn.close_reason

    async def close(self):
        await self.conn.close()

    def events(self, channel=None):
        """Flattened events (batches expanded) received so far."""
        out = []
        for f in self.frames:
            if channel and f.get("channel") != channel:
                continue
            if f.get("op") == "event":
                out.append(f)
            elif f.get("op") == "batch":
                for e in f["events"]:
                    out.append({"op": "event", "channel": f["channel"], "event": f["event"],
                                "data": e, "topic": e.get("topic") if isinstance(e, dict) else None})
        return out


def status_payload(status, old=None, **extra):
    p = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "status": status}
    if old:
        p["old_status"] = old
    p.update(extra)
    return p


def new_uuid():
    return str(uuid.uuid4())


class Stack:
    """One broker and one bridge for a test; printed on failure."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.clients = []
        self.mosq = None
        self.bridge = None

    def start(self, bridge_overrides=None, mosquitto_conf=None, bridge=True):
        self.mosq = Mosquitto(self.workdir, conf=mosquitto_conf)
        self.procs.append(self.mosq)
        if bridge:
            self.bridge = self.start_bridge(bridge_overrides)
        return self

    def start_bridge(self, overrides=None, **kw):
        b = Bridge.__new__(Bridge)
        try:
            Bridge.__init__(b, self.workdir, self.mosq.port, overrides, **kw)
        finally:
            if getattr(b, "proc", None) is not None:
                self.procs.append(b)
        return b

    def mqtt(self, **kw):
        c = Mqtt(self.mosq.port, **kw)
        self.clients.append(c)
        return c

    def stop(self):
        for c in self.clients:
            with contextlib.suppress(Exception):
                c.close()
        for p in reversed(self.procs):
            p.stop()

    def dump(self):
        for p in self.procs:
            if getattr(p, "proc", None) is None:
                continue
            print(f"\n===== {p.name} (pid {p.pid}) log =====\n{p.output()}")


# ---- a raw WebSocket client ---------------------------------------------------
# For tests that must send what a library would not (unanswered pings,
# unmasked or huge frames): frames are built and read by hand.

def ws_handshake(port, tls=None, path="/v1/ws", headers="", head_out=None):
    """A socket upgraded to statusbus.v1 on `path` (through `tls`, an
    ssl.SSLContext, when given); the 101 response is read (and appended,
    as text, to the list head_out when given).  `headers`: extra request
    header lines, each ending in CRLF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls:
        s = tls.wrap_socket(s)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{headers}"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: statusbus.v1\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    if head_out is not None:
        head_out.append(head.decode("latin-1"))
    return s


def ws_frame_header(opcode, length, fin=True, mask=True):
    """A frame header announcing `length` bytes (its mask key not included)."""
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    if length < 126:
        return bytes([b0, m | length])
    if length < 65536:
        return bytes([b0, m | 126]) + struct.pack("!H", length)
    return bytes([b0, m | 127]) + struct.pack("!Q", length)


def ws_send_frame(s, opcode, payload=b"", fin=True):
    """One masked client frame."""
    key = os.urandom(4)
    s.sendall(ws_frame_header(opcode, len(payload), fin) + key +
              bytes(b ^ key[i % 4] for i, b in enumerate(payload)))


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def ws_read_frame(s, deadline=None):
    """(opcode, payload) of the next frame; EOFError when the peer closed,
    socket.timeout past `deadline` (time.monotonic())."""
    if deadline is not None:
        s.settimeout(max(0.05, deadline - time.monotonic()))
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


# ---- a publisher in a child process ------------------------------------------
# Floods and paced streams are published from another process so that the
# test's asyncio receiver is never starved of the GIL by paho, and so that
# publish -> receive latency is measured between two independent processes
# on one clock (every payload's "ts" is the wall-clock time of its publish).

PUBLISHER_SCRIPT = r'''
import heapq, json, sys, threading, time, uuid
from datetime import datetime, timezone
import paho.mqtt.client as mqtt

spec = json.loads(sys.argv[1])

def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")

STATUSES = ["running", "starting", "restarting", "degraded", "unhealthy", "stopped"]

def payload(s, n):
    pad = "x" * s.get("pad", 0)
    k = s["kind"]
    if k == "log":
        return {"seq": n, "ts": now_iso(), "level": "info", "stream": "stdout",
                "msg": "line %d %s" % (n, pad)}
    if k == "stats":
        return {"ts": now_iso(), "cpu": float(n % 6400), "mem": {"used": n, "limit": 1 << 30}}
    if k == "status":
        return {"ts": now_iso(), "status": STATUSES[n % len(STATUSES)], "reason": "n=%d %s" % (n, pad)}
    if k == "notify":
        return {"ts": now_iso(), "title": "n=%d" % n, "level": "info", "body": pad}
    raise ValueError(k)

c = mqtt.Client(client_id="pub-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(65535)
c.max_queued_messages_set(0)
ok = []
connacked = threading.Event()
def on_connect(cl, u, f, rc):
    ok.append(rc)
    connacked.set()
c.on_connect = on_connect
c.connect("127.0.0.1", spec["port"], keepalive=30)
c.loop_start()
connacked.wait(10)
if ok != [0]:
    print(json.dumps({"error": "connack %r" % ok}), flush=True)
    sys.exit(1)
qos = spec.get("qos", 1)
t0 = time.monotonic()
start_wall = time.time()
heap = []
for i, s in enumerate(spec["streams"]):
    if s["count"] > 0:
        heap.append((float(s.get("start", 0.0)), i, 0))
heapq.heapify(heap)
infos, last, counts = [], {}, [0] * len(spec["streams"])
while heap:
    at, i, k = heapq.heappop(heap)
    s = spec["streams"][i]
    wait = t0 + at - time.monotonic()
    if wait > 0:
        time.sleep(wait)   # pacing of the stream, not synchronisation
    n = s.get("first", 1) + k
    p = payload(s, n)
    infos.append(c.publish(s["topic"], json.dumps(p, separators=(",", ":")), qos=qos,
                           retain=s.get("retain", False)))
    last[s["topic"]] = p
    counts[i] += 1
    if k + 1 < s["count"]:
        rate = s.get("rate", 0)
        heapq.heappush(heap, (at + (1.0 / rate if rate else 0.0), i, k + 1))
sent_wall = time.time()
for info in infos:
    if qos:
        info.wait_for_publish(30)
print(json.dumps({"counts": counts, "start": start_wall, "sent": sent_wall,
                  "acked": time.time(), "last": last}), flush=True)
c.loop_stop()
c.disconnect()
'''


class Publisher:
    """Publishes `streams` from a child python process (PUBLISHER_SCRIPT).

    Each stream: {"kind": "log"|"stats"|"status"|"notify", "topic": T,
    "count": N, "first": 1, "rate": msgs/s (0 = as fast as paho can),
    "retain": bool, "pad": extra bytes, "start": seconds after the first
    publish}.  Payloads are valid for their
    schema; log lines carry "seq" = first..first+N-1, stats "mem.used" = n,
    statuses "reason" = "n=<n> ...", notifications "title" = "n=<n>", and
    every payload's "ts" is the wall-clock time it was published."""

    def __init__(self, mqtt_port, streams, qos=1):
        import sys
        spec = {"port": mqtt_port, "qos": qos, "streams": streams}
        self.proc = subprocess.Popen([sys.executable, "-c", PUBLISHER_SCRIPT, json.dumps(spec)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.result = None

    def wait(self, timeout=60.0):
        """Waits for every publish to be acknowledged; returns the summary
        {"counts", "start", "sent", "acked", "last": {topic: payload}}."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        if self.proc.returncode != 0:
            raise RuntimeError(f"publisher exited {self.proc.returncode}:\n{out}\n{err}")
        self.result = json.loads(out.strip().splitlines()[-1])
        return self.result

    async def wait_async(self, timeout=60.0):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.wait, timeout)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


def ts_epoch(ts):
    """RFC 3339 'ts' (as Publisher writes it) -> seconds since the epoch."""
    from datetime import datetime
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


# ---- a slow broker link and link faults (issue 11) ----------------------------------
# Conditions a real deployment meets and a test must be able to create on
# purpose: a broker that answers late, a TCP connection cut under the bridge,
# another client taking over the bridge's MQTT client id.

PROXY_SCRIPT = r'''
import socket, sys, threading, time, collections
listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
delays = {"up": float(sys.argv[3]), "down": float(sys.argv[4])}

def close(*socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass

def pump(src, dst, delay):
    # every chunk is forwarded `delay` seconds after it was read, in order
    q, cv = collections.deque(), threading.Condition()
    def reader():
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            with cv:
                q.append((time.monotonic() + delay, data))
                cv.notify()
            if not data:
                return
    def writer():
        while True:
            with cv:
                while not q:
                    cv.wait()
                due, data = q.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        close(src, dst)
    threading.Thread(target=reader, daemon=True).start()
    threading.Thread(target=writer, daemon=True).start()

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(16)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    try:
        u = socket.create_connection(("127.0.0.1", target_port), timeout=5)
        u.settimeout(None)
    except OSError:
        close(c)
        continue
    for s in (c, u):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pump(c, u, delays["up"])
    pump(u, c, delays["down"])
'''


class DelayProxy(Process):
    """A TCP forwarder on a free loopback port to `target_port`, in a child
    process, that delivers every byte `up_delay` seconds late towards the
    target and `down_delay` seconds late back (a distant or busy broker).
    Order is kept; a close on either side closes both."""

    def __init__(self, workdir, target_port, up_delay=0.0, down_delay=0.0):
        import sys
        self.port = free_port()
        super().__init__(f"proxy-{self.port}", [sys.executable, "-c", PROXY_SCRIPT, str(self.port),
                                                str(target_port), str(up_delay), str(down_delay)],
                         workdir)
        wait_for(lambda: port_open(self.port) or not self.alive(), 10, what="proxy")
        if not self.alive():
            raise RuntimeError("proxy failed to start:\n" + self.output())


def stack_proxy(stack, up_delay=0.0, down_delay=0.0):
    """A DelayProxy in front of the stack's broker, stopped with the stack."""
    p = DelayProxy(stack.workdir, stack.mosq.port, up_delay, down_delay)
    stack.procs.append(p)
    return p


def stack_bridge_at(stack, mqtt_port, overrides=None, **kw):
    """A bridge of the stack that connects to mqtt_port (e.g. a proxy)
    instead of the broker's own port; stopped with the stack."""
    b = Bridge.__new__(Bridge)
    try:
        Bridge.__init__(b, stack.workdir, mqtt_port, overrides, **kw)
    finally:
        if getattr(b, "proc", None) is not None:
            stack.procs.append(b)
    return b


def bridge_mqtt_port(bridge):
    """The broker port the bridge's config points at."""
    return int(bridge.config["mqtt"]["uri"].rsplit(":", 1)[1])


def tcp_links(pid, remote_port):
    """Local ports of pid's established TCP connections to 127.0.0.1:remote_port."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( dport = :{remote_port} )"],
                         capture_output=True, text=True, check=True).stdout
    ports = []
    for line in out.splitlines():
        if f"pid={pid}," in line:
            ports.append(int(line.split()[2].rsplit(":", 1)[1]))
    return ports


def cut_tcp(local_port, remote_port):
    """Destroys both ends of one loopback TCP connection with `ss -K` (the
    kernel resets it, as a middlebox or a network fault would)."""
    f = (f"( sport = :{local_port} and dport = :{remote_port} ) or "
         f"( sport = :{remote_port} and dport = :{local_port} )")
    subprocess.run(["ss", "-K", "-tnH", f], capture_output=True, text=True, check=True)


def cut_bridge_link(bridge):
    """Cuts the bridge's TCP connection(s) to its broker; returns how many."""
    port = bridge_mqtt_port(bridge)
    links = tcp_links(bridge.pid, port)
    for lp in links:
        cut_tcp(lp, port)
    return len(links)


def take_over_client_id(port, client_id):
    """Connects with another client's MQTT client id and a clean session, which
    makes the broker close that client's connection and discard its session,
    then disconnects."""
    c = mqtt.Client(client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311)
    rc = []
    c.on_connect = lambda cl, u, f, r: rc.append(r)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        wait_for(lambda: rc, 10, what="connack of the take-over client")
    finally:
        c.disconnect()
        c.loop_stop()
    return rc[0]


def channels_with_delivery(template, **delivery):
    """The shipped channel map with the delivery settings of the channel
    template named `template` (e.g. "deploy.{deploy:uuid}.logs") changed."""
    chans = json.loads(json.dumps(shipped_config()["channels"]))
    for c in chans:
        if c["name"] == template:
            c["delivery"] = dict(c["delivery"], **delivery)
    return chans
