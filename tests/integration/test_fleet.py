# SPDX-License-Identifier: MIT
"""The fleet of docs/scaling.md against real processes on loopback (CTest
label `fleet`): a 3-node NATS cluster (JetStream, MQTT on every node) made
from deploy/nats/node.conf.in, two bridges from deploy/bridge/fleet.json,
b1 on node 3 and b2 on node 2 (each lists the other nodes to fail over
to), HAProxy from deploy/haproxy/haproxy.cfg.in in front.  Publishers use
node 1.  The tests share one fleet and run in file order: the last ones
kill node 3, drain the bridge of team 42, and restart both bridges one
after the other under load.  Every wait has a deadline."""

import asyncio
import itertools
import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

import sbharness
from sbharness import (Process, Ws, free_port, new_uuid, status_payload, wait_for,
                       wait_for_async)

sys.path.insert(0, os.path.join(sbharness.SOURCE_DIR, "scripts"))
import fleet_config  # noqa: E402

DRAIN_S = 3


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def http_ok(port, path):
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


class Publisher:
    """QoS 1 publishing to one node that survives the node dropping the
    connection (NATS closes MQTT connections while JetStream elects new
    leaders after a node died): what has no PUBACK is published again on a
    new connection.  A repeat is harmless: log lines carry their seq and
    the bridge drops repeats."""

    def __init__(self, port):
        self.port = port
        self.c = None
        self.connect()

    def connect(self):
        if self.c:
            try:
                self.c.loop_stop()
                self.c.disconnect()
            except Exception:
                pass
        deadline = time.monotonic() + 30
        while True:
            c = mqtt.Client(client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
            ok = []
            c.on_connect = lambda cl, u, f, rc: ok.append(rc)
            try:
                c.connect("127.0.0.1", self.port, keepalive=10)
                c.loop_start()
                wait_for(lambda: ok, 5, what="publisher connack")
                if ok[0] == 0:
                    self.c = c
                    return
            except Exception:
                pass
            c.loop_stop()
            if time.monotonic() > deadline:
                raise RuntimeError("publisher cannot connect")
            time.sleep(0.2)

    def publish_all(self, msgs, retain=False, window=50):
        """msgs: [(topic, payload dict)], each acknowledged, in order."""
        i = 0
        while i < len(msgs):
            chunk = msgs[i:i + window]
            infos = [self.c.publish(t, json.dumps(p), qos=1, retain=retain) for t, p in chunk]
            deadline = time.monotonic() + 5
            for x in infos:
                x.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if all(x.is_published() for x in infos):
                i += len(chunk)
            else:
                print(f"publisher: {sum(not x.is_published() for x in infos)} of {len(infos)} "
                      f"without PUBACK after 5 s: connecting again")
                self.connect()     # again from the chunk's start

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


ROOM = "room.42"


def presence_channels():
    """The shipped map plus a presence room per team (docs/protocol.md §5.12)."""
    chans = json.loads(json.dumps(sbharness.shipped_config()["channels"]))
    chans.append({"name": "room.{team}", "topics": ["team/{team}/incident/+"], "acl": "team",
                  "delivery": {"mode": "immediate"}, "presence": True})
    return chans


class Fleet:
    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        ports = set()
        while len(ports) < 15:      # distinct
            ports.add(free_port())
        ports = list(ports)
        self.plan = {
            "host": "127.0.0.1", "run": workdir,
            "nodes": [{"client": ports.pop(), "http": ports.pop(), "cluster": ports.pop(),
                       "mqtt": ports.pop()} for _ in range(3)],
            "bridges": [ports.pop(), ports.pop()], "bridge_nodes": [2, 1],
            "haproxy": ports.pop(), "jwt_secret_file": None, "static_dir": None,
            "client_id_prefix": f"sb-fleet-{uuid.uuid4().hex[:6]}",
            "bridge": {"limits": {"drain_s": DRAIN_S}, "log_level": "info",
                       "channels": presence_channels()},
        }
        self.paths = fleet_config.write_all(self.plan, os.path.join(workdir, "conf"))
        try:
            self.start()
        except BaseException:
            self.dump()
            self.stop()
            raise

    def start(self):
        workdir = self.workdir
        self.nodes = []
        for i, conf in enumerate(self.paths["nodes"]):
            p = Process(f"n{i + 1}", ["nats-server", "-c", conf], workdir)
            self.procs.append(p)
            self.nodes.append(p)
        for i, n in enumerate(self.plan["nodes"]):
            wait_for(lambda: http_ok(n["http"], "/healthz"), 60, what=f"NATS node {i + 1}")
        self.bridges = [None] * len(self.paths["bridges"])
        for i in range(len(self.bridges)):
            self.spawn_bridge(i)
        for b in self.bridges:
            self.wait_ready(b)
        self.lb = Process("haproxy", ["haproxy", "-db", "-f", self.paths["haproxy"]], workdir)
        self.procs.append(self.lb)
        self.lb_port = self.plan["haproxy"]
        wait_for(lambda: http_ok(self.lb_port, "/readyz"), 20, what="haproxy")

    def spawn_bridge(self, i):
        """Starts bridge i (0-based) with its config: its port, its MQTT
        client id (a bridge started again clears the session its previous
        run left and makes a new one)."""
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        runs = sum(p.name.startswith(f"bridge-b{i + 1}") for p in self.procs)
        p = Process(f"bridge-b{i + 1}" + (f"-run{runs + 1}" if runs else ""),
                    [sbharness.binary("statusbus-bridge"), "-c", self.paths["bridges"][i]],
                    self.workdir, env=env)
        p.port = self.plan["bridges"][i]
        p.url = f"ws://127.0.0.1:{p.port}/v1/ws"
        self.procs.append(p)
        self.bridges[i] = p
        return p

    def wait_ready(self, b):
        wait_for(lambda: http_ok(b.port, "/readyz") or not b.alive(), 60, what=f"{b.name} ready")
        assert b.alive(), b.output()

    def restart_bridge(self, i):
        """Bridge i again, once its previous run has exited (a drain): on
        the same port with the same config; returns it when /readyz is 200."""
        old = self.bridges[i]
        wait_for(lambda: not old.alive(), DRAIN_S + 15, what=f"{old.name}'s exit")
        b = self.spawn_bridge(i)
        self.wait_ready(b)
        return b

    def revive(self, i):
        """Starts node i again (same config and JetStream store) if it is
        down, and waits until it is a member again.  While a node is down
        NATS cannot make a new 3-replica consumer, so it refuses new
        subscriptions (docs/scaling.md)."""
        if self.nodes[i].alive():
            return
        p = Process(f"n{i + 1}-again", ["nats-server", "-c", self.paths["nodes"][i]], self.workdir)
        self.procs.append(p)
        self.nodes[i] = p
        n = self.plan["nodes"][i]
        # serving, with JetStream on; its consumers may take a minute to be
        # current again (full /healthz), which new subscriptions need not wait
        # for: sub() asks again while they are refused
        wait_for(lambda: http_ok(n["http"], "/healthz?js-enabled-only=true"), 60,
                 what=f"NATS node {i + 1} again")

    def mqtt_port(self, i):
        return self.plan["nodes"][i]["mqtt"]

    def get(self, b, path):
        """(status, JSON body); (0, {}) when the request failed (the
        callers wait for an answer with a deadline)."""
        import http.client
        import urllib.request
        import urllib.error
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{b.port}{path}", timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, {}
        except (OSError, http.client.HTTPException) as e:
            print(f"GET {path} on {b.name}: {e!r}")
            return 0, {}

    def metric(self, b, name):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{b.port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None

    def stop(self):
        for p in reversed(self.procs):
            p.stop(timeout=DRAIN_S + 10)

    def dump(self):
        for p in self.procs:
            print(f"\n===== {p.name} (pid {p.pid}) log =====\n{p.output()[-20000:]}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, request):
    for attempt in range(3):
        try:
            f = Fleet(str(tmp_path_factory.mktemp("fleet")))
            break
        except TimeoutError:
            # a port taken meanwhile by another process (they are picked
            # free, then bound by the children): again with new ones
            if attempt == 2:
                raise
    yield f
    f.stop()
    if request.session.testsfailed:
        f.dump()


def log_line(seq):
    return {"seq": seq, "ts": "2024-06-01T12:00:01Z", "level": "info", "stream": "stdout",
            "msg": f"line {seq}"}


def deploy_status(deploy, status="running"):
    return (f"team/42/deploy/{deploy}/status",
            {"ts": "2024-06-01T12:00:00Z", "status": status, "progress": 10,
             "step": "Building image"})


async def sub(w, channel, **kw):
    """A sub with a longer deadline: NATS makes a JetStream consumer for each
    new MQTT subscription (up to limits.subscribe_timeout_ms, 15 s here),
    and after a node was lost it refuses some for a while (the bridge
    subscribes again, docs/scaling.md): an `unavailable` is asked again,
    as the error says, for up to 90 s."""
    deadline = time.monotonic() + 90
    while True:
        r = await w.request(dict({"op": "sub", "channel": channel}, **kw), timeout=30)
        if r.get("code") != "unavailable" or time.monotonic() > deadline:
            return r


def seqs(w, channel):
    out = []
    for f in w.frames:
        if f.get("channel") != channel:
            continue
        if f.get("op") == "batch":
            out += [e["seq"] for e in f["events"]]
        elif f.get("op") == "event":
            out.append(f["data"]["seq"])
    return out


def gaps(w, channel):
    return [f for f in w.frames if f.get("op") == "gap" and f.get("channel") == channel]


async def read_until(w, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{what}: last frames {w.frames[-3:]}")
        try:
            await w.recv(min(left, 1.0))
        except asyncio.TimeoutError:
            pass


# NATS Server 2.9.10 (Debian 12) was measured to lose a few QoS 1 messages to
# a session now and then on a loaded machine (docs/scaling.md, "Known
# problems"): up to 5 of 1200 log lines, 1 of 50 quick status updates.  The
# tests below assert everything else exactly (order, no duplicate, the
# last message, every gap named) and bound that loss, which they print.
SILENT_LOSS_MAX = 0.01


def coverage(got, first, last, gap_frames=()):
    """(lost silently, named in gaps): asserts the lines came in order, each
    once, up to `last`."""
    assert got == sorted(got), [(i, x) for i, x in enumerate(got) if i and x < got[i - 1]][:10]
    assert len(got) == len(set(got)), "duplicate lines"
    assert got and got[-1] == last, got[-5:]
    named = set()
    for g in gap_frames:
        named.update(range(g["from"], g["to"] + 1))
    missing = sorted(set(range(first, last + 1)) - set(got))
    silent = [x for x in missing if x not in named]
    assert len(silent) <= SILENT_LOSS_MAX * (last - first + 1), silent
    return silent, sorted(named)


def drops(fleet, b):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{b.port}/metrics", timeout=5) as r:
        return [line for line in r.read().decode().splitlines()
                if line.startswith(("statusbus_dropped_total", "statusbus_gaps"))
                and not line.endswith(" 0")]


def running_deploy(fleet):
    """A publisher on node 1 and a new running deploy whose logs both
    bridges follow live (their history answers live): (pub, deploy, its
    logs channel)."""
    pub = Publisher(fleet.mqtt_port(0))
    deploy = new_uuid()
    pub.publish_all([deploy_status(deploy)], retain=True)
    for b in fleet.bridges:
        wait_for(lambda: fleet.get(b, f"/v1/history?channel=deploy.{deploy}.logs")[1]
                 .get("live") is True, 60, what=f"{b.name} follows {deploy}")
    return pub, deploy, f"deploy.{deploy}.logs"


# ---- 1. a status via node 1 reaches the bridge on node 3; live order on both -------

def test_status_via_node1_in_snapshot_on_node3_bridge_and_live_in_order(fleet):
    pub = Publisher(fleet.mqtt_port(0))
    topic = f"team/42/app/{new_uuid()}/status"
    first = status_payload("running", name="api")
    pub.publish_all([(topic, first)], retain=True)
    b1, b2 = fleet.bridges

    async def body():
        c1 = await Ws.connect(b1.url)
        c2 = await Ws.connect(b2.url)
        for c in (c1, c2):
            assert (await sub(c, "team.42"))["op"] == "ack"
            await c.expect(lambda m: m.get("topic") == topic and m.get("data") == first, 30,
                           what="the retained status in the snapshot")
        updates = [status_payload("degraded", old="running", name=f"api-{k}") for k in range(50)]
        await asyncio.get_running_loop().run_in_executor(
            None, pub.publish_all, [(topic, u) for u in updates], True)
        for c in (c1, c2):
            await read_until(c, lambda: any(m.get("data") == updates[-1] for m in c.frames), 30,
                             "the last update")
            got = [int(m["data"]["name"][4:]) for m in c.frames
                   if m.get("topic") == topic and m.get("data", {}).get("name", "").startswith("api-")]
            silent, _ = coverage(got, 0, 49)
            if silent:
                print(f"NATS lost status updates {silent} of 50 to one bridge")
        await c1.close()
        await c2.close()
    try:
        run(body())
    finally:
        pub.close()


# ---- 1b. presence: one member set, whichever bridge a member is on ----------------------

async def member_ids(w):
    rid = w.next_id()
    await w.send({"op": "presence", "id": rid, "channel": ROOM})
    r = await w.expect(lambda m: m.get("id") == rid, 30, what="the member list")
    assert r.get("op") == "presence", r
    return sorted(m["sub"] for m in r["members"])


def test_presence_is_one_member_set_on_both_bridges(fleet):
    """Each bridge keeps its members retained on $statusbus/presence/... in
    the NATS cluster (channel names with ':' for '.', which NATS refuses in
    a topic): a member on b1 and one on b2 see each other join, both
    bridges list both, and a leave on b2 reaches b1."""
    b1, b2 = fleet.bridges

    async def body():
        a = await Ws.connect(b1.url)
        b = await Ws.connect(b2.url)
        ida, idb = a.welcome["session"], b.welcome["session"]
        assert (await sub(a, ROOM))["op"] == "ack"
        assert (await sub(b, ROOM))["op"] == "ack"
        await a.expect(lambda m: m.get("event") == "presence.join" and m["data"]["sub"] == idb,
                       60, what="b's member through the cluster")
        deadline = time.monotonic() + 60
        while await member_ids(a) != sorted([ida, idb]) or await member_ids(b) != sorted([ida, idb]):
            assert time.monotonic() < deadline, (a.frames[-3:], b.frames[-3:])
        await b.close()
        await a.expect(lambda m: m.get("event") == "presence.leave" and m["data"]["sub"] == idb,
                       60, what="b's leave through the cluster")
        assert await member_ids(a) == [ida]
        await a.close()
    run(body())


# ---- 2. a client moving from b1 to b2 with since: exact ----------------------------------

def test_client_moving_between_bridges_resumes_exactly(fleet):
    pub, deploy, channel = running_deploy(fleet)
    b1, b2 = fleet.bridges
    topic = f"deploy/{deploy}/logs"

    async def body():
        t0 = time.monotonic()
        c1 = await Ws.connect(b1.url)
        assert (await sub(c1, channel, since=0))["op"] == "ack"
        await asyncio.get_running_loop().run_in_executor(
            None, pub.publish_all, [(topic, log_line(s)) for s in range(1, 601)])
        print(f"600 lines published at {time.monotonic() - t0:.1f} s")
        await read_until(c1, lambda: 600 in seqs(c1, channel), 30, "line 600 on b1")
        await c1.close()
        last = max(seqs(c1, channel))
        c2 = await Ws.connect(b2.url)
        ack = await sub(c2, channel, since=last)
        assert ack["op"] == "ack", ack
        more = asyncio.get_running_loop().run_in_executor(
            None, pub.publish_all, [(topic, log_line(s)) for s in range(601, 1201)])
        await read_until(c2, lambda: 1200 in seqs(c2, channel), 30, "line 1200 on b2")
        await more
        got = seqs(c1, channel) + seqs(c2, channel)
        # no hole at the move and no line twice: the lines the client had
        # from b1 and those b2 resumed with meet exactly at `last`
        assert seqs(c1, channel)[-1] == last and seqs(c2, channel)[0] == last + 1, \
            (last, seqs(c2, channel)[:3])
        silent, named = coverage(got, 1, 1200, gaps(c1, channel) + gaps(c2, channel))
        if silent or named:
            print(f"NATS lost lines {silent} silently, {named} named in gaps "
                  f"(b1 {drops(fleet, b1)}, b2 {drops(fleet, b2)})")
        await c2.close()
    try:
        run(body())
    finally:
        pub.close()


# ---- 3. kill -9 node 3 while lines and statuses flow: b1 fails over, nothing lost ---------

def test_node_killed_bridge_fails_over_without_loss(fleet):
    pub, deploy, channel = running_deploy(fleet)
    b1, b2 = fleet.bridges
    n3 = fleet.nodes[2]
    topics = [f"team/42/app/{new_uuid()}/status" for _ in range(5)]
    n = 2000

    async def body():
        cs = [await Ws.connect(b.url) for b in (b1, b2)]
        for c in cs:
            assert (await sub(c, channel, since=0))["op"] == "ack"
            assert (await sub(c, "team.42"))["op"] == "ack"
        killed = {}

        def produce():
            msgs = []
            for s in range(1, n + 1):
                msgs.append((f"deploy/{deploy}/logs", log_line(s)))
            pub.publish_all(msgs[:500])
            killed["at"] = time.monotonic()
            killed["log_at"] = len(b1.output())
            n3.stop(signal.SIGKILL)
            for k in range(10):
                pub.publish_all([(t, status_payload("degraded", name=f"v{k}")) for t in topics], True)
            pub.publish_all(msgs[500:])
        await asyncio.get_running_loop().run_in_executor(None, produce)
        # on another node (the next in its list, or the one after when the
        # next is busy electing leaders), with its session
        others = [f"mqtt: connected to tcp://127.0.0.1:{fleet.mqtt_port(i)} (session resumed)"
                  for i in (0, 1)]
        wait_for(lambda: any(o in b1.output()[killed["log_at"]:] for o in others), 60,
                 what="b1 on another node, its session resumed")
        up = time.monotonic()
        lost = {}
        for c in cs:
            await read_until(c, lambda: n in seqs(c, channel), 60, f"line {n}")
            for t in topics:
                await read_until(c, lambda: any(m.get("topic") == t and m["data"].get("name") == "v9"
                                                for m in c.events()), 60, f"last status of {t}")
            silent, named = coverage(seqs(c, channel), 1, n, gaps(c, channel))
            lost[c] = (silent, named)
            await c.close()
        print(f"node 3 killed: b1 back on another node within {up - killed['at']:.1f} s; "
              f"the last status of {len(topics)} topics on both bridges; of {n} lines, "
              f"lost silently / named in gaps: {[(len(a), len(b)) for a, b in lost.values()]}")
    try:
        run(body(), timeout=180)
    finally:
        pub.close()


# ---- clients through HAProxy that behave like statusbus.js ------------------------------

class LbClient:
    """A client of one team through HAProxy (ws://lb/v1/ws?team=T) that
    behaves like statusbus.js: when the bridge closes it (1001: draining) it
    waits a random 0-2 s, connects again through HAProxy (every 0.5 s while
    refused, up to a deadline) and subscribes its channels again: a logs
    channel with `since` = the last seq it saw, a status channel for its
    snapshot.  Keeps the frames of every connection, in order, and when
    each one was closed and with what code."""

    def __init__(self, fleet, team, channels):
        self.url = f"ws://127.0.0.1:{fleet.lb_port}/v1/ws?team={team}"
        self.team = team
        self.channels = channels
        self.conns = []       # every connection that got its subscriptions, in order
        self.closes = []      # (close code, time.monotonic())
        self.refused = []     # attempts that failed on the way
        self.live = False
        self.task = None

    @classmethod
    async def open(cls, fleet, team, channels):
        c = cls(fleet, team, channels)
        await c.connect()
        c.task = asyncio.create_task(c.follow())
        return c

    @property
    def frames(self):
        return [f for w in self.conns for f in w.frames]

    def events(self, channel=None):
        return [e for w in self.conns for e in w.events(channel)]

    async def connect(self, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            w = None
            try:
                w = await Ws.connect(self.url)
                for ch in self.channels:
                    resume = {"since": max(seqs(self, ch), default=0)} if ch.endswith(".logs") \
                        else {}
                    ack = await sub(w, ch, **resume)
                    if ack["op"] != "ack":
                        raise RuntimeError(ack)
                self.conns.append(w)
                self.live = True
                return
            except Exception as e:      # an upgrade answered 503 while HAProxy has not
                self.refused.append(repr(e))  # seen the /readyz 503 yet, a close meanwhile
            if w:
                with contextlib.suppress(Exception):
                    await w.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.url}: not back within {timeout} s: {self.refused[-3:]}")
            await asyncio.sleep(0.5)    # statusbus.js's retry interval

    async def follow(self):
        """Reads until the bridge closes the connection, then connects
        again; until cancelled."""
        while True:
            w = self.conns[-1]
            code, _ = await w.closed(600)
            self.closes.append((code, time.monotonic()))
            self.live = False
            await asyncio.sleep(random.uniform(0, 2) if code == 1001 else 0.5)
            await self.connect()

    async def close(self):
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        with contextlib.suppress(Exception):
            await self.conns[-1].close()


async def drain(fleet, x, clients):
    """SIGTERM to bridge x while `clients` follow: x closes its k clients
    with 1001 spread over DRAIN_S (bridge/adapters/drain.c closes at most
    k*t/DRAIN_S + 1 of them by t, so the i-th close, from 0, comes
    DRAIN_S*i/k or later after the signal), every client is back through
    HAProxy, x exits 0.  Returns the close times, in s after the signal."""
    k = int(fleet.metric(x, "statusbus_connections"))
    assert k > 0 and all(c.live for c in clients)
    t0 = time.monotonic()
    x.send_signal(signal.SIGTERM)

    def closes():
        return [(code, t - t0) for c in clients for code, t in c.closes if t >= t0]
    await wait_for_async(lambda: len(closes()) >= k, DRAIN_S + 10, what=f"{k} closes by {x.name}")
    got = closes()
    assert len(got) == k and all(code == 1001 for code, _ in got), got
    times = sorted(t for _, t in got)
    assert all(t >= DRAIN_S * i / k for i, t in enumerate(times)), times
    assert times[-1] >= DRAIN_S * (k - 1) / k, times
    await wait_for_async(lambda: all(c.live for c in clients), 90,
                         what=f"every client back through HAProxy "
                              f"({sum(len(c.refused) for c in clients)} refused)")
    await wait_for_async(lambda: not x.alive(), 15, what=f"{x.name}'s exit")
    assert x.proc.returncode == 0, x.output()[-3000:]
    return times


def connections(fleet):
    return {b.name: fleet.metric(b, "statusbus_connections") for b in fleet.bridges}


# ---- 4. draining b1: its clients come back through HAProxy on b2 --------------------------

def test_drained_bridge_clients_reconnect_through_haproxy_to_the_other(fleet):
    k = 8
    fleet.revive(2)     # the node killed above: new subscriptions need it

    async def body():
        cs = [await LbClient.open(fleet, 42, ["team.42"]) for _ in range(k)]
        try:
            # one team: one bridge (balance url_param team)
            on = connections(fleet)
            x = next(b for b in fleet.bridges if on[b.name] == k)
            y = next(b for b in fleet.bridges if b is not x)
            close_times = await drain(fleet, x, cs)
            assert fleet.metric(y, "statusbus_connections") == k
            print(f"drain of {k} clients over {DRAIN_S} s: closes at "
                  f"{', '.join(f'{t:.2f}' for t in close_times)} s; all back on {y.name} through "
                  f"HAProxy ({sum(len(c.refused) for c in cs)} attempts refused on the way)")
        finally:
            for c in cs:
                await c.close()
    run(body(), timeout=120)


# ---- 5. a rolling restart of both bridges through HAProxy under load ---------------------

async def teams_on_each_bridge(fleet, per_bridge):
    """Team ids that HAProxy routes (balance url_param team), per_bridge of
    them to each bridge: {bridge name: [team, ...]}, found by connecting
    one client per candidate and seeing which bridge counts it."""
    await wait_for_async(lambda: not any(connections(fleet).values()), 30,
                         what="no client of the tests before")

    async def probe(team):
        w = await Ws.connect(f"ws://127.0.0.1:{fleet.lb_port}/v1/ws?team={team}")
        on = await wait_for_async(lambda: [n for n, v in connections(fleet).items() if v], 10,
                                  what=f"team {team}'s probe on a bridge")
        await w.close()
        await wait_for_async(lambda: not any(connections(fleet).values()), 10,
                             what=f"team {team}'s probe gone")
        return on[0]

    # HAProxy takes a bridge in after two good health checks of its
    # /readyz: until a probe has reached every bridge, the hash of a team
    # is not yet the one it will keep
    seen, deadline = set(), time.monotonic() + 30
    for team in itertools.cycle(range(42, 142)):
        if len(seen) == len(fleet.bridges):
            break
        assert time.monotonic() < deadline, f"HAProxy routes to {seen} only"
        seen.add(await probe(team))
    by = {b.name: [] for b in fleet.bridges}
    for team in range(42, 142):
        if all(len(v) == per_bridge for v in by.values()):
            return by
        on = await probe(team)
        if len(by[on]) < per_bridge:
            by[on].append(team)
    raise AssertionError(f"100 teams, not {per_bridge} on each bridge: {by}")


def test_rolling_restart_of_both_bridges_under_load(fleet):
    """Clients of four teams, two on each bridge, subscribed to their
    team's statuses and to a running deploy's logs while statuses and log
    lines are published (QoS 1, via node 1) the whole time; b1 drains,
    exits 0 and starts again, then b2.  Every client ends with the latest
    status of every topic of its team and every line once, in order, or
    named in a `gap`; each bridge's closes are spread over its drain."""
    started = time.monotonic()
    for i, b in enumerate(fleet.bridges):     # the one drained above
        if not b.alive():
            fleet.restart_bridge(i)
    pub, deploy, logs = running_deploy(fleet)
    per_team = 3

    async def body():
        loop = asyncio.get_running_loop()
        by = await teams_on_each_bridge(fleet, 2)
        teams = sorted(t for v in by.values() for t in v)
        topics = {t: [f"team/{t}/app/{new_uuid()}/status" for _ in range(2)] for t in teams}
        clients = list(await asyncio.gather(*(LbClient.open(fleet, t, [f"team.{t}", logs])
                                              for t in teams for _ in range(per_team))))
        assert sorted(connections(fleet).values()) == [2 * per_team] * 2, connections(fleet)
        stop = threading.Event()
        sent = {"seq": 0, "rounds": 0, "status": {}}

        def produce():
            # every round 20 lines and a new status of every topic; the
            # round that begins after `stop` is the last
            while True:
                last = stop.is_set()
                k = sent["rounds"]
                pub.publish_all([(f"deploy/{deploy}/logs", log_line(s))
                                 for s in range(sent["seq"] + 1, sent["seq"] + 21)])
                sent["seq"] += 20
                st = {x: status_payload("running", name=f"v{k}") for t in teams for x in topics[t]}
                pub.publish_all(list(st.items()), retain=True)
                sent["status"] = st
                sent["rounds"] = k + 1
                if last:
                    return
                stop.wait(0.1)      # the pace of the load, not a synchronization
        producing = loop.run_in_executor(None, produce)
        try:
            await wait_for_async(lambda: sent["rounds"] >= 3, 30, what="the load flowing")
            spans = {}
            for i in range(2):
                name = fleet.bridges[i].name
                t0 = time.monotonic()
                closes = await drain(fleet, fleet.bridges[i], clients)
                back = time.monotonic() - t0
                await loop.run_in_executor(None, fleet.restart_bridge, i)
                spans[name] = (closes, back, time.monotonic() - t0)
        finally:
            stop.set()
            await asyncio.wait_for(producing, 60)
        last, final = sent["seq"], sent["status"]

        def up_to_date(c):
            if last not in seqs(c, logs):
                return False
            latest = {}
            for e in c.events(f"team.{c.team}"):
                latest[e.get("topic")] = e["data"]
            return all(latest.get(x) == final[x] for x in topics[c.team])
        await wait_for_async(lambda: all(up_to_date(c) for c in clients), 60,
                             what=f"line {last} and the last status of every topic on every client")
        lost = [coverage(seqs(c, logs), 1, last, gaps(c, logs)) for c in clients]
        dropped = {b.name: drops(fleet, b) for b in fleet.bridges}
        for c in clients:
            await c.close()
        for name, (closes, back, ready) in spans.items():
            print(f"rolling restart, {name}: {len(closes)} clients closed over {DRAIN_S} s at "
                  f"{', '.join(f'{t:.2f}' for t in closes)} s; all back through HAProxy "
                  f"{back:.1f} s after the SIGTERM; exit 0; ready again at {ready:.1f} s")
        print(f"rolling restart under load: {len(clients)} clients of {len(teams)} teams "
              f"({by}), {last} lines and {sent['rounds']} status rounds of {len(final)} topics; "
              f"every client has the last status of every topic; lines lost silently / named "
              f"in gaps per client {[(len(a), len(b)) for a, b in lost]}; "
              f"(the bridges now: {dropped}); "
              f"{sum(len(c.refused) for c in clients)} attempts refused on the way; "
              f"{time.monotonic() - started:.1f} s in all")
    try:
        run(body(), timeout=240)
    finally:
        pub.close()
