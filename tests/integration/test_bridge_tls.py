# SPDX-License-Identifier: MIT
"""The bridge's own MQTT session over TLS (issue 2: "username/password and
TLS (CA, client cert) from config"), against the production-shaped broker
of broker-conf/ made by scripts/broker-init.sh: once with a client
certificate whose CN is the bridge's user, once with user name + password
over TLS; in both, a backend status published on the plain listener
reaches a WebSocket client, and a wrong CA keeps the link down."""

import asyncio
import os
import subprocess

from sbharness import SOURCE_DIR, Bridge, Mqtt, Mosquitto, Ws, free_port, \
    new_uuid, status_payload, wait_for


def broker(workdir):
    d = os.path.join(workdir, "broker")
    ports = {"port": free_port(), "tls": free_port(), "tlspw": free_port()}
    subprocess.run([os.path.join(SOURCE_DIR, "scripts", "broker-init.sh"), d,
                    "--port", str(ports["port"]), "--tls-port", str(ports["tls"]),
                    "--tls-password-port", str(ports["tlspw"])],
                   check=True, capture_output=True)
    with open(os.path.join(d, "mosquitto.conf")) as f:
        conf = f.read()
    m = Mosquitto(workdir, port=ports["port"], conf=conf)
    return d, m, ports


def client_cert(d, cn, workdir):
    key, csr, crt = (os.path.join(workdir, f"{cn}.{x}") for x in ("key", "csr", "crt"))
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca", "ca.crt"),
                    "-CAkey", os.path.join(d, "ca", "ca.key"), "-CAcreateserial", "-days", "2",
                    "-out", crt], check=True, capture_output=True)
    return crt, key


def backend(d, port):
    with open(os.path.join(d, "secrets", "backend.password")) as f:
        return Mqtt(port, username="backend", password=f.read().strip())


def delivered(bridge_url, publish):
    async def body():
        ws = await Ws.connect(bridge_url)
        assert (await ws.sub("team.42"))["op"] == "ack"
        publish()
        ev = await ws.expect(lambda f: f.get("op") == "event", 10, what="status over TLS")
        await ws.close()
        return ev
    return asyncio.run(body())


def run_case(workdir, mqtt_cfg):
    d, mosq, ports = broker(workdir)
    procs = [mosq]
    try:
        cfg = dict(mqtt_cfg(d, ports))
        b = Bridge.__new__(Bridge)
        try:
            Bridge.__init__(b, workdir, ports["port"], {"mqtt": cfg})
        finally:
            if getattr(b, "proc", None) is not None:
                procs.append(b)
        pub = backend(d, ports["port"])
        app = new_uuid()
        ev = delivered(b.url, lambda: pub.publish(f"team/42/app/{app}/status",
                                                  status_payload("running"), retain=True))
        pub.close()
        assert ev["topic"] == f"team/42/app/{app}/status" and ev["data"]["status"] == "running"
        assert b.health()[0] == 200
    except BaseException:
        for p in procs:
            print(f"===== {p.name} =====\n{p.output()}")
        raise
    finally:
        for p in reversed(procs):
            p.stop()


def test_bridge_over_tls_with_client_certificate(workdir):
    def cfg(d, ports):
        crt, key = client_cert(d, "bridge", workdir)
        return {"uri": f"ssl://127.0.0.1:{ports['tls']}", "ca_file": os.path.join(d, "ca", "ca.crt"),
                "cert_file": crt, "key_file": key}
    run_case(workdir, cfg)


def test_bridge_over_tls_with_password(workdir):
    def cfg(d, ports):
        return {"uri": f"ssl://127.0.0.1:{ports['tlspw']}", "ca_file": os.path.join(d, "ca", "ca.crt"),
                "username": "bridge", "password_file": os.path.join(d, "secrets", "bridge.password")}
    run_case(workdir, cfg)


def test_bridge_refuses_a_broker_it_cannot_verify(workdir):
    d, mosq, ports = broker(workdir)
    other = os.path.join(workdir, "other-ca")
    os.makedirs(other)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-subj", "/CN=other", "-days", "2", "-keyout",
                    os.path.join(other, "ca.key"), "-out", os.path.join(other, "ca.crt")],
                   check=True, capture_output=True)
    procs = [mosq]
    try:
        b = Bridge(workdir, ports["port"], {"mqtt": {
            "uri": f"ssl://127.0.0.1:{ports['tlspw']}", "ca_file": os.path.join(other, "ca.crt"),
            "username": "bridge", "password_file": os.path.join(d, "secrets", "bridge.password")}},
            wait_healthy=False)
        procs.append(b)
        # it keeps trying (and failing) to connect: the link stays down
        wait_for(lambda: "connect failed" in b.output(), 15, what="a refused TLS connect")
        assert b.health()[0] == 503
        assert b.alive()
    finally:
        for p in reversed(procs):
            p.stop()
