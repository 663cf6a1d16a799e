"""`ovsvlan-tui snapshot` on a real node (the lab), run as the operator's
scripts run it: a separate process whose JSON keeps the names and types of
docs/contract.md, whose join is the seed's, whose counters move with
traffic, and whose problems appear when the node is broken on purpose and go
when it is repaired. Breaking and repairing uses the lab's own OVSDB socket,
OVS run directory and namespaces only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import node as labmod
from tui.cli import endpoint_flags

pytestmark = pytest.mark.lab

ROOT = Path(__file__).parent.parent.parent
VM1 = labmod.VMS[0]  # instance01 on tap2d1670a4-8e, local VLAN 2 <-> VLAN 100

# The lab's translation flows of VLAN 2, as the agent installs them:
# (bridge, cookie, match, actions)
EGRESS = ("br-provider", labmod.AGENT_COOKIE, "table=0,priority=4,in_port=phy-br-provider,dl_vlan=2",
          "mod_vlan_vid:100,NORMAL")
INGRESS = ("br-int", labmod.INT_COOKIE, "table=0,priority=3,in_port=int-br-provider,dl_vlan=100",
           "mod_vlan_vid:2,resubmit(,59)")


# --------------------------------------------------------------------------
# Running the tool and the lab's own OVS tools


def cli(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def lab_flags(lab: labmod.Lab) -> list[str]:
    return ["--lab", "--lab-name", lab.name]


def snapshot(lab: labmod.Lab) -> dict:
    proc = cli("snapshot", "--json", *lab_flags(lab))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def vsctl(lab: labmod.Lab, *args: str, check: bool = True) -> None:
    subprocess.run(["ovs-vsctl", f"--db={lab.db}", "--timeout=10", *args],
                   capture_output=True, text=True, check=check, timeout=30)


def ofctl(lab: labmod.Lab, *args: str) -> None:
    subprocess.run(["ovs-ofctl", *args], env={**os.environ, "OVS_RUNDIR": str(lab.rundir)},
                   capture_output=True, text=True, check=True, timeout=30)


def in_node(lab: labmod.Lab, *args: str) -> None:
    subprocess.run(["ip", "-n", lab.node_ns, *args], capture_output=True, text=True,
                   check=True, timeout=30)


def instance(doc: dict, name: str) -> dict:
    (found,) = [i for i in doc["instances"] if i["name"] == name]
    return found


def vlan(doc: dict, local: int) -> dict:
    (found,) = [v for v in doc["vlans"] if v["local_vlan"] == local]
    return found


def problems(doc: dict, kind: str) -> list[dict]:
    return [p for p in doc["problems"] if p["kind"] == kind]


# --------------------------------------------------------------------------
# The JSON contract of docs/contract.md: every name it lists, with its type
# (more fields are allowed; none of these may go or change type).

STR, OPT_STR, INT, OPT_INT = str, (str, None), int, (int, None)

FLOW_BRIEF = {"bridge": STR, "table": INT, "match": STR, "actions": STR, "n_packets": INT}
CONTRACT = {
    "schema": STR,
    "node": {"hostname": STR, "ovs_version": OPT_STR},
    "bridges": [{
        "name": STR, "datapath_type": STR, "fail_mode": OPT_STR,
        "ports": [{"name": STR, "ofport": OPT_INT, "type": STR, "tag": OPT_INT,
                   "trunks": [INT], "vlan_mode": OPT_STR, "peer": OPT_STR,
                   "iface_id": OPT_STR, "attached_mac": OPT_STR, "vm_uuid": OPT_STR,
                   "link_state": OPT_STR, "error": OPT_STR, "owner": STR,
                   "interfaces": [{"name": STR, "type": STR, "link_state": OPT_STR}]}],
    }],
    "instances": [{
        "domain": STR, "uuid": STR, "name": OPT_STR, "state": STR, "project": OPT_STR,
        "interfaces": [{"mac": OPT_STR, "tap": OPT_STR, "bridge": OPT_STR, "ofport": OPT_INT,
                        "local_vlan": OPT_INT, "segmentation_id": OPT_INT,
                        "physical_network": OPT_STR, "physical_bridge": OPT_STR,
                        "link_state": OPT_STR, "network_type": OPT_STR,
                        "tunnel_bridge": OPT_STR, "fixed_ips": [STR]}],
    }],
    "vlans": [{
        "bridge": STR, "local_vlan": INT, "segmentation_id": OPT_INT, "network_type": OPT_STR,
        "physical_network": OPT_STR, "physical_bridge": OPT_STR, "ports": [STR],
        "egress_flow": (FLOW_BRIEF, None), "ingress_flow": (FLOW_BRIEF, None),
        "tunnel_bridge": OPT_STR, "tunnel_ports": [STR], "remote_ips": [STR],
        "tunnel_unicast_flows": [FLOW_BRIEF], "duplicate_flows": [FLOW_BRIEF],
    }],
    "flows": [{"bridge": STR, "table": INT, "priority": INT, "cookie": STR, "match": STR,
               "actions": STR, "n_packets": INT, "n_bytes": INT, "duration": (int, float)}],
    "problems": [{"kind": STR, "subject": STR, "detail": STR}],
    "checks": [{"kind": STR, "status": STR, "why": STR, "missing_sources": [STR]}],
}


def contract_errors(value, spec, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``spec``: a type, a tuple of alternatives (None
    for null), a dict of required names or a one-element list for arrays."""
    if isinstance(spec, tuple):
        for alternative in spec:
            if alternative is None and value is None:
                return []
            if alternative is not None and not contract_errors(value, alternative, where):
                return []
        return [f"{where}: {value!r} is none of {spec}"]
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        errors = []
        for name, sub in spec.items():
            if name not in value:
                errors.append(f"{where}.{name}: missing")
            else:
                errors += contract_errors(value[name], sub, f"{where}.{name}")
        return errors
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {value!r}"]
        return [e for n, item in enumerate(value) for e in contract_errors(item, spec[0], f"{where}[{n}]")]
    if spec is int and isinstance(value, bool) or not isinstance(value, spec):
        return [f"{where}: {value!r} is not {getattr(spec, '__name__', spec)}"]
    return []


def test_contract_checker_catches_a_missing_name_and_a_wrong_type():
    assert contract_errors({"ofport": "3"}, {"ofport": OPT_INT, "name": STR}) == [
        "$.ofport: '3' is none of (<class 'int'>, None)", "$.name: missing"]
    assert contract_errors([{"n": True}], [{"n": INT}]) == ["$[0].n: True is not int"]


# --------------------------------------------------------------------------
# A healthy node


def test_json_keeps_every_name_and_type_of_the_contract(shared_lab):
    doc = snapshot(shared_lab)
    assert doc["schema"] == "ovsvlan-tui/snapshot/1"
    assert contract_errors(doc, CONTRACT) == []
    # every array the contract describes is filled, so every item spec was checked
    assert all(doc[k] for k in ("bridges", "instances", "vlans", "flows"))
    assert all(b["ports"] for b in doc["bridges"])
    assert vlan(doc, 2)["egress_flow"] and vlan(doc, 2)["ingress_flow"]
    assert {s["source"]: s["status"] for s in doc["sources"]} == {
        "ovsdb": "live", "openflow": "live", "libvirt": "live", "netlink": "live"}
    assert doc["problems"] == []


def test_json_joins_instance01_to_provider_vlan_100(shared_lab):
    doc = snapshot(shared_lab)
    inst = instance(doc, "instance01")
    assert (inst["domain"], inst["uuid"], inst["state"], inst["project"]) == (
        VM1.domain, VM1.uuid, "running", "demo")
    (iface,) = inst["interfaces"]
    assert {k: iface[k] for k in ("mac", "tap", "bridge", "ofport", "local_vlan", "segmentation_id",
                                  "physical_network", "physical_bridge", "link_state")} == {
        "mac": VM1.mac, "tap": "tap2d1670a4-8e", "bridge": "br-int", "ofport": 3,
        "local_vlan": 2, "segmentation_id": 100, "physical_network": "provider",
        "physical_bridge": "br-provider", "link_state": "up"}
    v2 = vlan(doc, 2)
    assert (v2["segmentation_id"], v2["network_type"], v2["physical_bridge"], v2["ports"]) == (
        100, "vlan", "br-provider", ["tap2d1670a4-8e"])
    assert v2["egress_flow"]["bridge"] == "br-provider"
    assert v2["egress_flow"]["actions"] == "mod_vlan_vid:100,NORMAL"
    assert v2["ingress_flow"]["bridge"] == "br-int"
    assert v2["ingress_flow"]["actions"] == "mod_vlan_vid:2,resubmit(,59)"
    (port,) = [p for b in doc["bridges"] if b["name"] == "br-int" for p in b["ports"]
               if p["name"] == "tap2d1670a4-8e"]
    assert (port["tag"], port["iface_id"], port["attached_mac"], port["vm_uuid"]) == (
        2, VM1.port_id, VM1.mac, VM1.uuid)


def test_a_ping_moves_both_translation_counters_of_its_vlan(shared_lab):
    before = vlan(snapshot(shared_lab), 2)
    ping = cli("lab", "ping", "--lab-name", shared_lab.name, "--count", "3")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    after = vlan(snapshot(shared_lab), 2)
    for direction in ("egress_flow", "ingress_flow"):
        assert after[direction]["n_packets"] > 0
        assert after[direction]["n_packets"] >= before[direction]["n_packets"] + 3, direction


def _join(doc: dict) -> list:
    """The join without counters, which move between two runs."""
    return [(i["name"], [{k: v for k, v in f.items() if k != "link_state"} for f in i["interfaces"]])
            for i in doc["instances"]]


@pytest.mark.parametrize("order", ["flags-before", "mixed"])
def test_connection_flags_work_before_the_subcommand_name_too(shared_lab, order):
    reference = snapshot(shared_lab)  # flags after the subcommand name
    if order == "flags-before":
        args = [*lab_flags(shared_lab), "snapshot", "--json"]
    else:
        args = ["--lab-name", shared_lab.name, "snapshot", "--lab", "--json"]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["node"] == reference["node"]
    assert _join(doc) == _join(reference)
    assert instance(doc, "instance01")["interfaces"][0]["segmentation_id"] == 100


def test_an_explicit_flag_wins_over_the_lab_settings(shared_lab):
    proc = cli("snapshot", "--json", "--lab", "--lab-name", shared_lab.name,
               "--libvirt", "test:///nonexistent.xml")
    assert proc.returncode == 1, proc.stderr  # the libvirt given could not be read
    doc = json.loads(proc.stdout)
    (state,) = [s for s in doc["sources"] if s["source"] == "libvirt"]
    assert state["status"] == "error" and "test:///nonexistent.xml" in state["detail"]
    assert {b["name"] for b in doc["bridges"]} == {"br-int", "br-provider"}  # the lab's OVS


def test_the_tree_shows_the_same_join(shared_lab):
    proc = cli("snapshot", *lab_flags(shared_lab), columns=200)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"instance01 ({VM1.domain}, running, project demo)" in out
    # the lab's domain XML has no <nova:ports>: the address comes from the port's flows
    assert (f"vNIC {VM1.mac} {VM1.address.split('/')[0]} (flows) -> tap2d1670a4-8e "
            "(ofport 3 on br-int, up)") in out
    assert "local VLAN 2 <-> provider VLAN 100 on br-provider (physnet 'provider', NIC eth0)" in out
    assert "egress: br-provider t0 in_port=\"phy-br-provider\",dl_vlan=2 -> mod_vlan_vid:100" in out
    assert "problems (0)" in out


# --------------------------------------------------------------------------
# Sources that cannot be reached


def _lab_endpoints(lab: labmod.Lab, **override: str) -> list[str]:
    return endpoint_flags(dataclasses.replace(lab.endpoints(), **override))


def test_unreachable_libvirt_is_reported_and_ovs_still_shown(shared_lab):
    proc = cli("snapshot", "--json", *_lab_endpoints(shared_lab, libvirt="test:///nonexistent.xml"))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1  # a source unreadable, whichever it is
    doc = json.loads(proc.stdout)
    (state,) = [s for s in doc["sources"] if s["source"] == "libvirt"]
    assert state["status"] == "error" and "test:///nonexistent.xml" in state["detail"]
    assert "ovsvlan-tui: libvirt: " in proc.stderr
    assert doc["instances"] == []
    assert {b["name"] for b in doc["bridges"]} == {"br-int", "br-provider"}
    assert vlan(doc, 2)["egress_flow"] is not None and vlan(doc, 2)["ingress_flow"] is not None
    assert len(doc["flows"]) > 0
    assert problems(doc, "orphan-port") == []  # unknown owners are not orphans
    checks = {c["kind"]: c for c in doc["checks"]}
    assert checks["orphan-port"]["status"] == "not run"
    assert checks["orphan-port"]["missing_sources"] == ["libvirt"]
    assert checks["missing-vlan-translation"]["status"] == "ran"


def test_unreadable_openflow_exits_1_and_names_the_flag_to_fix_it(shared_lab):
    """The same rule as every other source: never exit 0 on flows that were not read."""
    proc = cli("snapshot", "--json", *_lab_endpoints(shared_lab, ovs_rundir="/nonexistent"))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    (state,) = [s for s in doc["sources"] if s["source"] == "openflow"]
    assert state["status"] == "error"  # never read: not "stale"
    assert "--ovs-rundir" in state["detail"] and "rundir option" not in state["detail"]
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        f"ovsvlan-tui: openflow: error: {state['detail']}"]
    checks = {c["kind"]: c["status"] for c in doc["checks"]}
    assert checks["missing-vlan-translation"] == checks["vlan-mismatch"] == "not run"
    assert checks["dead-vlan"] == "ran"


def test_unreachable_ovsdb_exits_1_with_one_line_and_shows_the_rest(shared_lab):
    proc = cli("snapshot", "--json", *_lab_endpoints(shared_lab, db="unix:/nonexistent.sock"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ovsvlan-tui: ovsdb: ")
    assert "unix:/nonexistent.sock" in lines[0] and "--db" in lines[0]
    doc = json.loads(proc.stdout)
    (state,) = [s for s in doc["sources"] if s["source"] == "ovsdb"]
    assert state["status"] == "error"
    assert doc["bridges"] == []
    assert instance(doc, "instance01")["interfaces"][0]["tap"] == "tap2d1670a4-8e"
    assert problems(doc, "unplugged-vif") == []  # nothing is known to be unplugged


# --------------------------------------------------------------------------
# Each problem appears when the node is broken for it and goes when repaired.


def test_dead_vlan_port(fresh_lab):
    assert snapshot(fresh_lab)["problems"] == []
    vsctl(fresh_lab, "set", "Port", VM1.tap, "tag=4095")
    broken = snapshot(fresh_lab)
    assert [(p["kind"], p["subject"]) for p in broken["problems"]] == [("dead-vlan", VM1.tap)]
    assert instance(broken, "instance01")["interfaces"][0]["local_vlan"] == 4095
    vsctl(fresh_lab, "set", "Port", VM1.tap, "tag=2")
    assert snapshot(fresh_lab)["problems"] == []


@pytest.mark.parametrize("direction, flow", [("egress", EGRESS), ("ingress", INGRESS)])
def test_missing_vlan_translation_says_which_direction(fresh_lab, direction, flow):
    bridge, cookie, match, actions = flow
    assert snapshot(fresh_lab)["problems"] == []
    ofctl(fresh_lab, "--strict", "del-flows", bridge, match)
    broken = snapshot(fresh_lab)
    (problem,) = broken["problems"]
    assert (problem["kind"], problem["subject"]) == ("missing-vlan-translation", "vlan 2")
    assert problem["detail"].startswith(f"{direction}:")
    assert bridge in problem["detail"] and "VLAN 100" in problem["detail"]
    assert vlan(broken, 2)[f"{direction}_flow"] is None
    ofctl(fresh_lab, "add-flow", bridge, f"cookie={cookie},{match},actions={actions}")
    repaired = snapshot(fresh_lab)
    assert repaired["problems"] == []
    assert vlan(repaired, 2)[f"{direction}_flow"]["bridge"] == bridge


def test_orphan_port(fresh_lab):
    assert snapshot(fresh_lab)["problems"] == []
    name, port_id = "tapdeadbeef-01", "deadbeef-0100-4000-8000-00000000a001"
    in_node(fresh_lab, "link", "add", name, "type", "veth", "peer", "name", "orphan-peer")
    in_node(fresh_lab, "link", "set", name, "up")
    vsctl(fresh_lab, "add-port", "br-int", name, "--", "set", "Interface", name,
          f"external_ids:iface-id={port_id}", "external_ids:attached-mac=fa:16:3e:de:ad:01",
          "external_ids:iface-status=active")
    broken = snapshot(fresh_lab)
    assert [(p["kind"], p["subject"]) for p in broken["problems"]] == [("orphan-port", name)]
    assert port_id in broken["problems"][0]["detail"]
    vsctl(fresh_lab, "del-port", "br-int", name)
    in_node(fresh_lab, "link", "del", name)
    assert snapshot(fresh_lab)["problems"] == []


def test_unplugged_vif(fresh_lab):
    assert snapshot(fresh_lab)["problems"] == []
    original = fresh_lab.node_xml.read_text()
    extra = ("<interface type='ethernet'><mac address='fa:16:3e:5e:1f:0c'/>"
             "<target dev='tap5e1f0c2a-77'/><model type='virtio'/></interface>\n")
    at = original.index("</devices>", original.index(f"<uuid>{VM1.uuid}</uuid>"))
    fresh_lab.node_xml.write_text(original[:at] + extra + original[at:])
    broken = snapshot(fresh_lab)
    assert [(p["kind"], p["subject"]) for p in broken["problems"]] == [
        ("unplugged-vif", "tap5e1f0c2a-77")]
    assert VM1.domain in broken["problems"][0]["detail"]
    assert len(instance(broken, "instance01")["interfaces"]) == 2
    fresh_lab.node_xml.write_text(original)
    assert snapshot(fresh_lab)["problems"] == []


def test_interface_error(fresh_lab):
    assert snapshot(fresh_lab)["problems"] == []
    # ovs-vsctl itself complains (and exits 0 or 1 by version): the port stays
    vsctl(fresh_lab, "add-port", "br-int", "nosuchdev", check=False)
    broken = snapshot(fresh_lab)
    assert [(p["kind"], p["subject"]) for p in broken["problems"]] == [
        ("interface-error", "nosuchdev")]
    assert "could not open network device nosuchdev" in broken["problems"][0]["detail"]
    (port,) = [p for b in broken["bridges"] for p in b["ports"] if p["name"] == "nosuchdev"]
    assert port["ofport"] == -1 and port["error"]
    vsctl(fresh_lab, "del-port", "br-int", "nosuchdev")
    assert snapshot(fresh_lab)["problems"] == []
