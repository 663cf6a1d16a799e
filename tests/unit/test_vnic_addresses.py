"""Each vNIC's IP addresses where the instance and port are shown: from Nova's
metadata where it has them, else from the port's anti-spoofing flows (table
71, reg5=<ofport>), saying which. On the seed node's saved outputs; its
domain XML without <nova:ports> is the same XML with that element taken out."""

from __future__ import annotations

import re
from dataclasses import replace

from collectors.domains import parse_domain_xml
from model.join import anti_spoofing_ips, build_model
from tests.fakes import FIXTURES, seed_observation
from widgets.format import addresses


def seed_model(*, nova_ports: bool):
    obs, tables = seed_observation()
    if not nova_ports:
        xml = (FIXTURES / "libvirt" / "instance-00000027.xml").read_text()
        xml = re.sub(r"<nova:ports>.*?</nova:ports>", "", xml, flags=re.S)
        obs = replace(obs, domains=(parse_domain_xml(xml, state="running", id=2),))
    return build_model(obs, lambda f: tables[f.bridge].detail_of(f))


def vnic(model):
    (inst,) = model.instances
    return inst.vnics[0]


def test_nova_metadata_gives_the_addresses_and_says_so():
    vv = vnic(seed_model(nova_ports=True))
    assert (vv.fixed_ips, vv.fixed_ips_from) == (("192.168.100.30",), "nova")
    assert addresses(vv.fixed_ips, vv.fixed_ips_from) == "192.168.100.30 (nova)"


def test_without_nova_ports_the_anti_spoofing_flows_give_them_and_say_so():
    vv = vnic(seed_model(nova_ports=False))
    assert (vv.fixed_ips, vv.fixed_ips_from) == (("192.168.100.30",), "flows")
    assert addresses(vv.fixed_ips, vv.fixed_ips_from) == "192.168.100.30 (flows)"


def test_anti_spoofing_ips_are_per_ofport_and_leave_dhcps_zero_address_out():
    obs, _ = seed_observation()
    assert anti_spoofing_ips(obs.flows["br-int"])[3] == ("192.168.100.30",)
