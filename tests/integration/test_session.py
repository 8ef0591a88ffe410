# SPDX-License-Identifier: MIT
"""The bridge's MQTT session (docs/protocol.md §10), against a real
mosquitto: the client id is a template expanded per host and process; the
session is persistent, so a cut link resumes it and loses nothing, while a
reconnection the broker answers without it is counted as a lost session;
two bridges given one client id notice that they take it from each other
(a takeover), log it and count it.  Waits have deadlines; nothing here
depends on timing."""

import json
import os
import re
import signal
import socket
import subprocess

import sbharness
from sbharness import new_uuid, wait_for


def host_part():
    """socket.gethostname() as a client id carries it: bytes outside
    [A-Za-z0-9_-] become '-'."""
    return re.sub(rb"[^A-Za-z0-9_-]", b"-", socket.gethostname().encode()).decode()


def claim(stack, client_id):
    """The claim retained on $statusbus/sync/<client_id>/owner (a dict), or
    None.  The broker replays a new subscription's retained messages before
    it handles anything the subscriber publishes later, so once a probe the
    watcher published comes back, the replay is complete."""
    w = stack.mqtt()
    probe = f"sbtest/probe/{new_uuid()}"
    try:
        w.subscribe(f"$statusbus/sync/{client_id}/owner", 1)
        w.subscribe(probe, 1)
        wait_for(lambda: (w.publish(probe, b"p") and False) or
                 any(t == probe for t, _, _ in w.received), 10, interval=0.2,
                 what="the watcher's probe")
        got = [p for t, p, r in w.received if t.endswith("/owner") and r and p]
        return json.loads(got[-1]) if got else None
    finally:
        w.close()


def log_line(seq):
    return {"seq": seq, "ts": "2024-06-01T12:00:01Z", "level": "info", "stream": "stdout",
            "msg": f"line {seq}"}


def history(bridge, channel):
    st, body = bridge.get(f"/v1/history?channel={channel}&since=0")
    return json.loads(body) if st == 200 else {}


def test_default_client_id_names_the_host(workdir):
    """With no mqtt.client_id, the id is statusbus-<host name>."""
    cfg = sbharness.shipped_config()
    cfg.pop("auth")
    cfg["mqtt"].pop("client_id")
    cfg["mqtt"].pop("password_file")
    path = os.path.join(workdir, "bridge.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([sbharness.binary("statusbus-bridge"), "--check-config", "-c", path],
                       capture_output=True, text=True, timeout=30, cwd=sbharness.SOURCE_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"MQTT client id statusbus-{host_part()})" in r.stdout, r.stdout


def test_client_id_template_is_expanded_and_used(stack_factory):
    """{hostname} and {pid} are filled in, the id is logged at start, and it
    is the id the bridge holds at the broker (its claim names its pid)."""
    s = stack_factory(bridge_overrides={"mqtt": {"client_id": "sb-{hostname}-{pid}"}})
    b = s.bridge
    want = f"sb-{host_part()}-{b.pid}"
    wait_for(lambda: f"mqtt: client id {want} " in b.output(), 10, what="the client id log line")
    b.wait_subscribed()             # its replay barriers use the expanded id
    c = wait_for(lambda: claim(s, want), 10, what="the bridge's claim on its id")
    assert c["pid"] == b.pid, c


def test_two_bridges_with_one_client_id_see_the_takeover(stack_factory):
    """Two bridges given one client id: each connection of one closes the
    other's.  At least one of them notices that another process holds its
    id, logs a takeover and counts it."""
    cid = f"sb-dup-{new_uuid()[:8]}"
    s = stack_factory(bridge_overrides={"mqtt": {"client_id": cid}})
    a = s.bridge
    a.wait_subscribed()
    b = s.start_bridge({"mqtt": {"client_id": cid}}, wait_healthy=False)

    def takeovers(br):
        return br.metrics().get("statusbus_mqtt_takeovers_total", 0)
    wait_for(lambda: takeovers(a) + takeovers(b) >= 1, 60, interval=0.2,
             what="a takeover counted by either bridge")
    for br in (a, b):
        if takeovers(br) >= 1:
            assert f"mqtt: client id {cid} is in use by another process (takeover)" in \
                br.output(), br.output()


def test_one_bridge_alone_sees_no_takeover(stack):
    """A bridge that reconnects with its own id (a cut link, a restart of
    the same replica after a clean stop) does not count a takeover, and a
    clean stop clears its claim."""
    b = stack.bridge
    cid = b.config["mqtt"]["client_id"]
    b.wait_subscribed()
    wait_for(lambda: claim(stack, cid), 10, what="the bridge's claim")
    reconnects = b.metrics()["statusbus_mqtt_reconnects_total"]
    assert sbharness.cut_bridge_link(b) == 1
    wait_for(lambda: b.metrics().get("statusbus_mqtt_reconnects_total", 0) > reconnects, 20,
             what="the bridge reconnected")
    b.wait_subscribed()
    m = b.metrics()
    assert m["statusbus_mqtt_takeovers_total"] == 0, m
    assert m["statusbus_mqtt_sessions_lost_total"] == 0, m
    assert "takeover" not in b.output()
    b.stop()
    assert claim(stack, cid) is None, "a clean stop leaves the claim"


def test_a_cut_link_resumes_the_session(stack):
    """The link is cut while the bridge is frozen and log lines (not
    retained: no resubscription brings them back) are published meanwhile:
    the broker keeps the session and hands them over on reconnect."""
    b, m = stack.bridge, stack.mqtt()
    deploy = new_uuid()
    channel = f"deploy.{deploy}.logs"
    m.publish(f"team/42/deploy/{deploy}/status",
              {"ts": "2024-06-01T12:00:00Z", "status": "running", "progress": 10,
               "step": "Building image"}, retain=True)
    wait_for(lambda: history(b, channel).get("events") is not None, 15,
             what="the bridge follows the deploy's log")
    b.wait_subscribed()
    for n in range(1, 6):
        m.publish(f"deploy/{deploy}/logs", log_line(n))
    wait_for(lambda: history(b, channel).get("last_seq") == 5, 15, what="lines 1-5")
    reconnects = b.metrics()["statusbus_mqtt_reconnects_total"]
    b.send_signal(signal.SIGSTOP)
    try:
        assert sbharness.cut_bridge_link(b) == 1
        for n in range(6, 11):
            m.publish(f"deploy/{deploy}/logs", log_line(n))
    finally:
        b.send_signal(signal.SIGCONT)
    wait_for(lambda: b.metrics().get("statusbus_mqtt_reconnects_total", 0) > reconnects, 20,
             what="the bridge reconnected")
    h = wait_for(lambda: (lambda h: h if h.get("last_seq") == 10 else None)(history(b, channel)),
                 15, what="lines 6-10, published while the link was cut")
    assert [e["seq"] for e in h["events"]] == list(range(1, 11)) and not h.get("gap"), h
    assert b.metrics()["statusbus_mqtt_sessions_lost_total"] == 0
    assert "(session resumed)" in b.output()


def test_a_reconnection_without_the_session_is_counted(stack):
    """Another client takes the bridge's id with a clean session, which
    makes the broker drop the bridge's session: the bridge's reconnection
    finds none, and counts and logs the loss."""
    b = stack.bridge
    b.wait_subscribed()
    assert b.metrics()["statusbus_mqtt_sessions_lost_total"] == 0   # not the first connect
    assert sbharness.take_over_client_id(stack.mosq.port, b.config["mqtt"]["client_id"]) == 0
    wait_for(lambda: b.metrics().get("statusbus_mqtt_sessions_lost_total", 0) == 1, 20,
             what="the lost session counted")
    b.wait_subscribed()
    assert "the broker had no session for the bridge" in b.output()
