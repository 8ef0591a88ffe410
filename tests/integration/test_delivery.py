# SPDX-License-Identifier: MIT
"""Issue 11's six reproductions of data the bridge lost or misreported in
ordinary conditions, each as what a user sees, against a real mosquitto and
a real bridge (docs/protocol.md: an ack means live; `recovered`; a jump in
seq is a gap; conflation only for a client that is behind; logs of active
deploys followed; snapshots and history complete on the first request; a
link flap loses nothing the broker accepted).

Each reproduction is deterministic by construction, never by luck of
timing: a broker link that is slow in one direction (a DelayProxy between
bridge and broker, as with a distant or busy broker), a bridge frozen while
the broker queues messages for it (SIGSTOP: it then handles many updates in
one pass, as a busy bridge does), a connection cut or a client id taken
over while the bridge is frozen, so that the window is known, and batch
settings that keep a batch pending across a resume.

A test that fails against a bridge with the defect is marked
xfail(strict=True): once the fix lands it passes, turns red as XPASS, and
its marker must go."""

import asyncio
import json
import signal
import time

import jwt
import pytest

import sbharness
from checker import Recorder, compact, coverage_problem, history_problem
from sbharness import new_uuid, status_payload, wait_for

LOGS = "deploy.{deploy:uuid}.logs"


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def deploy_status(m, deploy, status, team="42", progress=10):
    m.publish(f"team/{team}/deploy/{deploy}/status",
              {"ts": "2024-06-01T12:00:00Z", "status": status, "progress": progress,
               "step": "Building image"}, retain=True)


def log_line(seq):
    return {"seq": seq, "ts": "2024-06-01T12:00:01Z", "level": "info", "stream": "stdout",
            "msg": f"line {seq}"}


def publish_lines(m, deploy, first, last):
    """Publishes lines first..last (QoS 1, pipelined) and waits until the
    broker accepted every one."""
    infos = [m.c.publish(f"deploy/{deploy}/logs", json.dumps(log_line(n)), qos=1)
             for n in range(first, last + 1)]
    for i in infos:
        i.wait_for_publish(30)


def deploy_known(bridge, deploy, status=None):
    """Waits until the bridge holds the deploy's status (`status` when
    given): its snapshot of deploy.<d> lists it."""
    def ok():
        st, body = bridge.get(f"/v1/snapshot?channel=deploy.{deploy}")
        evs = json.loads(body).get("events", []) if st == 200 else []
        return any(status is None or e.get("data", {}).get("status") == status for e in evs)
    wait_for(ok, 15, what=f"the bridge knows deploy {deploy}")


def history(bridge, channel, since=0):
    st, body = bridge.get(f"/v1/history?channel={channel}&since={since}")
    assert st == 200, (st, body)
    return json.loads(body)


# ---- 1. an ack means live ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["deploy_logs", "notifications"])
def test_1_what_is_published_right_after_the_ack_arrives(stack_factory, kind):
    """A client subscribes to a fresh channel; as soon as its ack arrives a
    job publishes a burst.  The bridge's link to the broker is slow towards
    the broker (1 s), as with a distant or busy broker: the SUBSCRIBE
    reaches the broker well after the ack.  Every message must arrive, in
    order: an ack means live, and a client that reads has no reason for a
    gap."""
    s = stack_factory(bridge=False)
    proxy = sbharness.stack_proxy(s, up_delay=1.0)
    bridge = sbharness.stack_bridge_at(s, proxy.port)
    m = s.mqtt()
    n = 1000 if kind == "deploy_logs" else 300
    deploy = new_uuid()
    user = f"u{new_uuid()[:8]}"
    if kind == "deploy_logs":
        deploy_status(m, deploy, "running")
        deploy_known(bridge, deploy)
        channel = f"deploy.{deploy}.logs"
    else:
        channel = f"user.{user}"

    async def body():
        c = await Recorder.connect(bridge.url)
        try:
            ack = await c.sub(channel)
            assert ack["op"] == "ack", ack
            if kind == "deploy_logs":
                await asyncio.get_running_loop().run_in_executor(
                    None, publish_lines, m, deploy, 1, n)
                await c.wait(lambda: n in c.seqs(channel), 10)
                items = c.log_items(channel)
                problem = coverage_problem(items, 1, n)
                assert problem is None, f"{problem}; received: {compact(items)}"
                assert not [i for i in items if i[0] == "gap"], \
                    f"a client that reads got a gap: {compact(items)}"
            else:
                infos = [m.c.publish(f"user/{user}/notify", json.dumps(
                    {"ts": "2024-06-01T12:00:00Z", "title": f"n={k}", "level": "info"}), qos=1)
                    for k in range(1, n + 1)]
                for i in infos:
                    await asyncio.get_running_loop().run_in_executor(None, i.wait_for_publish, 30)

                def got():
                    return [int(f["data"]["title"][2:]) for f in c.frames("event", channel)]
                await c.wait(lambda: n in got(), 10)
                g = got()
                missing = sorted(set(range(1, n + 1)) - set(g))
                assert g == list(range(1, n + 1)), \
                    f"{len(missing)} of {n} notifications lost (first {missing[:5]})"
        finally:
            await c.stop()
    run(body())


# ---- 2. conflation only for a client that is behind ---------------------------------------

TRANSITIONS = ["restarting", "stopped", "starting", "running"]


def test_2_a_client_that_reads_gets_every_status_transition(stack):
    """Every app of a team goes restarting -> stopped -> starting -> running
    while the bridge is busy (frozen with SIGSTOP: the broker keeps the
    updates for it, and it handles them in one pass when it resumes).  The
    client reads all along; its socket is writable and its queue small, so
    it is not behind: it must see every transition of every app, in order."""
    m = stack.mqtt()
    team = f"t{new_uuid()[:8]}"
    topics = [f"team/{team}/app/{new_uuid()}/status" for _ in range(50)]

    async def body():
        c = await Recorder.connect(stack.bridge.url)
        try:
            ack = await c.sub(f"team.{team}")
            assert ack["op"] == "ack", ack
            stack.bridge.wait_subscribed()     # this test is not about acks (see 1)
            stack.bridge.send_signal(signal.SIGSTOP)
            try:
                infos = []
                for t in topics:
                    old = None
                    for st in TRANSITIONS:
                        infos.append(m.c.publish(t, json.dumps(status_payload(st, old)), qos=1,
                                                 retain=True))
                        old = st
                for i in infos:
                    i.wait_for_publish(30)
            finally:
                stack.bridge.send_signal(signal.SIGCONT)

            def last(t):
                evs = c.status_events(f"team.{team}", t)
                return evs[-1][1]["status"] if evs and evs[-1][1] else None
            await c.until(lambda: all(last(t) == "running" for t in topics), 20,
                          "every app's final status")
            lost = {}
            for t in topics:
                seen = [d["status"] for _, d in c.status_events(f"team.{team}", t)]
                if seen != TRANSITIONS:
                    lost[t] = seen
            assert not lost, (f"{len(lost)} of {len(topics)} apps lost transitions, e.g. "
                              f"{next(iter(lost.values()))} instead of {TRANSITIONS}")
        finally:
            await c.stop()
    run(body())


# ---- 3. a link flap loses nothing the broker accepted ------------------------------------

@pytest.mark.parametrize("fault", ["cut", "takeover"])
def test_3_a_link_flap_loses_nothing_silently(stack, fault):
    """A client follows a deploy's log and a team's statuses.  The bridge's
    connection to the broker is cut (`ss -K`) or its client id taken over
    (the broker closes it and drops its session) while it is frozen, so that
    lines 101-300, status changes and deletions are published in a window
    of known extent; then it resumes, reconnects, and lines 301-400 follow.
    The client must get every line or a gap naming the missing ones, the
    deletions and the final statuses; a resume from 100 must not say
    `recovered: true` unless it delivers 101-400; /v1/history must name
    what it lacks."""
    b = stack.bridge
    m = stack.mqtt()
    deploy = new_uuid()
    team = f"t{new_uuid()[:8]}"
    channel, tchan = f"deploy.{deploy}.logs", f"team.{team}"
    topics = [f"team/{team}/app/{new_uuid()}/status" for _ in range(10)]
    changed, deleted, sentinel = topics[:5], topics[5:8], f"team/{team}/app/{new_uuid()}/status"
    deploy_status(m, deploy, "running")
    for t in topics:
        m.publish(t, status_payload("running"), retain=True)
    deploy_known(b, deploy)

    async def body():
        a = await Recorder.connect(b.url, name="A")
        try:
            for ch in (channel, tchan):
                assert (await a.sub(ch))["op"] == "ack"
            b.wait_subscribed()                 # not about acks (see 1)
            await a.until(lambda: len(a.view(tchan)) == len(topics), 10, "the snapshot")
            publish_lines(m, deploy, 1, 100)
            await a.until(lambda: 100 in a.seqs(channel), 10, "line 100")
            reconnects = b.metrics()["statusbus_mqtt_reconnects_total"]

            b.send_signal(signal.SIGSTOP)
            try:
                if fault == "cut":
                    assert sbharness.cut_bridge_link(b) == 1, "the bridge's broker connection"
                else:
                    assert sbharness.take_over_client_id(stack.mosq.port,
                                                         b.config["mqtt"]["client_id"]) == 0
                publish_lines(m, deploy, 101, 300)
                for t in changed:
                    m.publish(t, status_payload("stopped", "running"), retain=True)
                for t in deleted:
                    m.publish(t, b"", retain=True)
            finally:
                b.send_signal(signal.SIGCONT)
            wait_for(lambda: b.metrics().get("statusbus_mqtt_reconnects_total", 0) > reconnects,
                     20, what="the bridge reconnected")
            b.wait_subscribed()
            publish_lines(m, deploy, 301, 400)
            m.publish(sentinel, status_payload("running"), retain=True)
            await a.until(lambda: 400 in a.seqs(channel) and sentinel in a.view(tchan), 20,
                          "line 400 and the sentinel status")

            problems = []
            items = a.log_items(channel)
            p = coverage_problem(items, 1, 400)
            if p:
                problems.append(f"live client: {p}; received {compact(items)}")
            view = a.view(tchan)
            for t in deleted:
                if t in view:
                    problems.append(f"live client never got the deletion of {t}")
            for t in changed:
                if view.get(t, {}).get("status") != "stopped":
                    problems.append(f"live client shows {t} as {view.get(t)}, not stopped")

            r = await Recorder.connect(b.url, name="resumer")
            try:
                ack = await r.sub(channel, since=100)
                await r.until(lambda: 400 in r.seqs(channel) or r.frames("gap"), 10,
                              "the resume's history")
                await r.until(lambda: 400 in r.seqs(channel), 5, "line 400")
                ritems = r.log_items(channel)
                p = coverage_problem(ritems, 101, 400)
                if p:
                    problems.append(f"resume from 100: {p}; received {compact(ritems)}")
                if ack.get("recovered") is True and any(i[0] == "gap" for i in ritems):
                    problems.append(f"resume from 100 said recovered: true, then "
                                    f"{compact(ritems)}")
            finally:
                await r.stop()

            h = history(b, channel, 0)
            p = history_problem(h, 1, 400)
            if p:
                problems.append(f"/v1/history since=0: {p}; gap: {h.get('gap')}, events "
                                f"{compact([('line', e['seq']) for e in h['events']])}")
            assert not problems, "\n".join(problems)
        finally:
            await a.stop()
    run(body())


# ---- 4. recovered: true is never followed by a gap ----------------------------------------

def test_4_recovered_true_is_never_followed_by_a_gap(stack_factory):
    """A deploy runs; lines 1-59 are published; then a viewer opens its log
    and lines 60-70 follow.  A batch of 20 lines keeps 60-70 pending while a
    client that saw lines 1-50 earlier (through another bridge, or before a
    restart) resumes with since=50.  Its `recovered` must tell the truth: if
    true, lines 51 onwards arrive with no gap."""
    s = stack_factory(bridge_overrides={"channels": sbharness.channels_with_delivery(
        LOGS, max_events=20, max_delay_ms=10000)})
    b, m = s.bridge, s.mqtt()
    deploy = new_uuid()
    channel = f"deploy.{deploy}.logs"
    deploy_status(m, deploy, "running")
    deploy_known(b, deploy)
    b.wait_subscribed()
    publish_lines(m, deploy, 1, 59)

    async def body():
        v = await Recorder.connect(b.url, name="viewer")
        c = None
        try:
            assert (await v.sub(channel))["op"] == "ack"
            b.wait_subscribed()                 # not about acks (see 1)
            publish_lines(m, deploy, 60, 70)
            wait_for(lambda: history(b, channel)["last_seq"] == 70, 10,
                     what="the bridge has line 70")
            c = await Recorder.connect(b.url, name="resumer")
            ack = await c.sub(channel, since=50)
            assert ack["op"] == "ack", ack
            publish_lines(m, deploy, 71, 79)
            await c.until(lambda: 79 in c.seqs(channel), 15, "line 79")
            items = c.log_items(channel)
            p = coverage_problem(items, 51, 79)
            assert p is None, f"{p}; received {compact(items)}"
            if ack.get("recovered") is True:
                assert not [i for i in items if i[0] == "gap"], \
                    f"ack said recovered: true, then the client got {compact(items)}"
        finally:
            await v.stop()
            if c:
                await c.stop()
    run(body())


# ---- 5. late viewers see the whole log -----------------------------------------------------

@pytest.mark.parametrize("when", ["mid_deploy", "after_finish"])
def test_5_a_late_viewer_gets_the_log_from_line_1(stack, when):
    """A deploy is queued, then runs and writes 30 lines before anyone
    watches.  A viewer who opens its log then (mid-deploy: 30 more lines
    follow; or after it finished) gets lines 1-30 (and 31-60) exactly once,
    with no gap; the first /v1/history request after the finish lists them
    all."""
    b, m = stack.bridge, stack.mqtt()
    deploy = new_uuid()
    channel = f"deploy.{deploy}.logs"
    deploy_status(m, deploy, "queued", progress=0)
    deploy_known(b, deploy)
    b.wait_subscribed()                         # whatever the bridge follows for it is live
    deploy_status(m, deploy, "running")
    publish_lines(m, deploy, 1, 30)
    if when == "after_finish":
        deploy_status(m, deploy, "finished", progress=100)
        deploy_known(b, deploy, "finished")     # the bridge has read past line 30
        h = history(b, channel, 0)
        p = history_problem(h, 1, 30)
        assert p is None, f"first /v1/history of a finished deploy: {p}; answer {h}"
    last = 60 if when == "mid_deploy" else 30

    async def body():
        c = await Recorder.connect(b.url, name="viewer")
        try:
            ack = await c.sub(channel, since=0)
            assert ack["op"] == "ack", ack
            if when == "mid_deploy":
                b.wait_subscribed()             # not about acks (see 1)
                publish_lines(m, deploy, 31, 60)
            await c.wait(lambda: last in c.seqs(channel), 10)
            items = c.log_items(channel)
            p = coverage_problem(items, 1, last)
            assert p is None and not [i for i in items if i[0] == "gap"], \
                f"late viewer ({when}, ack {ack}) got {compact(items)}"
        finally:
            await c.stop()
    run(body())


# ---- 6. complete on the first request ------------------------------------------------------

def test_6_the_first_http_snapshot_is_complete(stack):
    """20 apps of a team have a status; a polling client (no WebSocket)
    asks for the team's snapshot once: it lists all 20."""
    m = stack.mqtt()
    team = f"t{new_uuid()[:8]}"
    want = {}
    for k in range(20):
        t = f"team/{team}/app/{new_uuid()}/status"
        want[t] = status_payload("running", reason=f"app {k}")
        m.publish(t, want[t], retain=True)
    st, body = stack.bridge.get(f"/v1/snapshot?channel=team.{team}")
    assert st == 200, (st, body)
    got = {e["topic"]: e["data"] for e in json.loads(body)["events"]}
    assert got == want, f"first snapshot lists {len(got)} of {len(want)} apps: {body[:200]}"


SECRET = "issue-11-delivery-hs256-secret-0123456789"


def test_6_a_sub_right_after_the_deploy_status_is_not_refused(stack_factory):
    """A backend creates a deploy (its retained status accepted by the
    broker) and the browser subscribes to it right away.  The bridge's link
    from the broker is slow (1 s, a distant or busy broker), so the status
    reaches it after the sub: the sub must wait for it, not answer
    not_found."""
    s = stack_factory(bridge=False)
    proxy = sbharness.stack_proxy(s, down_delay=1.0)
    b = sbharness.stack_bridge_at(s, proxy.port, {
        "mqtt": {"password_file": None},
        "auth": {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
                 "jwt_public_key_file": None, "issuer": None, "audience": None}})
    b.wait_subscribed()     # the bridge's own deploy-status subscription is live
    m = s.mqtt()
    token = jwt.encode({"sub": "alice", "teams": ["42"], "iat": int(time.time()),
                        "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    deploy = new_uuid()

    async def body():
        c = await Recorder.connect(b.url, token=token)
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, deploy_status, m, deploy, "created")
            for ch in (f"deploy.{deploy}", f"deploy.{deploy}.logs"):
                r = await c.sub(ch)
                assert r["op"] == "ack", f"sub {ch} right after the deploy was created: {r}"
        finally:
            await c.stop()
    run(body())
