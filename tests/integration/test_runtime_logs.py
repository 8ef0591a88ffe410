# SPDX-License-Identifier: MIT
"""The runtime logs of apps, databases and services end to end
(docs/protocol.md §2, §3.1, §4.2): an agent publishes log lines on
team/<team>/<kind>/<uuid>/logs; a browser subscribes to <kind>.<uuid>.logs
on a real bridge with auth on, over a real mosquitto.

For each kind: lines arrive batched, in order, under the kind's own event;
the owning team is learned from the resource's retained status, so its
members are allowed, another team's are forbidden without the owner being
named, an unknown resource is not_found once the subscribe deadline has
passed, and a malformed uuid is bad_request; lines under another team's
prefix for the same uuid never reach the channel (counted as
foreign_owner); `since` resumes exactly, and /v1/history answers the same
history to the owner's members only.  Pusher clients get the lines as
`<kind>.log.batch` on `private-<kind>.<uuid>.logs`.  statusbus-publish
streams a real process's output as a runtime log, and its state file makes
the seq go on across runs (after a crash: ahead, as a gap, never behind).

Absence is proved as in test_auth.py: a witness that may see the channel
gets a fresh update first, then the other client's ping is answered; any
frame routed to it would have come before the pong."""

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import urllib.parse

import pytest
import websockets

import sbharness
from sbharness import binary, new_uuid, wait_for
from test_auth import (OTHER, TEAM, Env, auth_section, mentions, marker, mint, run, start, ts,
                       with_env)

KINDS = ("app", "db", "service")
PUSHER_KEY, PUSHER_SECRET = "k", "s"


# ---- publishing and reading -----------------------------------------------------------

def status(env, team, kind, rid, st="running"):
    env.publish(f"team/{team}/{kind}/{rid}/status", {"ts": ts(), "status": st, "name": f"{kind}-x"},
                True)


def line(env, team, kind, rid, seq, mark):
    env.publish(f"team/{team}/{kind}/{rid}/logs",
                {"seq": seq, "ts": ts(), "level": "info", "stream": "stdout", "msg": mark}, False)


def lines_of(ws, channel):
    """(seq, msg) of every log line ws got on channel, in order."""
    return [(e["data"]["seq"], e["data"]["msg"]) for e in ws.events(channel)]


async def read_lines(ws, channel, n, timeout=10):
    """Receives until ws holds n lines of channel; returns their seqs."""
    deadline = time.monotonic() + timeout
    while len(lines_of(ws, channel)) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(lines_of(ws, channel))} of {n} lines on {channel}: "
                               f"{ws.frames[-5:]}")
        await ws.recv(left)
    return [s for s, _ in lines_of(ws, channel)]


def batches(ws, channel):
    return [f for f in ws.frames if f.get("op") == "batch" and f.get("channel") == channel]


def gaps(ws, channel):
    return [(f["from"], f["to"]) for f in ws.frames
            if f.get("op") == "gap" and f.get("channel") == channel]


async def pong(ws):
    r = await ws.request({"op": "ping"})
    assert r["op"] == "pong", r


# ---- per kind: delivery, ACL, foreign prefixes, resume, HTTP ----------------------------

@pytest.mark.parametrize("kind", KINDS)
@run
async def test_runtime_log_of_each_kind(stack_factory, kind):
    async def body(env):
        rid = new_uuid()
        channel = f"{kind}.{rid}.logs"
        status(env, TEAM, kind, rid)
        alice = await env.ws(mint("alice", teams=[TEAM]))
        # the owner is learned from the status: allowed (it waits for the
        # status, should the bridge not have it yet)
        await env.ack(alice, channel)
        marks = [marker() for _ in range(8)]
        for s in range(1, 6):
            line(env, TEAM, kind, rid, s, marks[s - 1])
        assert await read_lines(alice, channel, 5) == [1, 2, 3, 4, 5]
        assert {b["event"] for b in batches(alice, channel)} == {f"{kind}.log"}
        assert [m for _, m in lines_of(alice, channel)] == marks[:5]

        # another team's prefix for this uuid: never this resource's log
        before = env.bridge.metrics().get('statusbus_dropped_total{reason="foreign_owner"}', 0)
        forged = marker()
        for s in (6, 7):
            line(env, OTHER, kind, rid, s, forged)
        for s in (6, 7, 8):
            line(env, TEAM, kind, rid, s, marks[s - 1])
        assert await read_lines(alice, channel, 8) == list(range(1, 9))
        assert [m for _, m in lines_of(alice, channel)] == marks    # the owner's 6 and 7
        assert not mentions(alice, forged) and not gaps(alice, channel), alice.frames
        wait_for(lambda: env.bridge.metrics().get(
            'statusbus_dropped_total{reason="foreign_owner"}', 0) >= before + 2, 5,
            what="foreign_owner drops counted")

        # another team's member: forbidden, the owner not named, nothing leaks
        bob = await env.ws(mint("bob", teams=[OTHER]))
        r = await bob.sub(channel)
        assert r["op"] == "error" and r["code"] == "forbidden", r
        assert TEAM not in r["message"].replace(rid, ""), r
        nine = marker()
        line(env, TEAM, kind, rid, 9, nine)
        await read_lines(alice, channel, 9)
        await pong(bob)
        assert not mentions(bob, nine) and not [f for f in bob.frames
                                                if f.get("channel") == channel and
                                                f.get("op") != "error"], bob.frames

        # a reconnecting viewer resumes after the last line it had
        carol = await env.ws(mint("carol", teams=[TEAM, "7"]))
        r = await env.ack(carol, channel, since=5)
        assert r["recovered"] is True, r
        assert await read_lines(carol, channel, 4) == [6, 7, 8, 9]
        line(env, TEAM, kind, rid, 10, marker())
        assert await read_lines(carol, channel, 5) == [6, 7, 8, 9, 10]
        assert not gaps(carol, channel)

        # the HTTP fallback: the same history, the same ACL
        q = f"/v1/history?channel={urllib.parse.quote(channel)}&since=7"
        st, text = env.bridge.get(q, {"Authorization": f"Bearer {mint('dave', teams=[TEAM])}"})
        assert st == 200, text
        h = json.loads(text)
        assert [e["seq"] for e in h["events"]] == [8, 9, 10] and h["gap"] is None, h
        st, text = env.bridge.get(q, {"Authorization": f"Bearer {mint('eve', teams=[OTHER])}"})
        assert st == 403 and '"seq"' not in text, (st, text)
    await with_env(start(stack_factory), body)


@run
async def test_unknown_resource_waits_then_not_found_and_malformed_is_bad_request(stack_factory):
    async def body(env):
        unknown, late, app = new_uuid(), new_uuid(), new_uuid()
        alice = await env.ws(mint("alice", teams=[TEAM, OTHER]))
        # a witness allowed every app log by a channels claim, so that the
        # bridge follows the unknown app's log while alice is refused
        witness = await env.ws(mint("ops", teams=[], channels=["app.*.logs"]))
        await env.ack(witness, f"app.{unknown}.logs")
        for kind in KINDS:
            r = await alice.sub(f"{kind}.{unknown}.logs")   # waits the deadline for a status
            assert r["op"] == "error" and r["code"] == "not_found", (kind, r)
            assert r["message"] == f"{kind} {unknown} is not known", r
        mark = marker()
        line(env, TEAM, "app", unknown, 1, mark)
        await read_lines(witness, f"app.{unknown}.logs", 1)
        await pong(alice)
        assert not mentions(alice, mark), alice.frames

        # a status that comes within the deadline answers the waiting sub
        sid = alice.next_id()
        await alice.send({"op": "sub", "id": sid, "channel": f"service.{late}.logs"})
        # frames are handled in order: once the ping is answered, the sub
        # was read and is waiting for the status
        assert (await alice.request({"op": "ping"}))["op"] == "pong"
        assert not any(f.get("id") == sid for f in alice.frames), alice.frames
        status(env, OTHER, "service", late)
        r = await alice.expect(lambda m: m.get("id") == sid and m.get("op") in ("ack", "error"),
                               10, what="the waiting sub's answer")
        assert r["op"] == "ack", r

        # an app's status does not make a database of that uuid known
        status(env, TEAM, "app", app)
        await env.ack(alice, f"app.{app}.logs")
        r = await alice.sub(f"db.{app}.logs")
        assert r["op"] == "error" and r["code"] == "not_found", r

        for bad in ("app.not-a-uuid.logs", f"app.{app}x.logs", "db.+.logs", "service.#.logs",
                    f"app.{app.upper()}-1.logs", "app..logs"):
            r = await alice.sub(bad)
            assert r["op"] == "error" and r["code"] == "bad_request", (bad, r)
        r = await alice.sub(f"server.{app}.logs")
        assert r["op"] == "error" and r["code"] == "not_found", r
    await with_env(start(stack_factory, limits={"subscribe_timeout_ms": 1500}), body)


def test_pusher_private_runtime_log_is_one_event_per_batch(stack_factory):
    s = stack_factory(bridge_overrides={"pusher": {"app_id": "1", "key": PUSHER_KEY,
                                                   "secret": PUSHER_SECRET}})
    rid = new_uuid()
    pub = s.mqtt()
    pub.publish(f"team/42/db/{rid}/status", {"ts": ts(), "status": "running"}, retain=True)
    channel = f"private-db.{rid}.logs"

    async def main():
        url = f"ws://127.0.0.1:{s.bridge.port}/app/{PUSHER_KEY}?protocol=7&client=py&version=1"
        async with websockets.connect(url) as ws:
            sid = json.loads(json.loads(await ws.recv())["data"])["socket_id"]
            sig = hmac.new(PUSHER_SECRET.encode(), f"{sid}:{channel}".encode(),
                           hashlib.sha256).hexdigest()
            await ws.send(json.dumps({"event": "pusher:subscribe",
                                      "data": {"auth": f"{PUSHER_KEY}:{sig}", "channel": channel}}))
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert m["event"] == "pusher_internal:subscription_succeeded", m
            for seq in range(1, 13):
                pub.publish(f"team/42/db/{rid}/logs", {"seq": seq, "ts": ts(), "level": "info",
                                                       "stream": "stdout", "msg": f"q{seq}"})
            seqs = []
            deadline = time.monotonic() + 10
            while len(seqs) < 12:
                m = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                if m["event"].startswith("pusher"):
                    continue
                assert m["event"] == "db.log.batch" and m["channel"] == channel, m
                seqs += [x["seq"] for x in json.loads(m["data"])]
            return seqs

    assert asyncio.run(asyncio.wait_for(main(), 30)) == list(range(1, 13))


# ---- statusbus-publish: a real process's output -----------------------------------------

def publish_argv(stack, *args):
    return [binary("statusbus-publish"), "--port", str(stack.mosq.port), *args]


def publish_env():
    env = dict(os.environ, STATUSBUS_SCHEMAS=sbharness.SCHEMAS_DIR)
    env.pop("STATUSBUS_URI", None)
    return env


def publish_cli(stack, *args, input=None):
    r = subprocess.run(publish_argv(stack, *args), input=input, capture_output=True, text=True,
                       timeout=60, env=publish_env())
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def state_of(path):
    with open(path) as f:
        return int(f.read())


def test_cli_streams_a_process_and_its_seq_goes_on_across_runs(stack, workdir):
    app = new_uuid()
    channel = f"app.{app}.logs"
    state = os.path.join(workdir, "web.seq")

    async def main():
        ws = await sbharness.Ws.connect(stack.bridge.url)
        # with --status, the CLI publishes the app's status first: the
        # bridge learns its owner (open mode allows the channel anyway)
        publish_cli(stack, "--team", "42", "--app", app, "--status", "running")
        assert (await ws.sub(channel))["op"] == "ack"
        stack.bridge.wait_subscribed()

        # a command's stdout and stderr, numbered from 1, no final status
        script = "echo 'GET / 200'; echo 'warning: slow query' >&2; echo 'GET /a 404'"
        r = publish_cli(stack, "--team", "42", "--app", app, "--logs", "--state-file", state,
                        "--quiet", "--", "sh", "-c", script)
        assert r.stdout == ""
        assert await read_lines(ws, channel, 3) == [1, 2, 3]
        got = {e["data"]["msg"]: e["data"] for e in ws.events(channel)}
        assert got["warning: slow query"]["stream"] == "stderr"
        assert got["warning: slow query"]["level"] == "warn"
        assert got["GET /a 404"]["stream"] == "stdout"
        assert {e["event"] for e in ws.events(channel)} == {"app.log"}
        assert state_of(state) == 4            # a clean exit: the exact next seq

        # the next run is a pipe from a real process into stdin: it goes on
        # from the state file, so a viewer's resume stays exact
        producer = subprocess.Popen(["sh", "-c", "for i in 1 2 3 4; do echo tick $i; done"],
                                    stdout=subprocess.PIPE)
        r = subprocess.run(publish_argv(stack, "--team", "42", "--app", app, "--logs",
                                        "--state-file", state),
                           stdin=producer.stdout, capture_output=True, text=True, timeout=60,
                           env=publish_env())
        producer.stdout.close()
        assert producer.wait(10) == 0 and r.returncode == 0, r
        assert r.stdout == "tick 1\ntick 2\ntick 3\ntick 4\n"       # echoed, like tee
        assert await read_lines(ws, channel, 7) == list(range(1, 8))
        assert state_of(state) == 8
        late = await sbharness.Ws.connect(stack.bridge.url)
        r = await late.sub(channel, since=3)
        assert r["op"] == "ack" and r["recovered"] is True, r
        assert await read_lines(late, channel, 4) == [4, 5, 6, 7]

        # --seq-from without a state file
        publish_cli(stack, "--team", "42", "--app", app, "--logs", "--seq-from", "8", "-q",
                    input="one more\n")
        assert await read_lines(ws, channel, 8) == list(range(1, 9))
        assert not gaps(ws, channel)

        # killed mid-stream: the state file was moved ahead before the lines
        # went out, so the next run goes on past them (a gap), never behind
        os.unlink(state)
        with open(state, "w") as f:
            f.write("9\n")
        p = subprocess.Popen(publish_argv(stack, "--team", "42", "--app", app, "--logs",
                                          "--state-file", state, "-q", "--", "sh", "-c",
                                          "echo crash-1; echo crash-2; exec sleep 60"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=publish_env())
        try:
            assert await read_lines(ws, channel, 10) == list(range(1, 11))
        finally:
            children = []
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                children = [int(c) for c in f.read().split()]
            p.send_signal(signal.SIGKILL)
            p.wait(10)
            for c in children:      # the sleep the killed publisher ran
                os.kill(c, signal.SIGKILL)
        assert state_of(state) > 10
        publish_cli(stack, "--team", "42", "--app", app, "--logs", "--state-file", state, "-q",
                    input="after the crash\n")
        seqs = await read_lines(ws, channel, 11)
        assert seqs[:10] == list(range(1, 11)) and seqs[10] > 10, seqs
        assert gaps(ws, channel) == [(11, seqs[10] - 1)], ws.frames[-3:]
        assert state_of(state) == seqs[10] + 1
        await ws.close()
        await late.close()

    asyncio.run(asyncio.wait_for(main(), 90))


def test_cli_usage_for_runtime_logs(stack, workdir):
    app = new_uuid()
    bad = os.path.join(workdir, "bad.seq")
    with open(bad, "w") as f:
        f.write("not a number\n")
    cases = [
        (["--team", "42", "--server", app, "--logs"], 2, "--logs needs --deploy, --app, --db or --service"),
        (["--team", "42", "--app", app, "--status", "running", "--seq-from", "3"], 2,
         "--seq-from and --state-file go with --logs"),
        (["--team", "42", "--db", app, "--logs", "--seq-from", "0"], 2, "--seq-from: expected 1"),
        (["--team", "42", "--service", app, "--logs", "--no-final"], 2,
         "--no-final applies to --deploy --logs only"),
        (["--team", "42", "--app", app, "--logs", "--state-file", bad], 1,
         "expected the next seq"),
    ]
    for args, code, text in cases:
        r = subprocess.run(publish_argv(stack, *args), input="x\n", capture_output=True,
                           text=True, timeout=30, env=publish_env())
        assert r.returncode == code and text in r.stderr, (args, r)
    r = subprocess.run(publish_argv(stack, "--team", "42", "--service", app, "--logs", "-n"),
                       capture_output=True, text=True, timeout=30, env=publish_env())
    assert r.returncode == 0 and r.stdout == f"team/42/service/{app}/logs (log lines)\n", r
