"""The tool adds no load to a switch that has lost its database.

With ovsdb-server killed, the lab's ovs-vswitchd (userspace datapath) spins
on its own (AF_PACKET wakeups, ~1 core): the TUI connected to it then must
not make it spin more. Its CPU (utime+stime from /proc) over the same span
with and without the real TUI running in a terminal; a ratio with a
generous margin, not a timing.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from lab import node as labmod
from tests.integration.test_faults import Tmux, wait_for
from tui.cli import endpoint_flags

pytestmark = pytest.mark.lab

SPAN = 4.0  # seconds measured each way
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def cpu_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_tui_adds_no_load_to_a_vswitchd_without_its_database(fresh_lab, tmp_path):
    labmod.stop_daemon(fresh_lab, "ovsdb-server")
    pid = int((fresh_lab.rundir / "ovs-vswitchd.pid").read_text())
    alone = cpu_over(pid, SPAN)
    tmux = Tmux(tmp_path)
    try:
        tmux.start([sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints())],
                   Path(__file__).parents[2])
        wait_for(lambda: "ovsdb" in tmux.screen() and "openflow" in tmux.screen(),
                 "the TUI up, its source bar drawn")
        connected = cpu_over(pid, SPAN)
    finally:
        tmux.kill()
    # generous: two shared cores make either span vary; a TUI that polled the
    # switch (ovs-ofctl against every bridge each second) would add far more
    assert connected <= alone * 1.5 + 0.5, (alone, connected)
