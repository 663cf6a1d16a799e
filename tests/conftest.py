"""Shared fixtures: real labs (root only), each with its own names, always torn down."""

from __future__ import annotations

import itertools
import os
import shutil
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


def _a_lab():
    """A lab with a name of its own, up, and down again whatever the test did."""
    reason = lab_possible()
    if reason:
        pytest.skip(reason)
    lab = labmod.Lab(new_lab_name())
    labmod.up(lab)
    try:
        yield lab
    finally:
        labmod.down(lab)


@pytest.fixture
def fresh_lab():
    """A lab of its own for a test that breaks things on purpose."""
    yield from _a_lab()


@pytest.fixture(scope="module")
def shared_lab():
    """One lab for a module whose tests only read it (or undo what they do)."""
    yield from _a_lab()
