# SPDX-License-Identifier: MIT
"""wss end to end (issue 12): the bridge serving WebSocket and HTTP over TLS
from `listen.cert_file` / `listen.key_file`, with real clients.

The test makes its own PKI with the `openssl` CLI: a root CA, an
intermediate CA, and a server certificate for localhost and 127.0.0.1
issued by the intermediate; the bridge's cert_file holds the leaf and the
intermediate (a chain file), and clients trust the root only, so a
handshake succeeds only if the bridge sends the intermediate.  Checked:
a statusbus.v1 subscription receives a published status through
python `websockets` (verifying chain and host name), node's WebSocket and
the HTTP API; a client trusting another CA, or expecting another host
name, fails the handshake; and TLS 1.0 / 1.1 are refused even when the
OpenSSL configuration the bridge runs under would allow them (the client
offers them with `@SECLEVEL=0`, and a control server shows that it does)."""

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request

import pytest

from sbharness import Bridge, Mosquitto, Mqtt, Ws, new_uuid, status_payload, wait_for

LEAF_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
"""
CA_EXT = """basicConstraints = critical, CA:TRUE{pathlen}
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
# What a permissive system would configure (old distributions, "LEGACY"
# crypto policies): with it, OpenSSL itself would still speak TLS 1.0 / 1.1.
PERMISSIVE_OPENSSL_CONF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = DEFAULT:@SECLEVEL=0
"""


def openssl(d, *args):
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)


def ec_key(d, name):
    openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", f"{name}.key")


def self_signed_ca(d, name):
    ec_key(d, name)
    openssl(d, "req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN=statusbus test {name}",
            "-days", "2", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{name}.crt")


def issue(d, name, issuer, subject, ext):
    ec_key(d, name)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    openssl(d, "req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr")
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt", "-CAkey",
            f"{issuer}.key", "-set_serial", "0x" + os.urandom(8).hex(), "-days", "2",
            "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """root -> intermediate -> leaf (localhost, 127.0.0.1); another root."""
    d = str(tmp_path_factory.mktemp("pki"))
    self_signed_ca(d, "root")
    issue(d, "intermediate", "root", "/CN=statusbus test intermediate",
          CA_EXT.format(pathlen=", pathlen:0"))
    issue(d, "leaf", "intermediate", "/CN=localhost", LEAF_EXT)
    self_signed_ca(d, "other")
    p = {n: os.path.join(d, n) for n in ("root.crt", "other.crt", "leaf.crt", "leaf.key",
                                          "intermediate.crt")}
    p["chain.crt"] = os.path.join(d, "chain.crt")
    with open(p["chain.crt"], "w") as out:
        for n in ("leaf.crt", "intermediate.crt"):
            with open(p[n]) as f:
                out.write(f.read())
    p["permissive.cnf"] = os.path.join(d, "permissive.cnf")
    with open(p["permissive.cnf"], "w") as f:
        f.write(PERMISSIVE_OPENSSL_CONF)
    return p


def trusting(ca):
    """A client context that trusts `ca` only and checks the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # CERT_REQUIRED, check_hostname
    ctx.load_verify_locations(ca)
    return ctx


def legacy_client(version):
    """A client that offers only `version` (TLS 1.0 or 1.1): SECLEVEL 0 so
    that OpenSSL 3 does not refuse to offer it itself."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def handshake(port, ctx, host="localhost"):
    """The TLS version negotiated with 127.0.0.1:port, or raises ssl.SSLError."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            return tls.version()


class Wss:
    """A broker and a bridge listening with TLS (listen.cert_file)."""

    def __init__(self, workdir, pki, cert_file="chain.crt", openssl_conf=None):
        self.pki = pki
        self.mosq = Mosquitto(workdir)
        saved = os.environ.get("OPENSSL_CONF")
        if openssl_conf:
            os.environ["OPENSSL_CONF"] = openssl_conf   # the bridge's environment only
        try:
            self.bridge = Bridge(workdir, self.mosq.port, {"listen": {
                "cert_file": pki[cert_file], "key_file": pki["leaf.key"]}}, wait_healthy=False)
        finally:
            if saved is None:
                os.environ.pop("OPENSSL_CONF", None)
            else:
                os.environ["OPENSSL_CONF"] = saved
        self.port = self.bridge.port
        self.url = f"wss://localhost:{self.port}/v1/ws"

    def https(self, path, ctx=None):
        with urllib.request.urlopen(f"https://localhost:{self.port}{path}", timeout=5,
                                    context=ctx or trusting(self.pki["root.crt"])) as r:
            return r.status, r.read().decode()

    def wait_healthy(self):
        def ok():
            try:
                return self.https("/healthz")[0] == 200
            except OSError:
                return False
        wait_for(ok, 15, what="bridge healthy over https")

    def stop(self):
        """Stops both; returns the bridge's exit code."""
        rc = self.bridge.stop()
        self.mosq.stop()
        return rc


@pytest.fixture
def wss_factory(request, workdir, pki):
    made = []

    def make(**kw):
        w = Wss(workdir, pki, **kw)
        made.append(w)
        return w
    yield make
    codes = [w.stop() for w in made]
    if any(getattr(request.node, "rep_" + x, None) is not None and
           getattr(request.node, "rep_" + x).failed for x in ("setup", "call")):
        for w in made:
            print(f"\n===== {w.bridge.name} log =====\n{w.bridge.output()}")
    else:   # a clean stop, also for the sanitizers
        assert codes == [0] * len(made), [w.bridge.output() for w in made]


def test_subscription_over_wss(wss_factory, pki):
    w = wss_factory()
    w.wait_healthy()
    pub = Mqtt(w.mosq.port)
    app = new_uuid()
    topic = f"team/42/app/{app}/status"

    async def body():
        # by name and by address: both are in the certificate
        for url in (w.url, f"wss://127.0.0.1:{w.port}/v1/ws"):
            ws = await Ws.connect(url, ssl=trusting(pki["root.crt"]))
            tls = ws.conn.transport.get_extra_info("ssl_object")
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert dict(x[0] for x in tls.getpeercert()["subject"])["commonName"] == "localhost"
            assert (await ws.sub("team.42"))["op"] == "ack"
            mark = new_uuid()
            pub.publish(topic, status_payload("running", reason=mark), retain=True)
            ev = await ws.expect(lambda f: f.get("op") == "event" and mark in json.dumps(f),
                                 10, what="a status over wss")
            assert ev["topic"] == topic and ev["data"]["status"] == "running"
            await ws.close()
    try:
        asyncio.run(asyncio.wait_for(body(), 60))
    finally:
        pub.close()
    # the HTTP API on the same port, over the same TLS
    st, body = w.https("/v1/snapshot?channel=team.42")
    assert st == 200 and topic in body


def test_chain_file_sends_the_intermediate(wss_factory, pki):
    """Clients trust the root only: they need the intermediate, which only
    the chain file holds.  openssl s_client, an independent client, sees
    both certificates and verifies the host name."""
    w = wss_factory()
    w.wait_healthy()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{w.port}",
                        "-servername", "localhost", "-verify_hostname", "localhost",
                        "-CAfile", pki["root.crt"], "-showcerts", "-verify_return_error"],
                       input="", capture_output=True, text=True, timeout=30)
    assert r.stdout.count("BEGIN CERTIFICATE") == 2, r.stdout
    assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr

    # a cert_file with the leaf alone: the same client cannot build the chain
    leaf_only = wss_factory(cert_file="leaf.crt")
    with pytest.raises(ssl.SSLCertVerificationError, match="local issuer"):
        handshake(leaf_only.port, trusting(pki["root.crt"]))


def test_untrusted_ca_or_other_host_name_fails(wss_factory, pki):
    w = wss_factory()
    w.wait_healthy()
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(w.port, trusting(pki["other.crt"]))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(w.port, trusting(pki["root.crt"]), host="bridge.example.com")

    async def refused():
        with pytest.raises(ssl.SSLCertVerificationError):
            await Ws.connect(w.url, ssl=trusting(pki["other.crt"]))
    asyncio.run(asyncio.wait_for(refused(), 30))
    # plain HTTP on the TLS port gets no answer
    assert w.bridge.get("/healthz")[0] == 0
    # and the bridge goes on serving clients that do verify it
    assert handshake(w.port, trusting(pki["root.crt"])) in ("TLSv1.2", "TLSv1.3")


def control_server(pki):
    """A TLS server in a thread that accepts TLS 1.0 and 1.1: proof that
    legacy_client() really offers them.  Returns (port, stop)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.load_cert_chain(pki["chain.crt"], pki["leaf.key"])
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def stop():
        done.set()
        t.join(5)
        srv.close()
    return srv.getsockname()[1], stop


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # ssl.TLSVersion.TLSv1 / TLSv1_1
@pytest.mark.parametrize("openssl_conf", ["system", "permissive"])
def test_tls_below_1_2_is_refused(wss_factory, pki, openssl_conf):
    legacy = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
    port, stop = control_server(pki)
    try:
        for v in legacy:
            assert handshake(port, legacy_client(v)) in ("TLSv1", "TLSv1.1")
    finally:
        stop()
    w = wss_factory(openssl_conf=pki["permissive.cnf"] if openssl_conf == "permissive" else None)
    w.wait_healthy()
    for v in legacy:
        # refused for its version (an alert), not for anything else
        with pytest.raises(ssl.SSLError, match="(?i)protocol.version"):
            handshake(w.port, legacy_client(v))
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = trusting(pki["root.crt"])
        ctx.minimum_version = ctx.maximum_version = v
        assert handshake(w.port, ctx) == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                          ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v]
    assert w.bridge.alive()


NODE_CLIENT = r'''
// hello, sub team.42, print the ack and then the first event, as JSON lines
const ws = new WebSocket(process.argv[1], "statusbus.v1");
ws.onopen = () => ws.send(JSON.stringify({op: "hello"}));
ws.onmessage = (e) => {
  const f = JSON.parse(e.data);
  if (f.op === "welcome") ws.send(JSON.stringify({op: "sub", id: 1, channel: "team.42"}));
  if (f.op === "ack" || f.op === "event") console.log(JSON.stringify(f));
  if (f.op === "event") ws.close();
};
ws.onclose = () => process.exit(0);
ws.onerror = () => { console.log(JSON.stringify({op: "tls-or-network-error"})); process.exit(3); };
'''


def node_has_websocket():
    node = shutil.which("node")
    if not node:
        return False
    r = subprocess.run([node, "--experimental-websocket", "-e",
                        "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


def test_node_websocket_client_over_wss(wss_factory, pki):
    """node's WebSocket (undici) trusting the test root through
    NODE_EXTRA_CA_CERTS; with another CA it cannot connect."""
    if not node_has_websocket():
        pytest.skip("node with a WebSocket client (node >= 20 --experimental-websocket) "
                    "not available")
    w = wss_factory()
    w.wait_healthy()
    argv = ["node", "--experimental-websocket", "--no-warnings", "-e", NODE_CLIENT, w.url]

    def run_node(ca):
        return subprocess.Popen(argv, env=dict(os.environ, NODE_EXTRA_CA_CERTS=ca),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bad = run_node(pki["other.crt"])
    out, err = bad.communicate(timeout=30)
    assert bad.returncode == 3 and "tls-or-network-error" in out, (out, err)

    p = run_node(pki["root.crt"])
    pub = Mqtt(w.mosq.port)
    try:
        ack = json.loads(p.stdout.readline() or "{}")
        assert ack.get("op") == "ack", (ack, p.stderr.read() if p.poll() is not None else "")
        topic = f"team/42/app/{new_uuid()}/status"
        pub.publish(topic, status_payload("running"), retain=True)
        out, err = p.communicate(timeout=30)
        ev = json.loads(out.splitlines()[0])
        assert ev["op"] == "event" and ev["topic"] == topic, (out, err)
        assert p.returncode == 0
    finally:
        pub.close()
        if p.poll() is None:
            p.kill()
            p.wait(5)
