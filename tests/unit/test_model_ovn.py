"""An ML2/OVN chassis read from its own outputs: the tool finds out it is one,
and joins instance -> tap -> logical port -> datapath -> localnet patch ->
provider VLAN (or flat) -> provider bridge -> NIC from br-int's flows, with a
problem only where the outputs show one.

Inputs (tests/fixtures/ovn/README.md): the OVN lab's chassis (OVN 23.03,
OVS 3.1) and an OVN chassis published in ovs-dbg's documentation (OVS 2.15,
VLAN 405 localnet, names truncated by ovs-ofctl).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from collectors import domains, openflow
from collectors.ovn_sb import parse_southbound, sbctl_args
from collectors.saved.vsctl_list import parse_value, parse_vsctl_list
from collectors.saved.vsctl_show import parse_vsctl_show, with_ofports
from lab.node import VMS, node_xml
from model import ovn, ovn_tables
from model.contract import to_contract
from model.join import NodeModel, build_model
from model.records import FlowDump, Observation, OvsdbSnapshot, SbPort, frozen_map

OVN = Path(__file__).parent.parent / "fixtures" / "ovn"
VLAN_LOCALNET = "provnet-5e1c0a2d-7b39-4e68-9d0f-1a2b3c4d5e6f"
FLAT_LOCALNET = "provnet-9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
METADATA_TAP = "tapfab2345c-50"
INSTANCE01, INSTANCE00 = VMS


def lab_ovsdb(edit_ifaces=lambda rows: rows) -> OvsdbSnapshot:
    """`ovs-vsctl show` with ofports and external_ids from `ovs-vsctl list`."""
    snap = parse_vsctl_show((OVN / "lab-ovs-vsctl-show.txt").read_text())
    ifaces = {r["name"]: r for r in edit_ifaces(
        parse_vsctl_list((OVN / "lab-list-interface.txt").read_text()))}
    ports = {r["name"]: r for r in parse_vsctl_list((OVN / "lab-list-port.txt").read_text())}
    bridges = []
    for b in snap.bridges:
        new_ports = []
        for p in b.ports:
            new_ports.append(replace(
                p, external_ids=frozen_map(ports[p.name]["external_ids"]),
                interfaces=tuple(replace(i, ofport=ifaces[i.name]["ofport"],
                                         external_ids=frozen_map(ifaces[i.name]["external_ids"]))
                                 for i in p.interfaces if i.name in ifaces)))
        bridges.append(replace(b, ports=tuple(new_ports)))
    ids = parse_value((OVN / "lab-open-vswitch-external-ids.txt").read_text().strip())
    return replace(snap, bridges=tuple(bridges), external_ids=frozen_map(ids))


def lab_flows(edit=lambda text: text) -> dict[str, FlowDump]:
    return {"br-int": openflow.parse_dump(
                "br-int", edit((OVN / "lab-dump-flows-br-int-t0-t65.txt").read_text()), 0.0),
            "br-provider": openflow.parse_dump(
                "br-provider", (OVN / "lab-dump-flows-br-provider.txt").read_text(), 0.0)}


def lab_domains():
    xml = node_xml()
    out = []
    for part in re.findall(r"<domain type='test'>.*?</domain>", xml, re.S):
        out.append(domains.parse_domain_xml(part, state="running", id=None))
    return tuple(out)


def lab_model(ovsdb=None, flows=None, **kw) -> NodeModel:
    obs = Observation(hostname="ovsvlan-lab-node", ovsdb=ovsdb or lab_ovsdb(),
                      flows=flows or lab_flows(), domains=lab_domains(), **kw)
    return build_model(obs, openflow.flow_detail)


def vnic_of(model: NodeModel, tap: str):
    return next(vv for i in model.instances for vv in i.vnics if vv.vnic.target == tap)


# --------------------------------------------------------------------------
# the chain


def test_the_node_is_recognised_as_an_ovn_chassis_from_its_ovsdb():
    model = lab_model()
    assert model.ovn is not None
    assert model.ovn.chassis.system_id == "ovsvlan-lab-chassis"
    assert dict(model.ovn.chassis.bridge_mappings) == {"provider": "br-provider"}


def test_instance01_leaves_on_provider_vlan_100_through_br_provider_and_eth0():
    vv = vnic_of(lab_model(), INSTANCE01.tap)
    assert vv.local_vlan is None  # OVN has no local VLANs
    assert vv.logical_port == INSTANCE01.port_id
    assert vv.datapath_key == 1
    assert (vv.segmentation_id, vv.network_type) == (100, "vlan")
    assert (vv.physical_network, vv.physical_bridge, vv.nics) == ("provider", "br-provider",
                                                                  ("eth0",))
    assert vv.ovn_installed is True and vv.chassis == "ovsvlan-lab-chassis"


def test_the_flat_instance_leaves_untagged_on_the_same_bridge():
    vv = vnic_of(lab_model(), INSTANCE00.tap)
    assert (vv.datapath_key, vv.segmentation_id, vv.network_type) == (2, None, "flat")
    assert (vv.physical_bridge, vv.nics) == ("br-provider", ("eth0",))


def test_the_vlan_network_carries_its_translation_flows_found_by_ofport():
    """ovs-ofctl prints both patches as in_port=4/5 (their 15-byte names clash)."""
    model = lab_model()
    net = model.vlan("dp1")
    assert net.localnet == VLAN_LOCALNET and net.segmentation_id == 100
    assert net.ingress_flow.table == 0 and net.ingress_flow.priority == 150
    assert "dl_vlan=100" in net.ingress_flow.match
    assert net.egress_flow.table == 65  # found from the flows: logical to physical in 23.03
    assert net.egress_flow.actions.startswith("mod_vlan_vid:100,output:5")
    assert model.ovn.egress_tables == (65,)
    assert INSTANCE01.tap in net.ports and METADATA_TAP in net.ports
    flat = model.vlan("dp2")
    assert flat.localnet == FLAT_LOCALNET and flat.network_type == "flat"
    assert flat.ingress_flow.match.endswith("vlan_tci=0x0000/0x1000")
    assert flat.egress_flow.actions == "output:4"


def test_a_healthy_chassis_has_no_problems_and_the_metadata_port_is_no_orphan():
    assert lab_model().problems == ()


def test_the_contract_gives_the_chain_with_local_vlan_null():
    doc = to_contract(lab_model())
    assert doc["node"]["kind"] == "ml2/ovn"
    iface = next(i for inst in doc["instances"] for i in inst["interfaces"]
                 if i["tap"] == INSTANCE01.tap)
    assert iface["local_vlan"] is None
    assert (iface["logical_port"], iface["datapath_key"], iface["segmentation_id"],
            iface["physical_bridge"], iface["nics"]) == (INSTANCE01.port_id, 1, 100,
                                                         "br-provider", ["eth0"])
    vlan = next(v for v in doc["vlans"] if v["datapath_key"] == 1)
    assert vlan["local_vlan"] is None and vlan["localnet"] == VLAN_LOCALNET
    assert vlan["egress_flow"]["table"] == 65 and vlan["ingress_flow"]["table"] == 0


# --------------------------------------------------------------------------
# problems


def _without_binding(rows, tap):
    """The port as ovn-controller leaves one whose iface-id is bound nowhere."""
    return [{**r, "external_ids": {k: v for k, v in r["external_ids"].items()
                                   if not k.startswith("ovn-installed")}}
            if r["name"] == tap else r for r in rows]


def _drop_lines(*needles):
    return lambda text: "\n".join(l for l in text.splitlines()
                                  if not all(n in l for n in needles)) + "\n"


def test_a_port_with_no_ovn_installed_and_no_table0_flow_is_unbound():
    ovsdb = lab_ovsdb(lambda rows: _without_binding(rows, INSTANCE01.tap))
    flows = lab_flows(_drop_lines('in_port="tap2d1670a4-8e"', "table=0"))
    problems = lab_model(ovsdb, flows).problems
    assert [(p.kind, p.subject) for p in problems] == [("unbound-port", INSTANCE01.tap)]
    assert INSTANCE01.port_id in problems[0].detail


def test_a_new_port_gets_a_grace_time_before_it_is_called_unbound():
    ovsdb = lab_ovsdb(lambda rows: _without_binding(rows, INSTANCE01.tap))
    flows = lab_flows(_drop_lines('in_port="tap2d1670a4-8e"', "table=0"))
    assert lab_model(ovsdb, flows, port_ages={INSTANCE01.tap: 1.0}).problems == ()
    assert lab_model(ovsdb, flows, port_ages={INSTANCE01.tap: 60.0}).problems != ()


def test_a_port_whose_flows_are_in_is_bound_even_before_ovn_installed_is_written():
    ovsdb = lab_ovsdb(lambda rows: _without_binding(rows, INSTANCE01.tap))
    assert lab_model(ovsdb).problems == ()


def test_a_vlan_pushed_out_but_not_stripped_in_is_a_missing_translation():
    flows = lab_flows(_drop_lines("priority=150", "dl_vlan=100"))
    problems = lab_model(flows=flows).problems
    assert [(p.kind, p.subject) for p in problems] == [("missing-vlan-translation",
                                                        VLAN_LOCALNET)]
    assert problems[0].detail.startswith("ingress:")


def test_a_vlan_stripped_in_but_never_pushed_out_is_a_missing_translation():
    flows = lab_flows(_drop_lines("mod_vlan_vid:100"))
    problems = lab_model(flows=flows).problems
    assert [(p.kind, p.detail.split(":")[0]) for p in problems] == [
        ("missing-vlan-translation", "egress")]


def test_a_bridge_mapping_to_a_bridge_that_does_not_exist_is_reported():
    ovsdb = lab_ovsdb()
    ids = {**ovsdb.external_ids, "ovn-bridge-mappings": "provider:br-provider,datacentre:br-ex"}
    problems = lab_model(replace(ovsdb, external_ids=frozen_map(ids))).problems
    assert [(p.kind, p.subject) for p in problems] == [("missing-bridge-mapping", "datacentre")]


def test_an_ml2_ovs_node_is_not_taken_for_an_ovn_chassis():
    from tests.unit.test_model_seed import seed_flows, seed_ovsdb

    obs = Observation(hostname="seed", ovsdb=seed_ovsdb(), flows=seed_flows(), domains=())
    assert build_model(obs, openflow.flow_detail).ovn is None


# --------------------------------------------------------------------------
# someone else's chassis: ovs-dbg's documentation (VLAN 405 localnet)


def _dbg_ovsdb() -> OvsdbSnapshot:
    lines = [l for l in (OVN / "ovs-dbg-offline-debugging-vsctl-show.txt").read_text().splitlines()
             if l.strip() != "[...]"]
    # the docs print the bridges at the UUID's level; ovs-vsctl indents them by 4
    text = "\n".join([lines[0]] + ["    " + l for l in lines[1:]]) + "\n"
    ofports: dict[str, dict[str, int]] = {}
    bridge = None
    for line in (OVN / "ovs-dbg-offline-debugging-dpif-show.txt").read_text().splitlines():
        if re.fullmatch(r"\S+:", line.strip()) and line.startswith("br"):
            bridge = line.strip()[:-1]
        elif bridge and (m := re.match(r"\s+(\S+) (\d+)/", line)):
            ofports.setdefault(bridge, {})[m.group(1)] = int(m.group(2))
    return with_ofports(parse_vsctl_show(text), ofports)


def test_a_published_chassis_joins_its_truncated_localnet_patch_by_name():
    """in_port="patch-br-int-to" is the only patch on that br-int: its 15-byte name."""
    flows = {"br-int": openflow.parse_dump(
        "br-int", (OVN / "ovs-dbg-offline-debugging-dump-flows-br-int.txt").read_text(), 0.0)}
    model = build_model(Observation(hostname="ovs-dbg", ovsdb=_dbg_ovsdb(), flows=flows),
                        openflow.flow_detail)
    assert model.ovn is not None  # told by table 0's metadata loads alone
    net = model.vlan("dp2")
    assert net.localnet == "provnet-df741617-6923-41e3-9ef6-075004808738"
    assert (net.segmentation_id, net.network_type) == (405, "vlan")
    assert net.ingress_flow.match.endswith('in_port="patch-br-int-to",dl_vlan=405')
    # the published dump is cut short ("[...]") before the output table: the
    # model says the egress flow is missing, not that the node is fine
    assert [p.kind for p in model.problems] == ["missing-vlan-translation"]


def test_ovn_table_names_follow_the_release():
    assert ovn_tables.table_name(65) == "logical to physical"
    assert ovn_tables.table_name(39, "23.03.1") == "check loopback"
    assert ovn_tables.table_name(39, "24.03.2") == "remote output"
    assert ovn_tables.table_name(39) == ""  # moved between releases: no guess
    assert ovn_tables.table_name(73) == "check in port security"
    assert ovn_tables.table_name(8, "23.03.1") == "logical ingress 0"
    assert ovn_tables.table_name(42, "23.03.1") == "logical egress 2"


def test_where_the_flows_say_the_output_table_moved_no_older_name_is_given():
    model = lab_model(flows=lab_flows(lambda t: t.replace("table=65", "table=89")))
    assert model.ovn.egress_tables == (89,)
    assert ovn_tables.table_name_of(model, 89) == "logical to physical"
    assert ovn_tables.table_name_of(model, 66) == ""  # MAC binding in 22.03-25.09, not here


# --------------------------------------------------------------------------
# southbound names (optional)


def lab_southbound():
    return parse_southbound((OVN / "lab-ovn-sbctl-list-json.txt").read_text())


def test_the_southbound_read_asks_only_list_commands_of_any_cluster_member():
    args = sbctl_args("tcp:192.0.2.1:6642,tcp:192.0.2.2:6642", 5)
    assert args[0] == "ovn-sbctl" and "--no-leader-only" in args
    verbs = [args[n + 1] for n, a in enumerate(args) if a.startswith("--columns=")]
    assert verbs == ["list"] * 4


def test_southbound_names_the_networks_ports_and_chassis():
    sb = lab_southbound()
    assert sb.networks == {1: "provider-100", 2: "public-flat"}
    assert sb.version == "23.03.1"
    vm1 = sb.ports[INSTANCE01.port_id]
    assert (vm1.type, vm1.datapath_key, vm1.chassis) == ("", 1, "ovsvlan-lab-chassis")
    assert sb.ports[VLAN_LOCALNET].tag == 100 and sb.ports[FLAT_LOCALNET].tag is None


def test_with_the_southbound_the_chain_carries_neutron_names_and_addresses():
    model = lab_model(ovn_sb=lab_southbound())
    vv = vnic_of(model, INSTANCE01.tap)
    assert vv.addresses == ("fa:16:3e:bc:78:a8 192.168.100.30",)
    assert (vv.fixed_ips, vv.fixed_ips_from) == (("192.168.100.30",), "southbound")
    assert model.vlan("dp1").network_name == "provider-100"
    assert model.problems == ()
    assert ovn_tables.table_name_of(model, 39) == "check loopback"  # 23.03's numbering


def _with_sb_port(sb, port):
    return replace(sb, ports=frozen_map({**sb.ports, port.logical_port: port}))


def test_a_localnet_port_of_a_network_in_use_without_its_patch_is_reported():
    sb = _with_sb_port(lab_southbound(), SbPort("provnet-extra", "localnet", 1, 9, None,
                                                network_name="provider", tag=200))
    problems = lab_model(ovn_sb=sb).problems
    assert [(p.kind, p.subject) for p in problems] == [("missing-localnet-patch", "provnet-extra")]


def test_a_localnet_port_whose_physnet_is_not_mapped_is_a_missing_bridge_mapping():
    sb = _with_sb_port(lab_southbound(), SbPort("provnet-dc", "localnet", 2, 9, None,
                                                network_name="datacentre"))
    problems = lab_model(ovn_sb=sb).problems
    assert [(p.kind, p.subject) for p in problems] == [("missing-bridge-mapping", "datacentre")]


def test_a_port_plugged_during_the_session_is_aged_from_when_it_appeared():
    """Those there at the first read have no age (an old unbound port shows at once)."""
    from node.session import NodeSession

    session = NodeSession.__new__(NodeSession)
    session._known_ifaces, session._appeared = None, {}
    snap = lab_ovsdb()
    assert session._port_ages(snap, 100.0) == {}
    bridges = tuple(replace(b, ports=b.ports + (replace(b.ports[0], name="tapnew", interfaces=(
        replace(b.ports[0].interface, name="tapnew"),)),)) if b.name == "br-int" else b
        for b in snap.bridges)
    assert session._port_ages(replace(snap, bridges=bridges), 103.0) == {"tapnew": 0.0}
    assert session._port_ages(replace(snap, bridges=bridges), 110.5) == {"tapnew": 7.5}
    assert session._port_ages(snap, 111.0) == {}


def test_an_openflow13_dump_as_sos_takes_it_gives_the_same_chain():
    flows = {**lab_flows(), "br-int": openflow.parse_dump(
        "br-int", (OVN / "lab-dump-flows-of13-br-int-t0-t65.txt").read_text(), 0.0)}
    model = lab_model(flows=flows)
    vv = vnic_of(model, INSTANCE01.tap)
    assert (vv.datapath_key, vv.segmentation_id, vv.physical_bridge) == (1, 100, "br-provider")
    net = model.vlan("dp1")
    assert net.egress_flow.actions.startswith("push_vlan:0x8100,set_field:4196->vlan_vid,output:5")
    assert net.ingress_flow.actions.startswith("pop_vlan,")
    assert vnic_of(model, INSTANCE00.tap).network_type == "flat"
    assert model.problems == ()


def test_the_packet_path_of_an_ovn_vnic_crosses_its_logical_port_and_localnet():
    from model.path import path_of

    model = lab_model()
    title, hops = path_of(model, INSTANCE01.tap)
    assert [h.key for h in hops] == ["vnic", "tap", "port", "logical", "patch", "translation",
                                     "nic", "wire"]
    logical, translation = hops[3], hops[5]
    (t0,) = logical.out_ids
    assert t0[1][1] == 0 and 'in_port="tap2d1670a4-8e"' in t0[1][3]  # its table-0 flow
    assert translation.out_ids == (("flow", model.vlan("dp1").egress_flow.key),)
    assert translation.in_ids == (("flow", model.vlan("dp1").ingress_flow.key),)
    assert hops[-1].detail == "VLAN 100" and hops[6].label == "eth0"


def test_an_unbound_vnic_s_path_stops_at_its_logical_port():
    from model.path import path_of

    ovsdb = lab_ovsdb(lambda rows: _without_binding(rows, INSTANCE01.tap))
    flows = lab_flows(_drop_lines('in_port="tap2d1670a4-8e"', "table=0"))
    _, hops = path_of(lab_model(ovsdb, flows), INSTANCE01.tap)
    assert [h.key for h in hops][-1] == "logical"
    assert "unbound" in hops[-1].missing_out


def test_with_br_int_s_flows_unread_the_path_gives_no_unbound_verdict():
    from model.path import path_of

    flows = {"br-provider": lab_flows()["br-provider"]}  # br-int's first dump not in yet
    _, hops = path_of(lab_model(flows=flows), INSTANCE01.tap)
    assert hops[-1].key == "logical" and hops[-1].missing_out == ""


# --------------------------------------------------------------------------
# which of OVN's checks ran: a verdict on a chassis only from what was read


def _ovn_checks(model: NodeModel) -> dict:
    return {c.kind: c for c in model.checks
            if c.kind in ("unbound-port", "missing-bridge-mapping", "missing-localnet-patch")}


def test_with_the_southbound_read_every_ovn_check_ran_and_the_verdict_is_clean():
    from model.problems import verdict
    model = lab_model(ovn_sb=lab_southbound())
    assert {k: c.status for k, c in _ovn_checks(model).items()} == {
        "unbound-port": "ran", "missing-bridge-mapping": "ran", "missing-localnet-patch": "ran"}
    assert verdict(model) == ("no problems found", True)


def test_without_the_southbound_the_localnet_checks_say_so_and_no_clean_bill_is_given():
    from model.problems import verdict
    model = lab_model()  # ovn-remote set, southbound not read
    checks = _ovn_checks(model)
    assert checks["unbound-port"].status == "ran"
    assert checks["missing-localnet-patch"].status == "not run"
    assert checks["missing-localnet-patch"].missing == ("ovn-sb",)
    assert "ovn-sb not read" in checks["missing-localnet-patch"].why
    # a mapping to a bridge that does not exist is still found from OVSDB alone
    assert checks["missing-bridge-mapping"].status == "partial"
    text, clean = verdict(model)
    assert not clean and text.startswith("0 problems; 1 of ") and "(ovn-sb not read)" in text
    doc = to_contract(model)
    assert {c["kind"]: c["status"] for c in doc["checks"]}["missing-localnet-patch"] == "not run"


def test_with_br_int_s_flows_unread_the_unbound_check_did_not_run():
    flows = {"br-provider": lab_flows()["br-provider"]}
    checks = _ovn_checks(lab_model(flows=flows, ovn_sb=lab_southbound()))
    assert checks["unbound-port"].status == "not run"
    assert "flows of br-int not read" in checks["unbound-port"].why
    assert checks["missing-bridge-mapping"].status == "partial"
