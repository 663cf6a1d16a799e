"""The seed's real outputs, joined: what the operator reads for instance01 is
instance01 -> tap2d1670a4-8e -> br-int tag 2 -> VLAN 100 on br-provider via
eth0, whatever OpenFlow version printed the flows and whichever firewall
plugged the port; and each problem is reported only when the outputs show it.

Inputs are the seed's `ovs-vsctl show`, both `ovs-ofctl show` and `dump-flows`
listings, `virsh dumpxml` (its interface, wrapped in a domain with the uuid
and Nova name from the seed's `openstack server create` output) and
`ip -d link show`, read with the same parsers the tool uses on saved outputs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest

from collectors import domains, netlink, openflow
from model.contract import to_contract
from model.join import NodeModel, build_model
from model.records import Domain, FlowDump, Observation, OvsdbSnapshot, OvsPort, frozen_map
from collectors.saved.vsctl_show import parse_vsctl_show, with_ofports

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED = FIXTURES / "seed"
MODEL = FIXTURES / "model"
BRIDGES = ("br-int", "br-provider")

# From the seed's `openstack server create` output (id, name, project_id).
INSTANCE01_UUID = "45ee5234-e888-4ab8-91d1-d8d646a382ae"
INSTANCE01 = "instance01"
PROJECT_ID = "f2aeffb34ff34ffb8959f1cd813655c6"
PORT_ID = "2d1670a4-8e0b-4c34-9a57-0f2a61c3d9e1"  # Neutron port; the tap is "tap" + 11 chars
MAC = "fa:16:3e:bc:78:a8"
OFPP_LOCAL = 65534  # `ovs-ofctl show` prints the bridge's own port as LOCAL


# --------------------------------------------------------------------------
# Reading the seed


def seed_ovsdb(show: Path = SEED / "ovs-vsctl-show.txt") -> OvsdbSnapshot:
    """`ovs-vsctl show` with the ofports `ovs-ofctl show` gives."""
    ofports = {}
    for bridge in BRIDGES:
        numbers = openflow.parse_ofctl_show((SEED / f"ovs-ofctl-show-{bridge}.txt").read_text())
        ofports[bridge] = {name: OFPP_LOCAL if n == "LOCAL" else n for n, name in numbers.items()}
    return with_ofports(parse_vsctl_show(show.read_text()), ofports)


def seed_flows(edit: Callable[[str], str] = lambda text: text, *, folder: Path = SEED,
               prefix: str = "dump-flows-") -> dict[str, FlowDump]:
    return {b: openflow.parse_dump(b, edit((folder / f"{prefix}{b}.txt").read_text()), 0.0)
            for b in BRIDGES}


def seed_domain(interface_xml: str | None = None) -> Domain:
    """The seed's `virsh dumpxml` interface inside instance01's domain."""
    iface = interface_xml or (SEED / "virsh-dumpxml-interface.xml").read_text()
    xml = f"""<domain type='kvm' id='2'>
  <name>instance-00000027</name>
  <uuid>{INSTANCE01_UUID}</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>{INSTANCE01}</nova:name>
      <nova:owner><nova:project uuid="{PROJECT_ID}">demo</nova:project></nova:owner>
    </nova:instance>
  </metadata>
  <devices>
{iface}
  </devices>
</domain>"""
    # `virsh list` in the seed: Id 2, 実行中 (running)
    return domains.parse_domain_xml(xml, state="running", id=2)


def seed_observation(**changes) -> Observation:
    obs = Observation(
        hostname="compute01",
        ovsdb=seed_ovsdb(),
        flows=seed_flows(),
        domains=(seed_domain(),),
        links=netlink.parse_ip_link_detail((SEED / "ip-d-link-show.txt").read_text()),
    )
    return replace(obs, **changes)


def joined(obs: Observation) -> NodeModel:
    return build_model(obs, openflow.flow_detail)


def edit_port(snapshot: OvsdbSnapshot, name: str, edit: Callable[[OvsPort], OvsPort]) -> OvsdbSnapshot:
    """The snapshot with one port changed (what `ovs-vsctl show` cannot show:
    external_ids, other_config)."""
    assert any(p.name == name for b in snapshot.bridges for p in b.ports), name
    return replace(snapshot, bridges=tuple(
        replace(b, ports=tuple(edit(p) if p.name == name else p for p in b.ports))
        for b in snapshot.bridges))


def with_external_ids(port: OvsPort, **ids: str) -> OvsPort:
    (iface,) = port.interfaces
    return replace(port, interfaces=(replace(iface, external_ids=frozen_map(ids)),))


def path_of(model: NodeModel, uuid: str = INSTANCE01_UUID) -> dict:
    """The line the operator reads for one single-vNIC instance."""
    inst = model.instance(uuid)
    assert inst is not None, f"no instance {uuid}"
    (vv,) = inst.vnics
    return {
        "instance": inst.domain.nova_name,
        "tap": vv.vnic.target,
        "port": vv.port.name if vv.port else None,
        "bridge": vv.port.bridge if vv.port else None,
        "ofport": vv.port.ofport if vv.port else None,
        "local_vlan": vv.local_vlan,
        "segmentation_id": vv.segmentation_id,
        "network_type": vv.network_type,
        "physical_bridge": vv.physical_bridge,
        "nics": vv.nics,
    }


def kinds(model: NodeModel) -> list[tuple[str, str]]:
    return [(p.kind, p.subject) for p in model.problems]


SEED_PATH = {
    "instance": INSTANCE01, "tap": "tap2d1670a4-8e", "port": "tap2d1670a4-8e",
    "bridge": "br-int", "ofport": 3, "local_vlan": 2, "segmentation_id": 100,
    "network_type": "vlan", "physical_bridge": "br-provider", "nics": ("eth0",),
}


# --------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize("bridge", BRIDGES)
def test_every_seed_flow_parses_fully(bridge):
    text = (SEED / f"dump-flows-{bridge}.txt").read_text()
    dump = openflow.parse_dump(bridge, text, 0.0)
    assert dump.unparsed == ()
    assert len(dump.flows) == len([line for line in text.splitlines() if line.strip()])
    not_fully_read = [f.match for f in dump.flows if openflow.flow_detail(f).partial]
    assert not_fully_read == []


def test_seed_ovsdb_has_the_ports_tags_patches_and_ofports():
    snap = seed_ovsdb()
    ports = {(p.bridge, p.name): p for b in snap.bridges for p in b.ports}
    assert snap.ovs_version == "3.1.4"
    assert ports["br-int", "tap2d1670a4-8e"].tag == 2
    assert ports["br-int", "tap60ad2c85-f3"].tag == 1
    assert ports["br-int", "int-br-provider"].interface.peer == "phy-br-provider"
    assert ports["br-provider", "phy-br-provider"].interface.peer == "int-br-provider"
    assert {name: p.interface.ofport for (_, name), p in ports.items()} == {
        "br-provider": OFPP_LOCAL, "eth0": 1, "phy-br-provider": 2,
        "tap60ad2c85-f3": 2, "int-br-provider": 1, "tap2d1670a4-8e": 3, "br-int": OFPP_LOCAL,
    }


# --------------------------------------------------------------------------
# The join


def test_seed_joins_instance01_to_provider_vlan_100_on_br_provider_via_eth0():
    model = joined(seed_observation())
    assert path_of(model) == SEED_PATH
    inst = model.instance(INSTANCE01_UUID)
    assert (inst.domain.name, inst.domain.state, inst.domain.project_id) == \
        ("instance-00000027", "running", PROJECT_ID)
    (vv,) = inst.vnics
    assert vv.vnic.mac == MAC
    # the kernel's view from `ip -d link`: a tun tap enslaved to the OVS datapath
    assert (vv.link.kind, vv.link.master) == ("tun", "ovs-system")
    assert vv.link_state == "unknown"  # `state UNKNOWN`, as a tap always says
    assert model.port("int-br-provider").peer_bridge == "br-provider"
    assert model.integration_bridge == "br-int"


def test_seed_vlan_map_finds_both_translations_of_vlan_2_and_their_counters():
    vlan = joined(seed_observation()).vlan(2)
    assert (vlan.bridge, vlan.segmentation_id, vlan.network_type) == ("br-int", 100, "vlan")
    assert (vlan.physical_bridge, vlan.nics, vlan.ports) == ("br-provider", ("eth0",), ("tap2d1670a4-8e",))
    egress, ingress = vlan.egress_flow, vlan.ingress_flow
    assert (egress.bridge, egress.table, egress.match, egress.actions, egress.n_packets) == (
        "br-provider", 0, 'in_port="phy-br-provider",dl_vlan=2', "mod_vlan_vid:100,NORMAL", 124)
    assert (ingress.bridge, ingress.table, ingress.match, ingress.actions, ingress.n_packets) == (
        "br-int", 0, 'in_port="int-br-provider",dl_vlan=100', "mod_vlan_vid:2,resubmit(,59)", 70)


def test_seed_flat_vlan_1_has_its_egress_strip_and_reports_the_ingress_the_dump_lacks():
    model = joined(seed_observation())
    vlan = model.vlan(1)
    assert (vlan.segmentation_id, vlan.network_type, vlan.ports) == (None, "flat", ("tap60ad2c85-f3",))
    assert vlan.egress_flow.actions == "strip_vlan,NORMAL"
    assert vlan.egress_flow.n_packets == 114
    # The seed's br-int listing elides the flat ingress flow
    # (in_port=int-br-provider,vlan_tci=0x0000/0x1fff -> mod_vlan_vid:1), so
    # the model must say it is missing, and for the ingress direction only.
    assert vlan.ingress_flow is None
    assert kinds(model) == [("missing-vlan-translation", "vlan 1")]
    (problem,) = model.problems
    assert problem.detail.startswith("ingress:")
    assert "br-int" in problem.detail and "local VLAN 1" in problem.detail


def _as_openflow13(text: str) -> str:
    """What the seed's flows look like when installed and dumped over OpenFlow 1.3."""
    return (text.replace("mod_vlan_vid:100", "set_field:4196->vlan_vid")
            .replace("mod_vlan_vid:2", "set_field:4098->vlan_vid")
            .replace("strip_vlan", "pop_vlan"))


def test_set_field_translation_flows_give_the_same_join():
    plain = joined(seed_observation())
    model = joined(seed_observation(flows=seed_flows(_as_openflow13)))
    assert path_of(model) == path_of(plain) == SEED_PATH
    vlan = model.vlan(2)
    assert vlan.egress_flow.actions == "set_field:4196->vlan_vid,NORMAL"
    assert vlan.ingress_flow.actions == "set_field:4098->vlan_vid,resubmit(,59)"
    assert (vlan.egress_flow.n_packets, vlan.ingress_flow.n_packets) == (124, 70)
    assert model.vlan(1).egress_flow.actions == "pop_vlan,NORMAL"
    assert kinds(model) == kinds(plain)


def test_a_real_openflow13_dump_of_the_seed_node_joins_and_has_every_translation():
    # Captured from the lab (the seed's node on OVS 3.1) with -O OpenFlow13:
    # reset_counts flags, set_field, and the flat ingress push_vlan+set_field.
    model = joined(seed_observation(flows=seed_flows(folder=MODEL, prefix="dump-flows-of13-")))
    assert path_of(model) == SEED_PATH
    assert model.vlan(2).egress_flow.actions == "set_field:4196->vlan_vid,NORMAL"
    assert model.vlan(2).ingress_flow.actions == "set_field:4098->vlan_vid,resubmit(,59)"
    assert model.vlan(1).egress_flow.actions == "pop_vlan,NORMAL"
    assert model.vlan(1).ingress_flow.actions == \
        "push_vlan:0x8100,set_field:4097->vlan_vid,resubmit(,59)"
    assert model.problems == ()


def test_iptables_hybrid_joins_the_tap_through_its_qvo_port_on_br_int():
    ovsdb = edit_port(seed_ovsdb(MODEL / "ovs-vsctl-show-hybrid.txt"), "qvo2d1670a4-8e",
                      lambda p: with_external_ids(p, **{"iface-id": PORT_ID, "attached-mac": MAC,
                                                        "vm-uuid": INSTANCE01_UUID}))
    ovsdb = with_ofports(ovsdb, {"br-int": {"qvo2d1670a4-8e": 3}})
    hybrid = domains.parse_domain_xml(
        (FIXTURES / "libvirt" / "instance-00000027-hybrid.xml").read_text(), state="running", id=2)
    assert hybrid.vnics[0].source_bridge == "qbr2d1670a4-8e"
    model = joined(seed_observation(ovsdb=ovsdb, domains=(hybrid,)))
    assert path_of(model) == {**SEED_PATH, "port": "qvo2d1670a4-8e"}
    assert model.port("qvo2d1670a4-8e").tap == "tap2d1670a4-8e"
    assert model.port("qvo2d1670a4-8e").domain_uuid == INSTANCE01_UUID
    # owned and plugged: neither orphan-port nor unplugged-vif (and this
    # node has no flat instance, so no VLAN 1 to miss a translation for)
    assert model.problems == ()
    (iface,) = to_contract(model)["instances"][0]["interfaces"]
    assert (iface["tap"], iface["port"], iface["local_vlan"]) == ("tap2d1670a4-8e", "qvo2d1670a4-8e", 2)


VHOSTUSER_VNIC = f"""<interface type='vhostuser'>
  <mac address='{MAC}'/>
  <source type='unix' path='/var/run/openvswitch/vhu2d1670a4-8e' mode='server'/>
  <model type='virtio'/>
</interface>"""


def _vhostuser_node(owner_key: str, owner: str) -> Observation:
    """instance01 on a vhost-user port: no tap name to join on, only the
    port's attached-mac and the domain uuid in its external_ids."""
    def as_vhostuser(p: OvsPort) -> OvsPort:
        p = with_external_ids(p, **{"iface-id": PORT_ID, "attached-mac": MAC, owner_key: owner})
        iface = replace(p.interface, name="vhu2d1670a4-8e", type="dpdkvhostuserclient")
        return replace(p, name="vhu2d1670a4-8e", interfaces=(iface,))

    ovsdb = edit_port(seed_ovsdb(), "tap2d1670a4-8e", as_vhostuser)
    return seed_observation(ovsdb=ovsdb, domains=(seed_domain(VHOSTUSER_VNIC),))


@pytest.mark.parametrize("owner_key", ["vm-uuid", "vm-id"])  # os-vif writes vm-uuid, libvirt vm-id
def test_a_port_is_joined_to_its_domain_by_attached_mac_and_either_uuid_key(owner_key):
    model = joined(_vhostuser_node(owner_key, INSTANCE01_UUID))
    assert path_of(model) == {**SEED_PATH, "tap": None, "port": "vhu2d1670a4-8e"}
    assert model.port("vhu2d1670a4-8e").domain_uuid == INSTANCE01_UUID
    assert kinds(model) == [("missing-vlan-translation", "vlan 1")]


@pytest.mark.parametrize("owner_key", ["vm-uuid", "vm-id"])
def test_a_port_naming_another_domain_is_an_orphan_and_the_vnic_unplugged(owner_key):
    other = "8c0f5a52-3b7e-4a51-b1d6-6f7c2e9a4d10"
    model = joined(_vhostuser_node(owner_key, other))
    assert path_of(model)["port"] is None
    assert sorted(kinds(model)) == [("missing-vlan-translation", "vlan 1"),
                                    ("orphan-port", "vhu2d1670a4-8e"),
                                    ("unplugged-vif", MAC)]
    orphan = next(p for p in model.problems if p.kind == "orphan-port")
    assert PORT_ID in orphan.detail and other in orphan.detail


def test_instances_come_in_the_same_order_however_libvirt_lists_them():
    flat = domains.parse_domain_xml("""<domain type='kvm'>
  <name>instance-00000026</name><uuid>8c0f5a52-3b7e-4a51-b1d6-6f7c2e9a4d10</uuid>
  <devices><interface type='ethernet'><mac address='fa:16:3e:e9:6a:38'/>
    <target dev='tap60ad2c85-f3'/></interface></devices>
</domain>""", state="running", id=1)
    orders = [[i.domain.name for i in joined(seed_observation(domains=listing)).instances]
              for listing in ((seed_domain(), flat), (flat, seed_domain()))]
    assert orders == [["instance-00000026", "instance-00000027"]] * 2
    # and the seed's other tap joins the flat VLAN 1
    model = joined(seed_observation(domains=(flat,)))
    vv = model.instances[0].vnics[0]
    assert (vv.port.name, vv.local_vlan, vv.network_type, vv.physical_bridge) == (
        "tap60ad2c85-f3", 1, "flat", "br-provider")


# --------------------------------------------------------------------------
# Problems only when the outputs show them


def _with_other_config(segmentation_id: str) -> OvsdbSnapshot:
    config = {"net_uuid": "fab2345c-5de9-4fda-8342-f0430a9239ea", "network_type": "vlan",
              "physical_network": "provider", "segmentation_id": segmentation_id, "tag": "2"}
    return edit_port(seed_ovsdb(), "tap2d1670a4-8e",
                     lambda p: replace(p, other_config=frozen_map(config)))


def test_flows_translating_to_another_vlan_than_the_agent_recorded_is_a_mismatch():
    model = joined(seed_observation(ovsdb=_with_other_config("200")))
    assert ("vlan-mismatch", "vlan 2") in kinds(model)
    problem = next(p for p in model.problems if p.kind == "vlan-mismatch")
    assert "segmentation_id 200" in problem.detail and "to 100" in problem.detail
    assert model.vlan(2).physical_network == "provider"


def test_flows_agreeing_with_the_agents_segmentation_id_are_no_mismatch():
    model = joined(seed_observation(ovsdb=_with_other_config("100")))
    assert "vlan-mismatch" not in {kind for kind, _ in kinds(model)}
    assert path_of(model) == SEED_PATH


def test_an_unreadable_ovsdb_does_not_make_every_vnic_look_unplugged():
    model = joined(seed_observation(ovsdb=None, flows={}))
    assert path_of(model)["port"] is None  # the instance is still shown
    assert model.problems == ()


def test_unread_libvirt_makes_no_vif_port_an_orphan():
    ovsdb = edit_port(seed_ovsdb(), "tap2d1670a4-8e",
                      lambda p: with_external_ids(p, **{"iface-id": PORT_ID, "attached-mac": MAC}))
    model = joined(seed_observation(ovsdb=ovsdb, domains=None))
    assert model.instances == ()
    assert "orphan-port" not in {kind for kind, _ in kinds(model)}
    # with libvirt read and the domain gone, the same port is an orphan
    gone = joined(seed_observation(ovsdb=ovsdb, domains=()))
    assert ("orphan-port", "tap2d1670a4-8e") in kinds(gone)


def test_an_unreadable_flow_dump_reports_no_missing_translation_on_that_bridge():
    failed = FlowDump("br-int", (), 0.0, error="ovs-ofctl: br-int.mgmt: connection refused")
    model = joined(seed_observation(flows={**seed_flows(), "br-int": failed}))
    assert model.problems == ()
    assert model.vlan(2).egress_flow is not None and model.vlan(2).ingress_flow is None


def test_a_vnic_shows_the_fixed_ips_nova_wrote_for_its_port_whichever_firewall_plugged_it():
    # the lab's domain XML (Nova 1.1 metadata with <nova:ports>) on the seed's
    # node, direct and hybrid: the Neutron port is joined by its tap's name
    for xml, ovs in (("instance-00000027.xml", seed_ovsdb()),
                     ("instance-00000027-hybrid.xml",
                      with_ofports(seed_ovsdb(MODEL / "ovs-vsctl-show-hybrid.txt"),
                                   {"br-int": {"qvo2d1670a4-8e": 3}}))):
        dom = domains.parse_domain_xml((FIXTURES / "libvirt" / xml).read_text(),
                                       state="running", id=2)
        model = joined(seed_observation(ovsdb=ovs, domains=(dom,)))
        (iface,) = to_contract(model)["instances"][0]["interfaces"]
        assert iface["fixed_ips"] == ["192.168.100.30"], xml
