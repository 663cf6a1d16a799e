"""What the panes say for real nodes the lab does not build (the fixtures of
tests/unit/test_real_nodes.py): a VXLAN network's row names its VNI, br-tun,
tunnel port and remote IP, and an agent's port says whose it is."""

from __future__ import annotations

from node.session import Refresh
from tests.unit.test_real_nodes import insights_network_node, yeasy_compute_node
from tui import rows


def refresh_of(model) -> Refresh:
    return Refresh(model=model, deltas={}, history={}, mark=None, took=0.0)


def test_a_vxlan_vlan_row_leaves_through_br_tun_to_its_remote_ip():
    ((key, cells),) = rows.vlan_rows(yeasy_compute_node(), refresh_of(yeasy_compute_node()))
    assert key == "1"
    assert (cells["provider"], cells["type"], cells["bridge"], cells["nic"]) == (
        "1001", "vxlan", "br-tun", "vxlan-0a00644d (10.0.100.77)")
    assert cells["physnet"] == "-"


def test_a_vxlan_vlans_egress_counts_the_learned_unicast_flow_beside_the_flood():
    # table 22 flooded 11 packets, table 20's learned flow to the far MAC took 9 more
    ((_, cells),) = rows.vlan_rows(yeasy_compute_node(), refresh_of(yeasy_compute_node()))
    assert cells["egress"].endswith("(20)") and cells["ingress"].endswith("(12)")


def test_agent_ports_say_whose_they_are_in_the_ports_pane():
    model = insights_network_node()
    owner = {key: cells["owner"] for key, cells in rows.port_rows(model, refresh_of(model))}
    assert (owner["qr-417e232b-dd"], owner["qg-dacc6089-be"], owner["tapfcce898c-ca"],
            owner["vxlan-aca80118"], owner["eth0"]) == ("router", "gateway", "dhcp", "tunnel", "nic")


def test_a_bonded_nic_shows_its_members_and_their_link_state_in_the_vlan_map():
    from tests.unit.test_real_nodes import xianghui_node_with_a_bond
    model = xianghui_node_with_a_bond()
    ((_, cells),) = rows.vlan_rows(model, refresh_of(model))
    assert (cells["bridge"], cells["nic"]) == ("br-eth1", "bond0(eth1 up, eth2 down)")


def test_the_snapshot_tree_names_a_vxlan_networks_vni_tunnels_and_agent_ports():
    from rich.console import Console
    from tests.unit.test_real_nodes import hotsos_node
    from tui.snapshot import render_tree
    console = Console(width=200, record=True, color_system=None)
    console.print(render_tree(hotsos_node()))
    text = console.export_text()
    assert ("local VLAN 3 <-> vxlan VNI 1233 on br-tun via vxlan-0a000072, vxlan-0a000085 "
            "to 10.0.0.114, 10.0.0.133 ports qr-3a70b31c-3f, sg-189f4c40-9d, tap0e778df8-ca") in text
    assert "local VLAN 3 <-> vxlan VNI 1233 on br-tun\n" in text  # the instance's vNIC
    assert "fg-c8dcce74-c4 (gateway, tag 2, internal, down)" in text
    assert "provider VLAN 1233" not in text


def test_the_snapshot_tree_lists_a_duplicate_translation_beside_the_one_shown():
    from rich.console import Console
    from tests.unit.test_real_nodes import xianghui_node
    from tui.snapshot import render_tree
    console = Console(width=200, record=True, color_system=None)
    console.print(render_tree(xianghui_node()))
    text = console.export_text()
    assert "also: br-int t0 in_port=28,dl_vlan=107 -> mod_vlan_vid:1,NORMAL  0 pkts" in text


def test_a_vxlan_instance_row_names_br_tun_as_its_way_out():
    from tests.unit.test_real_nodes import hotsos_node
    model = hotsos_node()
    ((_, cells),) = rows.instance_rows(model, refresh_of(model))
    assert (cells["vlan"], cells["phys"]) == ("3 -> vxlan 1233", "br-tun")
