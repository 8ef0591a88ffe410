# SPDX-License-Identifier: MIT
"""statusbus-bridge.service (packaging/), as this build configured it:
`systemd-analyze verify` accepts it, `systemd-analyze security` rates its
exposure low, and its promises hold against the real bridge: Type=notify
gets READY=1 once the port listens, and ExecReload's SIGHUP reloads
instead of killing.  (test_package.py verifies the unit the .deb installs.)"""

import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from sbharness import BINARY_DIR, binary, port_open, wait_for

UNIT = os.path.join(BINARY_DIR, "packaging", "statusbus-bridge.service")


def unit_text():
    with open(UNIT) as f:
        return f.read()


def directives(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_unit_promises():
    d = directives(unit_text())
    assert d["Type"] == ["notify"]
    assert d["User"] == ["statusbus"] and d["Group"] == ["statusbus"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["NoNewPrivileges"] == ["yes"] and d["ProtectSystem"] == ["strict"]
    assert d["CapabilityBoundingSet"] == [""] and d["AmbientCapabilities"] == [""]
    # one descriptor per connection, above the default limits.max_connections
    assert int(d["LimitNOFILE"][0]) > 50000
    assert d["ExecStart"][0].endswith("/statusbus-bridge -c " +
                                      d["ExecStart"][0].split(" -c ")[1])


def local_unit(workdir):
    """The unit with this build's binary in place of the installed one."""
    text = re.sub(r"/[^\s=]*/bin/statusbus-bridge", binary("statusbus-bridge"), unit_text())
    path = os.path.join(workdir, "statusbus-bridge.service")
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="systemd-analyze not installed (Debian package systemd)")
def test_systemd_analyze_verify_and_security(workdir):
    path = local_unit(workdir)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True,
                       text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    # exposure 0 (locked down) to 10 (unsafe): fails above 3.0
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", path],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr


def test_ready_notification_and_reload(stack_factory, workdir):
    """NOTIFY_SOCKET as systemd sets it: READY=1 arrives once the bridge
    listens; SIGHUP (ExecReload) reloads and the bridge keeps serving."""
    stack = stack_factory(bridge=False)
    sock_path = os.path.join(workdir, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(20)
    saved = os.environ.get("NOTIFY_SOCKET")
    os.environ["NOTIFY_SOCKET"] = sock_path
    try:
        b = stack.start_bridge({"mqtt": {"password_file": None}}, wait_healthy=False)
    finally:
        if saved is None:
            os.environ.pop("NOTIFY_SOCKET", None)
        else:
            os.environ["NOTIFY_SOCKET"] = saved
    msg = s.recv(4096).decode()
    s.close()
    assert "READY=1" in msg.split("\n"), msg
    assert port_open(b.port)
    wait_for(lambda: b.health()[0] == 200, 15, what="healthy")
    b.send_signal(signal.SIGHUP)
    wait_for(lambda: b.metrics().get('statusbus_config_reloads_total{result="ok"}') == 1, 10,
             what="reload")
    assert b.stop() == 0
