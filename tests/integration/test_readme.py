# SPDX-License-Identifier: MIT
"""The README's shell commands, run as written in a fresh copy of the
repository (the files a clone has: tracked ones and new ones not
ignored; no run/, no build/ but a link to this build), so that they
cannot rot.  A block marked `<!-- README test: why -->` is left out (it
needs the running demo, or npm); of the rest, the commands listed in
SKIP are left out with the reason, and every other line runs, in order,
each block as one `bash -euo pipefail` script."""

import os
import re
import shutil
import subprocess

from sbharness import BINARY_DIR, SOURCE_DIR

# commands that would install, build or run until stopped; the reason
SKIP = {
    "scripts/demo.sh": "runs until Ctrl-C (tests/integration/test_demo.py runs it)",
    "scripts/test.sh": "the whole suite, of which this test is part",
    "scripts/setup.sh": "installs packages and builds: build/ links this build instead",
    "build/statusbus-bridge -c ": "runs until stopped",
}


def blocks(text):
    """(marker or None, [commands]) for every ```sh block."""
    out = []
    for m in re.finditer(r"(?:<!-- README test: ([^>]*?) -->\n)?```sh\n(.*?)```", text, re.S):
        body = m.group(2).replace("\\\n", " ")
        out.append((m.group(1), [line for line in body.splitlines() if line.strip()]))
    return out


def fresh_copy(dest):
    files = subprocess.run(["git", "-C", SOURCE_DIR, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = os.path.join(SOURCE_DIR, rel)
        if not os.path.lexists(src):
            continue   # deleted in the working tree
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    os.symlink(BINARY_DIR, os.path.join(dest, "build"))


def test_readme_commands_run_as_written(workdir):
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    # the first lines stay the two commands
    assert readme.splitlines()[2:6] == [
        "```sh",
        "scripts/demo.sh     # fresh Debian 12: install, build, run broker + bridge + simulated "
        "platform; prints the dashboard URL with a dev token",
        "scripts/test.sh     # fresh Debian 12: install, build (-Werror, ASan+UBSan), run the whole "
        "suite (unit, integration, JS, browser, fuzz)",
        "```"], readme.splitlines()[:6]
    clone = os.path.join(workdir, "clone")
    os.makedirs(clone)
    fresh_copy(clone)
    # a reader's shell, not scripts/test.sh's: no SB_BUILD_DIR=build-test
    # and the like, so the commands find build/ as the README says
    reader_env = {k: v for k, v in os.environ.items() if not k.startswith("SB_")}
    ran, skipped = [], []
    for marker, lines in blocks(readme):
        if marker:
            skipped.append((lines[0], marker))
            continue
        script = []
        for line in lines:
            why = next((w for k, w in SKIP.items() if line.startswith(k)), None)
            if why:
                skipped.append((line, why))
            else:
                script.append(line)
        if not script:
            continue
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], cwd=clone,
                           env=reader_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"README block failed:\n{chr(10).join(script)}\n{r.stdout}\n{r.stderr}"
        ran += script
    print("ran:", *ran, "skipped:", *(f"{c}  ({w})" for c, w in skipped), sep="\n  ")
    # what the first run needs came out of it
    assert any(c.startswith("build/statusbus-bridge --check-config") for c in ran), ran
    assert os.path.getsize(os.path.join(clone, "run", "dev.token")) > 100
    r = subprocess.run([os.path.join(clone, "build", "statusbus-bridge"), "--check-config", "-c",
                        "my-bridge.json"], cwd=clone, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
