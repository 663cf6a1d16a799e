"""Shared fixtures: real labs (root only), each with its own names, always torn down."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import node as labmod

FIXTURES = Path(__file__).parent / "fixtures"
_counter = itertools.count()


def lab_possible() -> str | None:
    """Why a real lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, ovs-vswitchd)"
    missing = [b for b in labmod.NEEDED_BINARIES if shutil.which(b) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt install openvswitch-switch iproute2 iputils-ping)"
    return None


def new_lab_name() -> str:
    return f"t{os.getpid() % 100000}{next(_counter)}"


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return FIXTURES / "seed"


def running_lab(kind=labmod, why_not=lab_possible):
    """A lab (``kind``: lab.node, or lab.ovn for an OVN chassis) with a name of
    its own, up, and down again whatever the test did; skipped when ``why_not()``."""
    reason = why_not()
    if reason:
        pytest.skip(reason)
    lab = kind.Lab(new_lab_name())
    kind.up(lab)
    try:
        yield lab
    finally:
        kind.down(lab)


def continuous_ping(lab, *flags: str):
    """`ovsvlan-tui lab ping --continuous` on ``lab`` (with ``flags``, e.g. --vxlan),
    stopped by its pid at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "lab", "ping", "--continuous", *flags,
         "--lab-name", lab.name],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read().decode()
        yield proc
    finally:
        # The CLI runs ping as its child; both are in the session it leads,
        # whose id is its pid: signal that group, nothing else.
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass


@pytest.fixture
def fresh_lab():
    """A lab of its own for a test that breaks things on purpose."""
    yield from running_lab()


@pytest.fixture(scope="module")
def shared_lab():
    """One lab for a module whose tests only read it (or undo what they do)."""
    yield from running_lab()
