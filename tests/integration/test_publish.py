# SPDX-License-Identifier: MIT
"""The publisher toolkit end to end (issue 5, part B): statusbus-publish
through a real mosquitto and the real bridge to a WebSocket client, deploy
log streams from stdin and from a command, local refusal of invalid
records, and statusbus-device-subscriber on a TLS listener that requires a
client certificate.

Absence is proved with sentinels: the refused record first, a valid one
after it on the same topic; once the valid one has arrived, the refused one
would have arrived before it."""

import asyncio
import calendar
import json
import os
import pwd
import re
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

import sbharness
from sbharness import Ws, binary, free_port, new_uuid, port_open, wait_for

RFC3339_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def publish_cli(port, *args, input=None, timeout=60, extra_env=None):
    """Runs statusbus-publish against the broker on `port`; returns the
    CompletedProcess (text)."""
    env = dict(os.environ, STATUSBUS_SCHEMAS=sbharness.SCHEMAS_DIR)
    env.pop("STATUSBUS_URI", None)
    env.update(extra_env or {})
    argv = [binary("statusbus-publish")]
    if port is not None:
        argv += ["--port", str(port)]
    return subprocess.run(argv + list(args), input=input, capture_output=True, text=True,
                          timeout=timeout, env=env)


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def is_event(topic):
    return lambda m: m.get("op") == "event" and m.get("topic") == topic


async def until(ws, cond, timeout, what):
    """Receives frames until cond() holds (checked first) or the deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {what} within {timeout}s; got {ws.frames[-5:]}")
        await ws.recv(left)


def subscribe_acked(client, *topics):
    """Subscribes a sbharness.Mqtt client and waits for the SUBACK."""
    acked = []
    client.c.on_subscribe = lambda c, u, mid, granted: acked.append(mid)
    rc, mid = client.c.subscribe([(t, 1) for t in topics])
    assert rc == mqtt.MQTT_ERR_SUCCESS
    wait_for(lambda: mid in acked, 5, what=f"SUBACK for {topics}")


# ---- status records ------------------------------------------------------------

def test_cli_status_reaches_websocket_client_and_is_retained(stack):
    app = new_uuid()
    topic = f"team/42/app/{app}/status"

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        assert (await ws.sub("team.42"))["op"] == "ack"
        stack.bridge.wait_subscribed()
        ok(publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "running",
                       "--old", "starting", "--reason", "deployed v2", "--name", "web"))
        ev = await ws.expect(is_event(topic), 10, what="app.status event")
        assert ev["channel"] == "team.42" and ev["event"] == "app.status"
        data = ev["data"]
        assert {k: v for k, v in data.items() if k != "ts"} == {
            "status": "running", "old_status": "starting", "reason": "deployed v2",
            "name": "web"}
        assert RFC3339_MS_Z.match(data["ts"]), data["ts"]
        # UTC "now": within a minute of this machine's clock
        ts = calendar.timegm(time.strptime(data["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(ts - time.time()) < 60
        await ws.close()

        # a browser that comes later gets it from the snapshot
        late = await Ws.connect(stack.bridge.url)
        await late.sub("team.42")
        snap = await late.expect(is_event(topic), 10, what="snapshot")
        assert snap["data"] == data
        await late.close()
        return data

    data = asyncio.run(main())

    # retained at the broker: a fresh MQTT subscriber is handed it
    c = stack.mqtt()
    c.subscribe(topic)
    wait_for(lambda: c.received, 10, what="retained status")
    t, payload, retained = c.received[0]
    assert t == topic and retained and json.loads(payload) == data


def test_cli_publishes_every_status_kind(stack):
    db, svc, srv, dep, app = (new_uuid() for _ in range(5))
    runs = [
        (["--db", db, "--status", "degraded", "--old", "running", "--reason", "replica lag"],
         f"team/42/db/{db}/status", "db.status",
         {"status": "degraded", "old_status": "running", "reason": "replica lag"}),
        (["--service", svc, "--status", "stopped", "--name", "redis"],
         f"team/42/service/{svc}/status", "service.status",
         {"status": "stopped", "name": "redis"}),
        (["--server", srv, "--reachable", "false", "--old-reachable", "true", "--latency",
          "12.5", "--reason", "connection refused"],
         f"team/42/server/{srv}/reachability", "server.reachability",
         {"reachable": False, "old_reachable": True, "latency_ms": 12.5,
          "reason": "connection refused"}),
        (["--deploy", dep, "--deploy-status", "running", "--progress", "40", "--step", "build",
          "--step-index", "1", "--total-steps", "3", "--commit", "0123abc", "--app", app],
         f"team/42/deploy/{dep}/status", "deploy.status",
         {"status": "running", "progress": 40, "step": "build", "step_index": 1,
          "total_steps": 3, "commit": "0123abc", "app": app}),
    ]

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        await ws.sub("team.42")
        stack.bridge.wait_subscribed()
        for args, topic, event, want in runs:
            ok(publish_cli(stack.mosq.port, "--team", "42", *args))
            ev = await ws.expect(is_event(topic), 10, what=event)
            assert ev["event"] == event
            assert {k: v for k, v in ev["data"].items() if k != "ts"} == want
        # --delete clears the retained status: the bridge says "deleted"
        ok(publish_cli(stack.mosq.port, "--team", "42", "--db", db, "--delete"))
        ev = await ws.expect(is_event(f"team/42/db/{db}/status"), 10, what="deleted")
        assert ev["event"] == "deleted"
        await ws.close()

    asyncio.run(main())


def test_invalid_record_is_refused_locally_and_nothing_is_published(stack):
    app, dep = new_uuid(), new_uuid()
    app_topic = f"team/42/app/{app}/status"
    dep_topic = f"team/42/deploy/{dep}/status"
    raw = stack.mqtt()
    subscribe_acked(raw, "team/42/#")

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        await ws.sub("team.42")
        stack.bridge.wait_subscribed()

        r = publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "runing")
        assert r.returncode == 1, r
        assert r.stderr.startswith(
            'statusbus-publish: payload invalid for app-status.json: /status: "runing" is not '
            'one of "running", "starting"'), r.stderr
        r = publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--deploy-status",
                        "running", "--progress", "140")
        assert r.returncode == 1
        assert "payload invalid for deploy-status.json: /progress: 140 is greater than " \
               "maximum 100" in r.stderr
        r = publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--deploy-status",
                        "running")
        assert r.returncode == 1 and "missing required property" in r.stderr
        r = publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "running",
                        "--name", "x" * 129)
        assert r.returncode == 1 and "/name: length 129 is greater than maxLength 128" in r.stderr

        # sentinels: valid records on the same topics
        ok(publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "running"))
        ok(publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--deploy-status",
                       "queued", "--progress", "0"))
        await ws.expect(is_event(dep_topic), 10, what="deploy sentinel")
        seen = [f for f in ws.events() if f.get("topic") in (app_topic, dep_topic)]
        assert [f["data"]["status"] for f in seen] == ["running", "queued"], seen
        await ws.close()

    asyncio.run(main())
    wait_for(lambda: dep_topic in [t for t, _, _ in raw.received], 10, what="raw sentinel")
    assert [(t, json.loads(p)["status"]) for t, p, _ in raw.received] == [
        (app_topic, "running"), (dep_topic, "queued")]


def test_cli_usage_errors_and_unreachable_broker():
    app = new_uuid()
    for args in (["--app", app, "--status", "running"],                 # no team
                 ["--team", "42", "--status", "running"],               # no resource
                 ["--team", "42", "--app", app, "--db", app, "--status", "running"],
                 ["--team", "42", "--server", app, "--reachable", "maybe"],
                 ["--team", "42", "--app", app, "--status", "running", "--progress", "4"],
                 ["--team", "4/2", "--app", app, "--status", "running"],
                 ["--team", "42", "--app", "not-a-uuid", "--status", "running"],
                 ["--team", "42", "--server", app, "--logs"],           # servers have no log
                 ["--team", "42", "--app", app, "--logs", "--no-final"],
                 ["--team", "42", "--app", app, "--status", "running", "--bogus"],
                 ["--team", "42", "--app", app, "--status", "running", "stray"]):
        r = publish_cli(None, *args)
        assert r.returncode == 2, (args, r)
        assert r.stderr.startswith("statusbus-publish: ") and r.stdout == "", (args, r)
    r = publish_cli(None, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: statusbus-publish")
    r = publish_cli(None, "--version")
    assert r.returncode == 0 and re.match(r"^statusbus-publish \d+\.\d+\.\d+\n$", r.stdout)
    r = publish_cli(None, "--dry-run", "--team", "42", "--app", app, "--status", "running")
    assert r.returncode == 0
    topic, payload = r.stdout.split(" ", 1)
    assert topic == f"team/42/app/{app}/status" and json.loads(payload)["status"] == "running"

    closed = free_port()
    t0 = time.monotonic()
    r = publish_cli(closed, "--timeout", "1", "--team", "42", "--app", app, "--status",
                    "running")
    assert r.returncode == 1
    assert f"cannot connect to tcp://127.0.0.1:{closed}" in r.stderr
    assert time.monotonic() - t0 < 10


def test_refused_login_fails_at_once_with_the_reason(stack_factory, workdir):
    passwd = os.path.join(workdir, "passwd")
    secret = os.path.join(workdir, "deployer.password")
    subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, "deployer", "s3cret-s3cret"],
                   check=True, capture_output=True, timeout=30)
    os.chmod(passwd, 0o644)
    with open(secret, "w") as f:
        f.write("s3cret-s3cret\n")
    stack = stack_factory(bridge=False, mosquitto_conf=(
        f"user {pwd.getpwuid(os.getuid()).pw_name}\nlistener {{port}} 127.0.0.1\n"
        f"allow_anonymous false\npassword_file {passwd}\n"))
    app = new_uuid()
    args = ("--team", "42", "--app", app, "--status", "running")
    t0 = time.monotonic()
    r = publish_cli(stack.mosq.port, "--timeout", "30", *args)
    assert r.returncode == 1 and "refused the connection: not authorized" in r.stderr, r
    assert time.monotonic() - t0 < 10       # not retried until the deadline
    wrong = os.path.join(workdir, "wrong.password")
    with open(wrong, "w") as f:
        f.write("nope")
    r = publish_cli(stack.mosq.port, "--username", "deployer", "--password-file", wrong, *args)
    assert r.returncode == 1 and "refused the connection" in r.stderr, r
    r = publish_cli(stack.mosq.port, "--username", "deployer", "--password-file",
                    os.path.join(workdir, "missing"), *args)
    assert r.returncode == 1 and "no such file" in r.stderr, r
    ok(publish_cli(stack.mosq.port, *args, extra_env={
        "STATUSBUS_USERNAME": "deployer", "STATUSBUS_PASSWORD_FILE": secret}))


# ---- deploy logs ----------------------------------------------------------------

def log_events(ws, deploy):
    return [e["data"] for e in ws.events(f"deploy.{deploy}.logs")]


def test_log_stream_from_stdin_arrives_in_order_then_the_final_status(stack):
    dep = new_uuid()
    n = 600
    lines = []
    for i in range(1, n + 1):
        lines.append(f"error: step {i} failed" if i % 100 == 0 else
                     f"warning: slow step {i}" if i % 50 == 0 else f"line {i} \u2713")
    text = "\n".join(lines)     # the last line has no newline: still published

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        assert (await ws.sub(f"deploy.{dep}.logs"))["op"] == "ack"
        assert (await ws.sub(f"deploy.{dep}"))["op"] == "ack"
        stack.bridge.wait_subscribed()
        r = ok(publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--logs",
                           input=text))
        assert r.stdout == text          # echoed, like tee
        final = await ws.expect(is_event(f"team/42/deploy/{dep}/status"), 15,
                                what="final deploy status")
        await until(ws, lambda: len(log_events(ws, dep)) >= n, 15, f"{n} log lines")
        got = log_events(ws, dep)
        await ws.close()
        return final, got

    final, got = asyncio.run(main())
    assert [e["seq"] for e in got] == list(range(1, n + 1))
    assert [e["msg"] for e in got] == lines
    assert all(e["stream"] == "stdout" and RFC3339_MS_Z.match(e["ts"]) for e in got)
    levels = {e["seq"]: e["level"] for e in got}
    assert levels[100] == "error" and levels[50] == "warn" and levels[1] == "info"
    assert final["event"] == "deploy.status"
    assert final["data"]["status"] == "finished" and final["data"]["progress"] == 100
    assert RFC3339_MS_Z.match(final["data"]["finished_at"])


def test_log_stream_runs_a_command_and_reports_its_exit_status(stack):
    dep = new_uuid()
    status_topic = f"team/42/deploy/{dep}/status"
    script = ("echo out-1; echo err-1 >&2; printf 'out-2\\r\\n'; "
              "printf '\\033[33mwarning\\033[0m: colours stripped\\n' >&2; exit 3")
    raw = stack.mqtt()
    subscribe_acked(raw, status_topic)

    async def main():
        ws = await Ws.connect(stack.bridge.url)
        await ws.sub(f"deploy.{dep}.logs")
        await ws.sub(f"deploy.{dep}")
        stack.bridge.wait_subscribed()
        r = publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--logs",
                        "--deploy-status", "running", "--progress", "10", "--quiet",
                        "--exec", "--", "sh", "-c", script)
        assert r.returncode == 3, r          # the command's exit status
        assert r.stdout == ""                # --quiet
        # the bridge may conflate the two statuses of one topic for a client
        # (docs/protocol.md §6): the latest is what it must deliver
        await until(ws, lambda: any(e.get("topic") == status_topic and
                                    e["data"]["status"] == "failed" for e in ws.events()),
                    15, "final deploy status")
        await until(ws, lambda: len(log_events(ws, dep)) >= 4, 15, "4 log lines")
        got = log_events(ws, dep)
        await ws.close()
        return got

    got = asyncio.run(main())
    # at the broker: the status given with --logs first, the outcome last
    wait_for(lambda: len(raw.received) >= 2, 10, what="both deploy statuses")
    statuses = [json.loads(p) for _, p, _ in raw.received]
    assert [(s["status"], s["progress"]) for s in statuses] == [("running", 10), ("failed", 100)]
    assert sorted(e["seq"] for e in got) == [1, 2, 3, 4]
    by_stream = {s: [e["msg"] for e in sorted(got, key=lambda e: e["seq"]) if e["stream"] == s]
                 for s in ("stdout", "stderr")}
    assert by_stream == {"stdout": ["out-1", "out-2"],
                         "stderr": ["err-1", "warning: colours stripped"]}
    assert [e["level"] for e in got if e["msg"].startswith("warning")] == ["warn"]

    # a command that cannot start: 127, its reason in the log, deploy failed
    r = publish_cli(stack.mosq.port, "--team", "42", "--deploy", dep, "--logs", "-q", "--",
                    "/nonexistent/cmd")
    assert r.returncode == 127 and "cannot run /nonexistent/cmd" in r.stderr


# ---- the device subscriber -------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d):
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a
    device client certificate (CN=device-42), all EC P-256."""
    os.makedirs(d, exist_ok=True)
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    for name in ("ca", "server", "device", "rogue-ca", "rogue"):
        openssl("genpkey", *ec, "-out", f"{name}.key", cwd=d)
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-new", "-key", f"{ca}.key", "-subj", f"/CN=statusbus test {ca}",
                "-days", "2", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{ca}.crt", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for name, ca, subj, ext in (("server", "ca", "/CN=localhost", "server.ext"),
                                ("device", "ca", "/CN=device-42", "client.ext"),
                                ("rogue", "rogue-ca", "/CN=device-42", "client.ext")):
        openssl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out",
                f"{name}.crt", cwd=d)
    return {k: os.path.join(d, k) for k in
            ("ca.crt", "server.crt", "server.key", "device.crt", "device.key",
             "rogue.crt", "rogue.key")}


def tls_conf(pki, tls_port):
    """One anonymous loopback listener for the backend (the CLI) and one TLS
    listener that requires a client certificate signed by the test CA."""
    # started as root, mosquitto would switch to "mosquitto", who cannot read
    # the test's private directory: stay the user who owns it
    return (f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            "per_listener_settings false\nallow_anonymous true\npersistence false\n"
            "listener {port} 127.0.0.1\n"
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {pki['ca.crt']}\ncertfile {pki['server.crt']}\nkeyfile {pki['server.key']}\n"
            "tls_version tlsv1.2\nrequire_certificate true\nuse_identity_as_username true\n")


class Device(sbharness.Process):
    """statusbus-device-subscriber; stdout and stderr share one log file,
    notices are the lines prefixed with the program name."""

    PREFIX = "statusbus-device-subscriber: "

    def __init__(self, workdir, tls_port, pki, *extra, cert="device"):
        argv = [binary("statusbus-device-subscriber"), "--team", "42",
                "--uri", f"ssl://127.0.0.1:{tls_port}", "--cafile", pki["ca.crt"],
                "--cert", pki[f"{cert}.crt"], "--key", pki[f"{cert}.key"], *extra]
        super().__init__(f"device-{free_port()}", argv, workdir)

    def lines(self):
        return [l for l in self.output().splitlines() if not l.startswith(self.PREFIX)]

    def notices(self):
        return [l[len(self.PREFIX):] for l in self.output().splitlines()
                if l.startswith(self.PREFIX)]

    def wait_notice(self, text, count=1, timeout=20):
        wait_for(lambda: sum(text in n for n in self.notices()) >= count, timeout,
                 what=f"device notice {text!r} x{count}: {self.output()}")

    def wait_line(self, text, timeout=20):
        wait_for(lambda: any(text in l for l in self.lines()), timeout,
                 what=f"device line {text!r}: {self.output()}")


@pytest.fixture
def pki(workdir):
    return make_pki(os.path.join(workdir, "pki"))


def test_device_subscriber_over_tls_prints_status_published_by_the_cli(stack_factory, workdir,
                                                                        pki):
    tls_port = free_port()
    stack = stack_factory(mosquitto_conf=tls_conf(pki, tls_port), bridge=False)
    wait_for(lambda: port_open(tls_port), 10, what="TLS listener")
    app, srv = new_uuid(), new_uuid()
    # before the device starts: it gets this as a retained message
    ok(publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "running",
                   "--old", "starting"))
    dev = Device(workdir, tls_port, pki, "--once", "3")
    stack.procs.append(dev)
    dev.wait_notice("subscribed to team/42/+/+/status, team/42/server/+/reachability")
    dev.wait_line(f"app {app[:8]}\u2026 running (was starting)")
    ok(publish_cli(stack.mosq.port, "--team", "43", "--app", new_uuid(), "--status", "running"))
    ok(publish_cli(stack.mosq.port, "--team", "42", "--server", srv, "--reachable", "false",
                   "--old-reachable", "true", "--latency", "12"))
    ok(publish_cli(stack.mosq.port, "--team", "42", "--app", app, "--status", "degraded",
                   "--old", "running", "--reason", "p99 over budget", "--name", "web"))
    assert dev.proc.wait(20) == 0, dev.output()       # --once 3
    assert dev.lines() == [
        f"app {app[:8]}\u2026 running (was starting)",
        f"server {srv[:8]}\u2026 unreachable (was reachable), 12 ms",
        f"app {app[:8]}\u2026 [web] degraded (was running): p99 over budget",
    ]
    assert any(n.startswith(f"connected to ssl://127.0.0.1:{tls_port}") for n in dev.notices())


def test_device_with_a_certificate_from_another_ca_is_refused(stack_factory, workdir, pki):
    tls_port = free_port()
    stack_factory(mosquitto_conf=tls_conf(pki, tls_port), bridge=False)
    wait_for(lambda: port_open(tls_port), 10, what="TLS listener")
    dev = Device(workdir, tls_port, pki, cert="rogue")
    try:
        dev.wait_notice("cannot connect to ssl://")
        assert not any("subscribed" in n for n in dev.notices())
        assert dev.alive()          # and it keeps trying
    finally:
        dev.stop()


def test_device_retries_a_failed_first_connect_and_resubscribes_after_a_restart(workdir, pki):
    tls_port, port = free_port(), free_port()
    app = new_uuid()
    # the device starts before its broker exists
    dev = Device(workdir, tls_port, pki, "--once", "2", "--max-backoff", "2")
    mosq = None
    try:
        dev.wait_notice("cannot connect to ssl://")
        mosq = sbharness.Mosquitto(workdir, port=port, conf=tls_conf(pki, tls_port))
        dev.wait_notice("subscribed to", timeout=30)
        ok(publish_cli(port, "--team", "42", "--app", app, "--status", "starting"))
        dev.wait_line(f"app {app[:8]}\u2026 starting")

        mosq.restart()                 # no persistence: nothing retained survives
        wait_for(lambda: port_open(tls_port), 10, what="TLS listener after restart")
        dev.wait_notice("connection lost")
        dev.wait_notice("subscribed to", count=2, timeout=30)
        assert [n.split(" to ")[0] for n in dev.notices() if "connected to" in n] == \
            ["connected", "reconnected"], dev.notices()
        ok(publish_cli(port, "--team", "42", "--app", app, "--status", "running", "--old",
                       "starting"))
        assert dev.proc.wait(20) == 0, dev.output()
        assert dev.lines() == [f"app {app[:8]}\u2026 starting",
                               f"app {app[:8]}\u2026 running (was starting)"]
    except BaseException:
        print(f"===== device log =====\n{dev.output()}")
        if mosq:
            print(f"===== mosquitto log =====\n{mosq.output()}")
        raise
    finally:
        dev.stop()
        if mosq:
            mosq.stop()
