# SPDX-License-Identifier: MIT
"""The HTTP fallback (docs/protocol.md §7) under the ACL of §4, against
the real bridge: `GET /v1/snapshot?channel=C` and `GET /v1/history?channel=C&since=N`
with `Authorization: Bearer <jwt>`.

Each refusal is checked by its status, its JSON error code and that the body
carries none of the channel's data; each refusal test first gets a 200 for an
allowed channel from the same bridge, so that a bridge answering everything
with the same error cannot pass it.  CORS headers appear only for an allowed
Origin."""

import base64
import http.client
import json
import socket
import time
import urllib.parse
import uuid

import jwt
import pytest

from sbharness import new_uuid, wait_for

SECRET = "http-auth-hs256-secret-0123456789abcdefgh"
TEAM, OTHER = "42", "43"
OK_ORIGIN, EVIL_ORIGIN = "http://ok.example", "http://evil.example"


def auth_section(**kw):
    a = {"jwt_alg": "HS256", "jwt_secret": SECRET, "jwt_secret_file": None,
         "jwt_public_key_file": None, "issuer": None, "audience": None}
    a.update(kw)
    return a


def mint(sub="alice", teams=(TEAM,), ttl=600, key=SECRET, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + ttl, "teams": list(teams)}
    c.update(extra)
    return jwt.encode(c, key, algorithm="HS256")


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none(teams=(TEAM, OTHER)):
    now = int(time.time())
    h = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    p = b64u(json.dumps({"sub": "alice", "exp": now + 600, "teams": list(teams)}).encode())
    return f"{h}.{p}."


def ts():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def marker():
    return "m-" + uuid.uuid4().hex


class Resp:
    def __init__(self, status, headers, text):
        self.status = status          # 0: connection closed without a response
        self.headers = headers        # lower-case names
        self.text = text

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return f"<{self.status} {self.headers.get('access-control-allow-origin')} {self.text[:300]}>"


def request(bridge, path, token=None, origin=None, authorization=None, method="GET"):
    """One request on a fresh connection; the path is sent as given."""
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if authorization is not None:
        headers["Authorization"] = authorization
    if origin is not None:
        headers["Origin"] = origin
    c = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=5)
    try:
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()},
                    r.read().decode("utf-8", "replace"))
    except (http.client.RemoteDisconnected, ConnectionError):
        return Resp(0, {}, "")
    finally:
        c.close()


def q(channel):
    return urllib.parse.quote(channel, safe="")


def snapshot(bridge, channel, **kw):
    return request(bridge, f"/v1/snapshot?channel={q(channel)}", **kw)


def history(bridge, channel, since=0, **kw):
    return request(bridge, f"/v1/history?channel={q(channel)}&since={since}", **kw)


class Env:
    """A bridge with auth, team 42 and 43 statuses and one deploy per team."""

    def __init__(self, stack_factory, **overrides):
        o = {"mqtt": {"password_file": None}, "auth": auth_section(),
             "listen": {"allowed_origins": [OK_ORIGIN]}}
        o.update(overrides)
        self.stack = stack_factory(bridge_overrides=o)
        self.bridge = self.stack.bridge
        self.pub = self.stack.mqtt()
        self.admin = mint("admin", teams=(TEAM, OTHER))
        self.apps = {TEAM: new_uuid(), OTHER: new_uuid()}
        self.marks = {}
        self.deploys = {TEAM: new_uuid(), OTHER: new_uuid()}
        self.seqs = {}
        for team in (TEAM, OTHER):
            self.marks[team] = self.app(team)
            self.pub.publish(f"team/{team}/deploy/{self.deploys[team]}/status",
                             {"ts": ts(), "status": "running", "progress": 5}, retain=True)

    def app(self, team):
        mark = marker()
        self.pub.publish(f"team/{team}/app/{self.apps[team]}/status",
                         {"ts": ts(), "status": "running", "reason": mark}, retain=True)
        return mark

    def log(self, deploy_id):
        mark = marker()
        self.seqs[deploy_id] = self.seqs.get(deploy_id, 0) + 1
        self.pub.publish(f"deploy/{deploy_id}/logs",
                         {"seq": self.seqs[deploy_id], "ts": ts(), "level": "info",
                          "stream": "stdout", "msg": mark})
        return mark

    def snapshot_with(self, channel, mark, token=None, **kw):
        """Polls the snapshot until it holds `mark`.  The first request for an
        idle channel makes the bridge follow it (`live: false`); the retained
        statuses arrive from the broker a moment later."""
        token = token or self.admin
        last = []

        def ready():
            r = snapshot(self.bridge, channel, token=token, **kw)
            last[:] = [r]
            return r if r.status == 200 and mark in r.text else None
        try:
            return wait_for(ready, 10, 0.05, what=f"snapshot of {channel} with {mark}")
        except TimeoutError as e:
            raise AssertionError(f"{e}: last answer {last}") from None

    def owners_known(self):
        for team in (TEAM, OTHER):
            self.snapshot_with(f"deploy.{self.deploys[team]}", "deploy.status")


def assert_error(r, status, code, *secrets):
    assert r.status == status, r
    assert r.headers.get("content-type", "").startswith("application/json"), r
    body = r.json()
    assert body.get("error") == code, body
    assert "events" not in body, body
    for s in secrets:
        assert s not in r.text, r


def assert_not_logged(log, token, window=16):
    """No 16-character slice of the token (header, claims or signature) is
    in the log: a partial token is as bad as a whole one."""
    for i in range(len(token) - window + 1):
        piece = token[i:i + window]
        assert piece not in log, f"token slice {piece!r} (offset {i}) is in the bridge log"


# ---- 200 ----------------------------------------------------------------------------

def test_snapshot_of_allowed_team(stack_factory):
    env = Env(stack_factory)
    tok = mint(teams=[TEAM])
    r = env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok)
    body = r.json()
    assert body["channel"] == f"team.{TEAM}", body
    ev = [e for e in body["events"] if e.get("topic") == f"team/{TEAM}/app/{env.apps[TEAM]}/status"]
    assert len(ev) == 1, body
    assert ev[0]["event"] == "app.status" and ev[0]["retained"] is True, ev
    assert ev[0]["data"]["reason"] == env.marks[TEAM], ev
    assert env.marks[OTHER] not in r.text and env.apps[OTHER] not in r.text, r
    assert r.headers.get("cache-control") == "no-store", r.headers


def test_history_of_own_deploy_logs(stack_factory):
    env = Env(stack_factory)
    env.owners_known()
    d = env.deploys[TEAM]
    ch = f"deploy.{d}.logs"
    tok = mint(teams=[TEAM])
    first = history(env.bridge, ch, token=tok)      # the bridge starts following it
    assert first.status == 200, first
    marks = []

    def lines():
        # a line published before the broker's SUBACK is lost: publish again
        marks.append(env.log(d))
        r = history(env.bridge, ch, token=tok)
        return r if r.status == 200 and any(m in r.text for m in marks) else None
    r = wait_for(lines, 10, 0.1, what="log lines in history")
    body = r.json()
    assert body["channel"] == ch and body["events"], body
    seqs = [e["seq"] for e in body["events"]]
    assert seqs == sorted(seqs) and seqs[-1] == body["last_seq"], body
    assert any(e["msg"] in marks for e in body["events"]), body
    assert env.deploys[OTHER] not in r.text, r


def test_history_since_and_its_validation(stack_factory):
    """since=N returns only lines after N; a bad since is 400.  The query is
    written the way clients write it: channel first."""
    env = Env(stack_factory)
    env.owners_known()
    d = env.deploys[TEAM]
    ch = f"deploy.{d}.logs"
    tok = mint(teams=[TEAM])
    assert history(env.bridge, ch, token=tok).status == 200
    marks = []

    def two_lines():
        marks.append(env.log(d))
        r = history(env.bridge, ch, token=tok)
        return r if r.status == 200 and len(r.json()["events"]) >= 2 else None
    seqs = [e["seq"] for e in wait_for(two_lines, 10, 0.1, what="two lines").json()["events"]]
    part = history(env.bridge, ch, since=seqs[0], token=tok)
    assert part.status == 200, part
    assert [e["seq"] for e in part.json()["events"]] == seqs[1:], part
    later = history(env.bridge, ch, since=seqs[-1], token=tok)
    assert later.status == 200 and later.json()["events"] == [], later
    for since in ("-1", "abc", "1x"):
        r = request(env.bridge, f"/v1/history?channel={ch}&since={since}", token=tok)
        assert_error(r, 400, "bad_request", *marks)


def test_public_snapshot_needs_no_token(stack_factory):
    env = Env(stack_factory)
    page = "p" + uuid.uuid4().hex[:8]
    mark = marker()
    env.pub.publish(f"public/{page}/status", {"ts": ts(), "status": "operational",
                                               "message": mark}, retain=True)

    def ready():
        r = snapshot(env.bridge, f"public.{page}")
        return r if r.status == 200 and mark in r.text else None
    wait_for(ready, 10, 0.05, what="public snapshot without a token")


# ---- 401 -----------------------------------------------------------------------------

def test_no_token_is_401(stack_factory):
    env = Env(stack_factory)
    env.owners_known()
    d = env.deploys[TEAM]
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM])      # control: 200 with a token
    for r in (snapshot(env.bridge, f"team.{TEAM}"),
              snapshot(env.bridge, f"deploy.{d}"),
              history(env.bridge, f"deploy.{d}.logs"),
              snapshot(env.bridge, f"team.{TEAM}", origin=OK_ORIGIN)):
        assert_error(r, 401, "unauthorized", env.marks[TEAM])
        assert r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers


BAD_AUTH = [
    ("garbage", "Bearer garbage"),
    ("empty-bearer", "Bearer "),
    ("bad-signature", lambda: "Bearer " + mint(teams=[TEAM, OTHER], key=SECRET + "-x")),
    ("alg-none", lambda: "Bearer " + alg_none()),
    ("expired", lambda: "Bearer " + mint(teams=[TEAM], ttl=-120)),
    ("basic-scheme", "Basic " + base64.b64encode(b"alice:secret").decode()),
    ("token-without-scheme", lambda: mint(teams=[TEAM])),
]


@pytest.mark.parametrize("authorization", [pytest.param(a, id=i) for i, a in BAD_AUTH])
def test_bad_token_is_401(stack_factory, authorization):
    env = Env(stack_factory)
    env.owners_known()
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM])
    auth = authorization() if callable(authorization) else authorization
    d = env.deploys[TEAM]
    for path in (f"/v1/snapshot?channel=team.{TEAM}", f"/v1/snapshot?channel=team.{OTHER}",
                 f"/v1/history?channel=deploy.{d}.logs&since=0"):
        r = request(env.bridge, path, authorization=auth)
        assert r.status == 401, (path, r)
        assert r.json().get("error") in ("unauthorized", "token_expired"), r
        assert env.marks[TEAM] not in r.text and env.marks[OTHER] not in r.text, r


# ---- 403 / 404 / 400 -----------------------------------------------------------------------

def test_other_team_is_403(stack_factory):
    env = Env(stack_factory)
    env.owners_known()
    env.snapshot_with(f"team.{OTHER}", env.marks[OTHER])   # the bridge holds team 43's data
    tok = mint(teams=[TEAM])
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok)  # control
    d43 = env.deploys[OTHER]
    for r in (snapshot(env.bridge, f"team.{OTHER}", token=tok),
              snapshot(env.bridge, f"team.{OTHER}.stats", token=tok),
              snapshot(env.bridge, f"deploy.{d43}", token=tok),
              history(env.bridge, f"deploy.{d43}.logs", token=tok),
              snapshot(env.bridge, "user.bob", token=tok)):
        assert_error(r, 403, "forbidden", env.marks[OTHER], env.apps[OTHER])


def test_unknown_deploy_and_channel_are_404(stack_factory):
    env = Env(stack_factory)
    env.owners_known()
    tok = mint(teams=[TEAM, OTHER])
    assert snapshot(env.bridge, f"deploy.{env.deploys[TEAM]}", token=tok).status == 200
    assert history(env.bridge, f"deploy.{env.deploys[TEAM]}.logs", token=tok).status == 200
    unknown = new_uuid()
    for r in (snapshot(env.bridge, f"deploy.{unknown}", token=tok),
              history(env.bridge, f"deploy.{unknown}.logs", token=tok),
              snapshot(env.bridge, "nosuch.channel", token=tok),
              snapshot(env.bridge, f"team.{TEAM}.nosuch", token=tok),
              snapshot(env.bridge, "team", token=tok)):
        assert_error(r, 404, "not_found", env.marks[TEAM], env.marks[OTHER])


MALFORMED = ["team.+", "team.#", "team.4+2", "team.42/x", "team/42", "team..42", ".team.42",
             "team.42.", "deploy.+.logs", "deploy.#", "user.#", "public.a/b", "", "x" * 400]


def test_malformed_channel_is_400(stack_factory):
    env = Env(stack_factory)
    tok = mint(teams=[TEAM, OTHER])
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok)   # control
    for ch in MALFORMED:
        for r in (snapshot(env.bridge, ch, token=tok), history(env.bridge, ch, token=tok)):
            assert_error(r, 400, "bad_request", env.marks[TEAM], env.marks[OTHER])
    for path in ("/v1/snapshot", "/v1/snapshot?chan=team.42",
                 f"/v1/history?channel=team.{TEAM}&since=0"):      # no history on status
        assert_error(request(env.bridge, path, token=tok), 400, "bad_request", env.marks[TEAM])


def test_nul_in_channel_is_refused(stack_factory):
    """%00 never reaches the channel map as a shorter name: lws refuses a NUL
    in the request line by closing the connection, or the bridge says 400."""
    env = Env(stack_factory)
    tok = mint(teams=[TEAM, OTHER])
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok)
    for path in (f"/v1/snapshot?channel=team.{TEAM}%00", f"/v1/snapshot?channel=team.{TEAM}%00x",
                 f"/v1/history?channel=deploy.{env.deploys[TEAM]}.logs%00&since=0"):
        r = request(env.bridge, path, token=tok)
        assert r.status in (0, 400), (path, r)
        assert env.marks[TEAM] not in r.text, r
        assert env.bridge.alive()
    assert snapshot(env.bridge, f"team.{TEAM}", token=tok).status == 200


def sized_token(n, teams=(TEAM,)):
    """A correctly signed token of exactly n bytes (a padding claim)."""
    now = int(time.time())
    c = {"sub": "alice", "iat": now, "exp": now + 600, "teams": list(teams)}
    for kid in range(0, 8):
        headers = {"kid": "k" * kid} if kid else None
        for pad in range(max(0, n * 3 // 4 - 300), n):
            t = jwt.encode(dict(c, pad="x" * pad), SECRET, algorithm="HS256", headers=headers)
            if len(t) == n:
                return t
            if len(t) > n:
                break
    raise AssertionError(f"cannot build a {n}-byte token")




def test_token_size_limit_over_http(stack_factory):
    """The HTTP fallback takes the same tokens as hello: up to 8192 bytes is
    verified (200); longer is 401, with no data."""
    env = Env(stack_factory)
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM])
    for n in (4500, 8192):
        r = snapshot(env.bridge, f"team.{TEAM}", token=sized_token(n))
        assert r.status == 200 and env.marks[TEAM] in r.text, (n, r)
    r = snapshot(env.bridge, f"team.{TEAM}", token=sized_token(8193))
    assert_error(r, 401, "unauthorized", env.marks[TEAM])


# ---- CORS ------------------------------------------------------------------------------------

def test_cors_only_for_allowed_origin(stack_factory):
    env = Env(stack_factory)
    tok = mint(teams=[TEAM])
    ok = env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok, origin=OK_ORIGIN)
    assert ok.headers.get("access-control-allow-origin") == OK_ORIGIN, ok.headers
    assert "origin" in ok.headers.get("vary", "").lower(), ok.headers
    for origin in (EVIL_ORIGIN, "http://ok.example.evil.example", "null", None):
        for r in (snapshot(env.bridge, f"team.{TEAM}", token=tok, origin=origin),
                  snapshot(env.bridge, f"team.{TEAM}", origin=origin),           # 401
                  request(env.bridge, "/healthz", origin=origin)):
            assert "access-control-allow-origin" not in r.headers, (origin, r.headers)
            assert "access-control-allow-credentials" not in r.headers, (origin, r.headers)
    # an error for the allowed origin is readable by that page
    r = snapshot(env.bridge, f"team.{TEAM}", origin=OK_ORIGIN)
    assert r.status == 401 and r.headers.get("access-control-allow-origin") == OK_ORIGIN, r
    # preflight for the Authorization header
    pre = request(env.bridge, f"/v1/snapshot?channel=team.{TEAM}", origin=OK_ORIGIN,
                  method="OPTIONS")
    assert pre.status in (200, 204), pre
    assert pre.headers.get("access-control-allow-origin") == OK_ORIGIN, pre.headers
    assert "authorization" in pre.headers.get("access-control-allow-headers", "").lower()
    bad = request(env.bridge, f"/v1/snapshot?channel=team.{TEAM}", origin=EVIL_ORIGIN,
                  method="OPTIONS")
    assert bad.status not in (200, 204), bad
    assert "access-control-allow-origin" not in bad.headers, bad.headers


# ---- accounting, secrecy, robustness ------------------------------------------------------------

def test_http_auth_failures_counted_and_tokens_never_logged(stack_factory):
    env = Env(stack_factory, log_level="debug")
    tok = mint("alice-" + uuid.uuid4().hex, teams=[TEAM])
    env.snapshot_with(f"team.{TEAM}", env.marks[TEAM], token=tok)
    spy = "mallory-" + uuid.uuid4().hex

    def failures():
        return env.bridge.metrics().get("statusbus_auth_failures_total", -1)
    base = failures()
    assert base >= 0
    bad = [mint(spy, key=SECRET + "-x"), mint(spy, ttl=-120), tok[:-4] + "AAAA"]
    for b in bad:
        assert snapshot(env.bridge, f"team.{TEAM}", token=b).status == 401
    assert failures() == base + len(bad), (base, failures())
    log = env.bridge.output()
    for t in [tok] + bad:
        assert_not_logged(log, t)
    assert spy not in log, "a refused token's claim value is in the bridge log"


def test_connection_closed_before_request_does_not_crash_bridge(stack_factory):
    """A TCP connection closed before sending a request (a port probe, a load
    balancer's health check) must not take the bridge down."""
    env = Env(stack_factory)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", env.bridge.port), timeout=2):
            pass
        with socket.create_connection(("127.0.0.1", env.bridge.port), timeout=2) as s:
            s.sendall(b"GET /v1/snapshot?channel=team.42 HTTP/1.1\r\nHost: x\r\n")  # partial
    r = request(env.bridge, "/healthz")
    assert r.status == 200 and env.bridge.alive(), (r, env.bridge.output()[-2000:])
    wait_for(lambda: env.bridge.health()[0] == 200, 5, what="bridge still healthy")
    assert env.bridge.alive()
