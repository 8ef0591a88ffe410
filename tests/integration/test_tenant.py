# SPDX-License-Identifier: MIT
"""Tenant isolation under hostile publishers (issue 12, defect 2): a broker
made by scripts/broker-init.sh whose ACL gives each team's backend its own
prefix (scripts/broker-add-backend.sh --team), the bridge logged in as
`bridge`, and team 43's publisher attacking deploy D of team 42.

A deploy belongs to the team whose status names it, and `deploy.<D>`
carries only that team's topic; a status for D under a second team's prefix
makes D contested, closed to every team until one claim is deleted and
nothing of D is held (docs/protocol.md §4.2).  The bridge cannot tell the
real claim from the first one it hears of (a team may name D before its
owner does, and a starting bridge gets retained statuses in Mosquitto's
topic-tree order, not publish order), so it fails closed: team 43 can lock
team 42 out of D, never read it.  The attacks: an empty retained message on
team/43/deploy/D/status (alone it changes nothing) followed by team 43's
own status for D (which used to move D to team 43, so that team 43's tokens
read team 42's build log); a status for D under team 43's prefix while team
42 watches; log lines of team 43 on deploy/D/logs (refused by the broker: a
per-team publisher may not write deploy logs, docs/broker.md); both teams'
statuses retained before the bridge starts, in either topic-tree order; and
team 43 naming D before team 42 does, then watching it.  In every case:
nothing of team 42 ever reaches a team-43 token (statusbus.v1,
/v1/snapshot, /v1/history), team 42's viewers never see team 43's status or
lines, and the bridge counts what it did: a foreign message dropped while D
has one owner in statusbus_dropped_total{reason="foreign_owner"}, D
becoming contested in statusbus_owner_contested_total.  Once D is
contested, team 42's viewers of deploy.D and deploy.D.logs get `error`
`forbidden` (their subscriptions dropped) and both teams' subscriptions and
HTTP queries are refused, naming no team; once team 43's status is deleted
and nothing of D is held, D is team 42's again.  docs/broker.md says how
--no-deploy-status keeps per-team publishers from naming deploys at all,
which also rules out the lock-out.

Absence is proved with witnesses, not sleeps: the attacker's messages go
through the broker before the owner's next status and log line (each
publish is acknowledged before the next one is sent, and one broker
forwards in order to one bridge), so once team 42's viewer has those (on
deploy.D and its logs, or on team.42 once D is closed), the bridge has
routed the attack; the `error` that drops a viewer is the witness of a
contest; a team-43 client's `ping` is then answered after anything that
routing queued for it."""

import asyncio
import json
import os
import subprocess
import time
import uuid

import jwt
import pytest

import sbharness
from sbharness import Bridge, Ws, new_uuid, status_payload, wait_for
from test_broker_acl import Broker, connect_result, run_script, subscribe, topics, wait_topic

SECRET = "tenant-isolation-hs256-secret-0123456789ab"
OWNER, ATTACKER = "42", "43"
FOREIGN_DROPS = 'statusbus_dropped_total{reason="foreign_owner"}'
CONTESTED = "statusbus_owner_contested_total"
FOLLOWED = "statusbus_logs_followed"
TEST_TIMEOUT = 90
DATA_OPS = ("event", "batch", "gap")


def mint(team):
    now = int(time.time())
    return jwt.encode({"sub": f"viewer-{team}", "iat": now, "exp": now + 600,
                       "teams": [team]}, SECRET, algorithm="HS256")


def log_line(seq, msg):
    return {"seq": seq, "ts": sbharness.status_payload("x")["ts"], "level": "info",
            "stream": "stdout", "msg": msg}


def names_a_team(text):
    """A refusal of a contested deploy names neither team (a UUID may hold
    "42", so the team ids are looked for as the bridge writes them)."""
    return any(f"team{sep}{t}" in text for t in (OWNER, ATTACKER) for sep in (" ", "/"))


class Tenants:
    """The broker, team 42's and team 43's own publishers, the platform's
    deploy runner (`backend`: deploy/<uuid>/logs names no team, so only a
    platform-wide publisher writes it), the bridge once started, and the
    markers that must never cross from one team to the other."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.broker = Broker(workdir)
        for team in (OWNER, ATTACKER):
            run_script("broker-add-backend.sh", self.broker.dir, f"pub{team}", "--team", team)
        # the script's SIGHUP reload is asynchronous
        wait_for(lambda: all(connect_result(self.broker.port, f"pub{t}",
                                            self.broker.secret(f"pub{t}")) == 0
                             for t in (OWNER, ATTACKER)), 10, what="per-team publishers")
        self.pub = {t: self.broker.login(f"pub{t}") for t in (OWNER, ATTACKER)}
        self.runner = self.broker.login("backend")
        self.bridge = None
        self.deploy = new_uuid()
        # in every status and log line of team 42's deploy: a team-43 client
        # must never receive it
        self.secret = f"DB_PASSWORD=hunter2-{uuid.uuid4().hex}"
        # in every status team 43 publishes for D: team 42's viewers of
        # deploy.D must never receive it
        self.forged = f"forged-by-43-{uuid.uuid4().hex}"
        self.seq = 0
        self.owner_topic = f"team/{OWNER}/deploy/{self.deploy}/status"
        self.foreign_topic = f"team/{ATTACKER}/deploy/{self.deploy}/status"
        self.channel = f"deploy.{self.deploy}"
        self.logs = f"deploy.{self.deploy}.logs"

    def start_bridge(self, **overrides):
        b = Bridge.__new__(Bridge)
        try:
            Bridge.__init__(b, self.workdir, self.broker.port, dict({
                "mqtt": {"username": "bridge",
                         "password_file": os.path.join(self.broker.dir, "secrets",
                                                       "bridge.password")},
                "auth": {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
                         "jwt_public_key_file": None, "issuer": None, "audience": None}},
                **overrides))
        finally:
            if getattr(b, "proc", None) is not None:
                self.bridge = b
        b.wait_subscribed()
        return b

    # ---- what the two teams publish -------------------------------------------

    def owner_status(self, status="running"):
        """Team 42's status of D; returns its marker."""
        mark = f"{self.secret} {uuid.uuid4().hex}"   # < 128, the schema's bound
        self.pub[OWNER].publish(self.owner_topic,
                                status_payload(status, step=mark, progress=10), retain=True)
        return mark

    def owner_log(self):
        """A line of D's build log from the deploy runner; returns its text."""
        self.seq += 1
        msg = f"line {self.seq}: {self.secret}"
        self.runner.publish(f"deploy/{self.deploy}/logs", log_line(self.seq, msg))
        return msg

    def foreign_status(self, status="running"):
        self.pub[ATTACKER].publish(self.foreign_topic,
                                   status_payload(status, step=self.forged, progress=10),
                                   retain=True)

    def foreign_delete(self):
        self.pub[ATTACKER].publish(self.foreign_topic, "", retain=True)

    def foreign_log(self):
        """Team 43's publisher writing D's log: the broker drops it."""
        self.pub[ATTACKER].publish(f"deploy/{self.deploy}/logs",
                                   log_line(self.seq + 1, f"forged line {self.forged}"))

    def something_of_43(self):
        """A status of team 43's own, retained: makes team/43/ older than
        team/42/ in the broker's topic tree."""
        self.pub[ATTACKER].publish(f"team/{ATTACKER}/app/{new_uuid()}/status",
                                   status_payload("running"), retain=True)

    # ---- what each team's viewers get ---------------------------------------------

    def d_channels(self, logs=True):
        return (self.channel, self.logs) if logs else (self.channel,)

    async def team_viewer(self, team):
        """A viewer of team.<team> only: its own topics, whoever owns D."""
        v = await Ws.connect(self.bridge.url, token=mint(team))
        r = await v.sub(f"team.{team}")
        assert r["op"] == "ack", r
        return v

    async def owner_viewer(self, logs=True):
        """Team 42's viewer of deploy.D (and its logs) and team.42: the
        owner's status is the snapshot."""
        v = await self.team_viewer(OWNER)
        for ch in self.d_channels(logs):
            r = await v.sub(ch)
            assert r["op"] == "ack", (ch, r)
        await seen(v, lambda f: f.get("channel") == self.channel and
                   f.get("topic") == self.owner_topic, "the owner's snapshot")
        return v

    async def attacker_viewer(self):
        return await self.team_viewer(ATTACKER)

    async def probes(self, v):
        """v asks for D's channels: refused (team 43 while D is team 42's,
        either team while D is contested), naming no team; then a ping,
        answered after anything already queued for it."""
        for ch in self.d_channels():
            r = await v.sub(ch, since=0) if ch == self.logs else await v.sub(ch)
            assert r["op"] == "error" and r["code"] == "forbidden", (ch, r)
            assert not names_a_team(r.get("message", "")), r
        assert (await v.request({"op": "ping"}))["op"] == "pong"

    async def attack_routed(self, v, status):
        """Waits for team 43's last status of D on team 43's own channel
        (its own topic: that is its to see): the bridge has routed the
        attack."""
        await seen(v, lambda f: f.get("topic") == self.foreign_topic and
                   (f.get("data") or {}).get("status") == status, f"team 43's own {status}")

    async def dropped(self, v, logs=True, start=0):
        """The contest reached team 42's viewer v: each of D's channels it
        had (from frame `start` on) ends with an unasked `error`
        `forbidden` naming no team."""
        for ch in self.d_channels(logs):
            f = await seen(v, lambda f: f.get("op") == "error" and "id" not in f and
                           f.get("channel") == ch, f"the error that drops {ch}", start=start)
            assert f["code"] == "forbidden" and not names_a_team(f.get("message", "")), f

    async def owner_sentinels(self, v, logs=True, closed=False):
        """The owner's next log line and status reach its viewer v: everything
        the attacker published before them has been routed.  While D is
        closed, the status on team.42 is the witness (the line was published
        before it)."""
        if closed:
            self.owner_log()
            mark = self.owner_status("running")
            await seen(v, lambda f: f.get("channel") == f"team.{OWNER}" and
                       mark in json.dumps(f), "the owner's status on its team channel")
            return
        mark = self.owner_status("running")
        line = self.owner_log()
        await seen(v, lambda f: f.get("channel") == self.channel and mark in json.dumps(f),
                   "the owner's status after the attack")
        if logs:
            await seen(v, lambda f: f.get("channel") == self.logs and line in json.dumps(f),
                       "the owner's log line after the attack")

    # ---- assertions -----------------------------------------------------------------

    def http(self, path, team):
        return self.bridge.get(path, headers={"Authorization": f"Bearer {mint(team)}"})

    def d_queries(self):
        return (f"/v1/snapshot?channel={self.channel}",
                f"/v1/history?channel={self.logs}&since=0")

    async def assert_closed(self, *clients):
        """D is contested: every client's subscription is refused, and so is
        either team's HTTP query, naming no team and giving nothing of D."""
        for v in clients:
            await self.probes(v)
        for team in (OWNER, ATTACKER):
            for path in self.d_queries():
                st, body = self.http(path, team)
                assert st == 403 and not names_a_team(body), (team, path, st, body)
                assert self.secret not in body and self.forged not in body, body

    async def assert_locked(self, owner_vs, attacker_vs):
        """D is contested: after the owner's next line and status (witnessed
        on team.42 by owner_vs[0]), D is closed to every client and nothing
        crossed between the teams."""
        await self.owner_sentinels(owner_vs[0], closed=True)
        await self.assert_closed(*owner_vs, *attacker_vs)
        self.assert_isolated(owner_vs, attacker_vs, closed=True)

    def assert_isolated(self, owner_vs, attacker_vs, closed, history=True):
        # nothing of team 42 reached a team-43 client, by WebSocket (its own
        # status of D, while it named D alone, is its own)...
        for v in attacker_vs:
            leaked = [f for f in v.frames if self.secret in json.dumps(f) or
                      f"team/{OWNER}/" in json.dumps(f) or
                      (f.get("op") in DATA_OPS and
                       (f.get("channel") == self.logs or
                        f.get("channel") == self.channel and f.get("topic") != self.foreign_topic))]
            assert not leaked, leaked
        # ...or over HTTP
        for path in self.d_queries():
            st, body = self.http(path, ATTACKER)
            assert st == 403 and self.secret not in body and not names_a_team(body), \
                (path, st, body)
        st, body = self.http(f"/v1/snapshot?channel=team.{ATTACKER}", ATTACKER)
        assert st == 200 and self.secret not in body and f"team/{OWNER}/" not in body, body
        # team 42's viewers of deploy.D saw only team 42's topic, and nothing
        # of D's channels from the error that dropped them to their next ack
        for v in owner_vs:
            on_deploy = [f for f in v.frames if f.get("channel") == self.channel and
                         f.get("op") in DATA_OPS]
            foreign = [f for f in on_deploy if f.get("topic") != self.owner_topic or
                       self.forged in json.dumps(f)]
            assert not foreign, foreign
            assert not [f for f in v.frames if f.get("channel") == self.logs and
                        self.forged in json.dumps(f)], "team 43's log line reached deploy.D.logs"
            for ch in self.d_channels():
                dropped = False
                for f in (f for f in v.frames if f.get("channel") == ch):
                    if f.get("op") == "error" and "id" not in f:
                        dropped = True
                    elif f.get("op") == "ack":
                        dropped = False   # subscribed again
                    assert not (dropped and f.get("op") in DATA_OPS), (ch, f)
        if closed:
            return   # assert_closed: team 42's queries are refused too
        # the owner's HTTP snapshot lists its topic only; its history holds
        # its lines
        st, body = self.http(f"/v1/snapshot?channel={self.channel}", OWNER)
        assert st == 200, (st, body)
        listed = [e["topic"] for e in json.loads(body)["events"]]
        assert listed == [self.owner_topic] and self.forged not in body, body
        st, body = self.http(f"/v1/history?channel={self.logs}&since=0", OWNER)
        assert st == 200 and self.forged not in body, body
        assert self.secret in body or not history, body

    def metric(self, name):
        return self.bridge.metrics().get(name, 0)

    def drops(self):
        return self.metric(FOREIGN_DROPS)

    def contested(self):
        return self.metric(CONTESTED)

    def stop(self):
        """Stops the bridge and the broker; the bridge's exit code (0: a
        clean stop, also for the sanitizers), or None."""
        rc = self.bridge.stop() if self.bridge is not None else None
        self.broker.stop()
        return rc

    def dump(self):
        if self.bridge is not None and getattr(self.bridge, "proc", None) is not None:
            print(f"\n===== {self.bridge.name} (pid {self.bridge.pid}) log =====\n"
                  f"{self.bridge.output()}")
        print(f"\n===== mosquitto (pid {self.broker.mosq.pid}) log =====\n"
              f"{self.broker.mosq.output()}")


@pytest.fixture
def tenants(request, workdir):
    t = Tenants(workdir)
    yield t
    rc = t.stop()
    if any(getattr(request.node, "rep_" + w, None) is not None and
           getattr(request.node, "rep_" + w).failed for w in ("setup", "call")):
        t.dump()
    else:
        assert rc in (None, 0), t.bridge.output()


async def seen(v, pred, what, timeout=10, start=0):
    """A frame matching pred, among those v received already (from index
    start on) or next."""
    for f in v.frames[start:]:
        if pred(f):
            return f
    return await v.expect(pred, timeout, what=what)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT))


async def close_all(*clients):
    for c in clients:
        await c.close()


# ---- the per-team ACL ------------------------------------------------------------------

def test_team_publisher_writes_its_own_prefix_only(tenants):
    """pub43 may write team/43/#: not team/42/, deploy logs, notifications or
    public pages; it reads only its own team's rejections."""
    watcher = tenants.broker.login("bridge")
    subscribe(watcher, "#")
    pub = tenants.pub[ATTACKER]
    a = new_uuid()
    denied = [f"team/{OWNER}/app/{a}/status", f"team/{OWNER}/deploy/{a}/status",
              f"deploy/{a}/logs", "user/u42/notify", "public/status-page/status",
              f"team/{ATTACKER}0/app/{a}/status", f"$statusbus/rejected/team/{ATTACKER}/x"]
    for t in denied:
        pub.publish(t, status_payload("running"))
    allowed = [f"team/{ATTACKER}/app/{a}/status", f"team/{ATTACKER}/deploy/{a}/status",
               f"team/{ATTACKER}/incident/{a}"]
    for t in allowed:
        pub.publish(t, status_payload("running"))
    wait_topic(watcher, allowed[-1])
    assert topics(watcher) == allowed
    # rejections: its own team's only (they carry the refused payload)
    mine = tenants.broker.login(f"pub{ATTACKER}")
    subscribe(mine, "$statusbus/rejected/#")
    rejecter = tenants.broker.login("bridge")
    rejecter.publish(f"$statusbus/rejected/team/{OWNER}/app/{a}/status",
                     {"reason": "x", "payload": tenants.secret})
    rejecter.publish(f"$statusbus/rejected/team/{ATTACKER}/app/{a}/status",
                     {"reason": "x", "payload": "{}"})
    wait_topic(mine, f"$statusbus/rejected/team/{ATTACKER}/app/{a}/status")
    assert topics(mine) == [f"$statusbus/rejected/team/{ATTACKER}/app/{a}/status"]


def test_team_publisher_without_deploy_status(tenants):
    """--no-deploy-status: the broker drops the team's deploy statuses, so
    only the platform's deploy runner can name a deploy's owner."""
    run_script("broker-add-backend.sh", tenants.broker.dir, "jobs43", "--team", ATTACKER,
               "--no-deploy-status")
    wait_for(lambda: connect_result(tenants.broker.port, "jobs43",
                                    tenants.broker.secret("jobs43")) == 0, 10,
             what="the new publisher")
    watcher = tenants.broker.login("bridge")
    subscribe(watcher, "#")
    pub = tenants.broker.login("jobs43")
    a = new_uuid()
    pub.publish(tenants.foreign_topic, "", retain=True)
    pub.publish(tenants.foreign_topic, status_payload("running", progress=1), retain=True)
    pub.publish(f"team/{ATTACKER}/deploy/{a}/logs", status_payload("running"))
    pub.publish(f"team/{ATTACKER}/app/{a}/status", status_payload("running"), retain=True)
    wait_topic(watcher, f"team/{ATTACKER}/app/{a}/status")
    assert topics(watcher) == [f"team/{ATTACKER}/app/{a}/status"]


def test_add_backend_refuses_a_bad_team(tenants):
    script = os.path.join(sbharness.SOURCE_DIR, "scripts", "broker-add-backend.sh")
    for args in (["--team", "a/b"], ["--team"], ["--team", "42", "extra"],
                 ["--no-deploy-status"]):
        r = subprocess.run([script, tenants.broker.dir, "x", *args], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
    assert not os.path.exists(os.path.join(tenants.broker.dir, "acl.d", "x.acl"))


# ---- attacks on a running bridge -------------------------------------------------------

def test_empty_retained_then_own_status_does_not_move_the_deploy(tenants):
    """The attack of issue 12: team 43 clears 'its' status of D (alone that
    changes nothing), then publishes its own, then writes log lines: D is
    closed to both teams, never team 43's."""
    tenants.start_bridge()
    tenants.owner_status("running")
    tenants.owner_log()

    async def body():
        owner = await tenants.owner_viewer()
        attacker = await tenants.attacker_viewer()
        await tenants.probes(attacker)
        drops, contested = tenants.drops(), tenants.contested()
        tenants.foreign_delete()
        # the delete alone: dropped from deploy.D, which stays team 42's
        await tenants.owner_sentinels(owner)
        await tenants.probes(attacker)
        tenants.assert_isolated([owner], [attacker], closed=False)
        assert tenants.drops() >= drops + 1 and tenants.contested() == contested
        tenants.foreign_status("running")
        tenants.foreign_log()
        tenants.foreign_status("failed")
        await tenants.attack_routed(attacker, "failed")
        await tenants.dropped(owner)
        await tenants.probes(attacker)
        # a viewer of team 43 who connects only now is refused as well
        late = await tenants.attacker_viewer()
        await tenants.probes(late)
        await tenants.assert_locked([owner], [attacker, late])
        assert tenants.contested() == contested + 1
        await close_all(owner, attacker, late)
    run(body())


def test_foreign_prefix_status_never_reaches_the_owners_viewers(tenants):
    """team/+/deploy/D/status matches every team's prefix: a status of D
    under team 43's prefix closes D; team 42's viewers are dropped without
    ever getting it, a later viewer is refused, and so is HTTP."""
    tenants.start_bridge()
    tenants.owner_status("running")

    async def body():
        owner = await tenants.owner_viewer()
        other = await tenants.owner_viewer()
        contested = tenants.contested()
        tenants.foreign_status("failed")
        await tenants.dropped(owner)
        await tenants.dropped(other)
        late = await tenants.team_viewer(OWNER)
        attacker = await tenants.attacker_viewer()
        await tenants.assert_locked([owner, other, late], [attacker])
        assert tenants.contested() == contested + 1
        await close_all(owner, other, late, attacker)
    run(body())


def test_deleting_the_foreign_status_gives_the_deploy_back(tenants):
    """Once team 43's status of D is deleted (by team 43, or by an operator)
    and nothing of D is held (its viewers were dropped; logs.follow
    "watched" and no log viewer, so no history lingers), D is team 42's
    again and carries team 42's topic only; another claim closes it again."""
    tenants.start_bridge(logs={"follow": "watched"})
    tenants.owner_status("running")

    async def body():
        owner = await tenants.owner_viewer(logs=False)
        attacker = await tenants.attacker_viewer()
        contested = tenants.contested()
        tenants.foreign_status("failed")
        await tenants.dropped(owner, logs=False)
        await tenants.assert_locked([owner], [attacker])
        tenants.foreign_delete()
        await tenants.owner_sentinels(owner, closed=True)
        start = len(owner.frames)
        r = await owner.sub(tenants.channel)
        assert r["op"] == "ack", r
        await seen(owner, lambda f: f.get("channel") == tenants.channel and
                   f.get("topic") == tenants.owner_topic, "the owner's snapshot", start=start)
        await tenants.owner_sentinels(owner, logs=False)
        await tenants.probes(attacker)
        tenants.assert_isolated([owner], [attacker], closed=False, history=False)
        assert tenants.contested() == contested + 1
        # a claim again: closed again
        start = len(owner.frames)
        tenants.foreign_status("running")
        await tenants.dropped(owner, logs=False, start=start)
        await tenants.assert_locked([owner], [attacker])
        assert tenants.contested() == contested + 2
        await close_all(owner, attacker)
    run(body())


def test_foreign_delete_keeps_the_owners_logs_followed(tenants):
    """logs.follow "active": the owner's running deploy has its log channel
    held (docs/protocol.md §3.4); team 43's delete under its own prefix
    changes nothing, so the channel stays followed."""
    tenants.start_bridge()
    tenants.owner_status("running")

    async def body():
        owner = await tenants.owner_viewer()
        assert tenants.metric(FOLLOWED) == 1
        drops = tenants.drops()
        tenants.foreign_delete()
        # routed (counted on deploy.D) after the bridge heard it as a status
        await asyncio.to_thread(wait_for, lambda: tenants.drops() >= drops + 1, 10,
                                what="the foreign delete dropped from deploy.D")
        assert tenants.metric(FOLLOWED) == 1
        await close_all(owner)
    run(body())


# ---- retained statuses a starting bridge finds -----------------------------------------

def retained_then_bridge(tenants, foreign_first_in_tree):
    """Both teams' statuses of D are retained before the bridge starts.
    Mosquitto replays retained messages in the order their topic-tree
    branches were created, not by publish time: with team/43/ made first,
    the foreign status reaches the starting bridge before the owner's.
    Whichever comes first, D is closed to both teams."""
    if foreign_first_in_tree:
        tenants.something_of_43()
    tenants.owner_status("running")
    tenants.foreign_delete()
    tenants.foreign_status("running")
    tenants.start_bridge()
    # each team's snapshot of its own team channel lists its status of D
    # once the bridge has heard both
    wait_for(lambda: all(topic in tenants.http(f"/v1/snapshot?channel=team.{team}", team)[1]
                         for team, topic in ((OWNER, tenants.owner_topic),
                                             (ATTACKER, tenants.foreign_topic))),
             10, what="both teams' statuses of D replayed")
    tenants.owner_log()

    async def body():
        attacker = await tenants.attacker_viewer()
        await tenants.probes(attacker)
        owner = await tenants.team_viewer(OWNER)
        await tenants.probes(owner)
        # and the live attack on top
        tenants.foreign_delete()
        tenants.foreign_status("queued")
        await tenants.attack_routed(attacker, "queued")
        await tenants.probes(attacker)
        await tenants.assert_locked([owner], [attacker])
        # once at the replay; team 43's delete while D's history lingers
        # leaves it contested, so its new status need not count again
        assert tenants.contested() >= 1
        await close_all(owner, attacker)
    run(body())


def test_retained_foreign_status_after_the_owners_before_the_bridge_starts(tenants):
    retained_then_bridge(tenants, foreign_first_in_tree=False)


def test_retained_foreign_status_replayed_before_the_owners(tenants):
    retained_then_bridge(tenants, foreign_first_in_tree=True)


def test_foreign_status_before_the_owners_first(tenants):
    """Team 43 names D before team 42 does (a pre-claim of an id it
    learned or guessed) and watches it.  While team 43's status is D's only
    one, team 43 sees that status and team 42 is refused; team 42's status
    closes D to both and drops team 43's viewers before any line of team
    42's deploy."""
    tenants.start_bridge()
    tenants.foreign_status("created")

    async def body():
        attacker = await tenants.attacker_viewer()
        await seen(attacker, lambda f: f.get("topic") == tenants.foreign_topic,
                   "team 43's own status")
        for ch in tenants.d_channels():
            r = await attacker.sub(ch)
            assert r["op"] == "ack", (ch, r)
        await seen(attacker, lambda f: f.get("channel") == tenants.channel and
                   f.get("topic") == tenants.foreign_topic, "team 43's snapshot of D")
        # team 42 (on its own team channel, which carries its topics whoever
        # owns D) is refused D while D is team 43's alone
        owner = await tenants.team_viewer(OWNER)
        await tenants.probes(owner)
        contested = tenants.contested()
        tenants.owner_status("running")
        tenants.owner_log()
        await tenants.dropped(attacker)
        await tenants.assert_locked([owner], [attacker])
        assert tenants.contested() == contested + 1
        await close_all(owner, attacker)
    run(body())
