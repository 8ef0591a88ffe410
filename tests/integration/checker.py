# SPDX-License-Identifier: MIT
"""What a statusbus.v1 client received, and the checks of "nothing lost,
nothing misreported" on it (docs/protocol.md: an ack means live, `recovered`,
gaps, conflation only when behind).  Used by test_delivery.py and
test_consistency.py.

A Recorder reads every frame of one WebSocket in a background task and
stamps it with a process-wide counter, so that "this line was published
after that client had its ack" is an order between events of one asyncio
loop, never a comparison of clocks."""

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import tempfile

import websockets

import sbharness
from sbharness import Ws

_clock = itertools.count(1)


def stamp():
    """The next value of the process-wide event counter."""
    return next(_clock)


class Recorder:
    """Every frame one client received, in order: (stamp, frame)."""

    def __init__(self, ws, name="client"):
        self.ws = ws
        self.name = name
        self.items = []
        self.close = None            # (code, reason) once closed
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self.task = asyncio.create_task(self._run())

    @classmethod
    async def connect(cls, url, token=None, name="client", **kw):
        """Connects, says hello (with token when given) and starts reading."""
        ws = await Ws.connect(url, token=token, **kw)
        return cls(ws, name)

    async def _run(self):
        try:
            async for raw in self.ws.conn:
                self.items.append((stamp(), json.loads(raw)))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close = (self.ws.conn.close_code, self.ws.conn.close_reason)
            self._changed.set()

    async def until(self, pred, timeout, what):
        """Waits until pred() holds; AssertionError naming `what` after
        `timeout` seconds or when the connection closed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not pred():
            left = deadline - loop.time()
            if left <= 0 or self.close:
                if pred():
                    return
                raise AssertionError(
                    f"{self.name}: {what}: not reached within {timeout}s (closed: {self.close}); "
                    f"last frames: {[json.dumps(f)[:160] for _, f in self.items[-3:]]}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait(self, pred, timeout):
        """Like until, but returns whether pred() holds instead of raising:
        for waits after which the test reports what it got."""
        try:
            await self.until(pred, timeout, "condition")
        except AssertionError:
            return pred()
        return True

    async def request(self, obj, timeout=10.0):
        """Sends obj with a fresh id; returns (stamp, reply) for its
        ack/error/pong.  AssertionError, as from until(), when the
        connection is closed (even before the send)."""
        obj = dict(obj, id=1000 + next(self._ids))
        start = len(self.items)
        try:
            await self.ws.send(obj)
        except websockets.ConnectionClosed as e:
            raise AssertionError(f"{self.name}: {obj}: the connection closed ({e})") from e

        def reply():
            for st, f in self.items[start:]:
                if f.get("id") == obj["id"] and f.get("op") in ("ack", "error", "pong"):
                    return st, f
            return None
        await self.until(lambda: reply() is not None, timeout, f"reply to {obj}")
        return reply()

    async def sub(self, channel, timeout=10.0, **kw):
        """Subscribes; returns the ack or error frame."""
        return (await self.request(dict({"op": "sub", "channel": channel}, **kw), timeout))[1]

    def frames(self, op=None, channel=None):
        return [f for _, f in self.items if (op is None or f.get("op") == op) and
                (channel is None or f.get("channel") == channel)]

    def log_items(self, channel, after=0):
        """[("line", seq) | ("gap", from, to)] of a logs channel, from the
        frames stamped after `after`."""
        return log_items([(s, f) for s, f in self.items if s > after], channel)

    def seqs(self, channel):
        return [i[1] for i in self.log_items(channel) if i[0] == "line"]

    def status_events(self, channel, topic=None):
        """[(topic, data or None when deleted)] of a status channel, in order."""
        return [(f["topic"], None if f["event"] == "deleted" else f["data"])
                for f in self.frames("event", channel) if topic is None or f["topic"] == topic]

    def view(self, channel):
        """{topic: data} as the client now believes it (deleted topics absent)."""
        v = {}
        for t, d in self.status_events(channel):
            if d is None:
                v.pop(t, None)
            else:
                v[t] = d
        return v

    async def stop(self):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 5)


def log_items(stamped_frames, channel):
    """[("line", seq) | ("gap", from, to)] of a logs channel in
    [(stamp, frame)], in arrival order."""
    out = []
    for _, f in stamped_frames:
        if f.get("channel") != channel:
            continue
        if f.get("op") == "batch":
            out.extend(("line", e["seq"]) for e in f["events"])
        elif f.get("op") == "event" and f.get("event") == "deploy.log":
            out.append(("line", f["data"]["seq"]))
        elif f.get("op") == "gap":
            out.append(("gap", f["from"], f["to"]))
    return out


def coverage_problem(items, first, last=None):
    """None when items cover first..last exactly once, in order, each seq
    either delivered as a line or named in one gap whose ends join the items
    around it (last=None: up to wherever the items end); else what is
    wrong."""
    nxt = first
    for it in items:
        if it[0] == "line":
            if it[1] != nxt:
                what = "again (duplicate or out of order)" if it[1] < nxt else \
                    f"after {nxt - 1}: lines {nxt}-{it[1] - 1} missing with no gap"
                return f"line {it[1]} arrived {what}"
            nxt += 1
        else:
            if it[1] != nxt or it[2] < it[1]:
                return f"gap {it[1]}-{it[2]} does not start at {nxt}"
            nxt = it[2] + 1
    if last is not None and nxt != last + 1:
        return f"ends at {nxt - 1}, expected {last}" + \
            (" (lines missing with no gap)" if nxt <= last else "")
    return None


def history_problem(h, first, last):
    """coverage_problem for a /v1/history answer: its events in order, and
    every seq first..last either among them or inside one of its gaps
    (`gaps`: every range the history lacks; without it, `gap`: the one range
    it no longer holds)."""
    seqs = [e["seq"] for e in h.get("events", [])]
    if seqs != sorted(set(seqs)):
        return f"events out of order or repeated: {compact([('line', q) for q in seqs])}"
    gaps = h["gaps"] if "gaps" in h else h.get("gap") or []
    gaps = [gaps] if isinstance(gaps, dict) else list(gaps)
    items = sorted([("line", q) for q in seqs] + [("gap", g["from"], g["to"]) for g in gaps],
                   key=lambda i: i[1])
    return coverage_problem(items, first, last)


def compact(items, limit=12):
    """A short trace of log items: "1-100, gap 101-300, 301-400"."""
    runs = []
    for it in items:
        if it[0] == "gap":
            runs.append(f"gap {it[1]}-{it[2]}")
            continue
        if runs and isinstance(runs[-1], list) and runs[-1][1] + 1 == it[1]:
            runs[-1][1] = it[1]
        else:
            runs.append([it[1], it[1]])
    out = [r if isinstance(r, str) else (f"{r[0]}" if r[0] == r[1] else f"{r[0]}-{r[1]}")
           for r in runs]
    if len(out) > limit:
        out = out[:limit // 2] + [f"... ({len(out) - limit} more runs) ..."] + out[-limit // 2:]
    return ", ".join(out) if out else "(nothing)"


def bridge_accepts(overrides):
    """Whether the built bridge's `--check-config` accepts the test config
    with `overrides` (merged one level deep): lets a test use a key such as
    limits.drain_s only where the bridge knows it."""
    cfg = sbharness.shipped_config()
    cfg["mqtt"] = dict(cfg["mqtt"], password_file=None, username=None)
    cfg["listen"] = dict(cfg["listen"], static_dir=None)
    cfg["schemas_dir"] = sbharness.SCHEMAS_DIR
    cfg.pop("auth", None)
    cfg.pop("pusher", None)
    for k, v in overrides.items():
        cfg[k] = dict(cfg.get(k, {}), **v) if isinstance(v, dict) else v
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        r = subprocess.run([sbharness.binary("statusbus-bridge"), "--check-config", "-c", f.name],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    finally:
        os.unlink(f.name)


# ---- the consistency checker's invariants (test_consistency.py) ------------------------

class Verdict:
    """How many invariant checks were made, and which failed:
    [(category, what, trace)]."""

    def __init__(self):
        self.checks = 0
        self.violations = []

    def check(self, ok, category, what, trace=""):
        self.checks += 1
        if not ok:
            self.violations.append((category, what, trace))
        return ok

    def violation(self, category, what, trace):
        self.check(False, category, what, trace)


def broker_retained(port, filters, timeout=15):
    """{topic: payload bytes} the broker retains under `filters`.  A retained
    sentinel subscribed last is the barrier: the broker sends a filter's
    retained messages right after its SUBACK, in order, so once the
    sentinel's arrives every earlier one has."""
    import threading
    import paho.mqtt.client as mqtt
    sentinel = f"consistency/sentinel/{os.getpid()}"
    got, done, up = {}, threading.Event(), threading.Event()
    c = mqtt.Client(client_id=f"retained-{os.getpid()}-{stamp()}", protocol=mqtt.MQTTv311)

    def on_message(cl, u, m):
        if m.topic == sentinel:
            done.set()
        elif m.retain:
            got[m.topic] = m.payload
    c.on_message = on_message
    c.on_connect = lambda cl, u, f, rc: up.set()
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        if not up.wait(timeout):
            raise TimeoutError("no connack from the broker")
        c.publish(sentinel, b"x", qos=1, retain=True).wait_for_publish(timeout)
        for f in filters:
            c.subscribe(f, 1)
        c.subscribe(sentinel, 1)
        if not done.wait(timeout):
            raise TimeoutError("the broker's retained replay did not end")
        c.publish(sentinel, b"", qos=1, retain=True).wait_for_publish(timeout)
    finally:
        c.disconnect()
        c.loop_stop()
    return got


def _faults_during(world, conn):
    end = conn.ended or stamp()
    fs = [f"{f[2]:.1f}s {f[3]}" for f in world.faults if f[1] >= conn.opened and f[0] <= end]
    return f"faults during this connection: {fs or 'none'}"


def _check_status_sub(world, verdict, v, k, conn, s):
    team = s.channel.split(".")[1]
    last = {}
    for topic, data in conn.rec.status_events(s.channel):
        if not verdict.check(topic.startswith(f"team/{team}/"), "acl",
                             f"{v.name}#{k}: {s.channel} carried {topic}") or \
                topic not in world.versions:      # a deploy's status: not tracked
            continue
        prev = last.get(topic, 0)
        if data is None:
            dels = [ver for ver, p, _ in world.versions[topic] if p is None and ver > prev]
            if verdict.check(bool(dels), "status order",
                             f"{v.name}#{k}: {topic} deleted after v{prev}, never deleted since"):
                last[topic] = dels[0]
            continue
        ver = int(str(data.get("reason", "v=0"))[2:])
        truth = world.versions[topic][ver - 1][1] if 0 < ver <= len(world.versions[topic]) else None
        verdict.check(truth == data, "status data", f"{v.name}#{k}: {topic} v{ver} is {data}")
        if verdict.check(ver >= prev, "status order",
                         f"{v.name}#{k}: {topic} went back from v{prev} to v{ver}",
                         _faults_during(world, conn)):
            last[topic] = ver
    if conn.live_at_end:
        view = world.app_view(conn.rec, s.channel)
        for topic in (t for t in world.topics if world.topic_team[t] == team):
            want = world.final(topic)
            verdict.check(view.get(topic) == want, "final status",
                          f"{v.name}#{k}: {topic} ends as "
                          f"{(view.get(topic) or {}).get('reason', 'absent')}, the broker holds "
                          f"{(want or {}).get('reason', 'nothing (deleted)')}",
                          _faults_during(world, conn))


def _check_logs_sub(world, verdict, v, k, conn, s):
    import bisect
    d = s.channel.split(".")[1]
    stamps, n = world.lines[d], len(world.lines[d])
    items = conn.rec.log_items(s.channel)
    l_ack = bisect.bisect_left(stamps, s.ack_stamp)     # lines published before the ack
    rec = "" if s.since is None else f" recovered={s.ack.get('recovered')}"
    tr = (f"since={s.since}{rec}, {l_ack} lines published before the ack, {n} in all; "
          f"received: {compact(items)}; {_faults_during(world, conn)}")
    who = f"{v.name}#{k}: {s.channel}"
    for f in conn.rec.frames("batch", s.channel):
        for e in f["events"]:
            verdict.check(e.get("msg") == f"{d[:8]} line {e.get('seq')}", "log data",
                          f"{who}: line {e.get('seq')} carries {e.get('msg')!r}")
    first = s.since + 1 if s.since is not None else (items[0][1] if items else None)
    if first is not None:
        p = coverage_problem(items, first)
        verdict.check(p is None, "log order", f"{who}: {p}", tr)
    if s.since is None and items and l_ack < n:
        verdict.check(first <= l_ack + 1, "log after ack",
                      f"{who}: line {l_ack + 1} was published after the ack, the first "
                      f"line received is {first}", tr)
    if conn.live_at_end and n:
        p = coverage_problem(items, first if first is not None else l_ack + 1, n)
        verdict.check(p is None, "log complete", f"{who}: {p}", tr)
    if s.since is not None and s.ack.get("recovered") is True and v.role in ("reader", "hopper"):
        bad = [i for i in items if i[0] == "gap" and i[1] <= l_ack]
        verdict.check(not bad, "recovered", f"{who}: recovered: true, then gap "
                      f"{bad[0][1]}-{bad[0][2]} of lines published before the ack"
                      if bad else "", tr)


def check_all(world, viewers, retained):
    """Every invariant over what each viewer received; returns a Verdict."""
    verdict = Verdict()
    for topic in world.topics:
        raw = retained.get(topic)
        held = json.loads(raw) if raw else None
        verdict.check(held == world.final(topic), "broker",
                      f"the broker holds {held} for {topic}, the backend published "
                      f"{world.final(topic)} last")
    for v in viewers:
        for k, conn in enumerate(v.conns):
            acked = {ch: s.ack_stamp for ch, s in conn.subs.items() if s.ack}
            for st, f in conn.rec.items:
                ch = f.get("channel")
                if f.get("op") not in ("event", "batch", "gap") or ch is None:
                    continue
                verdict.check(ch in acked and st > acked[ch] and v.allowed(world, ch), "acl",
                              f"{v.name}#{k}: got {f['op']} of {ch} (acked: {ch in acked}, "
                              f"allowed: {v.allowed(world, ch)})")
            for ch, r in conn.forbidden:
                verdict.check(r.get("op") == "error" and r.get("code") == "forbidden", "acl",
                              f"{v.name}#{k}: sub {ch} (not in its token) answered {r}")
            for s in conn.subs.values():
                for e in s.errors:
                    verdict.check(e.get("code") == "unavailable", "sub refused",
                                  f"{v.name}#{k}: sub {s.channel} answered {e.get('code')}: "
                                  f"{e.get('message')}", _faults_during(world, conn))
                if not s.ack:
                    continue
                if s.channel.endswith(".logs"):
                    _check_logs_sub(world, verdict, v, k, conn, s)
                else:
                    _check_status_sub(world, verdict, v, k, conn, s)
        verdict.check(bool(v.conns), "settle", f"{v.name}: never connected")
        if v.conns:
            last = v.conns[-1]
            verdict.check(last.live_at_end and all(s.ack for s in last.subs.values()) and
                          set(last.subs) == set(v.channels), "settle",
                          f"{v.name}: not connected and subscribed to all its channels at the "
                          f"end (closed: {last.rec.close})", _faults_during(world, last))
    return verdict
