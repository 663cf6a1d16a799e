"""A verdict only on what was read: with a source unreadable, the problem
count says which checks could not run and why, in the model, the JSON, the
tree and the exit status (0 all read, 1 a source unreadable, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from collectors import openflow
from model.join import build_model
from model.problems import CHECKS, verdict
from model.records import FlowDump
from tests.fakes import seed_observation, unread_refresh

REPO = Path(__file__).parents[2]
NOTHING = ["--db", "unix:/nonexistent/db.sock", "--ovs-rundir", "/nonexistent",
           "--libvirt", "test:///nonexistent.xml"]


def test_no_source_read_means_no_check_ran_not_no_problems():
    model = unread_refresh().model
    assert {c.kind for c in model.checks} == set(CHECKS)
    assert all(c.status == "not run" for c in model.checks)
    said, clean = verdict(model)
    assert not clean and "no problems" not in said and "0 problems" not in said
    assert said == "no check could run (libvirt, ovsdb not read)"
    orphan = next(c for c in model.checks if c.kind == "orphan-port")
    assert "qemu:///nonexistent" in orphan.why and "--db" in orphan.why


def test_a_bridge_whose_flows_were_not_read_makes_the_translation_checks_partial():
    obs, tables = seed_observation()
    flows = dict(obs.flows)
    flows["br-provider"] = FlowDump("br-provider", (), 0.0, error="ovs-ofctl: not a bridge")
    model = build_model(replace(obs, flows=MappingProxyType(flows)),
                        lambda f: tables[f.bridge].detail_of(f))
    checks = {c.kind: c for c in model.checks}
    assert checks["missing-vlan-translation"].status == "partial"
    assert "br-provider" in checks["missing-vlan-translation"].why
    assert checks["dead-vlan"].status == "ran"
    # the egress translation is on the unread bridge: not reported missing
    assert not [p for p in model.problems if p.detail.startswith("egress")]
    said, clean = verdict(model)
    assert not clean and "ran on part of the node" in said and "openflow not read" in said


def test_every_check_ran_on_the_seed():
    obs, tables = seed_observation()
    model = build_model(obs, lambda f: tables[f.bridge].detail_of(f))
    assert all(c.status == "ran" for c in model.checks)
    assert verdict(model) == ("1 problem", False)  # the seed's missing flat ingress


def snapshot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", "snapshot", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_snapshot_of_a_node_it_cannot_read_says_no_check_ran_and_exits_1():
    proc = snapshot("--json", *NOTHING)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["problems"] == []
    assert {c["kind"]: c["status"] for c in doc["checks"]} == {k: "not run" for k in CHECKS}
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    assert [line.split(":")[1].strip() for line in said] == ["ovsdb", "libvirt"]  # one a cause
    tree = snapshot(*NOTHING)
    assert "no check could run" in tree.stdout and "problems (0)\n" not in tree.stdout


def test_snapshot_refuses_the_interval_it_would_ignore():
    proc = snapshot("--interval", "5", *NOTHING)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--interval" in proc.stderr


def test_the_exit_rule_is_in_the_help_and_the_readme():
    from tui.cli import SNAPSHOT_EXIT

    help_text = snapshot("--help").stdout
    assert "1 a source could not be read" in " ".join(help_text.split())
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "0 every source" in readme and "1 a source could not be read" in readme
    assert SNAPSHOT_EXIT.startswith("exit status: 0 every source")
