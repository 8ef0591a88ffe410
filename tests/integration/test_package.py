# SPDX-License-Identifier: MIT
"""The Debian package as an operator gets it: scripts/package.sh builds the
.deb (cpack, dependencies from dpkg-shlibdeps), the test unpacks it into a
scratch root (dpkg -x) and checks what it installed where.

Then, as root, it lays the unpacked /usr and /etc over the real ones in a
private mount namespace (read-only overlays; writes go to a scratch
directory, nothing reaches the host), runs the package's own postinst
(the statusbus user, the JWT secret), and from / runs --check-config on
the installed config as the service's user, --genconfig of the installed
binary, `systemd-analyze verify` on the installed unit and `man` on the
installed pages.  Without root or mount namespaces that part is skipped
with the reason, and the installed config is checked with its paths moved
into the scratch root instead."""

import json
import os
import shutil
import subprocess

import pytest

from sbharness import SOURCE_DIR

BINARIES = ("statusbus-bridge", "statusbus-token", "statusbus-publish",
            "statusbus-device-subscriber")
SHARE = ("schemas/topics.json", "dashboard/index.html", "dashboard/vendor/statusbus.js",
         "js/statusbus.js", "broker-conf/mosquitto.conf", "scripts/broker-init.sh",
         "scripts/broker-lib.sh")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    d = tmp_path_factory.mktemp("deb")
    r = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "package.sh"), str(d / "build")],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    path = r.stdout.strip().splitlines()[-1]
    root = d / "root"
    subprocess.run(["dpkg", "-x", path, str(root)], check=True)
    control = d / "control"
    subprocess.run(["dpkg-deb", "-e", path, str(control)], check=True)
    return {"path": path, "root": str(root), "control": str(control), "dir": str(d)}


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb["path"], name], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_control_and_dependencies(deb):
    assert field(deb, "Package") == "statusbus"
    depends = field(deb, "Depends")
    # found by dpkg-shlibdeps in the binaries, and the maintainer scripts' own
    for lib in ("libc6", "libwebsockets17", "libpaho-mqtt1.3", "libcjson1", "libssl3",
                "libpcre2-8-0", "adduser", "procps", "libev4", "libwebsockets-evlib-ev"):
        assert lib in depends, depends
    with open(os.path.join(deb["control"], "conffiles")) as f:
        assert f.read().split() == ["/etc/statusbus/bridge.json"]
    assert os.access(os.path.join(deb["control"], "postinst"), os.X_OK)


def test_fhs_layout(deb):
    root = deb["root"]
    bins = sorted(os.listdir(os.path.join(root, "usr/bin")))
    assert bins == sorted(BINARIES), bins          # the benchmark stays in the build
    for f in SHARE:
        assert os.path.isfile(os.path.join(root, "usr/share/statusbus", f)), f
    assert os.path.islink(os.path.join(root, "usr/share/statusbus/dashboard/vendor/statusbus.js"))
    for f in ("usr/lib/systemd/system/statusbus-bridge.service",
              "usr/share/man/man8/statusbus-bridge.8.gz", "usr/share/man/man1/statusbus-token.1.gz",
              "usr/share/man/man1/statusbus-publish.1.gz", "usr/share/doc/statusbus/README.md",
              "usr/share/doc/statusbus/docs/protocol.md"):
        assert os.path.isfile(os.path.join(root, f)), f
    with open(os.path.join(root, "etc/statusbus/bridge.json")) as f:
        cfg = json.load(f)
    # every path the installed config names is absolute, into the package
    assert cfg["schemas_dir"] == "/usr/share/statusbus/schemas"
    assert cfg["listen"]["static_dir"] == "/usr/share/statusbus/dashboard"
    assert cfg["auth"]["jwt_secret_file"] == "/etc/statusbus/jwt.secret"
    assert not os.path.exists(os.path.join(root, "etc/statusbus/jwt.secret")), \
        "a secret shipped in the package"


NAMESPACE_SCRIPT = r'''
set -eu
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$ROOT/usr:/usr" /usr
mount -t overlay overlay -o "lowerdir=$ROOT/etc:/etc,upperdir=$UP,workdir=$WK" /etc
mount -t tmpfs tmpfs /run          # the postinst must find no systemd to talk to
cd /
if /usr/bin/statusbus-bridge --check-config -c /etc/statusbus/bridge.json 2>"$OUT/before.err"; then
  echo "check-config passed before postinst made the secret"; exit 10
fi
sh "$CONTROL/postinst" configure
stat -c '%U:%G %a' /etc/statusbus/jwt.secret > "$OUT/secret.stat"
runuser -u statusbus -- /usr/bin/statusbus-bridge --check-config -c /etc/statusbus/bridge.json \
  > "$OUT/check.out"
/usr/bin/statusbus-bridge --genconfig > "$OUT/gen.json"
/usr/bin/statusbus-bridge --check-config -c "$OUT/gen.json" > "$OUT/gen.check"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /usr/lib/systemd/system/statusbus-bridge.service > "$OUT/verify" 2>&1
  echo ok >> "$OUT/verify"
fi
MANPAGER=cat man statusbus-bridge > "$OUT/man.txt" 2>&1
MANPAGER=cat man 1 statusbus-token > "$OUT/man1.txt" 2>&1
'''


def namespaces_usable():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare(1) for a private mount namespace"
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount --make-rprivate / && "
                        "mount -t tmpfs tmpfs /mnt"], capture_output=True, text=True)
    if r.returncode != 0:
        return "mount namespaces refused here: " + r.stderr.strip()
    return None


def test_installed_config_passes_from_anywhere(deb):
    why = namespaces_usable()
    if why:
        check_with_moved_paths(deb)
        pytest.skip(f"{why}; checked the config with its paths moved into the scratch root")
    out = os.path.join(deb["dir"], "out")
    for d in ("out", "up", "wk"):
        os.makedirs(os.path.join(deb["dir"], d), exist_ok=True)
    env = dict(os.environ, ROOT=deb["root"], UP=os.path.join(deb["dir"], "up"),
               WK=os.path.join(deb["dir"], "wk"), OUT=out, CONTROL=deb["control"])
    r = subprocess.run(["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT], env=env,
                       capture_output=True, text=True, timeout=120)
    files = {f: open(os.path.join(out, f)).read() for f in os.listdir(out)}
    assert r.returncode == 0, (r.stdout, r.stderr, files)
    # before the postinst: the missing secret, and how to make one
    assert "auth.jwt_secret_file: /etc/statusbus/jwt.secret: not found" in files["before.err"]
    assert "head -c 32 /dev/urandom" in files["before.err"]
    assert files["secret.stat"].split() == ["root:statusbus", "640"]
    assert files["check.out"].startswith("/etc/statusbus/bridge.json: ok "), files["check.out"]
    gen = json.loads(files["gen.json"])
    assert gen["schemas_dir"] == "/usr/share/statusbus/schemas", gen
    assert gen["listen"]["static_dir"] == "/usr/share/statusbus/dashboard", gen
    assert ": ok " in files["gen.check"]
    if "verify" in files:
        assert files["verify"].strip() == "ok", files["verify"]
    man = {k: " ".join(files[k].split()) for k in ("man.txt", "man1.txt")}
    assert "statusbus-bridge - carry statusbus MQTT topics" in man["man.txt"], files["man.txt"]
    assert "statusbus-token - mint or verify" in man["man1.txt"], files["man1.txt"]
    # nothing reached the host (unless the package is really installed here)
    if not os.path.exists("/usr/bin/statusbus-bridge"):
        assert not os.path.exists("/etc/statusbus"), "the test wrote to the host's /etc"


def check_with_moved_paths(deb):
    """Without a namespace: the config with /usr and /etc moved under the
    scratch root passes --check-config from /."""
    root = deb["root"]
    with open(os.path.join(root, "etc/statusbus/bridge.json")) as f:
        text = f.read()
    text = text.replace('"/usr/', f'"{root}/usr/').replace('"/etc/', f'"{root}/etc/')
    with open(os.path.join(root, "etc/statusbus/jwt.secret"), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    moved = os.path.join(deb["dir"], "moved.json")
    with open(moved, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(root, "usr/bin/statusbus-bridge"), "--check-config", "-c",
                        moved], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
