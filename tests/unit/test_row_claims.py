"""What the screens claim from the flows: what a physical NIC carries comes from
the translation flows that exist now and says which direction is missing;
one plain name per table; a filtered row shows the field that matched (the
seed node's saved outputs, with a flow taken away as `ovs-ofctl del-flows` would)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from model.join import build_model
from tests.fakes import seed_observation
from tui.rows import nic_carries


def seed_model(without=None):
    obs, tables = seed_observation()
    if without is not None:
        flows = dict(obs.flows)
        dump = flows[without.bridge]
        flows[without.bridge] = replace(dump, flows=tuple(f for f in dump.flows
                                                          if f.key != without.key))
        obs = replace(obs, flows=MappingProxyType(flows))
    return build_model(obs, lambda f: tables[f.bridge].detail_of(f))


def test_both_directions_present_claim_the_provider_vlan_of_the_flows():
    assert nic_carries(seed_model().vlan(2)).plain == "local VLAN 2 as provider VLAN 100"


def test_a_deleted_egress_flow_is_said_not_hidden_behind_the_ports_segmentation_id():
    egress = seed_model().vlan(2).egress_flow
    claim = nic_carries(seed_model(without=egress).vlan(2)).plain
    assert claim.startswith("local VLAN 2 as provider VLAN 100 inbound only: no egress flow on")


def test_the_seeds_flat_network_without_ingress_flow_is_outbound_only():
    # the seed's br-int lacks the ingress flow of flat VLAN 1
    assert nic_carries(seed_model().vlan(1)).plain == (
        "local VLAN 1 as flat (untagged) outbound only: no ingress flow on br-int")


def test_no_flow_either_way_claims_no_provider_vlan():
    model = seed_model()
    vlan2 = model.vlan(2)
    gone = replace(vlan2, egress_flow=None, ingress_flow=None, flow_segmentation_id=None)
    assert nic_carries(gone).plain == "local VLAN 2: no translation flow either way"


def test_each_table_has_one_plain_name_and_a_release_note_where_its_meaning_changed():
    from model import neutron

    for names in (neutron.TABLE_NAMES, neutron.PHYSICAL_TABLE_NAMES, neutron.TUNNEL_TABLE_NAMES):
        for table, name in names.items():
            assert ";" not in name and "before" not in name, (table, name)  # one name, no history
    assert neutron.table_name("int", 59) == "bandwidth rate limit"
    assert "packet rate limit" in neutron.table_note("int", 59)
    assert neutron.table_note("int", 60) == "" and neutron.table_note("phys", 59) == ""


def test_a_filtered_flow_row_shows_the_field_the_filter_matched():
    from tui.rows import match_cell

    match = 'ip,reg5=0x3,in_port="tap2d1670a4-8e",dl_src=fa:16:3e:bc:78:a8,nw_src=192.168.100.30'
    assert match_cell(match, "192.168.100.30") == "…nw_src=192.168.100.30"
    assert match_cell(match, "") == match  # no filter: the match as printed
    assert match_cell(match, "ip") == match  # matched at the start: nothing hidden
    assert match_cell("", "x") == "(any)"
