# SPDX-License-Identifier: MIT
"""The test harness's broker (sbharness.Mosquitto) keeps what it must across
a restart, so that the tests that restart it (test_core, test_consistency,
test_broker_acl) exercise a real restart of a persistent broker: retained
messages and persistent sessions survive, the database file is written, and
a broker that cannot write it fails the restart instead of coming back
empty.  The last guards the harness itself: started as root, mosquitto
switches to the user `mosquitto`, who cannot write the test's private
directory."""

import os
import pwd

import pytest

from sbharness import Mqtt, new_uuid, status_payload, wait_for

PERSISTENT_CONF = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                   "persistence_location {dir}/\n")


def subscribed(client, topic_filter, probe):
    """Subscribes at QoS 1 and waits until the broker routes `probe` (a
    topic the filter matches) back to the client, so nothing published
    afterwards is missed."""
    client.subscribe(topic_filter, 1)
    wait_for(lambda: (client.publish(probe, b"probe", qos=1) and False) or
             any(t == probe for t, _, _ in client.received), 10, interval=0.2,
             what=f"subscription to {topic_filter}")
    client.received.clear()


def test_retained_message_and_persistent_session_survive_a_broker_restart(stack_factory):
    stack = stack_factory(bridge=False)
    mosq = stack.mosq
    base = f"sbh/{new_uuid()}"
    retained, queued = f"{base}/status", f"{base}/queued/x"

    # a persistent session with a subscription, offline when the message comes
    sid = f"sbh-session-{new_uuid()[:8]}"
    away = Mqtt(mosq.port, client_id=sid, clean_session=False)
    subscribed(away, f"{base}/queued/#", f"{base}/queued/probe")
    away.close()
    wait_for(lambda: f"Client {sid} disconnected" in mosq.output(), 10,
             what="the broker to see the session go offline")

    pub = Mqtt(mosq.port)
    pub.publish(retained, status_payload("running"), retain=True)
    pub.publish(queued, b"while away", qos=1)
    pub.close()

    mosq.stop()
    assert mosq.db_path and os.path.exists(mosq.db_path), \
        f"no database at {mosq.db_path} after SIGTERM:\n{mosq.output()}"
    mosq.restart()                  # checks its log for save/load errors too

    watcher = stack.mqtt()
    watcher.subscribe(f"{base}/#", 1)
    got = wait_for(lambda: [m for m in watcher.received if m[0] == retained], 10,
                   what="the retained message after the restart")
    assert got[0][2], "delivered, but not as retained"
    assert b'"running"' in got[0][1]

    back = stack.mqtt(client_id=sid, clean_session=False)
    assert back.session_present, "the persistent session did not survive the restart"
    got = wait_for(lambda: [m for m in back.received if m[0] == queued], 10,
                   what="the message queued for the offline session")
    assert got[0][1] == b"while away"


def test_restart_fails_when_the_broker_cannot_save_its_database(stack_factory, workdir):
    if os.geteuid() == 0:
        # exactly what happened before the harness stayed root: the broker
        # switches to `mosquitto`, who cannot write the 0700 directory
        try:
            pwd.getpwnam("mosquitto")
        except KeyError:
            pytest.skip("no user mosquitto to switch to")
        conf = "user mosquitto\n" + PERSISTENT_CONF
    else:
        ro = os.path.join(workdir, "ro")
        os.mkdir(ro, 0o500)
        conf = PERSISTENT_CONF.replace("{dir}/", "{dir}/ro/")
    stack = stack_factory(bridge=False, mosquitto_conf=conf)
    m = stack.mqtt()
    m.publish(f"sbh/{new_uuid()}/status", status_payload("running"), retain=True)
    with pytest.raises(AssertionError, match="Error saving in-memory database"):
        stack.mosq.restart()
