"""The tool on the grown lab (``lab up --tunnels``): a second node joined by
VXLAN, instance02 on node 1 pinging instance03 on node 2 through both br-tuns,
the L3 agent's router ports and the DHCP agent's port on br-int, a domain
with Nova metadata 1.0 and br-provider's NIC an OVS bond of two veths.

What an operator relies on: the tunnel VLAN is shown as local VLAN -> VNI ->
vxlan port -> remote IP with the br-tun flows whose counters the ping moves;
agents' ports are theirs, not orphans; older Nova's metadata still names the
instance; a bond shows its members; a healthy node shows no problem; the
saved sosreport of it reads as the live node; ``lab down`` leaves nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from lab import run as cmd
from model import path as pathmod
from node.once import opened
from lab import tunnels as labtun
from lab.topology import AGENT_PORTS, TENANT_VNI, UNDERLAY
from tests.conftest import continuous_ping, running_lab
from tests.integration.test_lab_sos import cli, comparable

pytestmark = pytest.mark.lab

VM3, VM4 = labtun.VM3, labtun.VM4  # instance02 (node 1, Nova 1.0), instance03 (node 2)
QR, QG, DHCP = AGENT_PORTS
TUNNEL_PORT = "vxlan-c633640c"  # the agent's name for 198.51.100.12


@pytest.fixture(scope="module")
def grown_lab():
    yield from running_lab(labtun)


@pytest.fixture(scope="module")
def vxlan_ping(grown_lab):
    """instance02 -> instance03 across VXLAN, the whole module."""
    yield from continuous_ping(grown_lab, "--vxlan")


@pytest.fixture(scope="module")
def doc(grown_lab, vxlan_ping) -> dict:
    time.sleep(1.5)  # a reply or two have come back (and taught br-tun the MAC)
    out = cli("snapshot", "--json", "--lab", "--lab-name", grown_lab.name)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def vlan(doc: dict, local: int) -> dict:
    return next(v for v in doc["vlans"] if v["local_vlan"] == local)


def port(doc: dict, name: str) -> dict:
    return next(p for b in doc["bridges"] for p in b["ports"] if p["name"] == name)


def br_tun_counters(doc: dict) -> dict[tuple, int]:
    v = vlan(doc, VM3.local_vlan)
    flows = [v["egress_flow"], v["ingress_flow"], *v["tunnel_unicast_flows"]]
    return {(f["table"], f["match"]): f["n_packets"] for f in flows}


def test_the_vxlan_vlan_goes_to_its_vni_tunnel_port_and_remote_ip(doc):
    v = vlan(doc, VM3.local_vlan)
    assert (v["network_type"], v["segmentation_id"], v["tunnel_bridge"], v["tunnel_ports"],
            v["remote_ips"]) == ("vxlan", TENANT_VNI, "br-tun", [TUNNEL_PORT], [UNDERLAY[1]])
    assert (v["physical_network"], v["physical_bridge"], v["nics"]) == (None, None, [])
    assert sorted(v["ports"]) == sorted([VM3.tap, QR.name, DHCP.name])
    # table 22 floods local VLAN 3 out as VNI 1001; table 4 brings VNI 1001 back as VLAN 3
    assert (v["egress_flow"]["bridge"], v["egress_flow"]["table"], v["egress_flow"]["match"]) == (
        "br-tun", 22, "dl_vlan=3")
    assert v["egress_flow"]["actions"] == f'strip_vlan,load:0x3e9->NXM_NX_TUN_ID[],output:"{TUNNEL_PORT}"'
    assert (v["ingress_flow"]["table"], v["ingress_flow"]["match"], v["ingress_flow"]["actions"]) == (
        4, "tun_id=0x3e9", "mod_vlan_vid:3,resubmit(,10)")
    # instance03's MAC, learned from its replies (table 10 -> table 20)
    (uni,) = v["tunnel_unicast_flows"]
    assert (uni["table"], uni["priority"]) == (20, 1) and f"dl_dst={VM4.mac}" in uni["match"]
    tun = port(doc, TUNNEL_PORT)
    assert (tun["owner"], tun["type"]) == ("tunnel", "vxlan")


def test_the_vxlan_instance_is_joined_to_br_tun_with_no_physical_network(doc):
    inst = next(i for i in doc["instances"] if i["uuid"] == VM3.uuid)
    (vnic,) = inst["interfaces"]
    assert (vnic["tap"], vnic["local_vlan"], vnic["network_type"], vnic["segmentation_id"],
            vnic["tunnel_bridge"], vnic["physical_network"], vnic["physical_bridge"]) == (
        VM3.tap, 3, "vxlan", TENANT_VNI, "br-tun", None, None)


def test_the_vxlan_ping_moves_the_br_tun_flows_shown_for_that_vlan(grown_lab, doc):
    time.sleep(2.5)  # the ping sends one echo a second
    out = cli("snapshot", "--json", "--lab", "--lab-name", grown_lab.name)
    assert out.returncode == 0, out.stderr
    then, now = br_tun_counters(doc), br_tun_counters(json.loads(out.stdout))
    ingress = (4, "tun_id=0x3e9")
    unicast = next(k for k in now if k[0] == 20)
    assert now[ingress] >= then[ingress] + 2, "echo replies from node 2 came back as VLAN 3"
    assert now[unicast] >= then[unicast] + 2, "echo requests left for instance03's MAC"


def test_the_vxlan_instances_path_leaves_through_br_tun_and_its_tunnel_with_no_stop(grown_lab,
                                                                                   vxlan_ping):
    # a healthy ping: once br-tun learned instance03's MAC the echoes take table 20,
    # not the flood flow, and no hop may be called the place packets stop
    with opened(grown_lab.endpoints()) as session:
        then = session.refresh().model
        time.sleep(4)
        now = session.refresh().model
    path = pathmod.path_between(then, now, VM3.tap, 4.0)
    hops = [(h.spec.key, h.spec.label, h.spec.detail) for h in path.hops]
    assert hops[-4:] == [
        ("patch", "patch-tun = patch-int", "patch ports"),
        ("translation", f"br-tun, VLAN 3 -> VNI {TENANT_VNI}", "translation"),
        ("tunnel", TUNNEL_PORT, f"remote {UNDERLAY[1]}, VNI {TENANT_VNI}"),
        ("wire", "wire", f"VNI {TENANT_VNI}")]
    translation = next(h for h in path.hops if h.spec.key == "translation")
    assert translation.out_pps and translation.in_pps, "the echoes and replies cross br-tun"
    assert path.stops == ()


def test_router_and_dhcp_ports_are_their_agents_not_orphans(doc):
    for agent_port, owner in ((QR, "router"), (QG, "gateway"), (DHCP, "dhcp")):
        p = port(doc, agent_port.name)
        assert (p["owner"], p["iface_id"], p["vm_uuid"], p["tag"]) == (
            owner, agent_port.port_id, None, agent_port.local_vlan)
    assert QG.name in vlan(doc, QG.local_vlan)["ports"]  # the gateway sits on provider VLAN 100
    assert not [p for p in doc["problems"] if p["kind"] == "orphan-port"]


def test_the_nova_1_0_domain_keeps_its_name_flavor_and_project(doc):
    inst = next(i for i in doc["instances"] if i["uuid"] == VM3.uuid)
    assert (inst["domain"], inst["name"], inst["flavor"], inst["project"], inst["state"]) == (
        VM3.domain, VM3.nova_name, "m1.nano", "demo", "running")


def test_the_bonded_nic_shows_its_members_and_their_link_state(doc):
    bond = port(doc, "bond0")
    assert bond["owner"] == "nic"
    assert [(i["name"], i["link_state"]) for i in bond["interfaces"]] == [
        ("eth0", "up"), ("eth1", "up")]
    for local in (1, 2):  # the flat network and provider VLAN 100 leave through it
        assert (vlan(doc, local)["physical_bridge"], vlan(doc, local)["nics"]) == (
            "br-provider", ["bond0"])


def test_the_grown_lab_has_no_problem(doc):
    assert doc["problems"] == []


def test_its_sosreport_reads_as_the_live_node_counters_aside(grown_lab, tmp_path):
    out = tmp_path / "sosreport-grown"
    r = cli("lab", "sos", str(out), "--lab-name", grown_lab.name)
    assert r.returncode == 0, r.stderr
    live = cli("--lab", "--lab-name", grown_lab.name, "snapshot", "--json")
    saved = cli("snapshot", "--json", "--from", str(out))
    assert live.returncode == 0 and saved.returncode == 0, (live.stderr, saved.stderr)
    assert "warning" not in saved.stderr
    live_doc, saved_doc = json.loads(live.stdout), json.loads(saved.stdout)
    # br-tun's learned flow (hard_timeout 300 s) is in both, by number in the saved one
    assert comparable(saved_doc) == comparable(live_doc)
    assert vlan(saved_doc, VM3.local_vlan)["tunnel_unicast_flows"][0]["actions"].endswith(
        f"output:{port(saved_doc, TUNNEL_PORT)['ofport']}")


def test_down_leaves_no_process_namespace_or_file():
    lab = None
    for lab in running_lab(labtun):  # skipped where no lab can run; down again at the end
        pids = [cmd.pid_alive(d / f"{p}.pid") for d in (lab.rundir, labtun.node2_rundir(lab))
                for p in cmd.DAEMONS]
        ping = subprocess.Popen(labtun.ping_command(lab, continuous=True),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        labtun.down(lab)
        ping.wait(timeout=10)  # killed with its namespace's processes
        assert all(pids)
        assert not any(_alive(pid) for pid in pids)
        names = {*lab.namespaces, *labtun.namespaces(lab)}
        assert not names & cmd.namespaces()
        assert not lab.dir.exists()
    assert lab is not None


def _alive(pid: int) -> bool:
    """Not a zombie (a container whose init does not reap keeps those)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False

