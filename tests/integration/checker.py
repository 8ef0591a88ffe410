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
        ack/error/pong."""
        obj = dict(obj, id=1000 + next(self._ids))
        start = len(self.items)
        await self.ws.send(obj)

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
