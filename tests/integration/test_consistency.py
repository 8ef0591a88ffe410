# SPDX-License-Identifier: MIT
"""A seeded, fault-injecting consistency checker (Jepsen's way, at small
scale) for "nothing lost, nothing misreported" (docs/protocol.md), against
a real mosquitto (persistence on) and a real bridge with JWT auth.

Each seed drives a randomized workload: 120 retained app statuses across 4
teams with transitions, deletions and re-creations; 4 deploy log streams
with seq; viewers that read, read slowly, stall, leave and come back with
`since`, each with a token for 2 of the teams and trying a channel it may
not see.  Meanwhile it injects, in a seeded order: the bridge's broker
connection cut (`ss -K`), the bridge frozen (SIGSTOP) past the MQTT
keepalive, the broker restarted (SIGTERM), the bridge restarted (SIGTERM).
Then it lets things settle and checks, per client, from what it received
(checker.py): every status topic ends at the broker's retained value or
deleted, each topic's versions never go back; every log line after a
client's ack/`since` is delivered exactly once, in order, or named in a
`gap`; `recovered: true` is never followed by a gap for lines that existed
at the ack; nothing of a channel it was not allowed.

Seeds: env SB_CONSISTENCY_SEEDS (default "1,2,3"); each seed runs in well
under a minute.  On failure the seed, the faults and a minimal trace per
violated invariant are printed.  Marked `consistency` (pytest marker and
CTest label) so that the integration suite stays fast."""

import asyncio
import json
import os
import random
import signal
import socket
import threading
import time
import uuid

import jwt
import paho.mqtt.client as mqtt
import pytest

import sbharness
from checker import Recorder, bridge_accepts, broker_retained, check_all, stamp

pytestmark = pytest.mark.consistency

SECRET = "consistency-checker-hs256-secret-0123456789"
KEEPALIVE_S = 5                 # the bridge's; the broker drops it after 1.5x
TEAMS, APPS_PER_TEAM, DEPLOYS, VIEWERS = 4, 30, 4, 10
ACTIVE_S, SETTLE_S, TICK_S = 24.0, 15.0, 0.05
SUB_TIMEOUT_S = 30              # longer than any fault window
HISTORY_LINES = 200
STATUSES = ["running", "starting", "restarting", "stopped", "degraded", "unhealthy"]
FAULT_KINDS = ("cut", "freeze", "broker_restart", "bridge_restart")


def fault_plan():
    """The faults each seed injects (in a seeded order): env
    SB_CONSISTENCY_FAULTS, comma-separated kinds, may repeat; "" for none."""
    env = os.environ.get("SB_CONSISTENCY_FAULTS")
    kinds = ["cut", "freeze", "broker_restart", "bridge_restart", "cut"] if env is None else \
        [k.strip() for k in env.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"SB_CONSISTENCY_FAULTS: unknown {unknown}; kinds: {FAULT_KINDS}")
    return kinds


def seeds():
    return [int(s) for s in os.environ.get("SB_CONSISTENCY_SEEDS", "1,2,3").split(",")
            if s.strip()]


def bridge_overrides(seed):
    channels = sbharness.channels_with_delivery("deploy.{deploy:uuid}.logs",
                                                history_lines=HISTORY_LINES)
    o = {"mqtt": {"client_id": f"sb-consistency-{seed}", "password_file": None,
                  "keepalive_s": KEEPALIVE_S, "reconnect_min_s": 1, "reconnect_max_s": 2},
         "auth": {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
                  "jwt_public_key_file": None, "issuer": None, "audience": None},
         "limits": {"send_queue_soft_bytes": 65536, "send_queue_hard_bytes": 4 << 20},
         "channels": channels}
    # a bridge that drains on SIGTERM: keep its restart short where it can be told
    if bridge_accepts({"limits": {"drain_s": 1}}):
        o["limits"]["drain_s"] = 1
    return o


def rng_uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# ---- the world: what was published, in loop order ------------------------------------

class World:
    """The truth: every publish with its stamp, and what the broker must
    hold at the end."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.teams = [f"s{seed}t{k}" for k in range(TEAMS)]
        self.topic_team = {}
        for t in self.teams:
            for _ in range(APPS_PER_TEAM):
                self.topic_team[f"team/{t}/app/{rng_uuid(self.rng)}/status"] = t
        self.topics = sorted(self.topic_team)
        self.deploy_team = {rng_uuid(self.rng): self.rng.choice(self.teams) for _ in range(DEPLOYS)}
        self.deploy_start = {d: self.rng.uniform(0, 8) for d in self.deploy_team}
        self.versions = {t: [] for t in self.topics}   # [(v, payload or None, stamp)]
        self.lines = {d: [] for d in self.deploy_team}  # stamps, index seq-1
        self.counts = {"status": 0, "deleted": 0, "lines": 0, "deploy_status": 0}
        self.faults = []                               # (stamp, t, kind, detail)
        self.t0 = time.monotonic()
        self.pub = self.bridge = self.url = self.overrides = None
        self.paused = False
        self.active, self.finished = True, False
        self.crashes = []                              # bridge exits that were not clean

    def now(self):
        return time.monotonic() - self.t0

    def app_view(self, rec, channel):
        """What a client believes of the app statuses of a team channel."""
        return {t: d for t, d in rec.view(channel).items() if t in self.versions}

    def final(self, topic):
        return self.versions[topic][-1][1] if self.versions[topic] else None

    def status(self, topic):
        v = len(self.versions[topic]) + 1
        old = self.final(topic)
        new = self.rng.choice([s for s in STATUSES if not old or s != old["status"]])
        p = {"ts": "2024-06-01T12:00:00Z", "status": new, "reason": f"v={v}"}
        if old:
            p["old_status"] = old["status"]
        self.versions[topic].append((v, p, stamp()))
        self.pub.publish(topic, p, retain=True)
        self.counts["status"] += 1

    def delete(self, topic):
        self.versions[topic].append((len(self.versions[topic]) + 1, None, stamp()))
        self.pub.publish(topic, b"", retain=True)
        self.counts["deleted"] += 1

    def line(self, d):
        seq = len(self.lines[d]) + 1
        self.lines[d].append(stamp())
        self.pub.publish(f"deploy/{d}/logs", {"seq": seq, "ts": "2024-06-01T12:00:01Z",
                                              "level": "info", "stream": "stdout",
                                              "msg": f"{d[:8]} line {seq}"})
        self.counts["lines"] += 1

    def deploy_status(self, d, status, progress):
        self.pub.publish(f"team/{self.deploy_team[d]}/deploy/{d}/status",
                         {"ts": "2024-06-01T12:00:00Z", "status": status,
                          "progress": progress}, retain=True)
        self.counts["deploy_status"] += 1

    def tick(self):
        """One step of the workload: log lines of running deploys, a few
        status transitions, deletions and re-creations."""
        for d, start in self.deploy_start.items():
            if self.now() >= start:
                for _ in range(2):
                    self.line(d)
        for _ in range(4):
            t = self.rng.choice(self.topics)
            if self.final(t) is not None and self.rng.random() < 0.1:
                self.delete(t)
            else:
                self.status(t)


class Pub:
    """The backend: one paho client, QoS 1, reconnecting on its own."""

    def __init__(self, port):
        self.up = threading.Event()
        self.c = mqtt.Client(client_id=f"backend-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(1000)
        self.c.reconnect_delay_set(0.1, 1)
        self.c.on_connect = lambda c, u, f, rc: self.up.set() if rc == 0 else None
        self.c.on_disconnect = lambda c, u, rc: self.up.clear()
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.up.wait(10):
            raise RuntimeError("backend publisher: no connack")
        self.infos = []

    def publish(self, topic, payload, retain=False):
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":"))
        self.infos.append(self.c.publish(topic, payload, qos=1, retain=retain))

    def drain(self, timeout=30):
        """Blocks until the broker acknowledged everything published."""
        deadline = time.monotonic() + timeout
        for i in self.infos:
            i.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not i.is_published():
                raise TimeoutError("the broker did not acknowledge every publish")
        self.infos = [i for i in self.infos if not i.is_published()]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


# ---- viewers ------------------------------------------------------------------------

class Sub:
    """One subscription of one connection."""

    def __init__(self, conn, channel, since):
        self.conn, self.channel, self.since = conn, channel, since
        self.ack = None
        self.ack_stamp = None
        self.errors = []           # error frames before the ack (retried)


class Conn:
    def __init__(self, viewer, rec):
        self.viewer, self.rec = viewer, rec
        self.subs = {}             # channel -> Sub
        self.forbidden = []        # (channel, reply)
        self.opened = stamp()
        self.ended = None
        self.live_at_end = False


class Viewer:
    def __init__(self, world, k, role):
        rng = world.rng
        self.name = f"v{k}-{role}"
        self.role = role
        self.teams = rng.sample(world.teams, 2)
        self.token = jwt.encode({"sub": self.name, "teams": self.teams, "iat": int(time.time()),
                                 "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
        mine = [d for d, t in world.deploy_team.items() if t in self.teams]
        others = [d for d, t in world.deploy_team.items() if t not in self.teams]
        self.channels = [f"team.{t}" for t in self.teams] + \
            [f"deploy.{d}.logs" for d in rng.sample(mine, min(2, len(mine)))]
        self.forbidden = [f"team.{rng.choice([t for t in world.teams if t not in self.teams])}"]
        if others:
            self.forbidden.append(f"deploy.{rng.choice(others)}.logs")
        self.first_since = rng.choice([None, 0])
        self.last_seq = {}         # logs channel -> last seq covered so far
        self.conns = []
        self.rng = random.Random(rng.random())

    def allowed(self, world, channel):
        parts = channel.split(".")
        if parts[0] == "team":
            return parts[1] in self.teams
        return parts[0] == "deploy" and world.deploy_team.get(parts[1]) in self.teams


async def connect(world, viewer, stalls):
    """A Recorder for the viewer; a client that stalls gets a 4 KB receive
    buffer, so that the bridge sees it behind soon."""
    if not stalls:
        return await Recorder.connect(world.url, token=viewer.token, name=viewer.name)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", world.bridge.port))
        return await Recorder.connect(world.url, token=viewer.token, name=viewer.name, sock=sock)
    except BaseException:
        sock.close()
        raise


async def subscribe(world, conn, channel, since):
    """Subscribes, retrying while the bridge answers `unavailable` (or, wrongly,
    not_found for a deploy the broker holds: kept as a violation)."""
    s = Sub(conn, channel, since)
    conn.subs[channel] = s
    while not conn.rec.close and not world.finished:
        kw = {"since": since} if since is not None else {}
        try:
            st, r = await conn.rec.request(dict({"op": "sub", "channel": channel}, **kw),
                                           SUB_TIMEOUT_S)
        except AssertionError:
            return s
        if r["op"] == "ack":
            s.ack, s.ack_stamp = r, st
            return s
        s.errors.append(r)
        await asyncio.sleep(0.5)
    return s


def last_covered(items):
    return items[-1][1] if items[-1][0] == "line" else items[-1][2]


async def viewer_task(world, v):
    stalls = v.role in ("staller", "slow")
    while not world.finished:
        try:
            rec = await connect(world, v, stalls)
        except Exception:        # bridge down, frozen or restarting: retry
            await asyncio.sleep(0.3)
            continue
        conn = Conn(v, rec)
        v.conns.append(conn)
        for ch in v.channels:
            since = v.last_seq.get(ch, v.first_since) if ch.endswith(".logs") else None
            await subscribe(world, conn, ch, since)
        for ch in v.forbidden:
            try:
                r = await rec.request({"op": "sub", "channel": ch}, SUB_TIMEOUT_S)
                conn.forbidden.append((ch, r[1]))
            except AssertionError:
                pass
        leave_at = world.now() + v.rng.uniform(2, 6) if v.role == "hopper" else None
        next_stall = world.now() + v.rng.uniform(1, 5)
        while not rec.close and not world.finished:
            if world.active and v.role == "staller" and world.now() >= next_stall:
                rec.ws.conn.transport.pause_reading()
                await asyncio.sleep(v.rng.uniform(2, 5))
                rec.ws.conn.transport.resume_reading()
                next_stall = world.now() + v.rng.uniform(2, 6)
            elif world.active and v.role == "slow":
                rec.ws.conn.transport.pause_reading()
                await asyncio.sleep(0.15)
                rec.ws.conn.transport.resume_reading()
            if world.active and leave_at and world.now() >= leave_at:
                break
            await asyncio.sleep(0.1)
        conn.ended = stamp()
        for ch in conn.subs:
            items = rec.log_items(ch)
            if ch.endswith(".logs") and items:
                v.last_seq[ch] = last_covered(items)
        if world.finished:
            conn.live_at_end = rec.close is None
            break
        await rec.stop()
        if world.active and v.role == "hopper":
            await asyncio.sleep(v.rng.uniform(0.5, 3))


# ---- faults ----------------------------------------------------------------------------

async def inject(world, stack, kind):
    loop = asyncio.get_running_loop()
    # each fault hits a bridge that is connected, so that none is a no-op
    await loop.run_in_executor(None, lambda: sbharness.wait_for(
        lambda: world.bridge.health()[0] == 200, 30, what="the bridge connected to the broker"))
    s0, t = stamp(), world.now()
    detail = ""
    if kind == "cut":
        n = await loop.run_in_executor(None, sbharness.cut_bridge_link, world.bridge)
        detail = f"{n} connection(s) reset"
    elif kind == "freeze":
        world.bridge.send_signal(signal.SIGSTOP)
        await asyncio.sleep(KEEPALIVE_S * 1.5 + 1.5)
        world.bridge.send_signal(signal.SIGCONT)
        detail = f"SIGSTOP for {KEEPALIVE_S * 1.5 + 1.5:.1f}s"
    elif kind == "broker_restart":
        world.paused = True                  # the backend waits while the broker is down
        await loop.run_in_executor(None, world.pub.drain)
        await loop.run_in_executor(None, stack.mosq.restart)
        await loop.run_in_executor(None, world.pub.up.wait, 15)
        world.paused = False
    elif kind == "bridge_restart":
        old = world.bridge
        rc = await loop.run_in_executor(None, old.stop)
        detail = f"old bridge exited {rc}"
        if rc != 0:
            world.crashes.append(f"bridge exited {rc} on SIGTERM (restart at {t:.1f}s)")
        world.bridge = await loop.run_in_executor(None, lambda: sbharness.stack_bridge_at(
            stack, stack.mosq.port, world.overrides, port=old.port))
    world.faults.append((s0, stamp(), t, kind, detail))


async def fault_task(world, stack):
    kinds = fault_plan()
    world.rng.shuffle(kinds)
    slot = (ACTIVE_S - 2) / max(1, len(kinds))
    for k, kind in enumerate(kinds):
        at = 1.0 + slot * k + world.rng.uniform(0, slot / 3)
        if at > world.now():
            await asyncio.sleep(at - world.now())
        await inject(world, stack, kind)


async def workload(world):
    while world.active:
        if not world.paused:
            world.tick()
        await asyncio.sleep(TICK_S)


# ---- one seed ------------------------------------------------------------------------

def settled(world, viewers):
    """Every viewer connected, subscribed, with every line of its streams
    covered and its statuses equal to the truth."""
    for v in viewers:
        if not v.conns or v.conns[-1].rec.close:
            return False
        c = v.conns[-1]
        for ch in v.channels:
            s = c.subs.get(ch)
            if not s or not s.ack:
                return False
            if ch.endswith(".logs"):
                items = c.rec.log_items(ch)
                covered = last_covered(items) if items else (s.since or 0)
                if covered < len(world.lines[ch.split(".")[1]]):
                    return False
            else:
                team = ch.split(".")[1]
                want = {t: world.final(t) for t in world.topics if world.topic_team[t] == team
                        and world.final(t) is not None}
                if world.app_view(c.rec, ch) != want:
                    return False
    return True


async def run_seed(seed, stack, out):
    world = World(seed)
    loop = asyncio.get_running_loop()
    world.pub = Pub(stack.mosq.port)
    try:
        for t in world.topics:                # the state before the bridge starts
            world.status(t)
        for d in world.deploy_team:
            world.deploy_status(d, "running", 5)
        await loop.run_in_executor(None, world.pub.drain)
        world.overrides = bridge_overrides(seed)
        world.bridge = await loop.run_in_executor(None, lambda: sbharness.stack_bridge_at(
            stack, stack.mosq.port, world.overrides))
        world.url = world.bridge.url
        roles = ["reader"] * 4 + ["hopper"] * 2 + ["staller"] * 2 + ["slow"] * 2
        viewers = [Viewer(world, k, r) for k, r in enumerate(roles[:VIEWERS])]
        world.t0 = time.monotonic()
        tasks = [asyncio.create_task(viewer_task(world, v)) for v in viewers]
        load = asyncio.create_task(workload(world))
        await fault_task(world, stack)
        if world.now() < ACTIVE_S:
            await asyncio.sleep(ACTIVE_S - world.now())
        world.active = False
        await load
        await loop.run_in_executor(None, world.pub.drain)
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and not settled(world, viewers):
            await asyncio.sleep(0.2)
        world.finished = True
        # a viewer still connecting or waiting for a reply is not settled:
        # it is not waited for (its last connection is not live at the end)
        _, pending = await asyncio.wait(tasks, timeout=3)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        retained = await loop.run_in_executor(None, broker_retained, stack.mosq.port,
                                              [f"team/{t}/app/+/status" for t in world.teams])
        verdict = check_all(world, viewers, retained)
        if not world.bridge.alive():
            world.crashes.append(f"bridge died (exit {world.bridge.proc.returncode})")
        for c in world.crashes:
            verdict.violation("process", c, "")
        out["world"], out["viewers"], out["verdict"] = world, viewers, verdict
        for v in viewers:
            for c in v.conns:
                await c.rec.stop()
    finally:
        world.pub.close()


def figures(seed, world, viewers, verdict, took):
    faults = {}
    for f in world.faults:
        faults[f[3]] = faults.get(f[3], 0) + 1
    frames = sum(len(c.rec.items) for v in viewers for c in v.conns)
    return (f"consistency seed {seed}: {took:.1f}s; published {world.counts['status']} statuses, "
            f"{world.counts['deleted']} deletions, {world.counts['lines']} log lines "
            f"({sum(world.counts.values())} events); faults {sum(faults.values())} "
            f"{dict(sorted(faults.items()))}; {len(viewers)} viewers, "
            f"{sum(len(v.conns) for v in viewers)} connections, {frames} frames received; "
            f"{verdict.checks} invariant checks, {len(verdict.violations)} violations")


def trace(world, verdict, limit=8):
    cats = {}
    for c, _, _ in verdict.violations:
        cats[c] = cats.get(c, 0) + 1
    lines = [f"violations by invariant: {dict(sorted(cats.items()))}", "faults (t, kind, detail):"] + \
        [f"  {f[2]:6.1f}s {f[3]:15s} {f[4]}" for f in world.faults]
    seen = set()
    for cat, what, tr in verdict.violations:
        if (cat, what.split(":")[0]) in seen:
            continue
        seen.add((cat, what.split(":")[0]))
        lines.append(f"[{cat}] {what}")
        if tr:
            lines.append("    " + tr)
        if len(seen) >= limit:
            break
    if os.environ.get("SB_CONSISTENCY_VERBOSE"):
        lines += ["all violations:"] + [f"  [{c}] {w} -- {t}" for c, w, t in verdict.violations]
    n = len(verdict.violations) - len(seen)
    if n > 0:
        lines.append(f"... and {n} more violations")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", seeds())
def test_consistency_under_faults(stack_factory, capsys, seed):
    with capsys.disabled():
        print(f"\nconsistency seed {seed} (SB_CONSISTENCY_SEEDS={seed} to run it alone)",
              flush=True)
    # the harness's broker keeps retained messages and the bridge's session
    # across a restart (persistence on, checked at every restart)
    stack = stack_factory(bridge=False)
    out = {}
    t0 = time.monotonic()
    asyncio.run(asyncio.wait_for(run_seed(seed, stack, out), 120))
    world, viewers, verdict = out["world"], out["viewers"], out["verdict"]
    with capsys.disabled():
        print(figures(seed, world, viewers, verdict, time.monotonic() - t0), flush=True)
    assert not verdict.violations, f"seed {seed}:\n{trace(world, verdict)}"
