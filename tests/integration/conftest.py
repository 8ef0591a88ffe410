# SPDX-License-Identifier: MIT
"""pytest fixtures: `stack` (broker + bridge, logs printed on failure) and
`workdir`."""

import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import sbharness  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    return any(getattr(request.node, "rep_" + w, None) is not None and
               getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="sbtest-") as d:
        yield d


@pytest.fixture
def stack_factory(request, workdir):
    """stack_factory(bridge_overrides=None, mosquitto_conf=None, bridge=True)
    -> a started Stack, stopped (by PID) at teardown."""
    stacks = []

    def make(**kw):
        s = sbharness.Stack(workdir)
        stacks.append(s)
        return s.start(**kw)
    yield make
    for s in stacks:
        s.stop()
    if _failed(request):
        for s in stacks:
            s.dump()


@pytest.fixture
def stack(stack_factory):
    return stack_factory()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "consistency: the seeded fault-injecting consistency checker (slow; "
        "CTest label `consistency`); deselect with -m 'not consistency'")
