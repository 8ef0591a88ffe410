#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""statusbus platform simulator: publishes what a deployment platform's
backend jobs would publish to the broker (docs/protocol.md §2), with payloads
that follow schemas/*.json.

Several teams (42, 43, acme), each with apps, databases, services and
servers (UUIDs stable for one run, with display names) whose status changes
now and then (retained); server reachability (retained); app resource stats
(not retained, about once a second per app); incidents and maintenance
windows going through their states (retained); a public status page; user
notifications; runtime log lines of apps, databases and services (a few
a second); and every so often a deployment that goes created -> queued
-> running (clone, install, build, test, push image, release) -> finished or
failed while its job streams a few hundred log lines to deploy/<uuid>/logs.

MQTT 3.1.1, QoS 1, with Debian's python3-paho-mqtt.  Logs to stderr.

  examples/simulator/simulate.py --port 1883 --username backend \\
      --password-file run/broker/secrets/backend.password
  ... --once          one full round and one complete deployment, then exit
  ... --speed 10      everything ten times faster
"""

import argparse
import datetime
import heapq
import itertools
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

log = logging.getLogger("simulate")

# ---- the simulated platform -------------------------------------------------

CATALOG = {
    "42": {
        "app": ["web-frontend", "api-gateway", "billing-worker"],
        "db": ["orders-postgres", "sessions-redis"],
        "service": ["search", "mailer"],
        "server": ["fra1-node-a", "fra1-node-b"],
        "repo": "node",
    },
    "43": {
        "app": ["mobile-api", "push-notifier", "image-resizer"],
        "db": ["users-mysql", "media-mongo"],
        "service": ["thumbnailer", "cdn-purger"],
        "server": ["ams3-node-a", "ams3-node-b"],
        "repo": "go",
    },
    "acme": {
        "app": ["storefront", "checkout", "inventory-sync"],
        "db": ["catalog-postgres", "cart-redis"],
        "service": ["payments-proxy", "queue"],
        "server": ["nyc1-node-a", "nyc1-node-b", "nyc1-node-c"],
        "repo": "python",
    },
}

# status sets of schemas/{app,db,service}-status.json
BAD_STATUS = {
    "app": [("degraded", "p95 latency {n} ms over the 800 ms objective"),
            ("unhealthy", "health check GET /healthz returned 503 three times"),
            ("restarting", "container exited with code 137 (out of memory), restarting"),
            ("exited", "process exited with code 1")],
    "db": [("degraded", "replication lag {n} s on the replica"),
           ("unhealthy", "connection pool exhausted ({n}/100 connections)"),
           ("stopped", "stopped for a minor version upgrade")],
    "service": [("degraded", "queue depth {n} over the 1000 threshold"),
                ("unhealthy", "readiness probe failed: connection refused"),
                ("restarting", "configuration changed, restarting")],
}
RECOVER_REASON = {
    "app": "health checks passing again", "db": "replica caught up",
    "service": "back to normal",
}

DEPLOY_STEPS = [  # name, share of the running time, log lines
    ("clone", 0.06, 8),
    ("install", 0.22, 70),
    ("build", 0.30, 110),
    ("test", 0.22, 90),
    ("push image", 0.12, 30),
    ("release", 0.08, 14),
]
DEPLOY_SECONDS = 40.0          # running time of one deployment at speed 1
TRIGGERS = ["alice", "bob", "carol", "webhook", "schedule"]

# runtime log lines of each kind: (level, stream, text)
RUNTIME_LINES = {
    "app": [("info", "stdout", "GET /healthz 200 {n}µs"),
            ("info", "stdout", "POST /api/v1/orders 201 {n}ms"),
            ("warn", "stderr", "warning: slow request GET /search took {n}ms")],
    "db": [("info", "stdout", "checkpoint complete: wrote {n} buffers"),
           ("warn", "stderr", "warning: {n} connections in use")],
    "service": [("info", "stdout", "processed {n} jobs"),
                ("error", "stderr", "error: upstream timed out after {n}ms")],
}

PUBLIC_PAGE = "status-page"
PUBLIC_COMPONENTS = ["API", "Dashboard", "Deployments", "Databases", "Edge network"]


def now():
    """RFC 3339 UTC with milliseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).isoformat(
        timespec="seconds").replace("+00:00", "Z")


class Resource:
    def __init__(self, team, kind, name, rng):
        self.team, self.kind, self.name = team, kind, name
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.status = "running"
        self.reachable = True
        self.latency = rng.uniform(5, 40)
        # stats state (apps)
        self.cpu = rng.uniform(5, 60)
        self.mem_limit = rng.choice([256, 512, 1024, 2048]) * 1024 * 1024
        self.mem = int(self.mem_limit * rng.uniform(0.2, 0.6))
        self.log_seq = 0      # runtime log (apps, databases, services)

    @property
    def topic(self):
        if self.kind == "server":
            return f"team/{self.team}/server/{self.id}/reachability"
        return f"team/{self.team}/{self.kind}/{self.id}/status"

    def label(self):
        return f"{self.kind} {self.name} ({self.team})"


# ---- MQTT ----------------------------------------------------------------------

class Publisher:
    """One paho session; publishes JSON with QoS 1 and counts PUBACKs."""

    def __init__(self, args):
        self.c = mqtt.Client(client_id=args.client_id, protocol=mqtt.MQTTv311,
                             clean_session=True)
        if args.username:
            self.c.username_pw_set(args.username, args.password)
        if args.cafile:
            self.c.tls_set(ca_certs=args.cafile)
        self.c.reconnect_delay_set(1, 30)
        self.c.max_queued_messages_set(100000)
        self.lock = threading.Lock()
        self.sent = 0
        self.acked = 0
        self.refused = None
        self.connected = threading.Event()
        self.counts = {}
        self.retained = set()     # topics holding a retained message of ours
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = self._on_publish
        self.host, self.port = args.host, args.port

    def _on_connect(self, c, u, flags, rc):
        if rc == 0:
            log.info("connected to mqtt://%s:%d", self.host, self.port)
            self.connected.set()
        else:
            self.refused = mqtt.connack_string(rc)

    def _on_disconnect(self, c, u, rc):
        self.connected.clear()
        if rc != 0 and not self.refused:
            log.warning("lost the broker connection (%s); reconnecting", mqtt.error_string(rc))

    def _on_publish(self, c, u, mid):
        with self.lock:
            self.acked += 1

    def start(self, timeout, stop):
        """Connects (paho retries in its thread); SystemExit when the broker
        refuses us or does not answer in time.  False when stopped first."""
        self.c.connect_async(self.host, self.port, keepalive=30)
        self.c.loop_start()
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.1):
            if stop.is_set():
                return False
            if self.refused:
                raise SystemExit(f"simulate: the broker refused the connection: {self.refused}")
            if time.monotonic() > deadline:
                raise SystemExit(f"simulate: no broker at {self.host}:{self.port} after {timeout:.0f} s")
        return True

    def publish(self, topic, payload, retain=False):
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":"))
        self.c.publish(topic, data, qos=1, retain=retain)
        self.sent += 1
        if retain:
            (self.retained.add if data else self.retained.discard)(topic)
        parts = topic.split("/")
        family = ("stats" if parts[-1] == "stats" else "runtime logs" if parts[-1] == "logs"
                  else parts[2]) if parts[0] == "team" else \
            "logs" if parts[0] == "deploy" else parts[0]
        self.counts[family] = self.counts.get(family, 0) + 1
        log.debug("%s %s%s", topic, data if len(data) < 200 else data[:200] + "...",
                  " (retained)" if retain else "")

    def flush(self, timeout):
        """Waits until the broker acknowledged everything published so far."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.acked >= self.sent:
                    return True
            if time.monotonic() > deadline:
                log.warning("%d messages not acknowledged after %.0f s", self.sent - self.acked,
                            timeout)
                return False
            time.sleep(0.02)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


# ---- scheduling ------------------------------------------------------------------

class Scheduler:
    """Runs callables and generator "processes" on simulated time: every delay
    is in seconds at speed 1 and is divided by --speed.  A process is a
    generator that yields the delay until its next step."""

    def __init__(self, speed, stop, rng):
        self.speed = speed
        self.stop = stop
        self.rng = rng
        self.queue = []
        self.seq = itertools.count()
        self.live = set()

    def at(self, delay, fn):
        heapq.heappush(self.queue, (time.monotonic() + delay / self.speed, next(self.seq), fn))

    def every(self, period, fn, jitter=0.0, min_wall=0.0):
        """Calls fn every period (+- jitter share), but at most once per
        min_wall seconds of real time, however high the speed."""
        period = max(period, min_wall * self.speed)

        def tick():
            fn()
            self.at(period * (1 + self.rng.uniform(-jitter, jitter)), tick)
        self.at(period * self.rng.uniform(0.1, 1.0), tick)

    def spawn(self, gen, delay=0.0):
        """Starts a process; with no delay its first step runs now."""
        self.live.add(gen)

        def step():
            try:
                d = next(gen)
            except StopIteration:
                self.live.discard(gen)
                return
            self.at(d, step)
        if delay > 0:
            self.at(delay, step)
        else:
            step()
        return gen

    def run(self, deadline=None, until=None):
        """Runs until stop is set, the wall-clock deadline passes, or until()
        holds."""
        while not self.stop.is_set():
            if until is not None and until():
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if not self.queue:
                return
            due, _, fn = self.queue[0]
            wait = due - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait > 0:
                self.stop.wait(min(wait, 0.5))
                continue
            heapq.heappop(self.queue)
            fn()


# ---- the simulation ----------------------------------------------------------------

class Platform:
    def __init__(self, args, pub, sched, rng):
        self.args, self.pub, self.sched, self.rng = args, pub, sched, rng
        self.teams = args.teams
        self.res = []
        for team in self.teams:
            cat = CATALOG.get(team) or CATALOG[self.rng.choice(sorted(CATALOG))]
            for kind in ("app", "db", "service", "server"):
                for name in cat[kind]:
                    self.res.append(Resource(team, kind, name, rng))
        self.incidents = {}       # id -> record (active or recently resolved)
        self.maintenance = {}
        self.deploys = 0
        self.deploys_active = {}  # deploy id -> cancel()
        self.deploy_history = []  # status topics of ended deployments, oldest first
        self.public_status = None

    # -- helpers
    def of(self, kind, team=None):
        return [r for r in self.res if r.kind == kind and (team is None or r.team == team)]

    def notify(self, title, level, body=None, link=None):
        msg = {"ts": now(), "title": title, "level": level}
        if body:
            msg["body"] = body
        if link:
            msg["link"] = link
        for user in self.args.users:
            self.pub.publish(f"user/{user}/notify", msg)
        log.info("notify %s: %s", ",".join(self.args.users), title)

    # -- status
    def publish_status(self, r, old=None, reason=None):
        p = {"ts": now(), "status": r.status, "name": r.name}
        if old and old != r.status:
            p["old_status"] = old
        if reason:
            p["reason"] = reason
        self.pub.publish(r.topic, p, retain=True)

    def publish_reachability(self, r, old=None, reason=None):
        p = {"ts": now(), "reachable": r.reachable, "name": r.name}
        if r.reachable:
            p["latency_ms"] = round(r.latency, 1)
        if old is not None and old != r.reachable:
            p["old_reachable"] = old
        if reason:
            p["reason"] = reason
        self.pub.publish(r.topic, p, retain=True)

    def publish_all_status(self):
        for r in self.res:
            if r.kind == "server":
                self.publish_reachability(r)
            else:
                self.publish_status(r)

    def change_status(self):
        """One resource goes bad, and comes back a little later."""
        healthy = [r for r in self.res if r.kind != "server" and r.status == "running"]
        if not healthy:
            return
        r = self.rng.choice(healthy)
        bad, why = self.rng.choice(BAD_STATUS[r.kind])
        old, r.status = r.status, bad
        reason = why.format(n=self.rng.randint(50, 4000))
        self.publish_status(r, old, reason)
        log.info("%s: %s -> %s (%s)", r.label(), old, bad, reason)

        def recover():
            if r.status == bad:
                if bad == "restarting":
                    r.status = "starting"
                    self.publish_status(r, bad, "container started")
                    yield 3
                    old2 = r.status
                else:
                    old2 = bad
                r.status = "running"
                self.publish_status(r, old2, RECOVER_REASON[r.kind])
                log.info("%s: %s -> running", r.label(), old2)
        self.sched.spawn(recover(), self.rng.uniform(10, 40))

    def probe_servers(self):
        for r in self.of("server"):
            old = r.reachable
            if r.reachable and self.rng.random() < 0.04:
                r.reachable = False
                reason = self.rng.choice(["connection timed out", "connection refused",
                                          "no route to host"])
                self.publish_reachability(r, old, reason)
                log.info("server %s (%s): unreachable (%s)", r.name, r.team, reason)
            elif not r.reachable and self.rng.random() < 0.5:
                r.reachable = True
                r.latency = self.rng.uniform(5, 40)
                self.publish_reachability(r, old, "answering again")
                log.info("server %s (%s): reachable again", r.name, r.team)
            else:
                r.latency = max(1.0, r.latency + self.rng.uniform(-5, 5))
                self.publish_reachability(r)

    # -- stats
    def publish_stats(self):
        for r in self.of("app"):
            r.cpu = min(400.0, max(0.5, r.cpu + self.rng.uniform(-8, 8)))
            r.mem = int(min(r.mem_limit, max(r.mem_limit * 0.05,
                                             r.mem + self.rng.uniform(-0.02, 0.02) * r.mem_limit)))
            busy = r.status == "running"
            self.pub.publish(f"team/{r.team}/app/{r.id}/stats", {
                "ts": now(),
                "cpu": round(r.cpu if busy else 0.0, 1),
                "mem": {"used": r.mem, "limit": r.mem_limit},
                "net": {"rx": self.rng.randint(2_000, 900_000) if busy else 0,
                        "tx": self.rng.randint(2_000, 2_500_000) if busy else 0},
                "disk": {"read": self.rng.randint(0, 200_000),
                         "write": self.rng.randint(0, 800_000)},
            })

    # -- runtime logs: seq per resource, from 1 for this run
    def runtime_logs(self, every=False):
        """One line of each app, database and service (every), or of a few."""
        logged = [r for r in self.res if r.kind in RUNTIME_LINES]
        for r in logged if every else self.rng.sample(logged, min(3, len(logged))):
            level, stream, text = self.rng.choice(RUNTIME_LINES[r.kind])
            r.log_seq += 1
            self.pub.publish(f"team/{r.team}/{r.kind}/{r.id}/logs", {
                "seq": r.log_seq, "ts": now(), "level": level, "stream": stream,
                "msg": text.format(n=self.rng.randint(2, 900))})

    # -- incidents, maintenance, public page
    def incident(self, team=None, states=("investigating", "identified", "monitoring", "resolved")):
        team = team or self.rng.choice(self.teams)
        victim = self.rng.choice([r for r in self.res if r.team == team and r.kind != "server"])
        iid = f"inc-{self.rng.getrandbits(32):08x}"
        severity = self.rng.choice(["minor", "minor", "major", "critical"])
        title = f"Elevated error rates on {victim.name}"
        messages = {
            "investigating": f"We are investigating elevated error rates on {victim.name}.",
            "identified": f"The cause was identified: a bad configuration push to {victim.name}.",
            "monitoring": "A fix has been rolled out; we are monitoring the results.",
            "resolved": "This incident has been resolved.",
        }
        rec = {"ts": now(), "title": title, "severity": severity, "state": states[0],
               "updates": [], "components": [victim.name]}
        topic = f"team/{team}/incident/{iid}"
        self.incidents[iid] = rec

        def run():
            for i, st in enumerate(states):
                if i:
                    yield self.rng.uniform(15, 30)
                rec["ts"] = now()
                rec["state"] = st
                rec["updates"].append({"ts": rec["ts"], "state": st, "message": messages[st]})
                self.pub.publish(topic, rec, retain=True)
                log.info("incident %s (%s, %s): %s", iid, team, severity, st)
                self.update_public()
                if i == 0:
                    self.notify(f"Incident: {title}", "warning" if severity == "minor" else "error",
                                messages[st], f"/teams/{team}/incidents/{iid}")
            if states[-1] == "resolved":
                self.notify(f"Resolved: {title}", "success", link=f"/teams/{team}/incidents/{iid}")
                self.update_public()
                yield 120
                # archived: the retained record is cleared (a `deleted` event)
                self.pub.publish(topic, None, retain=True)
                self.incidents.pop(iid, None)
                log.info("incident %s (%s): archived (retained record cleared)", iid, team)
        return run()

    def maintenance_window(self, team=None, states=("scheduled", "in_progress", "completed")):
        team = team or self.rng.choice(self.teams)
        db = self.rng.choice(self.of("db", team))
        mid = f"mnt-{self.rng.getrandbits(32):08x}"
        start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=30 / self.sched.speed)
        end = start + datetime.timedelta(seconds=60 / self.sched.speed)
        rec = {"ts": now(), "title": f"Upgrade of {db.name}", "state": states[0],
               "starts_at": rfc3339(start), "ends_at": rfc3339(end),
               "description": f"{db.name} is upgraded to the next minor version; "
                              "expect a failover of a few seconds."}
        topic = f"team/{team}/maintenance/{mid}"
        self.maintenance[mid] = rec

        def run():
            for i, st in enumerate(states):
                if i:
                    yield 30
                rec["ts"] = now()
                rec["state"] = st
                self.pub.publish(topic, rec, retain=True)
                log.info("maintenance %s (%s): %s", mid, team, st)
                self.update_public()
            if states[-1] in ("completed", "cancelled"):
                yield 120
                self.pub.publish(topic, None, retain=True)
                self.maintenance.pop(mid, None)
                log.info("maintenance %s (%s): archived (retained record cleared)", mid, team)
        return run()

    def update_public(self, force=False):
        active = [i for i in self.incidents.values() if i["state"] != "resolved"]
        worst = max((["minor", "major", "critical"].index(i["severity"]) for i in active),
                    default=-1)
        in_maint = any(m["state"] == "in_progress" for m in self.maintenance.values())
        overall = (["degraded", "partial_outage", "major_outage"][worst] if worst >= 0 else
                   "maintenance" if in_maint else "operational")
        if overall == self.public_status and not force:
            return
        comps = [{"name": c, "status": "operational"} for c in PUBLIC_COMPONENTS]
        if worst >= 0:
            comps[0]["status"] = overall
        if in_maint:
            comps[3]["status"] = "maintenance"
        message = {
            "operational": "All systems operational.",
            "degraded": "Some requests are slower than usual.",
            "partial_outage": "Some requests are failing; we are on it.",
            "major_outage": "Major outage: most requests are failing.",
            "maintenance": "Scheduled maintenance in progress.",
        }[overall]
        self.pub.publish(f"public/{PUBLIC_PAGE}/status",
                         {"ts": now(), "status": overall, "message": message,
                          "components": comps}, retain=True)
        if overall != self.public_status:
            log.info("public status page: %s", overall)
        self.public_status = overall

    # -- deployments
    def deployment(self, fail_rate):
        app = self.rng.choice(self.of("app"))
        dep = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        commit = f"{self.rng.getrandbits(160):040x}"
        who = self.rng.choice(TRIGGERS)
        fail_at = (self.rng.choice([2, 3, 3, 4]) if self.rng.random() < fail_rate else None)
        topic = f"team/{app.team}/deploy/{dep}/status"
        logs = f"deploy/{dep}/logs"
        repo = CATALOG.get(app.team, CATALOG["42"])["repo"]
        base = {"commit": commit, "triggered_by": who, "app": app.id,
                "total_steps": len(DEPLOY_STEPS)}
        state = {"status": None, "seq": 0, "started_at": None}
        self.deploys += 1
        short = f"{dep[:8]} {app.name} ({app.team})"

        def status(st, progress, step_index=None, extra=None):
            state["progress"] = progress
            p = dict(base, ts=now(), status=st, progress=progress)
            if state["status"] and state["status"] != st:
                p["old_status"] = state["status"]
            if step_index is not None:
                p["step"] = DEPLOY_STEPS[step_index][0]
                p["step_index"] = step_index
            if state["started_at"]:
                p["started_at"] = state["started_at"]
            p.update(extra or {})
            state["status"] = st
            self.pub.publish(topic, p, retain=True)

        def line(msg, level="info", stream="stdout"):
            state["seq"] += 1
            self.pub.publish(logs, {"seq": state["seq"], "ts": now(), "level": level,
                                    "stream": stream, "msg": msg})

        def ended():
            self.deploys_active.pop(dep, None)
            self.deploy_history.append(topic)
            while len(self.deploy_history) > self.args.keep_deploys:
                self.pub.publish(self.deploy_history.pop(0), None, retain=True)

        def cancel():
            """The simulator stops: the job is cancelled, not left running."""
            line("Job cancelled: the runner is shutting down", "warn", "stderr")
            status("cancelled", state.get("progress", 0), extra={"finished_at": now()})
            log.info("deploy %s: cancelled", short)
            ended()

        def run():
            self.deploys_active[dep] = cancel
            status("created", 0)
            log.info("deploy %s: created (commit %s by %s)", short, commit[:7], who)
            yield 1.0
            status("queued", 0)
            log.info("deploy %s: queued", short)
            yield self.rng.uniform(1.0, 3.0)
            state["started_at"] = now()
            done = 0.0
            for i, (step, share, n) in enumerate(DEPLOY_STEPS):
                status("running", int(done * 100), i)
                log.info("deploy %s: running step %d/%d %s (%d%%)", short, i + 1,
                         len(DEPLOY_STEPS), step, int(done * 100))
                lines = list(build_output(step, repo, app.name, commit, n, self.rng))
                failing = fail_at == i
                if failing:
                    lines = lines[: max(3, len(lines) * 2 // 3)] + failure_output(step, self.rng)
                slice_s = DEPLOY_SECONDS * share / max(1, len(lines))
                next_progress = time.monotonic()
                for k, (lvl, stream, msg) in enumerate(lines):
                    line(msg, lvl, stream)
                    if time.monotonic() >= next_progress and k and not failing:
                        pct = int((done + share * k / len(lines)) * 100)
                        status("running", pct, i)
                        next_progress = time.monotonic() + 2.0 / self.sched.speed
                    yield slice_s
                if failing:
                    status("failed", int(done * 100), i, {"finished_at": now()})
                    log.info("deploy %s: FAILED in step %s (%d log lines)", short, step,
                             state["seq"])
                    self.notify(f"Deployment of {app.name} failed", "error",
                                f"Step '{step}' failed on commit {commit[:7]}.",
                                f"/deploys/{dep}")
                    ended()
                    return
                done += share
            line(f"Deployment {dep[:8]} of {app.name} is live.")
            status("finished", 100, len(DEPLOY_STEPS) - 1, {"finished_at": now()})
            log.info("deploy %s: finished (%d log lines)", short, state["seq"])
            self.notify(f"Deployment of {app.name} finished", "success",
                        f"Commit {commit[:7]} is live.", f"/deploys/{dep}")
            ended()
        return run()


# ---- realistic build output ------------------------------------------------------

def build_output(step, repo, app, commit, n, rng):
    """n (level, stream, msg) lines that look like this step's real output."""
    out = []
    if step == "clone":
        out += [("info", "stdout", f"Cloning into '/builds/{app}'..."),
                ("info", "stderr", "remote: Enumerating objects: 4821, done."),
                ("info", "stderr", "remote: Counting objects: 100% (4821/4821), done."),
                ("info", "stderr", "remote: Compressing objects: 100% (2113/2113), done."),
                ("info", "stderr", f"Receiving objects: 100% (4821/4821), "
                                   f"{rng.uniform(2, 30):.2f} MiB | {rng.uniform(20, 90):.2f} MiB/s, done."),
                ("info", "stderr", "Resolving deltas: 100% (2707/2707), done."),
                ("info", "stdout", f"HEAD is now at {commit[:7]} Merge pull request "
                                   f"#{rng.randint(100, 999)} from feature/{app}"),
                ("info", "stdout", f"Checked out {commit[:7]}")]
    elif step == "install":
        if repo == "node":
            pkgs = ["@babel/core", "react", "react-dom", "express", "lodash", "typescript",
                    "webpack", "eslint", "jest", "pg", "ioredis", "zod", "dayjs", "axios"]
            out.append(("info", "stdout", "$ npm ci --no-audit --no-fund"))
            while len(out) < n - 2:
                p = rng.choice(pkgs)
                out.append(("debug", "stdout", f"npm http fetch GET 200 https://registry.npmjs.org/"
                                               f"{p}/-/{p.split('/')[-1]}-{rng.randint(1, 18)}."
                                               f"{rng.randint(0, 20)}.{rng.randint(0, 9)}.tgz "
                                               f"{rng.randint(3, 400)}ms (cache hit)"))
                if rng.random() < 0.05:
                    out.append(("warn", "stderr", f"npm WARN deprecated {p}@1.{rng.randint(0, 9)}.0:"
                                                  " this version is no longer supported"))
            out.append(("info", "stdout", f"added {rng.randint(800, 1600)} packages in "
                                          f"{rng.uniform(8, 30):.0f}s"))
        elif repo == "go":
            mods = ["github.com/gin-gonic/gin", "github.com/jackc/pgx/v5", "go.uber.org/zap",
                    "github.com/redis/go-redis/v9", "google.golang.org/grpc",
                    "github.com/prometheus/client_golang"]
            out.append(("info", "stdout", "$ go mod download -x"))
            while len(out) < n - 1:
                m = rng.choice(mods)
                out.append(("debug", "stderr", f"# get https://proxy.golang.org/{m}/@v/"
                                               f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}."
                                               f"{rng.randint(0, 9)}.zip: 200 OK "
                                               f"({rng.uniform(0.01, 0.9):.3f}s)"))
            out.append(("info", "stdout", "all modules verified"))
        else:
            pkgs = ["django", "psycopg", "celery", "redis", "requests", "pydantic", "gunicorn",
                    "sentry-sdk", "boto3", "pytest"]
            out.append(("info", "stdout", "$ pip install --no-cache-dir -r requirements.txt"))
            while len(out) < n - 1:
                p = rng.choice(pkgs)
                v = f"{rng.randint(1, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
                out.append(("info", "stdout", f"Collecting {p}=={v}"))
                out.append(("info", "stdout", f"  Downloading {p}-{v}-py3-none-any.whl "
                                              f"({rng.randint(20, 900)} kB)"))
            out.append(("info", "stdout", "Successfully installed " + " ".join(
                f"{p}-{rng.randint(1, 5)}.{rng.randint(0, 9)}" for p in pkgs)))
    elif step == "build":
        total = 14
        out.append(("info", "stdout", f"$ docker build -t registry.example.com/{app}:{commit[:7]} ."))
        out.append(("info", "stdout", "#0 building with \"default\" instance using docker driver"))
        k = 1
        while len(out) < n - 3:
            out.append(("info", "stdout", f"#{k} [{min(k, total)}/{total}] " + rng.choice([
                "FROM docker.io/library/node:20-bookworm-slim", "WORKDIR /app",
                "COPY package*.json ./", "RUN npm ci --omit=dev", "COPY . .",
                "RUN npm run build", "RUN go build -trimpath -o /out/server ./cmd/server",
                "RUN pip wheel -r requirements.txt -w /wheels"])))
            for _ in range(rng.randint(1, 6)):
                if len(out) >= n - 3:
                    break
                out.append(("info", "stdout", f"#{k} {rng.uniform(0.1, 40):.3f} " + rng.choice([
                    f"compiled {rng.randint(10, 400)} modules",
                    f"src/{rng.choice(['routes', 'models', 'lib', 'views'])}/"
                    f"{rng.choice(['index', 'user', 'order', 'auth'])}.ts -> dist/",
                    f"asset main.{rng.getrandbits(32):08x}.js {rng.randint(20, 900)} KiB [emitted]",
                    "webpack compiled successfully",
                    f"sha256:{rng.getrandbits(256):064x}"])))
            out.append(("info", "stdout", f"#{k} DONE {rng.uniform(0.1, 25):.1f}s"))
            k += 1
        out.append(("info", "stdout", "#%d exporting layers" % k))
        out.append(("info", "stdout", f"#{k} writing image sha256:{rng.getrandbits(256):064x} done"))
        out.append(("info", "stdout", f"#{k} naming to registry.example.com/{app}:{commit[:7]} done"))
    elif step == "test":
        out.append(("info", "stdout", "$ make test"))
        suites = ["auth", "orders", "billing", "users", "search", "health", "api", "jobs", "cache"]
        passed = 0
        while len(out) < n - 3:
            s = rng.choice(suites)
            c = rng.randint(3, 40)
            passed += c
            out.append(("info", "stdout", f"PASS  test/{s}/{rng.choice(['unit', 'integration'])}"
                                          f".test.ts ({rng.uniform(0.2, 9):.2f} s)"))
            if rng.random() < 0.1:
                out.append(("warn", "stderr", f"  console.warn: deprecated option 'legacyMode' "
                                              f"used in test/{s}"))
        out.append(("info", "stdout", f"Test Suites: {n // 2} passed, {n // 2} total"))
        out.append(("info", "stdout", f"Tests:       {passed} passed, {passed} total"))
        out.append(("info", "stdout", f"Time:        {rng.uniform(20, 90):.3f} s"))
    elif step == "push image":
        out.append(("info", "stdout", f"$ docker push registry.example.com/{app}:{commit[:7]}"))
        layers = [f"{rng.getrandbits(48):012x}" for _ in range(8)]
        while len(out) < n - 1:
            layer = rng.choice(layers)
            out.append(("info", "stdout", rng.choice([f"{layer}: Preparing", f"{layer}: Waiting",
                                                      f"{layer}: Layer already exists",
                                                      f"{layer}: Pushed"])))
        out.append(("info", "stdout", f"{commit[:7]}: digest: sha256:{rng.getrandbits(256):064x} "
                                      f"size: {rng.randint(1500, 4000)}"))
    elif step == "release":
        replicas = rng.randint(2, 4)
        out.append(("info", "stdout", f"Releasing {app}:{commit[:7]} ({replicas} replicas)"))
        for i in range(1, replicas + 1):
            out.append(("info", "stdout", f"Rolling update: starting replica {i}/{replicas}"))
            out.append(("info", "stdout", f"replica {i}/{replicas}: health check passed "
                                          f"({rng.randint(200, 2000)} ms)"))
        while len(out) < n - 1:
            out.append(("info", "stdout", f"Draining old replica: {rng.randint(0, 40)} "
                                          "connections left"))
        out.append(("info", "stdout", "Release complete, old replicas stopped"))
    return out[:max(n, 1)]


def failure_output(step, rng):
    if step == "test":
        return [("error", "stderr", "FAIL  test/orders/integration.test.ts"),
                ("error", "stderr", "  ● orders › creates an order with a discount code"),
                ("error", "stderr", "    expect(received).toBe(expected)"),
                ("error", "stderr", "    Expected: 4200"),
                ("error", "stderr", f"    Received: {rng.randint(3000, 4199)}"),
                ("error", "stderr", "Tests: 1 failed, 312 passed, 313 total"),
                ("error", "stderr", "make: *** [Makefile:42: test] Error 1")]
    if step == "build":
        return [("error", "stderr", "src/routes/order.ts(88,17): error TS2339: Property "
                                    "'discount' does not exist on type 'Order'."),
                ("error", "stderr", "ERROR: failed to solve: process \"/bin/sh -c npm run build\" "
                                    "did not complete successfully: exit code: 2")]
    if step == "push image":
        return [("error", "stderr", "received unexpected HTTP status: 503 Service Unavailable"),
                ("error", "stderr", "error: push failed after 3 attempts")]
    return [("error", "stderr", f"{step} failed: exit status 1")]


# ---- main --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="simulate.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    p.add_argument("--username", help="MQTT user name (a backend user)")
    p.add_argument("--password-file", help="file holding the MQTT password")
    p.add_argument("--cafile", help="connect with TLS, verifying the broker against this CA")
    p.add_argument("--client-id", default=None, help="MQTT client id (default simulate-<random>)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="time factor: 10 makes everything ten times faster (default 1)")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (default: run until SIGINT/SIGTERM)")
    p.add_argument("--once", action="store_true",
                   help="publish one full round and one complete (successful) deployment, "
                        "then exit 0")
    p.add_argument("--teams", default="42,43,acme", help="comma-separated team ids")
    p.add_argument("--users", default="u1", help="comma-separated users to notify (default u1)")
    p.add_argument("--deploy-every", type=float, default=45.0,
                   help="seconds between deployments at speed 1 (default 45)")
    p.add_argument("--fail-rate", type=float, default=0.2,
                   help="share of deployments that fail (default 0.2)")
    p.add_argument("--keep-deploys", type=int, default=12,
                   help="retained statuses of ended deployments kept; older ones are "
                        "cleared (default 12)")
    p.add_argument("--cleanup", action="store_true",
                   help="on exit, clear every retained message this run published "
                        "(not with --once)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed: same seed, same UUIDs and events")
    p.add_argument("--ready-file", help="created once the first full round is acknowledged")
    p.add_argument("-v", "--verbose", action="store_true", help="log every message published")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    args = p.parse_args(argv)
    if args.speed <= 0:
        p.error("--speed must be > 0")
    args.teams = [t for t in args.teams.split(",") if t]
    args.users = [u for u in args.users.split(",") if u]
    for t in args.teams + args.users:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", t):
            p.error(f"bad team or user id {t!r}")
    args.password = None
    if args.password_file:
        try:
            with open(args.password_file) as f:
                args.password = f.read().strip()
        except OSError as e:
            p.error(f"--password-file: {e}")
    args.client_id = args.client_id or f"simulate-{uuid.uuid4().hex[:8]}"
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        stream=sys.stderr, format="%(asctime)s simulate: %(message)s", datefmt="%H:%M:%S",
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    stop = threading.Event()

    def on_signal(signum, frame):
        if not stop.is_set():
            log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(8), "big")
    rng = random.Random(seed)
    pub = Publisher(args)
    try:
        if not pub.start(30, stop):
            pub.stop()
            return 0
    except SystemExit as e:
        log.error("%s", str(e).replace("simulate: ", ""))
        pub.stop()
        return 1
    sched = Scheduler(args.speed, stop, rng)
    plat = Platform(args, pub, sched, rng)
    log.info("simulating teams %s: %d resources, speed %g%s", ",".join(args.teams),
             len(plat.res), args.speed, ", once" if args.once else "")

    # the first full round: every status, reachability, one incident, one
    # maintenance window, the public page, a notification, one stats sample
    plat.publish_all_status()
    inc_team = "43" if "43" in args.teams else args.teams[0]
    mnt_team = "acme" if "acme" in args.teams else args.teams[-1]
    once = args.once
    sched.spawn(plat.incident(inc_team, ("investigating",) if once else
                              ("investigating", "identified", "monitoring", "resolved")))
    sched.spawn(plat.maintenance_window(mnt_team, ("scheduled",) if once else
                                        ("scheduled", "in_progress", "completed")))
    plat.update_public(force=True)
    plat.notify("Welcome to the statusbus demo", "info",
                "This platform is simulated by examples/simulator/simulate.py.", "/")
    plat.publish_stats()
    plat.runtime_logs(every=True)
    if stop.is_set() or not pub.flush(30):
        pub.stop()
        return 0 if stop.is_set() else 1
    log.info("first round published (%d messages)", pub.sent)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(f"{os.getpid()}\n")

    if once:
        dep = sched.spawn(plat.deployment(fail_rate=0.0))
        sched.every(1.0, plat.publish_stats, min_wall=0.2)
        sched.run(until=lambda: dep not in sched.live)
    else:
        sched.every(1.0, plat.publish_stats, min_wall=0.2)
        sched.every(1.0, plat.runtime_logs, jitter=0.5, min_wall=0.2)
        sched.every(12.0, plat.change_status, jitter=0.6, min_wall=0.5)
        sched.every(10.0, plat.probe_servers, jitter=0.2, min_wall=0.5)
        sched.every(args.deploy_every, lambda: sched.spawn(plat.deployment(args.fail_rate)),
                    jitter=0.3, min_wall=2.0)
        sched.every(150.0, lambda: sched.spawn(plat.incident()), jitter=0.4, min_wall=5.0)
        sched.every(240.0, lambda: sched.spawn(plat.maintenance_window()), jitter=0.4,
                    min_wall=8.0)

        def summary():
            log.info("published %d messages so far (%s); %d deployment(s) running",
                     pub.sent, ", ".join(f"{k} {v}" for k, v in sorted(pub.counts.items())),
                     len(plat.deploys_active))
        sched.every(30.0, summary, min_wall=10.0)
        sched.spawn(plat.deployment(args.fail_rate), 2.0)
        deadline = time.monotonic() + args.duration if args.duration else None
        sched.run(deadline=deadline)

    for cancel in list(plat.deploys_active.values()):
        cancel()
    if args.cleanup and not once:
        log.info("clearing the %d retained topics of this run", len(pub.retained))
        for topic in sorted(pub.retained):
            pub.publish(topic, None, retain=True)
    ok = pub.flush(10)
    log.info("done: %d messages published, %d deployment(s)", pub.sent, plat.deploys)
    pub.stop()
    return 0 if ok or stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
