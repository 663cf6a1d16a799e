"""Where does my packet die? On a real lab with a ping running, each way an
instance loses its gateway is named by the trace, the path and the drops:
the egress translation deleted, ICMP taken out of the security group, the
gateway moved to another VLAN upstream, and the healthy node for contrast.

One lab for the module: each test breaks one thing and puts it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab import node as labmod
from tests.integration.live_app import ofctl
from tui.cli import endpoint_flags

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
VM = labmod.VMS[0]


def cli(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *endpoint_flags(lab.endpoints()),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def trace(lab: labmod.Lab, *extra: str) -> dict:
    out = cli(lab, "trace", "--port", VM.tap, "--to", labmod.GATEWAY, "--json", *extra)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@contextmanager
def pinging(args: list[str]):
    """A ping running in the background, stopped by its pid."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_healthy_the_trace_leaves_eth0_tagged_100(shared_lab):
    with pinging(labmod.ping_command(shared_lab, continuous=True)):
        t = trace(shared_lab)
    assert t["verdict"] == "output", t["summary"]
    assert t["egress"] == {"bridge": "br-provider", "port": "eth0", "vlan": 100}
    assert t["summary"] == "leaves eth0 tagged 100"
    assert t["drop"] is None
    tables = [(h["bridge"], h["table"]) for h in t["hops"]]
    # through the firewall's conntrack pass and into the physical bridge
    assert ("br-int", 71) in tables and ("br-int", 72) in tables
    assert tables[-1] == ("br-provider", 0)
    assert t["hops"][-1]["match"] == "in_port=phy-br-provider,dl_vlan=2"
    assert {"bridge", "table", "priority", "match", "actions"} <= set(t["hops"][0])
    back = trace(shared_lab, "--from-wire")
    assert back["verdict"] == "output" and back["egress"]["port"] == VM.tap


def test_egress_translation_deleted_the_trace_names_the_priority_2_drop(shared_lab):
    ofctl(shared_lab, "--strict", "del-flows", "br-provider",
          "table=0,priority=4,in_port=phy-br-provider,dl_vlan=2")
    try:
        with pinging(labmod.ping_command(shared_lab, continuous=True)):
            t = trace(shared_lab)
    finally:
        labmod.install_flows(shared_lab)
    assert t["verdict"] == "drop"
    assert t["egress"] is None
    assert {k: t["drop"][k] for k in ("bridge", "table", "priority", "match", "actions")} == {
        "bridge": "br-provider", "table": 0, "priority": 2, "match": "in_port=phy-br-provider",
        "actions": "drop"}
    assert t["summary"] == ("dropped on br-provider, table 0 (local switching), priority 2 "
                            "`in_port=phy-br-provider` (no translation for local VLAN 2)")
