# SPDX-License-Identifier: MIT
"""The config as a person meets it on the command line: --genconfig prints
a config that --check-config accepts from any directory and the bridge
serves with its fresh secret; a mistyped key is refused with the key that
was meant; a key that does nothing where it is passes with a warning; a
missing secret file says how to make one."""

import asyncio
import json
import os
import subprocess
import time

import jwt

from sbharness import Process, Ws, binary, free_port, port_open, shipped_config, wait_for

SOURCE_DIR = os.environ.get(
    "SB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def bridge(*args, cwd=None):
    return subprocess.run([binary("statusbus-bridge"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=30)


def genconfig(cwd):
    r = bridge("--genconfig", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
    return path


def test_genconfig_is_valid_anywhere_and_serves(workdir):
    a, b = genconfig(SOURCE_DIR), genconfig(SOURCE_DIR)
    assert a["auth"]["jwt_secret"] != b["auth"]["jwt_secret"]
    assert len(a["auth"]["jwt_secret"]) >= 32
    assert "_comment" in a and all("_comment" in a[s] for s in ("mqtt", "listen", "auth"))
    assert os.path.isabs(a["schemas_dir"]) and os.path.isabs(a["listen"]["static_dir"])

    path = write_json(os.path.join(workdir, "gen.json"), a)
    r = bridge("--check-config", "-c", path, cwd="/")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr

    # it serves: a token signed with the generated secret is welcome
    port = free_port()
    a["listen"]["port"] = port
    a["mqtt"]["uri"] = f"tcp://127.0.0.1:{free_port()}"   # no broker needed for hello
    write_json(path, a)
    p = Process("bridge-gen", [binary("statusbus-bridge"), "-c", path], workdir)
    try:
        wait_for(lambda: port_open(port) or not p.alive(), 15, what="bridge port")
        now = int(time.time())
        token = jwt.encode({"sub": "u1", "teams": ["42"], "iat": now, "exp": now + 60},
                           a["auth"]["jwt_secret"], algorithm="HS256")

        async def hello():
            w = await Ws.connect(f"ws://127.0.0.1:{port}/v1/ws", token=token)
            assert w.welcome["auth"] is True
            await w.close()
        asyncio.run(asyncio.wait_for(hello(), 30))
    finally:
        assert p.stop() == 0, p.output()


def test_mistyped_key_names_the_key_meant(workdir):
    cfg = shipped_config()
    cfg["listen"]["prot"] = cfg["listen"].pop("port")
    path = write_json(os.path.join(workdir, "typo.json"), cfg)
    r = bridge("--check-config", "-c", path, cwd=SOURCE_DIR)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"statusbus-bridge: {path}: listen.prot: unknown key "
                                "(did you mean listen.port?)"), r.stderr


def test_key_that_does_nothing_is_a_warning(workdir):
    cfg = shipped_config()
    cfg.pop("auth")
    cfg["channels"][0]["delivery"]["max_delay_ms"] = 50     # team.{team}: immediate
    path = write_json(os.path.join(workdir, "lint.json"), cfg)
    r = bridge("--check-config", "-c", path, cwd=SOURCE_DIR)
    assert r.returncode == 0, r.stderr
    assert (f"{path}: channels[team.{{team}}].delivery.max_delay_ms: warning: does nothing on a "
            "channel whose mode is immediate (only batch reads it)") in r.stderr, r.stderr


def test_missing_secret_file_says_how_to_make_one(workdir):
    cfg = shipped_config()
    cfg["auth"]["jwt_secret_file"] = os.path.join(workdir, "nope.secret")
    path = write_json(os.path.join(workdir, "nosecret.json"), cfg)
    r = bridge("--check-config", "-c", path, cwd=SOURCE_DIR)
    assert r.returncode == 1
    assert "auth.jwt_secret_file: " + cfg["auth"]["jwt_secret_file"] + ": not found" in r.stderr
    assert "head -c 32 /dev/urandom | base64 >" in r.stderr, r.stderr
