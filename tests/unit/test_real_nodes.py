"""Nodes the lab does not build, read from outputs their operators published
(tests/fixtures/real/README.md says whose, and under which licence): a
network node with router, gateway and DHCP ports; VXLAN networks on br-tun;
old agents' veth pairs; two translations into one local VLAN; Nova metadata
1.0 and 1.1; a kernel-datapath node. What the operator reads for each is
what the node really does, and no real node shows a problem it does not have.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from collectors import domains, netlink, openflow
from collectors.saved.vsctl_show import parse_vsctl_show, with_ofports
from model.contract import to_contract
from model.join import NodeModel, build_model
from model.ports import remote_ip
from model.records import Flow, Observation, OvsdbSnapshot, frozen_map
from tests.integration.test_snapshot import CONTRACT, contract_errors

REAL = Path(__file__).parent.parent / "fixtures" / "real"
OFPP_LOCAL = 65534


def show(name: str) -> OvsdbSnapshot:
    return parse_vsctl_show((REAL / name).read_text())


def flows(**files: str) -> dict:
    return {bridge.replace("_", "-"): openflow.parse_dump(bridge.replace("_", "-"),
                                                          (REAL / f).read_text(), 0.0)
            for bridge, f in files.items()}


def ofports_from(**files: str) -> dict[str, dict[str, int]]:
    """Port numbers from `ovs-ofctl show` / `dump-ports-desc`."""
    out = {}
    for bridge, f in files.items():
        numbers = openflow.parse_ofctl_show((REAL / f).read_text())
        out[bridge.replace("_", "-")] = {n: OFPP_LOCAL if k == "LOCAL" else k
                                         for k, n in numbers.items()}
    return out


def joined(ovsdb: OvsdbSnapshot, flow_dumps: dict | None = None, doms=()) -> NodeModel:
    # libvirt read and answering (a network node has no domains): ownership
    # problems are live, so an agent port taken for a VM's would show
    obs = Observation(hostname="node", ovsdb=ovsdb, flows=flow_dumps or {}, domains=tuple(doms))
    return build_model(obs, openflow.flow_detail)


def owners(model: NodeModel) -> dict[str, str]:
    return {pv.name: pv.owner for pv in model.ports}


# --------------------------------------------------------------------------
# The nodes


def insights_network_node() -> NodeModel:
    return joined(show("insights-network-node-ovs-vsctl-show.txt"))


def neutron_devref_node() -> NodeModel:
    return joined(show("neutron-devref-layer3-ovs-vsctl-show.txt"))


YEASY_COMPUTE_OFPORTS = {"br-tun": {"patch-int": 1, "vxlan-0a00644d": 2}}  # the book's own text


def yeasy_compute_node(ovsdb: OvsdbSnapshot | None = None, with_flows: bool = True) -> NodeModel:
    ovsdb = ovsdb or with_ofports(show("yeasy-compute-ovs-vsctl-show.txt"), YEASY_COMPUTE_OFPORTS)
    dumps = flows(br_tun="yeasy-compute-dump-flows-br-tun.txt",
                  br_int="yeasy-compute-dump-flows-br-int.txt") if with_flows else {}
    return joined(ovsdb, dumps)


def yeasy_network_node() -> NodeModel:
    return joined(show("yeasy-network-ovs-vsctl-show.txt"),
                  flows(br_tun="yeasy-network-dump-flows-br-tun.txt"))


def xianghui_node() -> NodeModel:
    ovsdb = with_ofports(show("xianghui-icehouse-ovs-vsctl-show.txt"), ofports_from(
        br_int="xianghui-icehouse-dump-ports-desc-br-int.txt",
        br_eth1="xianghui-icehouse-dump-ports-desc-br-eth1.txt"))
    return joined(ovsdb, flows(br_int="xianghui-icehouse-dump-flows-br-int.txt",
                               br_eth1="xianghui-icehouse-dump-flows-br-eth1.txt"))


STUDY = "study-notes-vxlan-compute-"
INSTANCE02_UUID = "2337b0eb-372c-43b8-923e-90a89337d211"  # its `openstack server create`


def study_notes_node() -> NodeModel:
    """The seed's author's compute node with a VXLAN instance (OVS 3.3.1)."""
    iface = (REAL / f"{STUDY}virsh-dumpxml-interface.xml").read_text()
    dom = domains.parse_domain_xml(
        f"<domain type='kvm' id='1'><name>instance-00000006</name><uuid>{INSTANCE02_UUID}</uuid>"
        f"<devices>{iface}</devices></domain>", state="running", id=1)  # `virsh list`: 1, 実行中
    obs = Observation(
        hostname="compute", ovsdb=show(f"{STUDY}ovs-vsctl-show.txt"),
        flows={b: openflow.parse_dump(b, (REAL / f"{STUDY}dump-flows-{b}.txt").read_text(), 0.0)
               for b in ("br-provider", "br-mgmt", "br-int", "br-tun")},
        domains=(dom,),
        links=netlink.parse_ip_link_detail((REAL / f"{STUDY}ip-d-link-show.txt").read_text()))
    return build_model(obs, openflow.flow_detail)


def study_notes_router_node() -> NodeModel:
    """The same author's controller with a router, three DHCP ports and br-tun."""
    pre = "study-notes-router-node-"
    return joined(show(f"{pre}ovs-vsctl-show.txt"), {
        b: openflow.parse_dump(b, (REAL / f"{pre}dump-flows-{b}.txt").read_text(), 0.0)
        for b in ("br-provider", "br-mgmt", "br-int", "br-tun")})


def nova_domain(name: str) -> domains.Domain:
    return domains.parse_domain_xml((REAL / name).read_text(), state="running", id=1)


# --------------------------------------------------------------------------
# No false problem, and the contract holds, on every real node


NODES = {
    "insights network node (OVS 2.3.2)": (insights_network_node, []),
    "neutron devref node (OVS 1.4.0)": (neutron_devref_node, []),
    "yeasy compute node (OVS 2.0.2)": (yeasy_compute_node, []),
    "yeasy network node (OVS 2.0.2)": (yeasy_network_node, []),
    "xianghui Icehouse node (OVS 1.10.0)": (xianghui_node,
                                           [("duplicate-vlan-translation", "vlan 1")]),
    # two taps left behind by instances gone from this node: OVS says so
    "study-notes VXLAN compute node (OVS 3.3.1)": (study_notes_node, [
        ("interface-error", "tap0ab9a23c-99"), ("interface-error", "tap635485ff-6c")]),
    "study-notes router node (OVS 3.3.1)": (study_notes_router_node, []),
}


@pytest.mark.parametrize("node", NODES)
def test_a_real_node_shows_only_the_problems_it_has(node):
    build, expected = NODES[node]
    assert [(p.kind, p.subject) for p in build().problems] == expected


@pytest.mark.parametrize("node", NODES)
def test_a_real_node_keeps_every_name_and_type_of_the_json_contract(node):
    build, _ = NODES[node]
    doc = to_contract(build())
    assert contract_errors(doc, CONTRACT) == []
    assert all(p["owner"] != "unknown" or p["iface_id"] is None
               for b in doc["bridges"] for p in b["ports"])


def test_hostdev_and_linux_bridge_vnics_never_count_as_unplugged_from_ovs():
    # SR-IOV (hostdev) and an oVirt Linux bridge never reach OVS: a running
    # domain with them on a node whose OVSDB was read has nothing unplugged
    doms = [nova_domain("qemu-devel-nova-25-instance-0000000e.xml"),
            nova_domain("insights-domstatus.xml")]
    model = joined(show("insights-network-node-ovs-vsctl-show.txt"), doms=doms)
    assert model.problems == ()


def test_a_hybrid_vnic_whose_qvo_is_missing_is_still_unplugged():
    # RHOSP 10's instance on qbrf975e53f-e0: its qvo is on no bridge here
    model = joined(show("insights-network-node-ovs-vsctl-show.txt"),
                   doms=[nova_domain("insights-rhosp10-nova-1.0.xml")])
    assert [(p.kind, p.subject) for p in model.problems] == [("unplugged-vif", "tapf975e53f-e0")]


# --------------------------------------------------------------------------
# Ports that belong to agents, not VMs


def test_network_node_ports_are_router_gateway_dhcp_tunnel_and_patch_ports():
    assert owners(insights_network_node()) == {
        "br-ex": "bridge-internal", "qg-dacc6089-be": "gateway", "eth0": "nic",
        "phy-br-ex": "patch", "tapfcce898c-ca": "dhcp", "int-br-ex": "patch",
        "tapdf2d6113-b2": "dhcp", "patch-tun": "patch", "br-int": "bridge-internal",
        "ha-1f423581-cd": "router", "qr-417e232b-dd": "router",
        "vxlan-aca80118": "tunnel", "vxlan-aca80119": "tunnel", "vxlan-aca80117": "tunnel",
        "patch-int": "patch", "vxlan-aca80116": "tunnel", "br-tun": "bridge-internal",
    }


def test_agent_ports_with_a_neutron_port_id_are_never_orphans():
    # the agents write iface-id on their ports too (ovs-vsctl show hides
    # external_ids, so the test adds one to each): still no orphan-port
    base = show("insights-network-node-ovs-vsctl-show.txt")

    def with_iface_id(port):
        if not port.name.startswith(("qr-", "qg-", "ha-", "tap")):
            return port
        (iface,) = port.interfaces
        ids = frozen_map({"iface-id": "port-of-" + port.name, "iface-status": "active",
                          "attached-mac": "fa:16:3e:00:00:01"})
        return replace(port, interfaces=(replace(iface, external_ids=ids),))

    ovsdb = replace(base, bridges=tuple(replace(b, ports=tuple(with_iface_id(p) for p in b.ports))
                                        for b in base.bridges))
    model = joined(ovsdb)
    assert model.problems == ()
    # ...while a VM tap of the same shape (type system, not internal) is one
    ovsdb = replace(ovsdb, bridges=tuple(
        replace(b, ports=tuple(replace(p, interfaces=(replace(p.interfaces[0], type=""),))
                               if p.name == "tapfcce898c-ca" else p for p in b.ports))
        for b in ovsdb.bridges))
    assert [(p.kind, p.subject) for p in joined(ovsdb).problems] == [
        ("orphan-port", "tapfcce898c-ca")]


def test_a_router_and_dhcp_node_serves_a_vxlan_a_vlan_and_a_flat_network():
    model = study_notes_router_node()
    served = {v.local_vlan: (v.network_type, v.segmentation_id, v.physical_bridge or v.tunnel_bridge,
                             sorted(owners(model)[p] for p in v.ports)) for v in model.vlans}
    assert served == {1: ("vlan", 100, "br-provider", ["dhcp"]),
                      2: ("vxlan", 0xEF, "br-tun", ["dhcp", "router"]),
                      3: ("flat", None, "br-provider", ["dhcp", "gateway"])}
    assert model.vlan(2).remote_ips == ("172.16.0.31",)


def test_the_vlans_of_a_network_node_say_which_agent_ports_serve_them():
    model = insights_network_node()
    served = {v.local_vlan: {p: owners(model)[p] for p in v.ports} for v in model.vlans}
    assert served == {1: {"tapfcce898c-ca": "dhcp", "qr-417e232b-dd": "router"},
                      2: {"tapdf2d6113-b2": "dhcp"}, 3: {"ha-1f423581-cd": "router"}}


# --------------------------------------------------------------------------
# Tunnel networks


def test_tunnel_ports_name_their_remote_ip_in_options_and_in_their_name():
    model = insights_network_node()
    ips = {pv.name: remote_ip(pv.interface) for pv in model.ports if pv.owner == "tunnel"}
    assert ips == {"vxlan-aca80118": "172.168.1.24", "vxlan-aca80119": "172.168.1.25",
                   "vxlan-aca80117": "172.168.1.23", "vxlan-aca80116": "172.168.1.22"}
    # an output that hides the options: the name says the same (vxlan-<hex remote IP>)
    for pv in model.ports:
        if pv.owner == "tunnel":
            assert remote_ip(replace(pv.interface, options=frozen_map({}))) == ips[pv.name]
            # remote_ip=flow: the far end is picked per packet, the name proves nothing
            flow_based = replace(pv.interface, options=frozen_map({"remote_ip": "flow"}))
            assert remote_ip(flow_based) is None


def test_a_vxlan_vlan_shows_its_vni_tunnel_ports_remote_ip_and_flows_with_counters():
    (v,) = yeasy_compute_node().vlans
    assert (v.local_vlan, v.network_type, v.segmentation_id) == (1, "vxlan", 0x3E9)
    assert (v.tunnel_bridge, v.tunnel_ports, v.remote_ips) == (
        "br-tun", ("vxlan-0a00644d",), ("10.0.100.77",))
    assert (v.physical_bridge, v.nics) == (None, ())
    # table 4: VNI -> local VLAN; table 22: local VLAN -> VNI, flooded to the tunnels
    assert (v.ingress_flow.table, v.ingress_flow.match, v.ingress_flow.n_packets) == (
        4, "tun_id=0x3e9", 12)
    assert (v.egress_flow.table, v.egress_flow.actions, v.egress_flow.n_packets) == (
        22, "strip_vlan,set_tunnel:0x3e9,output:2", 11)
    vlan = next(x for x in to_contract(yeasy_compute_node())["vlans"] if x["local_vlan"] == 1)
    assert (vlan["tunnel_ports"], vlan["remote_ips"], vlan["network_type"]) == (
        ["vxlan-0a00644d"], ["10.0.100.77"], "vxlan")


def test_a_vxlan_instance_on_a_kernel_datapath_node_with_vlan_and_flat_networks_beside_it():
    model = study_notes_node()
    by_local = {v.local_vlan: (v.network_type, v.segmentation_id, v.physical_bridge, v.nics,
                               v.tunnel_bridge, v.tunnel_ports, v.remote_ips)
                for v in model.vlans}
    # br-mgmt is a second physical bridge with no translation: it claims nothing
    assert by_local == {
        1: ("vlan", 100, "br-provider", ("eth2",), None, (), ()),
        2: ("flat", None, "br-provider", ("eth2",), None, (), ()),
        3: ("vxlan", 0xEF, None, (), "br-tun", ("vxlan-ac10000b",), ("172.16.0.11",)),
    }
    v3 = model.vlan(3)
    # names quoted, load:->NXM_NX_TUN_ID[] (the author: "tag 3 -> VNI 239 (0xef)")
    assert (v3.egress_flow.table, v3.egress_flow.n_packets) == (22, 17)
    assert (v3.ingress_flow.table, v3.ingress_flow.n_packets) == (4, 68)
    (inst,) = model.instances
    (vv,) = inst.vnics
    assert (vv.vnic.type, vv.port.owner, vv.local_vlan, vv.network_type, vv.segmentation_id,
            vv.tunnel_bridge) == ("ethernet", "instance", 3, "vxlan", 239, "br-tun")
    # the kernel datapath: bridges of datapath_type system, the tap enslaved to ovs-system
    assert {b.datapath_type for b in model.bridges} == {"system"}
    assert vv.link.master == "ovs-system"
    # translation into VLAN 1 goes on to table 58 (packet rate limit), not 60
    assert model.vlan(1).ingress_flow.actions == "mod_vlan_vid:1,resubmit(,58)"
    assert all(not openflow.flow_detail(f).partial for f in model.all_flows())


def test_a_vxlan_vlans_learned_unicast_flow_is_shown_with_its_counter_beside_the_flood():
    # table 20, learned from table 10: VID bits only (vlan_tci=0x0001/0x0fff), TCI set to 0
    (v,) = yeasy_compute_node().vlans
    (f,) = v.tunnel_unicast_flows
    assert (f.table, f.priority, f.match, f.n_packets) == (
        20, 1, "vlan_tci=0x0001/0x0fff,dl_dst=fa:16:3e:83:95:fa", 9)
    assert f.actions.endswith("load:0x3e9->NXM_NX_TUN_ID[],output:2")
    assert v.egress_flow.table == 22  # the flood flow stays the egress
    vlan = to_contract(yeasy_compute_node())["vlans"][0]
    assert [x["n_packets"] for x in vlan["tunnel_unicast_flows"]] == [9]


def test_a_tunnel_ports_physnet_none_is_no_physical_network():
    # the agent writes str(physical_network): "None" on a VXLAN port (ovs_neutron_agent port_bound)
    from model.neutron import physical_network
    assert physical_network({"network_type": "vxlan", "physical_network": "None"}) is None
    assert physical_network({"physical_network": "physnet1"}) == "physnet1"


def test_tunnel_outputs_by_unknown_number_are_shown_as_printed_and_no_ip_is_guessed():
    # the network node's show has no ofports: output:2 stays "2"
    (v,) = yeasy_network_node().vlans
    assert (v.segmentation_id, v.tunnel_ports, v.remote_ips) == (1001, ("2",), ())
    assert v.egress_flow.n_packets == 3 and v.ingress_flow.n_packets == 1076


def test_a_tunnel_vlan_whose_vni_no_flow_brings_back_misses_its_ingress_translation():
    # the compute node's br-tun with its table-4 flow taken out (a synthetic edit)
    ovsdb = with_ofports(show("yeasy-compute-ovs-vsctl-show.txt"), YEASY_COMPUTE_OFPORTS)
    text = "".join(line for line in (REAL / "yeasy-compute-dump-flows-br-tun.txt").read_text()
                   .splitlines(keepends=True) if "tun_id=0x3e9" not in line)
    model = joined(ovsdb, {"br-tun": openflow.parse_dump("br-tun", text, 0.0),
                           **flows(br_int="yeasy-compute-dump-flows-br-int.txt")})
    (v,) = model.vlans
    assert (v.network_type, v.segmentation_id, v.tunnel_bridge) == ("vxlan", 1001, "br-tun")
    assert [(p.kind, p.detail) for p in model.problems] == [(
        "missing-vlan-translation",
        "ingress: no flow on br-tun turns VNI 1001 into local VLAN 1")]


def test_a_vlan_with_neither_a_tunnel_nor_a_physical_way_out_is_one_missing_translation():
    # the compute node's br-tun with both of VLAN 1's flows taken out (a
    # synthetic edit): br-tun was read, and has nothing for it
    ovsdb = with_ofports(show("yeasy-compute-ovs-vsctl-show.txt"), YEASY_COMPUTE_OFPORTS)
    text = "".join(line for line in (REAL / "yeasy-compute-dump-flows-br-tun.txt").read_text()
                   .splitlines(keepends=True) if "0x3e9" not in line)
    model = joined(ovsdb, {"br-tun": openflow.parse_dump("br-tun", text, 0.0),
                           **flows(br_int="yeasy-compute-dump-flows-br-int.txt")})
    assert [(p.kind, p.detail) for p in model.problems] == [(
        "missing-vlan-translation",
        "no flow on br-tun turns local VLAN 1 into a VNI, and no physical bridge is joined to "
        "br-int: its frames cannot leave this node")]


def test_port_other_config_gives_the_tunnel_network_when_no_flow_was_read():
    # ovs-vsctl show hides other_config: the agent's keys added to both qvo ports
    base = with_ofports(show("yeasy-compute-ovs-vsctl-show.txt"), YEASY_COMPUTE_OFPORTS)
    oc = frozen_map({"net_uuid": "n1", "network_type": "vxlan", "segmentation_id": "1001",
                     "tag": "1"})
    ovsdb = replace(base, bridges=tuple(
        replace(b, ports=tuple(replace(p, other_config=oc) if p.name.startswith("qvo") else p
                               for p in b.ports)) for b in base.bridges))
    model = yeasy_compute_node(ovsdb, with_flows=False)
    (v,) = model.vlans
    assert (v.network_type, v.segmentation_id, v.tunnel_bridge, v.physical_bridge) == (
        "vxlan", 1001, "br-tun", None)
    assert model.problems == ()
    # with the flows read, other_config and flows agree: no vlan-mismatch
    assert yeasy_compute_node(ovsdb).problems == ()


def test_a_tunnel_vlan_is_never_sent_out_of_the_lone_physical_bridge():
    # br-ex is the only physical bridge, br-tun carries the tenant networks;
    # with no flow read, nothing says these VLANs leave through br-ex's eth0
    for v in insights_network_node().vlans:
        assert (v.physical_bridge, v.nics) == (None, ())


# --------------------------------------------------------------------------
# Old agents, and two translations into one VLAN


def test_an_old_agents_veth_pair_joins_br_int_to_the_physical_bridge():
    peers = {pv.name: pv.peer_bridge for pv in neutron_devref_node().ports
             if pv.name.startswith(("int-", "phy-"))}
    assert peers == {"int-br-ex": "br-ex", "int-br-eth1": "br-eth1",
                     "phy-br-eth1": "br-int", "phy-br-ex": "br-int"}


def test_a_vlan_network_on_a_veth_pair_is_followed_to_its_nic():
    (v,) = xianghui_node().vlans
    assert (v.local_vlan, v.network_type, v.segmentation_id) == (1, "vlan", 109)
    assert (v.physical_bridge, v.nics) == ("br-eth1", ("eth1",))
    assert v.egress_flow.match == "in_port=3,dl_vlan=1"


def test_two_translations_into_one_local_vlan_are_a_problem_naming_both():
    model = xianghui_node()
    (v,) = model.vlans
    # the one shown agrees with egress (109, the network the author made);
    # the other is the duplicate, never silently dropped
    assert v.ingress_flow.match == "in_port=28,dl_vlan=109"
    assert [f.match for f in v.duplicate_flows] == ["in_port=28,dl_vlan=107"]
    (problem,) = model.problems
    assert problem.kind == "duplicate-vlan-translation"
    assert "dl_vlan=107" in problem.detail and "dl_vlan=109" in problem.detail
    (vlan,) = to_contract(model)["vlans"]
    assert [f["match"] for f in vlan["duplicate_flows"]] == ["in_port=28,dl_vlan=107"]


# --------------------------------------------------------------------------
# Nova and libvirt


def test_nova_metadata_1_0_gives_name_flavor_and_project():
    dom = nova_domain("insights-rhosp10-nova-1.0.xml")
    assert (dom.nova_name, dom.flavor, dom.project, dom.project_id) == (
        "django_vm_001", "vpc1-cf1-foo-bar", "vpcdi1", "5a50e9d0d19746158958be0c759793fb")
    (vnic,) = dom.vnics
    assert (vnic.type, vnic.source_bridge, vnic.target) == (
        "bridge", "qbrf975e53f-e0", "tapf975e53f-e0")


def test_nova_metadata_1_1_gives_the_ports_and_their_fixed_ips():
    dom = nova_domain("qemu-devel-nova-25-instance-0000000e.xml")
    assert (dom.nova_name, dom.flavor, dom.project) == (
        "provider-instance", "cirros-os-dpu-test-1", "admin")
    assert [(p.uuid, p.fixed_ips) for p in dom.nova_ports] == [
        ("77c1dc00-af39-4463-bea0-12808f4bc340", ("172.1.1.43",))]


def test_status_xml_wrapped_in_domstatus_is_read_as_its_domain():
    dom = nova_domain("insights-domstatus.xml")
    assert (dom.name, dom.uuid) == ("test-idm-client-ccveu-net",
                                    "78177d07-ac0e-4057-b1de-9ccd66cbc3d7")
    assert [(v.mac, v.target, v.source_bridge) for v in dom.vnics] == [
        ("00:1a:4a:16:03:72", "vnet20", "vlan2593")]


def test_a_kernel_datapath_nodes_links_show_their_ovs_system_master():
    links = {l.ifname: l for l in netlink.parse_ip_link_detail(
        (REAL / "insights-kernel-datapath-ip-s-d-link.txt").read_text())}
    assert {n for n, l in links.items() if l.master == "ovs-system"} == {
        "eno1", "eno2", "vxlan_sys_4789"}
    assert (links["ovs-system"].kind, links["vxlan_sys_4789"].kind) == ("openvswitch", "vxlan")


# --------------------------------------------------------------------------
# Bonds (no public Neutron node output with an OVS bond was found: the
# xianghui node's eth1 is turned into a bond here, a synthetic edit)


def xianghui_node_with_a_bond() -> NodeModel:
    base = xianghui_node()
    ovsdb = OvsdbSnapshot(base.ovs_version, tuple(base.bridges))

    def bonded(port):
        if port.name != "eth1":
            return port
        (eth1,) = port.interfaces
        return replace(port, name="bond0", interfaces=(
            replace(eth1, link_state="up"), replace(eth1, name="eth2", ofport=2, link_state="down")))

    ovsdb = replace(ovsdb, bridges=tuple(replace(b, ports=tuple(bonded(p) for p in b.ports))
                                         for b in ovsdb.bridges))
    return joined(ovsdb, flows(br_int="xianghui-icehouse-dump-flows-br-int.txt",
                               br_eth1="xianghui-icehouse-dump-flows-br-eth1.txt"))


def test_a_bond_is_the_physical_bridges_nic_with_its_members_and_their_link_state():
    model = xianghui_node_with_a_bond()
    (v,) = model.vlans
    assert (v.physical_bridge, v.nics) == ("br-eth1", ("bond0",))
    assert model.port("bond0").owner == "nic"
    (port,) = [p for b in to_contract(model)["bridges"] for p in b["ports"] if p["name"] == "bond0"]
    assert port["interfaces"] == [{"name": "eth1", "type": "system", "link_state": "up"},
                                  {"name": "eth2", "type": "system", "link_state": "down"}]


# --------------------------------------------------------------------------
# OpenFlow 1.3 forms


def test_of13_set_field_of_a_mac_is_read_by_the_full_parse_not_the_fallback():
    # OVN's ARP responder flows as ovs-ofctl -O OpenFlow13 printed them (the
    # author cut the cookie and duration off each line with cut -d',' -f3-)
    found = []
    for line in (REAL / "flaviof-ovn-of13-br-int-cut.txt").read_text().splitlines():
        head, actions = line.strip().split(" actions=")
        table = int(head.split(",")[0].split("=")[1])
        match = head.split(", ", 3)[3]  # after table, n_packets, n_bytes
        priority = int(match.split(",")[0].split("=")[1])
        match = match.split(",", 1)[1]
        flow = Flow("br-int", table, priority, 0, match, actions, 0, 0, 0.0)
        found.append(openflow.flow_detail(flow))
    assert [d.partial for d in found] == [False] * 5
    assert [d.loads.get("reg15") for d in found[:3]] == [1, 2, 4]
    assert [d.resubmits for d in found[:3]] == [(32,)] * 3
    assert found[0].metadata == 2


# --------------------------------------------------------------------------
# DVR: hotsos's compute4 sosreport (tests/fixtures/sos/README.md: Apache-2.0)

HOTSOS = Path(__file__).parent.parent / "fixtures" / "sos" / "hotsos-openstack"
HOTSOS_VLANS = {
    1: ("vxlan", 1001, None, "br-tun", ("vxlan-0a000072", "vxlan-0a000085"),
        ("10.0.0.114", "10.0.0.133")),
    2: ("flat", None, "br-data", None, (), ()),
    3: ("vxlan", 1233, None, "br-tun", ("vxlan-0a000072", "vxlan-0a000085"),
        ("10.0.0.114", "10.0.0.133")),
}


def hotsos_node(protocol: str | None = None) -> NodeModel:
    from collectors.saved.read import read_saved
    obs = read_saved(HOTSOS).observation
    if protocol:  # the same node's dumps as ovs-ofctl -O <protocol> printed them
        folder = HOTSOS / "sos_commands" / "openvswitch"
        obs = replace(obs, flows={**obs.flows, **{
            b: openflow.parse_dump(b, (folder / f"ovs-ofctl_-O_{protocol}_dump-flows_{b}").read_text(),
                                   0.0) for b in ("br-int", "br-tun", "br-data")}})
    return build_model(obs, openflow.flow_detail)


def vlan_map_of(model: NodeModel) -> dict:
    return {v.local_vlan: (v.network_type, v.segmentation_id, v.physical_bridge, v.tunnel_bridge,
                           v.tunnel_ports, v.remote_ips) for v in model.vlans}


def test_a_dvr_compute_node_translates_its_flat_network_in_table_2_of_the_physical_bridge():
    model = hotsos_node()
    assert vlan_map_of(model) == HOTSOS_VLANS
    flat = model.vlan(2)
    assert (flat.egress_flow.bridge, flat.egress_flow.table, flat.egress_flow.actions) == (
        "br-data", 2, "strip_vlan,NORMAL")
    # DVR: br-tun hands tunnel traffic to table 9 (DVR not learn), not 10
    assert model.vlan(1).ingress_flow.actions == "mod_vlan_vid:1,resubmit(,9)"
    assert model.problems == ()


def test_a_dvr_nodes_router_snat_ha_and_floating_ip_ports_are_the_l3_agents():
    model = hotsos_node()
    assert {n: o for n, o in owners(model).items() if n[:3] in ("qr-", "qg-", "sg-", "ha-", "fg-")} == {
        "fg-c8dcce74-c4": "gateway", "ha-550dc175-c0": "router", "qg-14f81a43-69": "gateway",
        "qr-3a70b31c-3f": "router", "sg-189f4c40-9d": "router"}
    (inst,) = model.instances
    (vv,) = inst.vnics
    # <interface type='bridge'> with <virtualport type='openvswitch'> (os-vif's OVS plug)
    assert (vv.vnic.type, vv.vnic.virtualport, vv.port.name, vv.network_type,
            vv.segmentation_id, vv.tunnel_bridge) == (
        "bridge", "openvswitch", "tap0e778df8-ca", "vxlan", 1233, "br-tun")
    # libvirt plugged it, so OVSDB names the domain in vm-id (not os-vif's vm-uuid)
    assert vv.port.interface.external_ids.get("vm-id") == inst.domain.uuid
    assert "vm-uuid" not in vv.port.interface.external_ids


@pytest.mark.parametrize("protocol", ["OpenFlow13", "OpenFlow14"])
def test_openflow_1_3_and_1_4_dumps_of_a_dvr_node_give_the_same_vlan_map(protocol):
    # push_vlan:0x8100,set_field:4097->vlan_vid / pop_vlan,set_field:0x3e9->tun_id /
    # set_field:<MAC>->eth_src / goto_table:N
    model = hotsos_node(protocol)
    assert vlan_map_of(model) == HOTSOS_VLANS
    assert model.problems == ()
    assert all(not openflow.flow_detail(f).partial for f in model.all_flows()
               if f.bridge in ("br-int", "br-tun", "br-data"))


def test_a_busy_br_tuns_unicast_flows_are_not_parsed_in_full_when_a_flood_flow_says_it_all():
    # hotsos's br-tun plus 4000 synthetic table-20 flows of the agent's two
    # shapes (learned, and l2pop's): a full parse costs 50-140 us a flow
    from model.records import FlowDump
    from model.tunnels import tunnel_map
    model = hotsos_node()
    extra = []
    for n in range(2000):
        mac = f"fa:16:3e:00:{n >> 8:02x}:{n & 255:02x}"
        extra += [Flow("br-tun", 20, 1, 0, f"vlan_tci=0x0001/0x0fff,dl_dst={mac}",
                       "load:0->NXM_OF_VLAN_TCI[],load:0x3e9->NXM_NX_TUN_ID[],output:2", 0, 0, 1.0),
                  Flow("br-tun", 20, 2, 0, f"dl_vlan=3,dl_dst={mac}",
                       "pop_vlan,set_field:0x4d1->tun_id,output:3", 0, 0, 1.0)]
    dump = model.flows["br-tun"]
    parsed = []

    def detail_of(flow):
        parsed.append(flow)
        return openflow.flow_detail(flow)

    legs = tunnel_map(("br-tun",), {pv.name: pv for pv in model.ports},
                      {"br-tun": FlowDump("br-tun", dump.flows + tuple(extra), 0.0)}, detail_of)
    assert {v: (leg.vni, leg.ports) for v, leg in legs.items()} == {
        1: (1001, ("vxlan-0a000072", "vxlan-0a000085")),
        3: (1233, ("vxlan-0a000072", "vxlan-0a000085"))}
    assert not any(f in extra for f in parsed)
