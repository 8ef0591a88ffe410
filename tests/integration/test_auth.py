# SPDX-License-Identifier: MIT
"""The attack matrix of docs/protocol.md §4 against the real bridge.

Every case runs a real mosquitto and a real statusbus-bridge with an `auth`
section, connects real WebSocket clients and asserts two things: what the
attacker is told (the `error` code of section 5, and close 4001 where the
token is refused at `hello`), and that no channel data it may not see
reached it.

Absence is proved, never slept on.  A second, authorized client (the
"witness") subscribes to the forbidden channel first, so the bridge holds
the MQTT subscription and the retained snapshot.  A fresh update is then
published on the forbidden topic; once the witness has it, the bridge has
routed it, and the attacker's `ping` is answered only after anything that
routing queued for it.  So when the `pong` arrives, every forbidden frame
would already have arrived before it.  A client whose connection the bridge
closed is checked over every frame it received up to the close."""

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sbharness import Ws, new_uuid, wait_for

SECRET = "attack-matrix-hs256-secret-0123456789abcdef"
TEAM, OTHER = "42", "43"
CLOSE_UNAUTHORIZED = 4001
TEST_TIMEOUT = 60
ISSUER, AUDIENCE = "https://app.example", "statusbus"


# ---- configuration and tokens ------------------------------------------------------

def auth_section(**kw):
    """An `auth` section for the bridge: HS256 with SECRET unless told."""
    a = {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
         "jwt_public_key_file": None, "issuer": None, "audience": None}
    a.update(kw)
    return a


def start(stack_factory, auth=None, **overrides):
    """A broker and a bridge with auth on.  The harness keeps the shipped
    mqtt.password_file, which does not exist under test: null it."""
    o = {"mqtt": {"password_file": None}, "auth": auth or auth_section()}
    o.update(overrides)
    return stack_factory(bridge_overrides=o)


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub="alice", teams=(TEAM,), ttl=600, **extra):
    """Claims valid for `ttl` s; an `extra` value of None removes that claim."""
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + ttl, "teams": list(teams)}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def mint(sub="alice", teams=(TEAM,), ttl=600, key=SECRET, alg="HS256", **extra):
    """A token minted by PyJWT, an implementation independent of the bridge."""
    return jwt.encode(claims(sub, teams, ttl, **extra), key, algorithm=alg)


def forge(header, payload, sign=None):
    """A token built by hand, for what PyJWT refuses to make: `sign` maps the
    signing input to the signature bytes (None: empty signature)."""
    h = b64u(json.dumps(header, separators=(",", ":")))
    p = b64u(json.dumps(payload, separators=(",", ":")))
    sig = sign(f"{h}.{p}".encode()) if sign else b""
    return f"{h}.{p}.{b64u(sig)}"


def hs256_with(key_bytes):
    return lambda msg: hmac.new(key_bytes, msg, hashlib.sha256).digest()


def tampered(token, **changes):
    """The token's signature on a payload with `changes` applied."""
    h, p, s = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body.update(changes)
    return f"{h}.{b64u(json.dumps(body, separators=(',', ':')))}.{s}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """RSA 2048 and P-256 key pairs; the public halves as PEM files."""
    d = tmp_path_factory.mktemp("authkeys")
    out = {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
           "ec": ec.generate_private_key(ec.SECP256R1())}
    for name in ("rsa", "ec"):
        pem = out[name].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        path = d / f"{name}.pub.pem"
        path.write_bytes(pem)
        out[name + "_pub"] = str(path)
        out[name + "_pem"] = pem
    return out


def alg_auth(alg, keys):
    if alg == "HS256":
        return auth_section()
    return auth_section(jwt_alg=alg, jwt_secret=None,
                        jwt_public_key_file=keys["rsa_pub" if alg == "RS256" else "ec_pub"])


def alg_key(alg, keys):
    return {"HS256": SECRET, "RS256": keys["rsa"], "ES256": keys["ec"]}[alg]


# ---- payloads ---------------------------------------------------------------------

def ts():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def marker():
    return "m-" + uuid.uuid4().hex


def app_status(mark):
    return {"ts": ts(), "status": "running", "reason": mark}


def deploy_status(mark):
    return {"ts": ts(), "status": "running", "progress": 10, "step": mark}


def log_line(seq, mark):
    return {"seq": seq, "ts": ts(), "level": "info", "stream": "stdout", "msg": mark}


def notification(mark):
    return {"ts": ts(), "title": mark, "level": "info"}


def public_status(mark):
    return {"ts": ts(), "status": "operational", "message": mark}


def assert_not_logged(log, token, window=16):
    """No 16-character slice of the token (header, claims or signature) is
    in the log: a partial token is as bad as a whole one."""
    for i in range(len(token) - window + 1):
        piece = token[i:i + window]
        assert piece not in log, f"token slice {piece!r} (offset {i}) is in the bridge log"


# ---- assertions ---------------------------------------------------------------------

DATA_OPS = ("event", "batch", "gap")


def data_frames(ws, allowed=()):
    """Frames that carry channel data of a channel not in `allowed`."""
    return [f for f in ws.frames if f.get("op") in DATA_OPS and f.get("channel") not in allowed]


def mentions(ws, text):
    """Frames whose JSON contains `text` (a marker or a topic)."""
    return [f for f in ws.frames if text in json.dumps(f)]


def is_event(channel, mark=None):
    def pred(m):
        if m.get("channel") != channel or m.get("op") not in ("event", "batch"):
            return False
        return mark is None or mark in json.dumps(m)
    return pred


def run(fn):
    """Runs an async test body on a fresh event loop with a deadline."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        return asyncio.run(asyncio.wait_for(fn(*a, **kw), TEST_TIMEOUT))
    return wrapper


class Env:
    """The started stack, an MQTT publisher and the clients of one test."""

    def __init__(self, stack):
        self.stack = stack
        self.bridge = stack.bridge
        self.pub = stack.mqtt()
        self.seqs = {}
        self.clients = []

    # publishing
    def publish(self, topic, payload, retain):
        self.pub.publish(topic, payload, retain=retain)

    def app(self, team, app_id=None, mark=None):
        """Publishes a retained app status; returns (topic, marker)."""
        app_id = app_id or new_uuid()
        mark = mark or marker()
        topic = f"team/{team}/app/{app_id}/status"
        self.publish(topic, app_status(mark), True)
        return topic, mark

    def deploy(self, team, deploy_id=None, mark=None):
        deploy_id = deploy_id or new_uuid()
        mark = mark or marker()
        self.publish(f"team/{team}/deploy/{deploy_id}/status", deploy_status(mark), True)
        return deploy_id, mark

    def log(self, deploy_id, mark=None):
        mark = mark or marker()
        self.seqs[deploy_id] = self.seqs.get(deploy_id, 0) + 1
        self.publish(f"deploy/{deploy_id}/logs", log_line(self.seqs[deploy_id], mark), False)
        return mark

    def notify(self, user, mark=None):
        mark = mark or marker()
        self.publish(f"user/{user}/notify", notification(mark), False)
        return mark

    def public(self, page, mark=None):
        mark = mark or marker()
        self.publish(f"public/{page}/status", public_status(mark), True)
        return mark

    # clients
    async def ws(self, token=None, **kw):
        """A client past `hello` (welcome asserted by the harness)."""
        w = await Ws.connect(self.bridge.url, token=token, **kw)
        self.clients.append(w)
        return w

    async def raw(self, **kw):
        """A connected client that has sent nothing yet."""
        w = await Ws.connect(self.bridge.url, hello=False, **kw)
        self.clients.append(w)
        return w

    async def admin(self):
        """A witness allowed every team of the tests."""
        return await self.ws(mint("admin", teams=(TEAM, OTHER)))

    async def ack(self, ws, channel, **kw):
        r = await ws.sub(channel, **kw)
        assert r["op"] == "ack" and r["channel"] == channel, r
        return r

    async def known_deploy(self, witness, deploy_id, channel=None):
        """Subscribes the witness to deploy.<d> (or `channel`) once the bridge
        has learned the deploy's owner from its retained status."""
        channel = channel or f"deploy.{deploy_id}"
        deadline = time.monotonic() + 10
        while True:
            r = await witness.sub(channel)
            if r["op"] == "ack":
                return r
            assert r.get("code") == "not_found", r
            assert time.monotonic() < deadline, f"bridge never learned the owner of {deploy_id}"
            await asyncio.sleep(0.05)

    async def refused_hello(self, token, code="unauthorized", then_sub=None):
        """Sends hello with `token` (and, pipelined behind it, a sub) and
        asserts: error `code`, close 4001, no channel data, no ack."""
        w = await self.raw()
        hello = {"op": "hello", "id": 1}
        if token is not None:
            hello["token"] = token
        await w.send(hello)
        if then_sub:
            await w.send({"op": "sub", "id": 2, "channel": then_sub})
        err = await w.expect(lambda m: m.get("op") == "error", 5, what="hello refusal")
        assert err["code"] == code, err
        close_code, _ = await w.closed(5)
        assert close_code == CLOSE_UNAUTHORIZED, (close_code, w.frames)
        assert not [f for f in w.frames if f.get("op") in ("welcome", "ack")], w.frames
        assert not data_frames(w), w.frames
        return w

    async def delivered(self, ws, publish, channel, timeout=10):
        """Calls publish() -> marker until `ws` gets an update on `channel`
        with a marker; returns every marker published.  Non-retained data
        published between the bridge's `ack` and the broker's SUBACK is lost
        (no one was subscribed yet), so it is published again, not slept on."""
        marks = []
        deadline = time.monotonic() + timeout
        while True:
            marks.append(publish())
            try:
                await ws.expect(lambda m: is_event(channel)(m) and
                                any(k in json.dumps(m) for k in marks), 0.5,
                                what=f"update on {channel}")
                return marks
            except (asyncio.TimeoutError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no update on {channel} within {timeout}s")

    async def prove_nothing(self, attacker, witness, publish, channel, allowed=()):
        """Publishes a fresh update (publish() -> marker) on a channel the
        attacker may not see, waits for the witness to get it, then pings the
        attacker: nothing of that channel, nor the marker, may have reached
        it before the pong."""
        marks = await self.delivered(witness, publish, channel)
        pong = await attacker.request({"op": "ping"})
        assert pong["op"] == "pong", pong
        for mark in marks:
            assert not mentions(attacker, mark), attacker.frames
        assert not data_frames(attacker, allowed), attacker.frames

    async def close(self):
        for w in self.clients:
            try:
                await asyncio.wait_for(w.close(), 5)
            except (asyncio.TimeoutError, websockets.ConnectionClosed, OSError):
                pass


async def with_env(stack, body):
    env = Env(stack)
    try:
        return await body(env)
    finally:
        await env.close()


# ---- no token -----------------------------------------------------------------------

@run
async def test_no_token_gets_public_only(stack_factory):
    async def body(env):
        d42, _ = env.deploy(TEAM)
        topic, _ = env.app(TEAM)
        witness = await env.admin()
        await env.ack(witness, f"team.{TEAM}")
        await witness.expect(is_event(f"team.{TEAM}"), what="witness snapshot")
        await env.known_deploy(witness, d42)

        anon = await env.ws()          # hello without a token is allowed
        assert anon.welcome.get("auth") is True, anon.welcome
        for ch in (f"team.{TEAM}", f"team.{TEAM}.stats", "user.alice",
                   f"deploy.{d42}", f"deploy.{d42}.logs"):
            r = await anon.sub(ch)
            assert r["op"] == "error" and r["code"] == "unauthorized", (ch, r)
            assert r.get("channel") == ch, r
        await env.prove_nothing(anon, witness, lambda: env.app(TEAM, topic.split("/")[3])[1],
                                f"team.{TEAM}")
        assert not mentions(anon, topic), anon.frames
    await with_env(start(stack_factory), body)


@run
async def test_public_channel_works_without_token(stack_factory):
    async def body(env):
        page = "status-" + uuid.uuid4().hex[:8]
        first = env.public(page)
        anon = await env.ws()
        await env.ack(anon, f"public.{page}")
        snap = await anon.expect(is_event(f"public.{page}", first), 5, what="public snapshot")
        assert snap["event"] == "public.status" and snap["retained"] is True, snap
        second = env.public(page)
        live = await anon.expect(is_event(f"public.{page}", second), 5, what="public update")
        assert live["data"]["message"] == second
    await with_env(start(stack_factory), body)


# ---- tokens refused at hello ------------------------------------------------------------

def _expired():
    return mint(ttl=-120)                      # beyond the 30 s leeway


def _nbf_future():
    return mint(nbf=int(time.time()) + 120)


def _iat_future():
    return mint(iat=int(time.time()) + 120)


REFUSED_AT_HELLO = [
    ("garbage", lambda: "garbage", "unauthorized"),
    ("three-garbage-segments", lambda: "a.b.c", "unauthorized"),
    ("empty-string", lambda: "", "unauthorized"),
    ("bad-signature", lambda: mint(key=SECRET + "-other"), "unauthorized"),
    ("tampered-payload", lambda: tampered(mint(), teams=[TEAM, OTHER]), "unauthorized"),
    ("alg-none", lambda: forge({"alg": "none", "typ": "JWT"}, claims()), "unauthorized"),
    ("alg-None", lambda: forge({"alg": "None", "typ": "JWT"}, claims()), "unauthorized"),
    ("alg-none-with-hs256-sig",
     lambda: forge({"alg": "none", "typ": "JWT"}, claims(), hs256_with(SECRET.encode())),
     "unauthorized"),
    ("alg-missing", lambda: forge({"typ": "JWT"}, claims(), hs256_with(SECRET.encode())),
     "unauthorized"),
    ("alg-HS512-same-secret", lambda: mint(alg="HS512"), "unauthorized"),
    ("sub-missing", lambda: mint(sub=None), "unauthorized"),
    ("exp-missing", lambda: mint(exp=None), "unauthorized"),
    ("expired", _expired, "token_expired"),
    ("nbf-in-future", _nbf_future, "token_expired"),
    ("iat-in-future", _iat_future, "token_expired"),
    # issue 12: exp up to 2^53 was a token that never expires
    ("exp-2^53", lambda: mint(exp=2 ** 53), "unauthorized"),
    ("lives-over-a-day", lambda: mint(ttl=86401), "unauthorized"),
    ("exp-far-without-iat", lambda: mint(iat=None, ttl=86400 + 600), "unauthorized"),
    # a first segment "*" matches channels of every kind
    ("channels-star-first", lambda: mint(channels=["*.42"]), "unauthorized"),
    ("channels-star-star", lambda: mint(channels=["deploy.*.logs", "*.*"]), "unauthorized"),
]


@pytest.mark.parametrize("make,code", [pytest.param(m, c, id=i) for i, m, c in REFUSED_AT_HELLO])
@run
async def test_refused_token_at_hello(stack_factory, make, code):
    async def body(env):
        topic, _ = env.app(TEAM)
        witness = await env.admin()
        await env.ack(witness, f"team.{TEAM}")
        await witness.expect(is_event(f"team.{TEAM}"), what="witness snapshot")
        # the retained status is in the bridge's cache: a pipelined sub would
        # get it at once if the refused hello let it through
        w = await env.refused_hello(make(), code, then_sub=f"team.{TEAM}")
        assert not mentions(w, topic), w.frames
    await with_env(start(stack_factory), body)


@run
async def test_leeway_accepts_small_clock_skew(stack_factory):
    """The 30 s leeway of docs/protocol.md §4.1: nbf/iat 10 s ahead and exp
    10 s ago are still accepted (the refusals above are beyond it)."""
    async def body(env):
        now = int(time.time())
        for tok in (mint(nbf=now + 10), mint(iat=now + 10), mint(ttl=-10)):
            w = await env.ws(tok)
            await env.ack(w, f"team.{TEAM}")
    await with_env(start(stack_factory), body)


@run
async def test_token_lifetime_and_wildcard_limits_are_configurable(stack_factory):
    """auth.max_ttl_s and auth.allow_wildcard_first_segment (docs/protocol.md
    §4.1): the refusals above, each with its reason, and the same tokens
    accepted by a bridge configured for them."""
    far, star = mint(ttl=2 * 86400), mint(teams=[], channels=["*.42"])

    async def refused(env):
        for tok, why in ((far, "auth.max_ttl_s"), (star, "allow_wildcard_first_segment")):
            w = await env.raw()
            await w.send({"op": "hello", "id": 1, "token": tok})
            err = await w.expect(lambda m: m.get("op") == "error", 5, what="hello refusal")
            assert err["code"] == "unauthorized" and why in err["message"], err
    await with_env(start(stack_factory), refused)

    async def accepted(env):
        await env.ack(await env.ws(far), f"team.{TEAM}")
        await env.ack(await env.ws(star), f"team.{TEAM}")    # "*.42" matches team.42
    await with_env(start(stack_factory, auth=auth_section(
        max_ttl_s=3 * 86400, allow_wildcard_first_segment=True)), accepted)


@run
async def test_hs256_token_signed_with_rs256_public_key_is_refused(stack_factory, keys):
    """Key confusion: a bridge configured RS256 must not verify an HS256 token
    whose HMAC key is the RS256 public key PEM (which every verifier has)."""
    async def body(env):
        pem = keys["rsa_pem"]
        ok = await env.ws(mint(key=keys["rsa"], alg="RS256"))     # control
        await env.ack(ok, f"team.{TEAM}")
        for pem_variant in (pem, pem.rstrip(b"\n")):
            await env.refused_hello(forge({"alg": "HS256", "typ": "JWT"},
                                          claims(teams=[TEAM, OTHER]), hs256_with(pem_variant)),
                                    then_sub=f"team.{OTHER}")
            # the same HMAC under the configured alg's name
            await env.refused_hello(forge({"alg": "RS256", "typ": "JWT"},
                                          claims(teams=[TEAM, OTHER]), hs256_with(pem_variant)),
                                    then_sub=f"team.{OTHER}")
    await with_env(start(stack_factory, auth=alg_auth("RS256", keys)), body)


ISS_AUD = [
    ("iss-wrong", dict(iss="https://evil.example", aud=AUDIENCE), False),
    ("iss-missing", dict(aud=AUDIENCE), False),
    ("aud-wrong", dict(iss=ISSUER, aud="other"), False),
    ("aud-missing", dict(iss=ISSUER), False),
    ("aud-array-without", dict(iss=ISSUER, aud=["api", "other"]), False),
    ("both-right", dict(iss=ISSUER, aud=AUDIENCE), True),
    ("aud-array-with", dict(iss=ISSUER, aud=["api", AUDIENCE]), True),
]


@pytest.mark.parametrize("extra,accepted", [pytest.param(e, a, id=i) for i, e, a in ISS_AUD])
@run
async def test_issuer_and_audience(stack_factory, extra, accepted):
    async def body(env):
        tok = mint(**extra)
        if accepted:
            w = await env.ws(tok)
            await env.ack(w, f"team.{TEAM}")
        else:
            await env.refused_hello(tok, then_sub=f"team.{TEAM}")
    await with_env(start(stack_factory, auth=auth_section(issuer=ISSUER, audience=AUDIENCE)),
                   body)


@run
async def test_oversized_token_is_refused(stack_factory):
    """At most 8192 bytes (docs/tokens.md): a correctly signed token of exactly
    8192 bytes is accepted, one byte more is refused."""
    def sized(n):
        # pad a claim (and the header's kid) until the token is n bytes long
        c = claims()
        for kid in range(0, 8):
            headers = {"kid": "k" * kid} if kid else None
            for pad in range(n * 3 // 4 - 300, n):
                t = jwt.encode(dict(c, pad="x" * pad), SECRET, algorithm="HS256",
                               headers=headers)
                if len(t) == n:
                    return t
                if len(t) > n:
                    break
        raise AssertionError(f"cannot build a {n}-byte token")

    async def body(env):
        ok = await env.ws(sized(8192))
        await env.ack(ok, f"team.{TEAM}")
        await env.refused_hello(sized(8193), then_sub=f"team.{TEAM}")
        await env.refused_hello(mint(pad="x" * 20000), then_sub=f"team.{TEAM}")
    await with_env(start(stack_factory), body)


# ---- what a valid token allows -------------------------------------------------------------

@run
async def test_team_not_in_token_is_forbidden(stack_factory):
    async def body(env):
        t43, _ = env.app(OTHER)
        env.app(TEAM)
        witness = await env.admin()
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")
        await env.ack(witness, f"team.{OTHER}.stats")

        alice = await env.ws(mint(teams=[TEAM]))
        await env.ack(alice, f"team.{TEAM}")                    # control
        await alice.expect(is_event(f"team.{TEAM}"), what="own team snapshot")
        for ch in (f"team.{OTHER}", f"team.{OTHER}.stats"):
            r = await alice.sub(ch)
            assert r["op"] == "error" and r["code"] == "forbidden", (ch, r)
            assert r.get("channel") == ch
        await env.prove_nothing(alice, witness, lambda: env.app(OTHER, t43.split("/")[3])[1],
                                f"team.{OTHER}", allowed=(f"team.{TEAM}",))

        def stats():
            mark = marker()
            # stats.json has no free text field: the marker is the app id
            app_id = str(uuid.UUID(int=int(mark[2:], 16)))
            env.publish(f"team/{OTHER}/app/{app_id}/stats",
                        {"ts": ts(), "cpu": 1.5, "mem": {"used": 1024, "limit": 4096}}, False)
            return app_id
        await env.prove_nothing(alice, witness, stats, f"team.{OTHER}.stats",
                                allowed=(f"team.{TEAM}",))
        assert not mentions(alice, t43), alice.frames
    await with_env(start(stack_factory), body)


@run
async def test_user_channel_only_for_own_sub(stack_factory):
    async def body(env):
        bob = await env.ws(mint("bob", teams=[]))
        await env.ack(bob, "user.bob")
        alice = await env.ws(mint("alice", teams=[TEAM]))
        r = await alice.sub("user.bob")
        assert r["op"] == "error" and r["code"] == "forbidden", r
        await env.ack(alice, "user.alice")
        await env.prove_nothing(alice, bob, lambda: env.notify("bob"), "user.bob",
                                allowed=("user.alice",))
        await env.delivered(alice, lambda: env.notify("alice"), "user.alice")
        ev = [f for f in alice.frames if is_event("user.alice")(f)][-1]
        assert ev["event"] == "notify", ev
    await with_env(start(stack_factory), body)


@run
async def test_unknown_deploy_is_not_found(stack_factory):
    async def body(env):
        d = new_uuid()
        # a witness allowed every deploy log by a channels claim
        witness = await env.ws(mint("ops", teams=[], channels=["deploy.*.logs"]))
        await env.ack(witness, f"deploy.{d}.logs")
        alice = await env.ws(mint(teams=[TEAM, OTHER]))
        for ch in (f"deploy.{d}", f"deploy.{d}.logs"):
            # it waits limits.subscribe_timeout_ms for the deploy's status
            r = await alice.sub(ch)
            assert r["op"] == "error" and r["code"] == "not_found", (ch, r)
        await env.prove_nothing(alice, witness, lambda: env.log(d), f"deploy.{d}.logs")
    await with_env(start(stack_factory, limits={"subscribe_timeout_ms": 500}), body)


@run
async def test_deploy_of_other_team_is_forbidden(stack_factory):
    async def body(env):
        d43, _ = env.deploy(OTHER)
        witness = await env.ws(mint("ops43", teams=[OTHER]))
        await env.known_deploy(witness, d43)
        await env.ack(witness, f"deploy.{d43}.logs")
        alice = await env.ws(mint(teams=[TEAM]))
        for ch in (f"deploy.{d43}", f"deploy.{d43}.logs"):
            r = await alice.sub(ch)
            assert r["op"] == "error" and r["code"] == "forbidden", (ch, r)
            assert OTHER not in r.get("message", "").replace(d43, ""), r  # owner not revealed
        await env.prove_nothing(alice, witness, lambda: env.deploy(OTHER, d43)[1], f"deploy.{d43}")
        await env.prove_nothing(alice, witness, lambda: env.log(d43), f"deploy.{d43}.logs")
        # the deploy id appears only in the refusals
        assert all(f.get("op") == "error" for f in mentions(alice, d43)), alice.frames
    await with_env(start(stack_factory), body)


@run
async def test_deploy_of_own_team_is_allowed(stack_factory):
    async def body(env):
        d42, first = env.deploy(TEAM)
        alice = await env.ws(mint(teams=[TEAM]))
        await env.known_deploy(alice, d42)
        snap = await alice.expect(is_event(f"deploy.{d42}", first), 5, what="deploy snapshot")
        assert snap["event"] == "deploy.status" and snap["retained"] is True, snap
        await env.ack(alice, f"deploy.{d42}.logs")
        await env.delivered(alice, lambda: env.log(d42), f"deploy.{d42}.logs")
        b = [f for f in alice.frames if is_event(f"deploy.{d42}.logs")(f)][-1]
        assert b["op"] == "batch" and b["event"] == "deploy.log", b
        upd = env.deploy(TEAM, d42)[1]
        await alice.expect(is_event(f"deploy.{d42}", upd), 5, what="deploy update")
    await with_env(start(stack_factory), body)


@run
async def test_channels_claim_pattern_grants_exactly_that_shape(stack_factory):
    async def body(env):
        d43, _ = env.deploy(OTHER)
        topic43, _ = env.app(OTHER)
        witness = await env.ws(mint("ops43", teams=[OTHER]))
        await env.known_deploy(witness, d43)
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")

        carol = await env.ws(mint("carol", teams=[], channels=["deploy.*.logs"]))
        logs = f"deploy.{d43}.logs"
        await env.ack(carol, logs)                 # another team's deploy, by pattern
        await env.delivered(carol, lambda: env.log(d43), logs)
        for ch in (f"deploy.{d43}", f"team.{OTHER}", f"team.{OTHER}.stats", "user.bob"):
            r = await carol.sub(ch)
            assert r["op"] == "error" and r["code"] == "forbidden", (ch, r)
        await env.prove_nothing(carol, witness, lambda: env.deploy(OTHER, d43)[1],
                                f"deploy.{d43}", allowed=(logs,))
        await env.prove_nothing(carol, witness, lambda: env.app(OTHER, topic43.split("/")[3])[1],
                                f"team.{OTHER}", allowed=(logs,))
    await with_env(start(stack_factory), body)


MALFORMED = [
    "team.+", "team.#", "team.4+2", "team.42/x", "team/42", "team..42", ".team.42", "team.42.",
    "team.42..stats", "deploy.+.logs", "deploy.#", "user.#", "user.a/../b", "public.a/b", "..",
    "team.42\x00",
    "team.42\x00x",
    "team.42\x00.stats",
    "public.p\x00/team/43/#",
]


@pytest.mark.parametrize("channel", MALFORMED, ids=lambda c: json.dumps(c))
@run
async def test_malformed_channel_is_bad_request(stack_factory, channel):
    async def body(env):
        topic43, _ = env.app(OTHER)
        topic42, _ = env.app(TEAM)
        witness = await env.admin()
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")
        # a token for team 42, so that a name the bridge cut down to an
        # allowed channel shows up as an ack rather than forbidden
        alice = await env.ws(mint(teams=[TEAM]))
        r = await alice.sub(channel)
        assert r["op"] == "error" and r["code"] == "bad_request", r
        await env.prove_nothing(alice, witness, lambda: env.app(OTHER, topic43.split("/")[3])[1],
                                f"team.{OTHER}")
        assert not mentions(alice, topic42) and not mentions(alice, topic43), alice.frames
    await with_env(start(stack_factory), body)


# ---- protocol order and time limits ---------------------------------------------------------------

@pytest.mark.parametrize("first", ["sub", "refresh", "unsub", "ping"])
@run
async def test_frame_before_hello_is_refused(stack_factory, first):
    async def body(env):
        page = "p" + uuid.uuid4().hex[:8]
        env.public(page)
        env.app(TEAM)
        w = await env.raw()
        frame = {"sub": {"op": "sub", "id": 1, "channel": f"public.{page}"},
                 "refresh": {"op": "refresh", "id": 1, "token": mint(teams=[TEAM, OTHER])},
                 "unsub": {"op": "unsub", "id": 1, "channel": f"team.{TEAM}"},
                 "ping": {"op": "ping", "id": 1}}[first]
        await w.send(frame)
        await w.send({"op": "sub", "id": 2, "channel": f"team.{TEAM}"})
        err = await w.expect(lambda m: m.get("op") == "error", 5, what="refusal")
        assert err["code"] == "unauthorized", err
        code, _ = await w.closed(5)
        assert code == CLOSE_UNAUTHORIZED, (code, w.frames)
        assert not [f for f in w.frames if f.get("op") in ("ack", "pong", "welcome")], w.frames
        assert not data_frames(w), w.frames
    await with_env(start(stack_factory), body)


@run
async def test_no_hello_within_timeout_is_closed(stack_factory):
    async def body(env):
        page = "p" + uuid.uuid4().hex[:8]
        env.public(page)
        w = await env.raw()
        t0 = time.monotonic()
        code, _ = await w.closed(6)
        assert code == CLOSE_UNAUTHORIZED, (code, w.frames)
        assert time.monotonic() - t0 >= 0.9, "closed before hello_timeout_s"
        assert not data_frames(w), w.frames
        assert not [f for f in w.frames if f.get("op") in ("welcome", "ack")], w.frames
    await with_env(start(stack_factory, limits={"hello_timeout_s": 1}), body)


@run
async def test_token_expiring_during_session(stack_factory):
    async def body(env):
        env.app(TEAM)
        exp = int(time.time()) + 3
        w = await env.ws(mint(teams=[TEAM], exp=exp))
        await env.ack(w, f"team.{TEAM}")
        await w.expect(is_event(f"team.{TEAM}"), 5, what="snapshot before expiry")
        err = await w.expect(lambda m: m.get("op") == "error", 10, what="token_expired")
        assert err["code"] == "token_expired", err
        assert time.time() >= exp, "closed before exp"
        n = len(w.frames)
        code, _ = await w.closed(5)
        assert code == CLOSE_UNAUTHORIZED, (code, w.frames)
        assert not [f for f in w.frames[n:] if f.get("op") in DATA_OPS], w.frames
    await with_env(start(stack_factory, auth=auth_section(leeway_s=0)), body)


@run
async def test_refresh_before_expiry_keeps_connection_open(stack_factory):
    async def body(env):
        exp = int(time.time()) + 3
        control = await env.ws(mint(teams=[TEAM], exp=exp))
        w = await env.ws(mint(teams=[TEAM], exp=exp))
        await env.ack(w, f"team.{TEAM}")
        r = await w.request({"op": "refresh", "token": mint(teams=[TEAM], ttl=600)})
        assert r["op"] == "ack", r
        # the control, with the old exp, is closed by the same sweep that
        # would have closed w
        err = await control.expect(lambda m: m.get("op") == "error", 10, what="control expiry")
        assert err["code"] == "token_expired", err
        code, _ = await control.closed(5)
        assert code == CLOSE_UNAUTHORIZED
        assert time.time() >= exp
        pong = await w.request({"op": "ping"})
        assert pong["op"] == "pong", pong
        mark = env.app(TEAM)[1]
        await w.expect(is_event(f"team.{TEAM}", mark), 5, what="update after old exp")
        assert not [f for f in w.frames if f.get("op") == "error"], w.frames
    await with_env(start(stack_factory, auth=auth_section(leeway_s=0)), body)


@run
async def test_refresh_for_another_sub_keeps_old_rights(stack_factory):
    async def body(env):
        topic42, _ = env.app(TEAM)
        t43, _ = env.app(OTHER)
        witness = await env.admin()
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")
        bob = await env.ws(mint("bob", teams=[]))
        await env.ack(bob, "user.bob")

        alice = await env.ws(mint("alice", teams=[TEAM]))
        await env.ack(alice, f"team.{TEAM}")
        await env.ack(alice, "user.alice")
        r = await alice.request({"op": "refresh",
                                 "token": mint("bob", teams=[TEAM, OTHER], ttl=3600)})
        assert r["op"] == "error" and r["code"] in ("forbidden", "unauthorized"), r
        for ch in (f"team.{OTHER}", "user.bob"):
            r = await alice.sub(ch)
            assert r["op"] == "error" and r["code"] == "forbidden", (ch, r)
        await env.prove_nothing(alice, witness, lambda: env.app(OTHER, t43.split("/")[3])[1],
                                f"team.{OTHER}", allowed=(f"team.{TEAM}", "user.alice"))
        await env.prove_nothing(alice, bob, lambda: env.notify("bob"), "user.bob",
                                allowed=(f"team.{TEAM}", "user.alice"))
        # the old rights still work
        mark = env.app(TEAM, topic42.split("/")[3])[1]
        await alice.expect(is_event(f"team.{TEAM}", mark), 5, what="own team after refusal")
        await env.delivered(alice, lambda: env.notify("alice"), "user.alice")
    await with_env(start(stack_factory), body)


@run
async def test_refused_refresh_does_not_extend_the_session(stack_factory):
    """A refresh with another user's (longer) token leaves the old exp."""
    async def body(env):
        exp = int(time.time()) + 3
        alice = await env.ws(mint("alice", teams=[TEAM], exp=exp))
        r = await alice.request({"op": "refresh", "token": mint("bob", teams=[TEAM], ttl=3600)})
        assert r["op"] == "error", r
        err = await alice.expect(lambda m: m.get("op") == "error" and
                                 m.get("code") == "token_expired", 10, what="old exp enforced")
        assert time.time() >= exp, err
        code, _ = await alice.closed(5)
        assert code == CLOSE_UNAUTHORIZED
    await with_env(start(stack_factory, auth=auth_section(leeway_s=0)), body)


FORGED_REFRESH = [
    ("bad-signature", lambda: mint(teams=[TEAM, OTHER], key=SECRET + "-other"), "unauthorized"),
    ("alg-none", lambda: forge({"alg": "none"}, claims(teams=[TEAM, OTHER])), "unauthorized"),
    ("tampered", lambda: tampered(mint(teams=[TEAM]), teams=[TEAM, OTHER]), "unauthorized"),
    ("expired", lambda: mint(teams=[TEAM, OTHER], ttl=-120), "token_expired"),
]


@pytest.mark.parametrize("make,code", [pytest.param(m, c, id=i) for i, m, c in FORGED_REFRESH])
@run
async def test_refresh_with_bad_token_grants_nothing(stack_factory, make, code):
    async def body(env):
        t43, _ = env.app(OTHER)
        witness = await env.admin()
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")
        alice = await env.ws(mint(teams=[TEAM]))
        await env.ack(alice, f"team.{TEAM}")
        r = await alice.request({"op": "refresh", "token": make()})
        assert r["op"] == "error" and r["code"] == code, r
        r = await alice.sub(f"team.{OTHER}")
        assert r["op"] == "error" and r["code"] == "forbidden", r
        await env.prove_nothing(alice, witness, lambda: env.app(OTHER, t43.split("/")[3])[1],
                                f"team.{OTHER}", allowed=(f"team.{TEAM}",))
        mark = env.app(TEAM)[1]
        await alice.expect(is_event(f"team.{TEAM}", mark), 5, what="old rights kept")
    await with_env(start(stack_factory), body)


@run
async def test_refresh_removing_a_team_stops_its_channel(stack_factory):
    async def body(env):
        t42, _ = env.app(TEAM)
        t43, _ = env.app(OTHER)
        witness = await env.admin()
        await env.ack(witness, f"team.{OTHER}")
        await witness.expect(is_event(f"team.{OTHER}"), what="witness snapshot")
        alice = await env.ws(mint(teams=[TEAM, OTHER]))
        await env.ack(alice, f"team.{TEAM}")
        await env.ack(alice, f"team.{OTHER}")
        before = env.app(OTHER, t43.split("/")[3])[1]
        await alice.expect(is_event(f"team.{OTHER}", before), 5, what="team 43 before refresh")

        rid = alice.next_id()
        await alice.send({"op": "refresh", "id": rid, "token": mint(teams=[TEAM])})
        ack = await alice.expect(lambda m: m.get("id") == rid, 5, what="refresh reply")
        assert ack["op"] == "ack", ack
        errs = [f for f in alice.frames if f.get("op") == "error"]
        assert [e.get("channel") for e in errs] == [f"team.{OTHER}"], errs
        assert errs[0]["code"] == "forbidden", errs
        cut = len(alice.frames)

        # forbidden update first, witnessed; then the allowed one
        after = env.app(OTHER, t43.split("/")[3])[1]
        await witness.expect(is_event(f"team.{OTHER}", after), 5, what="witness update")
        still = env.app(TEAM, t42.split("/")[3])[1]
        await alice.expect(is_event(f"team.{TEAM}", still), 5, what="team 42 still live")
        pong = await alice.request({"op": "ping"})
        assert pong["op"] == "pong"
        assert not [f for f in alice.frames[cut:] if f.get("channel") == f"team.{OTHER}"
                    and f.get("op") in DATA_OPS], alice.frames[cut:]
        assert not mentions(alice, after), alice.frames
        r = await alice.sub(f"team.{OTHER}")
        assert r["op"] == "error" and r["code"] == "forbidden", r
    await with_env(start(stack_factory), body)


# ---- algorithms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
@run
async def test_pyjwt_tokens_per_algorithm(stack_factory, keys, alg):
    async def body(env):
        first = env.app(TEAM)[1]
        w = await env.ws(jwt.encode(claims(teams=[TEAM]), alg_key(alg, keys), algorithm=alg))
        await env.ack(w, f"team.{TEAM}")
        await w.expect(is_event(f"team.{TEAM}", first), 5, what="snapshot")
        for other in ("HS256", "RS256", "ES256"):
            if other != alg:
                await env.refused_hello(jwt.encode(claims(teams=[TEAM]), alg_key(other, keys),
                                                   algorithm=other), then_sub=f"team.{TEAM}")
    await with_env(start(stack_factory, auth=alg_auth(alg, keys)), body)


# ---- WebSocket upgrade Origin ----------------------------------------------------------------------

@run
async def test_origin_checked_on_upgrade(stack_factory):
    async def body(env):
        tok = mint(teams=[TEAM])
        for bad in ("http://evil.example", "http://ok.example.evil.example",
                    "https://ok.example", "http://ok.example:8080", "null"):
            with pytest.raises((websockets.exceptions.InvalidHandshake, OSError, EOFError)):
                await env.ws(tok, origin=bad)
        good = await env.ws(tok, origin="http://ok.example")
        await env.ack(good, f"team.{TEAM}")
        plain = await env.ws(tok)                 # not a browser: no Origin
        await env.ack(plain, f"team.{TEAM}")
        assert env.bridge.alive()
        assert 'origin "http://evil.example" not allowed' in env.bridge.output()
    await with_env(start(stack_factory, listen={"allowed_origins": ["http://ok.example"]}), body)


# ---- accounting and secrecy ---------------------------------------------------------------------------

@run
async def test_auth_failures_counted_and_tokens_never_logged(stack_factory):
    async def body(env):
        def failures():
            return env.bridge.metrics().get("statusbus_auth_failures_total", -1)

        spy = "mallory-" + uuid.uuid4().hex
        base = failures()
        assert base >= 0, "statusbus_auth_failures_total missing from /metrics"
        good = mint("alice-" + uuid.uuid4().hex, teams=[TEAM])
        w = await env.ws(good)
        await env.ack(w, f"team.{TEAM}")
        assert failures() == base, "a valid token was counted as a failure"

        refused = [
            (mint(spy, key=SECRET + "-other"), "unauthorized"),
            (mint(spy, ttl=-120), "token_expired"),
            (forge({"alg": "none"}, claims(spy)), "unauthorized"),
            (tampered(mint(spy), teams=[OTHER]), "unauthorized"),
            (mint(spy, pad="y" * 9000), "unauthorized"),
        ]
        for tok, code in refused:
            await env.refused_hello(tok, code)
        bad_refresh = mint(spy, teams=[OTHER], key=SECRET + "-other")
        r = await w.request({"op": "refresh", "token": bad_refresh})
        assert r["op"] == "error", r
        other_sub = mint("bob-" + uuid.uuid4().hex, teams=[OTHER])
        r = await w.request({"op": "refresh", "token": other_sub})
        assert r["op"] == "error", r
        n = len(refused) + 2
        wait_for(lambda: failures() >= base + n, 5, what="auth failures counted")
        assert failures() == base + n, (base, failures())

        log = env.bridge.output()
        assert "hello refused" in log or "refused" in log, "refusals are not logged at all"
        for tok in [good, bad_refresh, other_sub] + [t for t, _ in refused]:
            assert_not_logged(log, tok)
        assert spy not in log, "a refused token's claim value is in the bridge log"
    await with_env(start(stack_factory, log_level="debug"), body)
