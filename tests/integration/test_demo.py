# SPDX-License-Identifier: MIT
"""The demo (scripts/demo.sh) and its simulator (examples/simulator/).

test_simulator_*: the simulator's --once round, published through the
production broker config as the `backend` user, is what docs/protocol.md §2
and schemas/*.json describe: every family of topics, retained where it must
be, every payload valid, one complete deployment with a few hundred log
lines numbered from 1.

test_demo_*: scripts/demo.sh (setup skipped, temp run dir, free ports, the
simulator in --once mode) prints a dashboard URL and a token that a
statusbus.v1 client can use to see the simulated platform, and Ctrl-C (SIGINT
to the demo's PID) stops every process it started."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import sbharness
from sbharness import wait_for

SCRIPTS = os.path.join(sbharness.SOURCE_DIR, "scripts")
SIMULATOR = os.path.join(sbharness.SOURCE_DIR, "examples", "simulator", "simulate.py")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _failed(request):
    return any(getattr(request.node, "rep_" + w, None) is not None and
               getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))


# ---- the simulator against the production broker config ----------------------

def topic_map():
    with open(os.path.join(sbharness.SCHEMAS_DIR, "topics.json")) as f:
        return json.load(f)["topics"]


def matches(filt, topic):
    f, t = filt.split("/"), topic.split("/")
    return len(f) == len(t) and all(a in ("+", b) for a, b in zip(f, t))


@pytest.fixture
def broker(request, workdir):
    d = os.path.join(workdir, "broker")
    port = sbharness.free_port()
    subprocess.run([os.path.join(SCRIPTS, "broker-init.sh"), d, "--port", str(port),
                    "--tls-port", str(sbharness.free_port()), "--tls-password-port", "0"],
                   check=True, capture_output=True, timeout=60)
    with open(os.path.join(d, "mosquitto.conf")) as f:
        mosq = sbharness.Mosquitto(d, port=port, conf=f.read())
    mosq.dir = d
    yield mosq
    mosq.stop()
    if _failed(request):
        print(f"\n===== mosquitto (pid {mosq.pid}) log =====\n{mosq.output()}")


def test_simulator_once_publishes_the_documented_topics_with_valid_payloads(broker, workdir):
    jsonschema = pytest.importorskip("jsonschema")
    validators = {}
    for t in topic_map():
        with open(os.path.join(sbharness.SCHEMAS_DIR, t["schema"])) as f:
            validators[t["schema"]] = jsonschema.Draft202012Validator(json.load(f))
    with open(os.path.join(broker.dir, "secrets", "bridge.password")) as f:
        watcher = sbharness.Mqtt(broker.port, username="bridge", password=f.read())
    subscribed = []
    watcher.c.on_subscribe = lambda c, u, mid, granted: subscribed.append(mid)
    _, mid = watcher.c.subscribe("#", 1)
    wait_for(lambda: mid in subscribed, 5, what="SUBACK")

    log_path = os.path.join(workdir, "simulator.log")
    with open(log_path, "wb") as log:
        r = subprocess.run([sys.executable, SIMULATOR, "--port", str(broker.port),
                            "--username", "backend", "--password-file",
                            os.path.join(broker.dir, "secrets", "backend.password"),
                            "--once", "--speed", "40", "--seed", "7"],
                           stdout=log, stderr=subprocess.STDOUT, timeout=120)
    with open(log_path) as f:
        sim_log = f.read()
    assert r.returncode == 0, sim_log
    assert "deploy" in sim_log and "finished" in sim_log, sim_log   # it says what it does

    # the simulator waited for every PUBACK; the last message it published
    # (a notification) must reach the watcher too
    wait_for(lambda: any(t.startswith("user/") and b'"Deployment of' in p
                         for t, p, _ in watcher.received), 10, what="the final notification")
    watcher.close()

    seen, errors, deploy_status, log_seqs = {}, [], [], []
    for topic, payload, retained in watcher.received:
        spec = next((t for t in topic_map() if matches(t["filter"], topic)), None)
        assert spec is not None, f"{topic} is not in schemas/topics.json"
        seen[spec["event"]] = seen.get(spec["event"], 0) + 1
        assert payload, f"empty payload on {topic} in --once mode"
        data = json.loads(payload)
        errors += [f"{topic}: {e.message}" for e in validators[spec["schema"]].iter_errors(data)]
        assert RFC3339.match(data["ts"]), (topic, data["ts"])
        assert data["ts"].endswith("Z")
        parts = topic.split("/")
        if parts[0] == "team" and parts[2] in ("app", "db", "service", "server", "deploy"):
            assert UUID.match(parts[3]), topic
        if spec["event"] == "deploy.status":
            deploy_status.append((topic, data))
        if spec["event"] == "deploy.log":
            log_seqs.append((topic, data["seq"]))
    assert not errors, "\n".join(errors[:20])
    # the simulator publishes every kind but the Pusher API's relay (bridges only)
    assert set(seen) == {t["event"] for t in topic_map() if not t.get("relay")}, seen
    for team in ("42", "43", "acme"):
        assert any(t.startswith(f"team/{team}/app/") for t, _, _ in watcher.received), team

    # one complete deployment: created -> queued -> running ... -> finished
    assert len({t for t, _ in deploy_status}) == 1
    states = [d["status"] for _, d in deploy_status]
    assert states[:2] == ["created", "queued"] and states[-1] == "finished", states
    assert set(states[2:-1]) == {"running"}
    progress = [d["progress"] for _, d in deploy_status]
    assert progress == sorted(progress) and progress[-1] == 100
    steps = [d.get("step") for _, d in deploy_status if d["status"] == "running"]
    assert [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s] == \
        ["clone", "install", "build", "test", "push image", "release"]
    last = deploy_status[-1][1]
    assert last["finished_at"] >= last["started_at"] and last.get("old_status") == "running"
    dep = deploy_status[0][0].split("/")[3]
    assert {t for t, _ in log_seqs} == {f"deploy/{dep}/logs"}
    seqs = [s for _, s in log_seqs]
    assert seqs == list(range(1, len(seqs) + 1)) and 200 <= len(seqs) <= 1000

    # retained exactly as in docs/protocol.md §2 (checked by a fresh subscriber)
    with open(os.path.join(broker.dir, "secrets", "bridge.password")) as f:
        late = sbharness.Mqtt(broker.port, username="bridge", password=f.read())
    late.subscribe("#")
    wait_for(lambda: any(t.startswith("public/") for t, _, _ in late.received), 10,
             what="retained public status")
    wait_for(lambda: len(late.received) >= 31, 10, what="all retained topics")
    late.close()
    retained = {next(s["event"] for s in topic_map() if matches(s["filter"], t))
                for t, _, r in late.received if r}
    assert retained == {t["event"] for t in topic_map() if t["retained"]}, retained


def test_simulator_stops_cleanly_on_sigterm_and_clears_its_retained_state(broker, workdir):
    with open(os.path.join(broker.dir, "secrets", "bridge.password")) as f:
        bridge_pw = f.read()
    ready = os.path.join(workdir, "ready")
    sim = sbharness.Process("simulator", [
        sys.executable, SIMULATOR, "--port", str(broker.port), "--username", "backend",
        "--password-file", os.path.join(broker.dir, "secrets", "backend.password"),
        "--speed", "10", "--cleanup", "--ready-file", ready], workdir)
    try:
        wait_for(lambda: os.path.exists(ready) or not sim.alive(), 30, what="simulator ready")
        assert sim.alive(), sim.output()
        wait_for(lambda: "deploy" in sim.output() and "running step" in sim.output(), 30,
                 what="a deployment running")
        assert sim.stop(signal.SIGTERM) == 0, sim.output()
    finally:
        sim.stop(signal.SIGKILL)
    out = sim.output()
    assert "cancelled" in out and "clearing" in out, out
    # nothing of the run is left retained: a new subscriber gets no status,
    # only its own sentinel
    c = sbharness.Mqtt(broker.port, username="bridge", password=bridge_pw)
    backend_pw = open(os.path.join(broker.dir, "secrets", "backend.password")).read()
    b = sbharness.Mqtt(broker.port, username="backend", password=backend_pw)
    subscribed = []
    c.c.on_subscribe = lambda cl, u, mid, granted: subscribed.append(mid)
    _, mid = c.c.subscribe("#", 1)
    wait_for(lambda: mid in subscribed, 5, what="SUBACK")
    b.publish("public/sentinel/status", {"ts": "2024-01-01T00:00:00Z", "status": "operational"})
    wait_for(lambda: c.received, 10, what="sentinel")
    assert [t for t, _, _ in c.received] == ["public/sentinel/status"]
    c.close()
    b.close()


# ---- scripts/demo.sh -------------------------------------------------------------------

class Demo:
    def __init__(self, workdir, env_extra=None):
        self.run_dir = os.path.join(workdir, "run")
        self.out_path = os.path.join(workdir, "demo.out")
        self.err_path = os.path.join(workdir, "demo.err")
        self.ports = {k: sbharness.free_port() for k in
                      ("SB_DEMO_PORT", "SB_DEMO_MQTT_PORT", "SB_DEMO_TLS_PORT")}
        env = dict(os.environ, SB_DEMO_SKIP_SETUP="1", SB_DEMO_RUN_DIR=self.run_dir,
                   SB_BUILD_DIR=sbharness.BINARY_DIR,
                   SB_DEMO_SIM_ARGS="--once --speed 20 --seed 42",
                   **{k: str(v) for k, v in self.ports.items()})
        env.update(env_extra or {})
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        # the demo must get SIGINT like a shell in a terminal would, even when
        # the test runner itself runs with SIGINT ignored
        self.proc = subprocess.Popen(
            [os.path.join(SCRIPTS, "demo.sh")], stdout=self.out, stderr=self.err,
            cwd=workdir, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.pids = {}

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_ready(self, timeout=120):
        wait_for(lambda: "Press Ctrl-C" in self.stdout() or self.proc.poll() is not None,
                 timeout, what="the demo to print its URLs")
        assert self.proc.poll() is None, f"demo exited {self.proc.returncode}:\n{self.stderr()}"
        out = self.stdout()
        m = re.search(r"dashboard:\s+(http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_.-]+)&team=42)",
                      out)
        assert m, out
        self.dashboard, self.http_port, self.token = m.group(1), int(m.group(2)), m.group(3)
        m = re.search(r"websocket:\s+(ws://127\.0\.0\.1:\d+/v1/ws)", out)
        assert m, out
        self.ws_url = m.group(1)
        m = re.search(r"pids:\s+mosquitto (\d+), bridge (\d+), simulator (\d+)", out)
        assert m, out
        self.pids = dict(zip(("mosquitto", "bridge", "simulator"), map(int, m.groups())))
        return self

    def alive_children(self):
        out = []
        for name, pid in self.pids.items():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            out.append((name, pid))
        return out

    def cleanup(self):
        """Last resort at teardown: stop the demo and whatever it left, by PID."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for name, pid in self.alive_children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    ours = self.run_dir.encode() in f.read()
            except OSError:
                continue
            if ours:
                os.kill(pid, signal.SIGKILL)
        self.out.close()
        self.err.close()

    def dump(self):
        print(f"\n===== demo stdout =====\n{self.stdout()}\n===== demo stderr =====\n{self.stderr()}")
        logs = os.path.join(self.run_dir, "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), errors="replace") as f:
                print(f"===== {name} =====\n{f.read()[-20000:]}")


@pytest.fixture
def demo_factory(request, workdir):
    demos = []

    def make(**kw):
        if not os.path.exists(os.path.join(sbharness.BINARY_DIR, "statusbus-bridge")):
            pytest.fail(f"statusbus-bridge is not built in {sbharness.BINARY_DIR}")
        d = Demo(workdir, **kw)
        demos.append(d)
        return d
    yield make
    for d in demos:
        d.cleanup()
    if _failed(request):
        for d in demos:
            d.dump()


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def see_the_platform(demo):
    ws = await sbharness.Ws.connect(demo.ws_url, token=demo.token)
    ack = await ws.sub("team.42")
    assert ack["op"] == "ack" and ack["channel"] == "team.42", ack
    # the retained status of team 42's 3 apps, 2 dbs, 2 services, 2 servers
    await ws.expect(lambda m: len([e for e in ws.events("team.42") if e.get("retained")]) >= 9,
                    timeout=10, what="team 42's retained status")
    events = ws.events("team.42")
    assert all(e["topic"].startswith("team/42/") for e in events), events
    kinds = {e["event"] for e in events if e.get("retained")}
    assert {"app.status", "db.status", "service.status", "server.reachability"} <= kinds, kinds
    names = {e["data"].get("name") for e in events if e["event"] == "app.status"}
    assert {"web-frontend", "api-gateway", "billing-worker"} <= names, names
    # the token is a real one: a team that is not in it is refused
    err = await ws.sub("team.somebody-else")
    assert err["op"] == "error" and err["code"] == "forbidden", err
    await ws.close()


async def see_the_deployment(demo):
    """After the simulator's one deployment, its retained status says finished."""
    ws = await sbharness.Ws.connect(demo.ws_url, token=demo.token)
    for team in ("42", "43", "acme"):
        r = await ws.sub(f"team.{team}")
        assert r["op"] == "ack", r

    def finished(m):
        return (m.get("op") == "event" and m.get("event") == "deploy.status"
                and m["data"].get("status") == "finished")
    # frames that came while waiting for the acks are in ws.frames already
    done = next((m for m in ws.frames if finished(m)), None) or \
        await ws.expect(finished, timeout=10, what="a finished deployment")
    assert done["data"]["progress"] == 100 and done["retained"] is True
    dep = done["topic"].split("/")[3]
    r = await ws.sub(f"deploy.{dep}")         # the token's channels claim allows deploy.*
    assert r["op"] == "ack", r
    await ws.expect(lambda m: m.get("channel") == f"deploy.{dep}" and m.get("op") == "event",
                    timeout=10, what=f"deploy.{dep} status")
    await ws.close()


def test_demo_prints_a_working_url_and_ctrl_c_stops_everything(demo_factory):
    # the default TLS-password port is taken: the demo must pick another one
    holder = socket.socket()
    held = None
    try:
        holder.bind(("127.0.0.1", 8884))
        holder.listen(1)
        held = 8884
    except OSError:
        held = 8884       # busy anyway
    try:
        demo = demo_factory().wait_ready()
        out = demo.stdout()
        m = re.search(r"tls: (\d+) \(certificates\), (\d+) \(passwords\)", out)
        assert m and int(m.group(2)) != held, out
        assert "port 8884 is busy" in demo.stderr()
        assert demo.http_port == demo.ports["SB_DEMO_PORT"]
        assert f"127.0.0.1:{demo.ports['SB_DEMO_MQTT_PORT']}" in out
        assert demo.ws_url == f"ws://127.0.0.1:{demo.http_port}/v1/ws"
        for name in ("mosquitto", "bridge", "simulator"):
            assert name in demo.pids
        with open(os.path.join(demo.run_dir, "demo.pids")) as f:
            assert {int(line.split()[1]) for line in f if line.strip()} == set(demo.pids.values())

        status, body = http_get(f"http://127.0.0.1:{demo.http_port}/healthz")
        assert status == 200 and json.loads(body)["mqtt"] == "connected"
        if os.path.isdir(os.path.join(sbharness.SOURCE_DIR, "examples", "dashboard")):
            status, body = http_get(demo.dashboard)
            assert status == 200 and b"<" in body

        # the secrets it generated are private and not in the source tree
        for p in ("secrets/jwt.secret", "broker/secrets/bridge.password",
                  "broker/secrets/backend.password"):
            assert os.stat(os.path.join(demo.run_dir, p)).st_mode & 0o077 == 0, p
        with open(os.path.join(demo.run_dir, "bridge.json")) as f:
            cfg = json.load(f)
        assert cfg["mqtt"]["username"] == "bridge" and "password" not in cfg["mqtt"]
        assert cfg["auth"]["jwt_secret_file"].startswith(demo.run_dir)

        asyncio.run(see_the_platform(demo))
        # --once: the simulator finishes its deployment and exits; the demo says
        # so and keeps the broker and the bridge running
        wait_for(lambda: "simulator has finished" in demo.stderr(), 60,
                 what="the simulator to finish")
        assert demo.proc.poll() is None
        asyncio.run(see_the_deployment(demo))

        # Ctrl-C
        demo.proc.send_signal(signal.SIGINT)
        rc = demo.proc.wait(60)
        assert rc == 130, (rc, demo.stderr())
        assert demo.alive_children() == []
        assert not sbharness.port_open(demo.http_port)
        assert not sbharness.port_open(demo.ports["SB_DEMO_MQTT_PORT"])
        assert not os.path.exists(os.path.join(demo.run_dir, "demo.pids"))
    finally:
        holder.close()


def test_demo_refuses_a_busy_explicit_port_and_starts_nothing(demo_factory):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        demo = demo_factory(env_extra={"SB_DEMO_PORT": str(busy.getsockname()[1])})
        assert demo.proc.wait(60) == 1
        assert "is busy" in demo.stderr()
        assert not os.path.exists(os.path.join(demo.run_dir, "demo.pids"))
    finally:
        busy.close()
