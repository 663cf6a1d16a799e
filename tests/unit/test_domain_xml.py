"""Reading ``virsh dumpxml`` output: what an instance is and which taps are its vNICs."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.domains import DomainXmlError, parse_domain_xml
from model.records import Vnic

FIXTURES = Path(__file__).parent.parent / "fixtures"


def wrap(devices: str, metadata: str = "") -> str:
    return (f"<domain type='kvm'><name>instance-00000027</name>"
            f"<uuid>45ee5234-e888-4ab8-91d1-d8d646a382ae</uuid>"
            f"<metadata>{metadata}</metadata><devices>{devices}</devices></domain>")


def test_seed_interface_gives_the_vnic_mac_and_tap():
    seed = (FIXTURES / "seed" / "virsh-dumpxml-interface.xml").read_text()
    dom = parse_domain_xml(wrap(seed), state="running", id=2)
    assert dom.vnics == (Vnic(mac="fa:16:3e:bc:78:a8", target="tap2d1670a4-8e",
                              type="ethernet", model="virtio"),)
    assert (dom.name, dom.uuid, dom.state, dom.id) == (
        "instance-00000027", "45ee5234-e888-4ab8-91d1-d8d646a382ae", "running", 2)


def test_nova_instance_shows_display_name_flavor_and_project():
    xml = (FIXTURES / "libvirt" / "instance-00000027.xml").read_text()
    dom = parse_domain_xml(xml, state="running", id=2)
    assert dom.nova_name == "instance01"
    assert dom.flavor == "m1.nano"
    assert dom.project == "demo"
    assert dom.project_id == "f2aeffb34ff34ffb8959f1cd813655c6"
    # Disks, consoles and video are not vNICs.
    assert [v.target for v in dom.vnics] == ["tap2d1670a4-8e"]


def test_hybrid_firewall_vnic_names_its_linux_bridge():
    xml = (FIXTURES / "libvirt" / "instance-00000027-hybrid.xml").read_text()
    (vnic,) = parse_domain_xml(xml, state="running", id=2).vnics
    assert vnic.type == "bridge"
    assert vnic.source_bridge == "qbr2d1670a4-8e"
    assert vnic.target == "tap2d1670a4-8e"
    assert vnic.mac == "fa:16:3e:bc:78:a8"


def test_libvirt_plugged_ovs_port_carries_the_neutron_port_id():
    xml = wrap("""
      <interface type='bridge'>
        <mac address='fa:16:3e:e9:6a:38'/>
        <source bridge='br-int'/>
        <virtualport type='openvswitch'>
          <parameters interfaceid='60ad2c85-f3d4-4e1a-8b2c-9d7e6f5a4b3c'/>
        </virtualport>
        <target dev='tap60ad2c85-f3'/>
        <model type='virtio'/>
      </interface>""")
    (vnic,) = parse_domain_xml(xml, state="running", id=3).vnics
    assert vnic.virtualport == "openvswitch"
    assert vnic.iface_id == "60ad2c85-f3d4-4e1a-8b2c-9d7e6f5a4b3c"
    assert vnic.source_bridge == "br-int"


def test_interfaces_keep_their_order_and_a_missing_target_is_none():
    xml = wrap("""
      <interface type='ethernet'><mac address='fa:16:3e:00:00:01'/><target dev='tapa'/></interface>
      <interface type='ethernet'><mac address='fa:16:3e:00:00:02'/></interface>""")
    vnics = parse_domain_xml(xml, state="shutoff", id=None).vnics
    assert [(v.mac, v.target) for v in vnics] == [
        ("fa:16:3e:00:00:01", "tapa"), ("fa:16:3e:00:00:02", None)]


def test_domain_without_nova_metadata_has_no_nova_fields():
    dom = parse_domain_xml(wrap(""), state="shutoff", id=None)
    assert (dom.nova_name, dom.flavor, dom.project, dom.project_id) == (None, None, None, None)
    assert dom.vnics == ()


def test_other_metadata_namespaces_are_not_mistaken_for_nova():
    xml = wrap("", metadata="<x:instance xmlns:x='urn:other'><x:name>nope</x:name></x:instance>")
    assert parse_domain_xml(xml, state="running", id=1).nova_name is None


@pytest.mark.parametrize("bad", [
    "<domain><name>x</name>",  # truncated
    "not xml at all",
    "<network><name>default</name><uuid>1</uuid></network>",  # not a domain
    "<domain><name>x</name></domain>",  # no uuid
])
def test_unreadable_xml_raises_domain_xml_error(bad):
    with pytest.raises(DomainXmlError):
        parse_domain_xml(bad, state="running", id=1)


def test_entity_expansion_is_refused():
    bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            + wrap("").replace("<name>instance-00000027</name>", "<name>&b;</name>"))
    with pytest.raises(DomainXmlError):
        parse_domain_xml(bomb, state="running", id=1)
