"""The lab's and the benchmark's node files and flags come from one place each,
and the tool reads them back as the lab means them: every lab instance with
its Nova name and vNIC, and the flags that point the tool at a lab."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bench.node import plan
from collectors.domains import parse_domain_xml
from lab import node as labmod
from lab.domain_xml import domain_xml, lab_domains, node_file, node_xml
from tui.cli import build_parser, endpoint_flags, resolve_endpoints


def domains_of(node_text: str):
    return [parse_domain_xml(ET.tostring(d, encoding="unicode"), state="running", id=n)
            for n, d in enumerate(ET.fromstring(node_text).iter("domain"), 1)]


def test_the_lab_node_file_holds_each_lab_instance_with_its_vnic():
    domains = domains_of(node_xml())
    assert [(d.name, d.uuid, d.nova_name) for d in domains] == [
        (vm.domain, vm.uuid, vm.nova_name) for vm in labmod.VMS]
    assert [[(v.mac, v.target) for v in d.vnics] for d in domains] == [
        [(vm.mac, vm.tap)] for vm in labmod.VMS]
    assert {d.project for d in domains} == {"demo"}


def test_a_bench_node_file_holds_the_lab_instances_and_every_bench_vnic():
    bench = plan(instances=3, vnics=2)
    text = node_file(lab_domains() + [domain_xml(i.domain, i.uuid, i.nova_name,
                                                 [(p.mac, p.tap) for p in i.ports])
                                      for i in bench])
    domains = domains_of(text)
    assert [d.nova_name for d in domains] == [vm.nova_name for vm in labmod.VMS] + [
        "bench-vm-000", "bench-vm-001", "bench-vm-002"]
    assert [v.target for v in domains[-1].vnics] == [p.tap for p in bench[-1].ports]


def test_the_flags_for_a_lab_point_the_tool_at_that_lab():
    lab = labmod.Lab("flags")
    args = build_parser().parse_args(endpoint_flags(lab.endpoints()))
    assert resolve_endpoints(args) == lab.endpoints()
