# SPDX-License-Identifier: MIT
"""The production broker config (broker-conf/, scripts/broker-*.sh) enforces
docs/protocol.md §4.4 for backend jobs, devices and the bridge.

Every test makes a fresh broker directory with scripts/broker-init.sh, runs a
real `mosquitto -c` with the generated config on free loopback ports and
proves each rule by what real paho clients are delivered.  Mosquitto 2.0
grants SUBACKs for denied topics and PUBACKs denied publishes, so absence is
proved with a sentinel: the forbidden message is published first, an allowed
one after it on the same connection; once the allowed one has arrived, the
forbidden one would have arrived before it."""

import contextlib
import json
import os
import ssl
import subprocess
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

import sbharness
from sbharness import wait_for

SCRIPTS = os.path.join(sbharness.SOURCE_DIR, "scripts")


def tls(**files):
    """paho tls_set() arguments: verify the broker against the dev CA."""
    return dict(files, tls_version=ssl.PROTOCOL_TLS_CLIENT)


def run_script(name, *args):
    """Runs scripts/<name> and returns its stdout; fails with its output."""
    r = subprocess.run([os.path.join(SCRIPTS, name), *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"{name} {args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


class Broker:
    """A broker directory made by broker-init.sh and the mosquitto running it."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "broker")
        self.port = sbharness.free_port()
        self.tls_port = sbharness.free_port()
        self.tls_pw_port = sbharness.free_port()
        run_script("broker-init.sh", self.dir, "--port", str(self.port),
                   "--tls-port", str(self.tls_port), "--tls-password-port", str(self.tls_pw_port))
        with open(os.path.join(self.dir, "mosquitto.conf")) as f:
            conf = f.read()
        self.mosq = sbharness.Mosquitto(self.dir, port=self.port, conf=conf)
        for p in (self.tls_port, self.tls_pw_port):
            wait_for(lambda: sbharness.port_open(p), 10, what=f"TLS listener {p}")
        self.ca = os.path.join(self.dir, "ca", "ca.crt")
        self.clients = []

    def secret(self, user):
        with open(os.path.join(self.dir, "secrets", f"{user}.password")) as f:
            return f.read()

    def login(self, user, port=None, tls=None, password=None):
        """A connected sbharness.Mqtt client logged in as user (password)."""
        c = sbharness.Mqtt(port or self.port, username=user,
                           password=self.secret(user) if password is None else password, tls=tls)
        self.clients.append(c)
        assert c.connected, f"{user} was refused: CONNACK {c.rc}"
        return c

    def device_tls(self, user):
        d = os.path.join(self.dir, "devices", user)
        return tls(ca_certs=self.ca, certfile=os.path.join(d, f"{user}.crt"),
                   keyfile=os.path.join(d, f"{user}.key"))

    def login_cert(self, user):
        """A device connected to the client-certificate listener with its cert."""
        c = sbharness.Mqtt(self.tls_port, tls=self.device_tls(user))
        self.clients.append(c)
        assert c.connected, f"{user} (certificate) was refused: CONNACK {c.rc}"
        return c

    def add_device(self, team, *flags, server=None):
        server = server or str(uuid.uuid4())
        user = run_script("broker-add-device.sh", self.dir, "--team", team, "--server", server,
                          *flags).strip()
        return user, server

    def stop(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        self.mosq.stop()


@pytest.fixture
def broker(request, workdir):
    b = Broker(workdir)
    yield b
    b.stop()
    failed = any(getattr(request.node, "rep_" + w, None) is not None and
                 getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    if failed:
        print(f"\n===== mosquitto (pid {b.mosq.pid}) log =====\n{b.mosq.output()}")
        with open(os.path.join(b.dir, "acl")) as f:
            print(f"===== acl =====\n{f.read()}")


# ---- helpers -----------------------------------------------------------------

def subscribe(client, *topics):
    """Subscribes and waits for the SUBACK, so that later publishes count."""
    acked = []
    client.c.on_subscribe = lambda c, u, mid, granted: acked.append(mid)
    rc, mid = client.c.subscribe([(t, 1) for t in topics])
    assert rc == mqtt.MQTT_ERR_SUCCESS
    wait_for(lambda: mid in acked, 5, what=f"SUBACK for {topics}")


def topics(client):
    return [t for t, _, _ in client.received]


def wait_topic(client, topic, timeout=10):
    wait_for(lambda: topic in topics(client), timeout, what=f"delivery of {topic}")


def connect_result(port, username=None, password=None, tls=None, timeout=10):
    """Tries to connect; returns the CONNACK code (0 = accepted) or a string
    saying how the connection failed before any CONNACK (TLS refusal)."""
    c = mqtt.Client(client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
    if username is not None:
        c.username_pw_set(username, password)
    if tls:
        c.tls_set(**tls)
    ev = {}
    c.on_connect = lambda cl, u, flags, rc: ev.setdefault("rc", rc)
    c.on_disconnect = lambda cl, u, rc: ev.setdefault("disconnected", rc)

    def step():
        # the network loop runs here, not in a thread: with TLS 1.3 a missing
        # client certificate surfaces as an SSLError on the first read
        rc = c.loop(0.1)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            ev.setdefault("disconnected", rc)
        return ev
    try:
        c.connect("127.0.0.1", port, keepalive=30)
        wait_for(step, timeout, what="CONNACK or disconnect")
    except (ssl.SSLError, OSError) as e:
        return f"connection failed: {e!r}"
    finally:
        with contextlib.suppress(ssl.SSLError, OSError):
            c.disconnect()
    return ev["rc"] if "rc" in ev else f"disconnected before CONNACK ({ev['disconnected']})"


def status(s, **extra):
    return sbharness.status_payload(s, **extra)


def reachability(ok=True):
    return {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reachable": ok,
            "latency_ms": 12}


# ---- authentication ----------------------------------------------------------

def test_anonymous_client_is_refused(broker):
    assert connect_result(broker.port) == 5          # not authorised
    assert connect_result(broker.tls_pw_port, tls=tls(ca_certs=broker.ca)) == 5


def test_wrong_or_unknown_password_is_refused(broker):
    assert connect_result(broker.port, "backend", "not-the-password") in (4, 5)
    assert connect_result(broker.port, "nobody", "whatever") in (4, 5)
    assert connect_result(broker.port, "backend", broker.secret("backend")) == 0


def test_secrets_are_private_and_config_is_production_shaped(broker):
    for user in ("bridge", "backend"):
        st = os.stat(os.path.join(broker.dir, "secrets", f"{user}.password"))
        assert st.st_mode & 0o777 == 0o600
        assert len(broker.secret(user)) >= 32 and "\n" not in broker.secret(user)
    assert os.stat(os.path.join(broker.dir, "ca", "ca.key")).st_mode & 0o077 == 0
    with open(os.path.join(broker.dir, "mosquitto.conf")) as f:
        conf = f.read().splitlines()
    for line in ("allow_anonymous false", "persistence true", "require_certificate true",
                 "use_identity_as_username true", "message_size_limit 262144",
                 f"listener {broker.port} 127.0.0.1"):
        assert line in conf, line


# ---- devices -----------------------------------------------------------------

def test_device_reads_its_own_team_status_and_nothing_of_another_team(broker):
    device, _ = broker.add_device("42", "--password")
    backend = broker.login("backend")
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    # retained before the device subscribes: team 43's must not be handed out
    backend.publish(f"team/43/app/{b}/status", status("running"), retain=True)
    backend.publish(f"team/42/app/{a}/status", status("running"), retain=True)

    dev = broker.login(device)
    subscribe(dev, "team/42/#", "team/43/#", "#")
    wait_topic(dev, f"team/42/app/{a}/status")

    # live: team 43 status, team 42 stats, a deploy log and its own team's
    # runtime logs (they may hold secrets, like build logs), then a sentinel
    backend.publish(f"team/43/db/{b}/status", status("degraded"), retain=True)
    backend.publish(f"team/42/app/{a}/stats", {"ts": "2024-01-01T00:00:00Z", "cpu": 3})
    log = {"seq": 1, "ts": "2024-01-01T00:00:00Z", "level": "info", "stream": "stdout", "msg": "x"}
    backend.publish(f"deploy/{a}/logs", log)
    for kind in ("app", "db", "service"):
        backend.publish(f"team/42/{kind}/{a}/logs", log)
    backend.publish("public/status-page/status", {"ts": "2024-01-01T00:00:00Z",
                                                  "status": "operational"}, retain=True)
    backend.publish(f"team/42/service/{a}/status", status("stopped"), retain=True)
    wait_topic(dev, f"team/42/service/{a}/status")
    assert all(t.startswith("team/42/") for t in topics(dev)), topics(dev)
    assert f"team/42/app/{a}/stats" not in topics(dev)
    assert not [t for t in topics(dev) if t.endswith("/logs")], topics(dev)


def test_device_cannot_publish_app_status(broker):
    device, server = broker.add_device("42", "--password")
    watcher = broker.login("bridge")            # the bridge reads everything
    subscribe(watcher, "#")
    dev = broker.login(device)
    app = str(uuid.uuid4())
    dev.publish(f"team/42/app/{app}/status", status("crashed"), retain=True)
    dev.publish(f"team/42/incident/{app}", {"ts": "2024-01-01T00:00:00Z", "title": "x"})
    dev.publish(f"user/u1/notify", {"ts": "2024-01-01T00:00:00Z", "title": "x"})
    dev.publish(f"team/42/app/{app}/logs", {"seq": 1, "msg": "x"})
    dev.publish(f"team/42/server/{server}/reachability", reachability(), retain=True)
    wait_topic(watcher, f"team/42/server/{server}/reachability")
    assert topics(watcher) == [f"team/42/server/{server}/reachability"]


def test_device_publishes_its_own_reachability_and_not_another_servers(broker):
    device, server = broker.add_device("42", "--password")
    other_team_device, _ = broker.add_device("43", "--password")
    other = str(uuid.uuid4())
    watcher = broker.login("bridge")
    subscribe(watcher, "#")
    dev = broker.login(device)
    dev.publish(f"team/42/server/{other}/reachability", reachability(False), retain=True)
    dev.publish(f"team/43/server/{server}/reachability", reachability(False), retain=True)
    dev.publish(f"team/42/server/{server}/reachability", reachability(True), retain=True)
    wait_topic(watcher, f"team/42/server/{server}/reachability")
    assert topics(watcher) == [f"team/42/server/{server}/reachability"]
    # the retained reachability is what a device of the same team then sees,
    # and a device of another team does not
    peer, _ = broker.add_device("42", "--password")
    p = broker.login(peer)
    q = broker.login(other_team_device)
    subscribe(q, "team/#")
    subscribe(p, "team/42/server/+/reachability")
    wait_topic(p, f"team/42/server/{server}/reachability")
    assert json.loads(p.received[0][1])["reachable"] is True and p.received[0][2]
    broker.login("backend").publish(f"team/43/app/{other}/status", status("running"))
    wait_topic(q, f"team/43/app/{other}/status")
    assert topics(q) == [f"team/43/app/{other}/status"]


def test_device_with_client_certificate_over_tls(broker):
    device, server = broker.add_device("acme", "--cert")
    backend = broker.login("backend")
    app = str(uuid.uuid4())
    backend.publish(f"team/acme/app/{app}/status", status("running"), retain=True)
    backend.publish(f"team/42/app/{app}/status", status("running"), retain=True)

    dev = broker.login_cert(device)
    subscribe(dev, "team/#")
    wait_topic(dev, f"team/acme/app/{app}/status")
    # the certificate's CN is the user name: the device ACL applies
    watcher = broker.login("bridge")
    subscribe(watcher, f"team/acme/server/+/reachability")
    dev.publish(f"team/acme/server/{server}/reachability", reachability(), retain=True)
    wait_topic(watcher, f"team/acme/server/{server}/reachability")
    wait_topic(dev, f"team/acme/server/{server}/reachability")    # it reads its team
    assert sorted(topics(dev)) == sorted([f"team/acme/app/{app}/status",
                                          f"team/acme/server/{server}/reachability"])


def test_tls_listener_refuses_a_device_without_a_valid_certificate(broker, workdir):
    device, _ = broker.add_device("42", "--cert", "--password")
    # no certificate, even with the right user name and password
    r = connect_result(broker.tls_port, device, broker.secret(device), tls=tls(ca_certs=broker.ca))
    assert r != 0, "a client without a certificate was accepted"
    # a self-signed certificate with the device's CN
    key, crt = os.path.join(workdir, "rogue.key"), os.path.join(workdir, "rogue.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", f"/CN={device}"], check=True, capture_output=True)
    r = connect_result(broker.tls_port, tls=tls(ca_certs=broker.ca, certfile=crt, keyfile=key))
    assert r != 0, "a certificate from another CA was accepted"
    # the real certificate works
    assert connect_result(broker.tls_port, tls=broker.device_tls(device)) == 0


def test_password_device_over_tls(broker):
    device, server = broker.add_device("43", "--password")
    ca = tls(ca_certs=broker.ca)
    assert connect_result(broker.tls_pw_port, device, "wrong", tls=ca) in (4, 5)
    dev = broker.login(device, port=broker.tls_pw_port, tls=ca)
    watcher = broker.login("bridge")
    subscribe(watcher, "team/43/#")
    dev.publish(f"team/43/server/{server}/reachability", reachability(), retain=True)
    wait_topic(watcher, f"team/43/server/{server}/reachability")


def test_device_added_while_the_broker_runs_works_after_reload(broker):
    server = str(uuid.uuid4())
    name = f"late-{uuid.uuid4().hex[:6]}"
    assert connect_result(broker.port, name, "anything") in (4, 5)
    backend = broker.login("backend")
    backend.publish(f"team/42/app/{server}/status", status("running"), retain=True)

    user, _ = broker.add_device("42", "--password", "--cert", "--name", name, server=server)
    assert user == name
    # the script sent SIGHUP to the PID in DIR/mosquitto.pid; the reload is
    # asynchronous, so retry until the new password is accepted
    wait_for(lambda: connect_result(broker.port, name, broker.secret(name)) == 0, 10,
             what="the new device's password to be accepted")
    assert broker.mosq.alive()
    dev = broker.login(name)
    subscribe(dev, "team/42/#")
    wait_topic(dev, f"team/42/app/{server}/status")
    cert_dev = broker.login_cert(name)
    subscribe(cert_dev, "team/42/#")
    wait_topic(cert_dev, f"team/42/app/{server}/status")


def test_removed_device_is_locked_out(broker):
    device, server = broker.add_device("42", "--password")
    password = broker.secret(device)
    connected = broker.login(device)
    dropped = []
    connected.c.on_disconnect = lambda c, u, rc: dropped.append(rc)
    run_script("broker-remove-user.sh", broker.dir, device)
    # the reload disconnects a session whose password is no longer valid...
    wait_for(lambda: dropped, 10, what="the removed device's session to be closed")
    # ...and a new login is refused
    assert connect_result(broker.port, device, password) in (4, 5)
    assert not os.path.exists(os.path.join(broker.dir, "secrets", f"{device}.password"))


# ---- the bridge and backend jobs ---------------------------------------------

def test_bridge_reads_everything_but_writes_only_rejected_and_pusher(broker):
    bridge = broker.login("bridge")
    everything = broker.login("bridge")           # a second bridge session
    subscribe(everything, "#")
    rejected = broker.login("backend")            # backend reads $statusbus/rejected/#
    subscribe(rejected, "$statusbus/rejected/#")
    app = str(uuid.uuid4())
    bridge.publish(f"team/42/app/{app}/status", status("crashed"), retain=True)
    bridge.publish(f"deploy/{app}/logs", {"seq": 1})
    bridge.publish("public/status-page/status", {"status": "major_outage"})
    bridge.publish(f"$statusbus/other/{app}", "x")
    bridge.publish("pusher/team.42/order.shipped", {"data": "{}"})   # the Pusher API's relay
    bridge.publish(f"$statusbus/rejected/team/42/app/{app}/status",
                   {"reason": "missing ts", "payload": "{}"})
    wait_topic(rejected, f"$statusbus/rejected/team/42/app/{app}/status")
    # everything the bridge published before that was processed before it;
    # a backend sentinel published now reaches `everything` after them
    rejected.publish(f"team/42/app/{app}/status", status("running"), retain=True)
    wait_topic(everything, f"team/42/app/{app}/status")
    assert [(t, json.loads(p).get("status")) for t, p, _ in everything.received] == \
        [("pusher/team.42/order.shipped", None), (f"team/42/app/{app}/status", "running")]
    assert topics(rejected) == [f"$statusbus/rejected/team/42/app/{app}/status"]


def test_presence_topics_are_the_bridges_only(broker):
    """Presence (docs/protocol.md §5.12): bridges write and read each other's
    member lists and online state; a backend can neither forge a member or a
    bridge's death nor read who is online."""
    a, b = broker.login("bridge"), broker.login("bridge")
    subscribe(b, "$statusbus/presence/#", "$statusbus/bridges/#")
    backend = broker.login("backend")
    subscribe(backend, "$statusbus/presence/#", "$statusbus/bridges/#")
    # QoS 1 publishes wait for their PUBACK: processed before the next ones
    backend.publish("$statusbus/presence/room.42/forged", {"members": [{"id": "mallory"}]})
    backend.publish("$statusbus/bridges/a", "offline")
    a.publish("$statusbus/presence/room.42/a", {"members": [{"id": "alice"}]})
    a.publish("$statusbus/bridges/a", "online")
    wait_topic(b, "$statusbus/bridges/a")
    assert [(t, p) for t, p, _ in b.received] == [
        ("$statusbus/presence/room.42/a", json.dumps({"members": [{"id": "alice"}]}).encode()),
        ("$statusbus/bridges/a", b"online")]
    assert topics(backend) == []


def test_backend_publishes_every_topic_family_and_nothing_else(broker):
    watcher = broker.login("bridge")
    subscribe(watcher, "#")
    backend = broker.login("backend")
    d, a = str(uuid.uuid4()), str(uuid.uuid4())
    allowed = [f"team/42/app/{a}/status", f"team/42/deploy/{d}/status", f"deploy/{d}/logs",
               f"team/42/app/{a}/logs", f"team/42/db/{a}/logs", f"team/42/service/{a}/logs",
               "user/u1/notify", "public/status-page/status", f"team/acme/app/{a}/stats"]
    backend.publish("elsewhere/x", "x")
    backend.publish("pusher/team.42/forged", {"data": "{}"})   # only bridges relay Pusher events
    backend.publish("$SYS/broker/fake", "x")
    for t in allowed:
        backend.publish(t, status("running"))
    wait_topic(watcher, allowed[-1])
    assert topics(watcher) == allowed


def test_extra_backend_user(broker):
    run_script("broker-add-backend.sh", broker.dir, "deployer")
    wait_for(lambda: connect_result(broker.port, "deployer", broker.secret("deployer")) == 0, 10,
             what="the new backend user to be accepted")
    watcher = broker.login("bridge")
    subscribe(watcher, "deploy/#")
    broker.login("deployer").publish("deploy/x/logs", {"seq": 1})
    wait_topic(watcher, "deploy/x/logs")
    # a name that exists is refused, not overwritten
    r = subprocess.run([os.path.join(SCRIPTS, "broker-add-backend.sh"), broker.dir, "backend"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "already exists" in r.stderr


def test_oversized_payload_is_dropped(broker):
    watcher = broker.login("bridge")
    subscribe(watcher, "team/#")
    backend = broker.login("backend")
    backend.publish("team/42/app/big/status", "x" * (256 * 1024 + 1))
    backend.publish("team/42/app/small/status", status("running"))
    wait_topic(watcher, "team/42/app/small/status")
    assert topics(watcher) == ["team/42/app/small/status"]
    assert backend.connected


def test_retained_status_survives_a_broker_restart(broker):
    backend = broker.login("backend")
    app = str(uuid.uuid4())
    backend.publish(f"team/42/app/{app}/status", status("running"), retain=True)
    backend.close()
    broker.clients.remove(backend)
    broker.mosq.restart()
    watcher = broker.login("bridge")
    subscribe(watcher, "team/42/#")
    wait_topic(watcher, f"team/42/app/{app}/status")


def test_init_is_idempotent_and_keeps_users(broker):
    before = broker.secret("backend")
    with open(os.path.join(broker.dir, "ca", "ca.crt")) as f:
        ca = f.read()
    run_script("broker-init.sh", broker.dir, "--port", str(broker.port),
               "--tls-port", str(broker.tls_port), "--tls-password-port", "0")
    assert broker.secret("backend") == before
    with open(os.path.join(broker.dir, "ca", "ca.crt")) as f:
        assert f.read() == ca
    with open(os.path.join(broker.dir, "mosquitto.conf")) as f:
        assert f"listener {broker.tls_pw_port}" not in f.read()
    assert broker.mosq.alive()
