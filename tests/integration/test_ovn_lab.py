"""The tool on a real ML2/OVN chassis (``lab up --ovn``: OVN NB/SB ovsdb-servers,
ovn-northd and ovn-controller in the lab's namespaces) while instance01 pings
its gateway across provider VLAN 100: it finds out by itself that the node is
an OVN chassis, joins both instances to their provider VLAN / flat network,
bridge and NIC, shows the counters moving on every screen, and calls a port
whose iface-id no logical port claims an ``unbound-port``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from lab import ovn as labovn
from lab import run as cmd
from lab.node import VMS
from model.path import path_between
from model.ports import ofp_name
from node.once import collect_once, opened
from tests.conftest import continuous_ping, lab_possible, new_lab_name, running_lab
from tests.ui.test_drilldown_lab import cells, cursor_to, live_app, on, text_of, until
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.flows import FlowsScreen
from tui.screens.instance import InstanceScreen
from tui.screens.overview import OverviewScreen
from tui.screens.port import PortScreen
from tui.screens.vlan import VlanScreen
from widgets.pane_table import PaneTable
from widgets.virtual_table import VirtualTable

pytestmark = pytest.mark.lab

VM1, VM2 = VMS  # instance01 on provider VLAN 100, instance00 on the flat network
VLAN_NET, FLAT_NET = labovn.NETWORKS
UNBOUND_ID = "deadbeef-0000-4000-8000-000000000000"  # no logical switch port has this name


def _skip_reason() -> str | None:
    missing = [b for b in labovn.OVN_BINARIES if shutil.which(b) is None]
    return lab_possible() or (f"missing {', '.join(missing)} (apt install ovn-central ovn-host)"
                              if missing else None)


@pytest.fixture(scope="module")
def ovn_lab():
    yield from running_lab(labovn, _skip_reason)


@pytest.fixture(scope="module")
def ping(ovn_lab):
    """`ovsvlan-tui lab ping --continuous` for the whole module, stopped by its pid."""
    yield from continuous_ping(ovn_lab)


def iface(doc: dict, tap: str) -> dict:
    return next(i for inst in doc["instances"] for i in inst["interfaces"] if i["tap"] == tap)


def test_snapshot_json_gives_each_instance_its_chain_to_the_nic(ovn_lab, ping):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "snapshot", "--json", "--lab",
                          "--lab-name", ovn_lab.name], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["node"]["kind"] == "ml2/ovn"
    assert doc["ovn"]["bridge_mappings"] == {"provider": "br-provider"}
    vm1 = iface(doc, VM1.tap)
    assert vm1["local_vlan"] is None
    assert (vm1["logical_port"], vm1["segmentation_id"], vm1["network_type"],
            vm1["physical_network"], vm1["physical_bridge"], vm1["nics"]) == (
        VM1.port_id, 100, "vlan", "provider", "br-provider", ["eth0"])
    assert vm1["ovn_installed"] is True and vm1["chassis"] == labovn.CHASSIS
    vm2 = iface(doc, VM2.tap)
    assert (vm2["segmentation_id"], vm2["network_type"], vm2["physical_bridge"]) == (
        None, "flat", "br-provider")
    assert vm1["datapath_key"] != vm2["datapath_key"]
    nets = {v["localnet"]: v for v in doc["vlans"]}
    assert nets[VLAN_NET.localnet]["segmentation_id"] == 100
    assert nets[VLAN_NET.localnet]["egress_flow"]["actions"].startswith("mod_vlan_vid:100,")
    assert "dl_vlan=100" in nets[VLAN_NET.localnet]["ingress_flow"]["match"]
    assert nets[FLAT_NET.localnet]["network_type"] == "flat"
    # names the local node does not have, from the southbound DB (read-only)
    assert {s["source"]: s["status"] for s in doc["sources"]}["ovn-sb"] == "live"
    assert nets[VLAN_NET.localnet]["network_name"] == VLAN_NET.name
    assert vm1["addresses"] == [f"{VM1.mac} {VM1.address.split('/')[0]}"]
    # the metadata port is OVN's own, not an orphan; a healthy chassis has no problem
    assert doc["problems"] == []


def test_the_translation_counters_move_while_instance01_pings(ovn_lab, ping):
    # ovn-controller may still be putting the port's flows in place in the
    # lab's first seconds (new flows, counters from 0): measure once more then
    for _attempt in range(3):
        with opened(ovn_lab.endpoints()) as session:
            first = session.refresh()
            time.sleep(2.5)
            refresh = session.refresh()
        path = path_between(first.model, refresh.model, VM1.tap, refresh.clock - first.clock)
        if not path.stops:
            break
    vm1 = next(vv for i in refresh.model.instances for vv in i.vnics if vv.vnic.target == VM1.tap)
    net = refresh.model.vlan(f"dp{vm1.datapath_key}")
    assert net.localnet == VLAN_NET.localnet
    for flow in (net.egress_flow, net.ingress_flow):
        rate = refresh.rate(flow)
        assert rate is not None and rate[0] > 0, f"{flow.match} did not move"
    # the packet path: every hop of this vNIC moves both ways, none is a stop
    assert path.stops == ()
    moving = {h.spec.key: (h.out_pps, h.in_pps) for h in path.hops}
    for key in ("logical", "patch", "translation", "nic"):
        assert all(r and r > 0 for r in moving[key]), (key, moving[key])
    # br-int's patch ports to the two networks' localnets share their 15-byte name,
    # so dump-ports prints them by number: the patch hop is read all the same
    patches = [p for p in refresh.model.ports if p.bridge == "br-int" and p.owner == "patch"]
    assert len({ofp_name(p.name) for p in patches}) < len(patches) == 2


def test_trace_on_the_ovn_br_int_leaves_eth0_tagged_100_with_ovn_table_names(ovn_lab, ping):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "trace", "--port", VM1.tap,
                          "--to", "192.168.100.1", "--json",  # its IP: the southbound's
                          "--lab", "--lab-name", ovn_lab.name],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["egress"] == {"bridge": "br-provider", "port": "eth0", "vlan": 100}
    names = {(h["bridge"], h["table"]): h["table_name"] for h in doc["hops"]}
    assert names[("br-int", 0)] == "physical to logical"
    assert names[("br-int", 65)] == "logical to physical"
    assert names[("br-int", 8)] == "logical ingress 0"  # 23.03, from the southbound DB


async def test_overview_and_every_drill_down_on_the_ovn_chassis(ovn_lab, ping):
    app = live_app(ovn_lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.latest is not None and app.latest.model.ovn is not None
                    and len(app.latest.model.vlans) == 2
                    and all(v.egress_flow for v in app.latest.model.vlans), "the OVN networks")
        instances = app.screen.query_one("#instances", PaneTable)
        await until(pilot, lambda: len(instances.rows) == 2, "both instances")
        row = cells(instances, f"{VM1.uuid}/0")
        assert row[:3] == ["instance01", "running", VM1.tap]
        assert "-> 100" in row[3] and "br-provider/eth0" in row
        assert "-> flat" in cells(instances, f"{VM2.uuid}/0")[3]
        vlans = app.screen.query_one("#vlans", PaneTable)
        key = next(v.key for v in app.latest.model.vlans if v.segmentation_id == 100)
        await until(pilot, lambda: "(" in " ".join(cells(vlans, key)), "the VLAN map counters")
        assert cells(vlans, key)[1] == "100"

        # instance -> its vNIC path through the logical port and the localnet
        await cursor_to(pilot, instances, f"{VM1.uuid}/0")
        await pilot.press("enter")
        screen = await on(pilot, InstanceScreen)
        await until(pilot, lambda: "provider VLAN 100" in text_of(screen.query_one("#paths")),
                    "the vNIC's path")
        path = text_of(screen.query_one("#paths"))
        assert f"logical port {VM1.port_id}" in path and VLAN_NET.localnet in path
        assert "egress  br-int t65" in path and "ingress br-int t0" in path
        # -> the port -> its network -> the network's flows -> one flow
        await pilot.press("enter")
        port = await on(pilot, PortScreen)
        await until(pilot, lambda: "logical port" in text_of(port.query_one("#path")), "port")
        await pilot.press("v")
        vlan = await on(pilot, VlanScreen)
        await until(pilot, lambda: "OVN datapath" in text_of(vlan.query_one("#facts")), "network")
        assert VLAN_NET.localnet in text_of(vlan.query_one("#facts"))
        await pilot.press("f")
        flows = await on(pilot, FlowsScreen)
        table = flows.query_one("#flows", VirtualTable)
        await until(pilot, lambda: len(table.rows) > 0, "the network's flows")
        names = [c.key for c in table.columns]
        tables = {str(r.cells[names.index("table")]) for r in table.rows}
        assert {"0", "65"} <= tables
        await pilot.press("enter")
        detail = await on(pilot, FlowDetailScreen)
        await until(pilot, lambda: "datapath (metadata)" in text_of(detail.query_one("#text")),
                    "the flow's datapath")
        for screen_type in (FlowsScreen, VlanScreen, PortScreen, InstanceScreen, OverviewScreen):
            await pilot.press("escape")  # back along the breadcrumb
            await on(pilot, screen_type)


def test_an_iface_id_no_logical_port_claims_is_an_unbound_port(ovn_lab):
    """instance01's tap re-plugged with a Neutron port OVN does not know: cut off."""
    rd = ovn_lab.rundir
    cmd.vsctl(rd, "set", "Interface", VM1.tap, f"external_ids:iface-id={UNBOUND_ID}")
    try:
        deadline = time.monotonic() + 15
        while True:
            model = collect_once(ovn_lab.endpoints())
            found = [p for p in model.problems if p.subject == VM1.tap]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert [p.kind for p in found] == ["unbound-port"], model.problems
        assert UNBOUND_ID in found[0].detail
        vv = next(v for i in model.instances for v in i.vnics if v.vnic.target == VM1.tap)
        assert vv.datapath_key is None and vv.logical_port == UNBOUND_ID
        assert not any(p.subject.startswith(VLAN_NET.metadata_tap) for p in model.problems)
    finally:
        cmd.vsctl(rd, "set", "Interface", VM1.tap, f"external_ids:iface-id={VM1.port_id}")
        labovn.wait_bound(ovn_lab)


def _running(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_down_stops_every_ovn_daemon_and_leaves_no_namespace():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab = labovn.Lab(new_lab_name())
    labovn.up(lab)
    pids = [cmd.pid_alive(labovn.ovn_dir(lab) / f"{d}.pid") for d in labovn.OVN_DAEMONS]
    labovn.down(lab)
    assert all(pids)
    assert not any(_running(pid) for pid in pids)
    assert not set(lab.namespaces) & cmd.namespaces()
    assert not lab.dir.exists()
