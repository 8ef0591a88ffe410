# SPDX-License-Identifier: MIT
"""JWT interoperability: tokens minted by an independent implementation
(Debian's python3-jwt, i.e. PyJWT, with keys from python3-cryptography) are
accepted or refused by `statusbus-token --verify` exactly as the bridge
would, and tokens minted by `statusbus-token` verify with PyJWT.

Each test runs the real binary and asserts what an operator sees: the exit
status, the claims JSON on stdout, the reason on stderr (which must never
echo the token)."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import datetime

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

BINARY_DIR = os.environ.get(
    "SB_BINARY_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "build")))
TOOL = os.path.join(BINARY_DIR, "statusbus-token")
SECRET = "interop-secret-that-is-at-least-32-bytes"


def run(*args, stdin=None):
    if not os.path.exists(TOOL):
        pytest.fail(f"statusbus-token not built in {BINARY_DIR}")
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True,
                          text=True, timeout=30, check=False)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_public(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("jwtkeys")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "rsa": rsa_key, "ec": ec_key,
        "rsa_pub": d / "rsa.pub.pem", "ec_pub": d / "ec.pub.pem",
        "rsa_cert": d / "rsa.crt", "rsa_priv": d / "rsa.key",
        "rsa1024_pub": d / "rsa1024.pub.pem", "p384_pub": d / "p384.pub.pem",
    }
    files["rsa_pub"].write_bytes(pem_public(rsa_key))
    files["ec_pub"].write_bytes(pem_public(ec_key))
    files["rsa_priv"].write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    files["rsa1024_pub"].write_bytes(pem_public(
        rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    files["p384_pub"].write_bytes(pem_public(ec.generate_private_key(ec.SECP384R1())))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(rsa_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(rsa_key, hashes.SHA256()))
    files["rsa_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def claims(**extra):
    now = int(time.time())
    c = {"sub": "alice", "iat": now, "nbf": now, "exp": now + 600,
         "teams": [42, "ops-1"], "channels": ["deploy.*.logs", "user.alice"]}
    c.update(extra)
    return c


def verify_args(alg, keys):
    if alg == "HS256":
        return ["--verify", "--alg", "HS256", "--secret", SECRET]
    return ["--verify", "--alg", alg, "--public-key",
            str(keys["rsa_pub" if alg == "RS256" else "ec_pub"])]


def assert_refused(r, token, why):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert why in r.stderr, r.stderr
    # the reason never echoes the token or any of its segments
    for seg in token.split("."):
        if len(seg) >= 8:
            assert seg not in r.stderr


# ---- accepted ------------------------------------------------------------

@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_pyjwt_tokens_are_accepted(keys, alg):
    c = claims()
    key = SECRET if alg == "HS256" else keys["rsa" if alg == "RS256" else "ec"]
    token = jwt.encode(c, key, algorithm=alg)
    r = run(*verify_args(alg, keys), token)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"sub": "alice", "exp": c["exp"], "nbf": c["nbf"], "iat": c["iat"],
                   "teams": ["42", "ops-1"],
                   "channels": ["deploy.*.logs", "user.alice"]}


def test_es256_signature_is_jose_raw_form(keys):
    token = jwt.encode(claims(), keys["ec"], algorithm="ES256")
    assert len(base64.urlsafe_b64decode(token.split(".")[2] + "==")) == 64


def test_rs256_key_from_certificate(keys):
    token = jwt.encode(claims(), keys["rsa"], algorithm="RS256")
    r = run("--verify", "--alg", "RS256", "--public-key", str(keys["rsa_cert"]), token)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sub"] == "alice"


def test_token_from_stdin(keys):
    token = jwt.encode(claims(), keys["ec"], algorithm="ES256")
    r = run("--verify", "--alg", "ES256", "--public-key", str(keys["ec_pub"]),
            stdin=token + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sub"] == "alice"


def test_iss_and_aud(keys):
    token = jwt.encode(claims(iss="https://app.example", aud=["api", "statusbus"]),
                       keys["rsa"], algorithm="RS256")
    base = verify_args("RS256", keys)
    ok = run(*base, "--iss", "https://app.example", "--aud", "statusbus", token)
    assert ok.returncode == 0, ok.stderr
    assert_refused(run(*base, "--aud", "other", token), token, "aud")
    assert_refused(run(*base, "--iss", "https://evil.example", token), token, "iss")


# ---- refused ---------------------------------------------------------------

@pytest.mark.parametrize("mint_alg,verify_alg", [
    ("HS256", "RS256"), ("HS256", "ES256"), ("RS256", "HS256"),
    ("RS256", "ES256"), ("ES256", "RS256"), ("ES256", "HS256"),
    ("HS384", "HS256"), ("HS512", "HS256"), ("RS512", "RS256"),
    ("PS256", "RS256"), ("ES384", "ES256"),
])
def test_pyjwt_wrong_alg_is_refused(keys, mint_alg, verify_alg):
    if mint_alg.startswith("HS"):
        key = SECRET
    elif mint_alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif mint_alg.startswith("ES"):
        key = keys["ec"]
    else:
        key = keys["rsa"]
    token = jwt.encode(claims(), key, algorithm=mint_alg)
    r = run(*verify_args(verify_alg, keys), token)
    assert_refused(r, token, "is not the configured " + verify_alg)
    assert f'"{mint_alg}"' in r.stderr


@pytest.mark.parametrize("verify_alg", ["HS256", "RS256", "ES256"])
def test_alg_none_is_refused(keys, verify_alg):
    token = jwt.encode(claims(), None, algorithm="none")
    assert token.endswith(".")
    assert_refused(run(*verify_args(verify_alg, keys), token), token, "alg")
    # "None" with an HMAC that would be valid for HS256
    header = b64url(b'{"alg":"None","typ":"JWT"}')
    body = token.split(".")[1]
    sig = b64url(hmac.new(SECRET.encode(), f"{header}.{body}".encode(),
                          hashlib.sha256).digest())
    forged = f"{header}.{body}.{sig}"
    assert_refused(run(*verify_args(verify_alg, keys), forged), forged, "alg")


@pytest.mark.parametrize("header_alg", ["HS256", "RS256"])
def test_rsa_public_key_as_hmac_secret_is_refused(keys, header_alg):
    # PyJWT itself refuses to use a PEM as an HMAC secret, so sign by hand.
    pem = keys["rsa_pub"].read_bytes()
    header = b64url(json.dumps({"alg": header_alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(teams=["victim-team"])).encode())
    sig = b64url(hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    token = f"{header}.{body}.{sig}"
    r = run(*verify_args("RS256", keys), token)
    assert_refused(r, token, "alg" if header_alg == "HS256" else "signature")


def test_expired_is_refused(keys):
    now = int(time.time())
    token = jwt.encode(claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
                       SECRET, algorithm="HS256")
    r = run(*verify_args("HS256", keys), token)
    assert_refused(r, token, "expired")


def test_not_yet_valid_is_refused(keys):
    token = jwt.encode(claims(nbf=int(time.time()) + 600), keys["ec"], algorithm="ES256")
    assert_refused(run(*verify_args("ES256", keys), token), token, "nbf")


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_tampered_is_refused(keys, alg):
    key = SECRET if alg == "HS256" else keys["rsa" if alg == "RS256" else "ec"]
    token = jwt.encode(claims(), key, algorithm=alg)
    header, _, sig = token.split(".")
    body = b64url(json.dumps(claims(sub="admin", teams=[1, 2, 3])).encode())
    forged = f"{header}.{body}.{sig}"
    assert_refused(run(*verify_args(alg, keys), forged), forged, "signature")


def test_wrong_secret_is_refused(keys):
    token = jwt.encode(claims(), SECRET + "x", algorithm="HS256")
    assert_refused(run(*verify_args("HS256", keys), token), token, "signature")


def test_der_ecdsa_signature_is_refused(keys):
    # Same key and input, signature in DER (not JOSE r||s) form
    header = b64url(b'{"alg":"ES256","typ":"JWT"}')
    body = b64url(json.dumps(claims()).encode())
    der = keys["ec"].sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    token = f"{header}.{body}.{b64url(der)}"
    assert_refused(run(*verify_args("ES256", keys), token), token, "signature")


def test_padded_base64_is_refused(keys):
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    padded = token + "="
    assert_refused(run(*verify_args("HS256", keys), padded), padded, "base64url")


def test_lifetime_over_max_ttl_is_refused(keys):
    """auth.max_ttl_s (--max-ttl): exp at most a day after iat by default,
    so exp = 2^53 no longer means "never expires"."""
    now = int(time.time())
    base = verify_args("HS256", keys)
    day = jwt.encode(claims(iat=now, exp=now + 86400), SECRET, algorithm="HS256")
    assert run(*base, day).returncode == 0
    for c in (claims(iat=now, exp=now + 86401), claims(iat=now, exp=2 ** 53),
              {k: v for k, v in claims(exp=now + 90000).items() if k != "iat"}):
        token = jwt.encode(c, SECRET, algorithm="HS256")
        assert_refused(run(*base, token), token, "auth.max_ttl_s")
    token = jwt.encode(claims(iat=now, exp=now + 90000), SECRET, algorithm="HS256")
    assert run(*base, "--max-ttl", "90000", token).returncode == 0


def test_wildcard_first_segment_is_refused(keys):
    base = verify_args("ES256", keys)
    for pattern in ("*.42", "*.*", "*"):
        token = jwt.encode(claims(channels=["user.alice", pattern]), keys["ec"], algorithm="ES256")
        assert_refused(run(*base, token), token, "channels[1] starts with the segment")
        r = run(*base, "--allow-wildcard-first-segment", token)
        assert r.returncode == 0 and pattern in json.loads(r.stdout)["channels"]


@pytest.mark.parametrize("keyfile,alg,why", [
    ("rsa1024_pub", "RS256", "at least 2048"),
    ("p384_pub", "ES256", "P-256"),
    ("ec_pub", "RS256", "RSA"),
    ("rsa_pub", "ES256", "EC"),
    ("rsa_priv", "RS256", "private key"),
])
def test_unsuitable_keys_are_refused(keys, keyfile, alg, why):
    token = jwt.encode(claims(), keys["rsa"], algorithm="RS256")
    r = run("--verify", "--alg", alg, "--public-key", str(keys[keyfile]), token)
    assert r.returncode == 1
    assert r.stdout == ""
    assert why in r.stderr, r.stderr


# ---- statusbus-token mints, PyJWT verifies ---------------------------------

def test_minted_token_verifies_with_pyjwt():
    before = int(time.time())
    r = run("--secret", SECRET, "--sub", "u1", "--teams", "42,43",
            "--channels", "deploy.*.logs,user.x", "--ttl", "900",
            "--iss", "https://app.example", "--aud", "statusbus")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    token = r.stdout.strip()
    assert r.stdout == token + "\n"
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    c = jwt.decode(token, SECRET, algorithms=["HS256"], audience="statusbus",
                   issuer="https://app.example")
    assert c["sub"] == "u1"
    assert c["teams"] == ["42", "43"]
    assert c["channels"] == ["deploy.*.logs", "user.x"]
    assert c["exp"] - c["iat"] == 900
    assert before <= c["iat"] <= int(time.time())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET + "x", algorithms=["HS256"], audience="statusbus")


def test_mint_with_the_bridges_limits():
    r = run("--secret", SECRET, "--sub", "u1", "--ttl", "172800", "--max-ttl", "172800",
            "--channels", "*.42", "--allow-wildcard-first-segment")
    assert r.returncode == 0, r.stderr
    c = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"])
    assert c["exp"] - c["iat"] == 172800 and c["channels"] == ["*.42"]


def test_minted_with_secret_file(tmp_path):
    f = tmp_path / "secret"
    f.write_text(SECRET + "\n")
    r = run("--secret-file", str(f), "--sub", "u2")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    # one trailing newline is not part of the secret
    c = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert c["sub"] == "u2"
    assert "teams" not in c
    assert c["exp"] - c["iat"] == 3600
    back = run("--verify", "--alg", "HS256", "--secret-file", str(f), token)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["teams"] == []


def test_short_secret_warns():
    r = run("--secret", "dev", "--sub", "u1")
    assert r.returncode == 0
    assert "warning" in r.stderr and "32" in r.stderr
    assert jwt.decode(r.stdout.strip(), "dev", algorithms=["HS256"])["sub"] == "u1"


@pytest.mark.parametrize("args,why", [
    (["--secret", SECRET, "--sub", "u1", "--teams", "42,,43"], "empty entry"),
    (["--secret", SECRET, "--sub", "u1", "--teams", "team/42"], "teams[0]"),
    (["--secret", SECRET, "--sub", ""], "sub"),
    (["--secret", SECRET, "--sub", "u1", "--ttl", "86401"], "auth.max_ttl_s"),
    (["--secret", SECRET, "--sub", "u1", "--channels", "*.42"], "wildcard"),
])
def test_mint_refuses_claims_the_bridge_would_refuse(args, why):
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert why in r.stderr, r.stderr


# ---- command line ------------------------------------------------------------

def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    assert "--verify" in r.stdout and "--secret-file" in r.stdout
    v = run("--version")
    assert v.returncode == 0
    assert re.fullmatch(r"statusbus-token \d+\.\d+\.\d+\n", v.stdout)


@pytest.mark.parametrize("args", [
    [],
    ["--sub", "u1"],
    ["--secret", "s", "--secret-file", "f", "--sub", "u1"],
    ["--secret", SECRET, "--sub", "u1", "--ttl", "0"],
    ["--secret", SECRET, "--sub", "u1", "--ttl", "1h"],
    ["--secret", SECRET, "--sub", "u1", "extra"],
    ["--secret", SECRET, "--sub", "u1", "--alg", "RS256"],
    ["--verify", "--secret", SECRET, "tok"],
    ["--verify", "--alg", "HS384", "--secret", SECRET, "tok"],
    ["--verify", "--alg", "RS256", "--secret", SECRET, "tok"],
    ["--verify", "--alg", "HS256", "--public-key", "k.pem", "tok"],
    ["--verify", "--alg", "HS256", "--secret", SECRET, "--sub", "u1", "tok"],
    ["--verify", "--alg", "HS256", "--secret", SECRET, "tok", "tok2"],
    ["--verify", "--alg", "HS256", "--secret", SECRET, "--leeway", "-1", "tok"],
    ["--secret", SECRET, "--sub", "u1", "--max-ttl", "59"],
    ["--secret", SECRET, "--sub", "u1", "--max-ttl", "315360001"],
    ["--secret", SECRET, "--sub", "u1", "--max-ttl", "1d"],
    ["--no-such-option"],
    ["--ttl"],
])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stdout == ""
    assert r.stderr.strip()


def test_missing_key_file_exits_1(tmp_path):
    r = run("--verify", "--alg", "ES256", "--public-key", str(tmp_path / "nope.pem"), "a.b.c")
    assert r.returncode == 1
    assert "not found" in r.stderr
