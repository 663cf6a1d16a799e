"""A local VLAN's other side, and an instance's name, read the same in every
view (TUI screens, `snapshot`, problem texts): they are written once, in
model/words.py."""

from __future__ import annotations

from model import words
from model.records import Domain


def test_a_vlan_network_and_a_flat_one_are_worded_one_way_each():
    assert words.provider_side("vlan", 100) == "provider VLAN 100"
    assert words.provider_side("flat", None) == "flat (untagged)"
    assert words.provider_side("vlan", None) == "provider VLAN ?"  # not known: said so
    assert words.provider_side("vxlan", 1001) == "vxlan VNI 1001"
    assert words.vlan_pair(2, "vlan", 100) == "local VLAN 2 <-> provider VLAN 100"
    assert words.vlan_pair(1, "flat", None) == "local VLAN 1 <-> flat (untagged)"
    assert words.vlan_pair(None, None, None) == "no local VLAN"


def test_problem_texts_name_the_provider_network():
    assert words.provider_network(100) == "provider VLAN 100"
    assert words.provider_network(None) == "the untagged provider network"


def test_an_instance_goes_by_its_nova_name_else_its_libvirt_name():
    assert words.display_name(Domain("instance-00000027", "u", "running",
                                     nova_name="instance01")) == "instance01"
    assert words.display_name(Domain("instance-00000027", "u", "running")) == "instance-00000027"


def test_an_ovn_network_is_named_by_its_datapath():
    assert words.vlan_pair(None, "vlan", 100, datapath=1) == "OVN datapath 1 <-> provider VLAN 100"
