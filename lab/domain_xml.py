"""The libvirt ``test:///`` driver's node file: one ``<domain>`` per instance,
with the Nova metadata a real compute node's domains carry."""

from __future__ import annotations

from typing import Iterable

from lab.topology import NOVA_NS, PROJECT_ID, VMS, LabVm


def domain_xml(name: str, uuid: str, nova_name: str, vnics: Iterable[tuple[str, str]],
               nova_ns: str = NOVA_NS) -> str:
    """One domain whose vNICs are ``(mac, tap)`` ethernet interfaces, as Nova
    defines them; ``nova_ns`` 1.0 is older Nova's metadata, same elements."""
    interfaces = "\n".join(f"""      <interface type='ethernet'>
        <mac address='{mac}'/>
        <target dev='{tap}'/>
        <model type='virtio'/>
        <mtu size='1500'/>
      </interface>""" for mac, tap in vnics)
    return f"""  <domain type='test'>
    <name>{name}</name>
    <uuid>{uuid}</uuid>
    <metadata>
      <nova:instance xmlns:nova="{nova_ns}">
        <nova:package version="{'21.2.4' if nova_ns != NOVA_NS else '27.1.0'}"/>
        <nova:name>{nova_name}</nova:name>
        <nova:creationTime>2024-04-21 15:56:20</nova:creationTime>
        <nova:flavor name="m1.nano">
          <nova:memory>128</nova:memory>
          <nova:disk>1</nova:disk>
          <nova:swap>0</nova:swap>
          <nova:ephemeral>0</nova:ephemeral>
          <nova:vcpus>1</nova:vcpus>
        </nova:flavor>
        <nova:owner>
          <nova:user uuid="71b5948c75f24c0f841dbf1c4eb4c4a7">demo</nova:user>
          <nova:project uuid="{PROJECT_ID}">demo</nova:project>
        </nova:owner>
      </nova:instance>
    </metadata>
    <memory unit='KiB'>131072</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <on_poweroff>destroy</on_poweroff>
    <devices>
{interfaces}
    </devices>
  </domain>"""


def lab_domains(vms: Iterable[LabVm] = VMS) -> list[str]:
    """The lab's instances, each with its one vNIC."""
    return [domain_xml(vm.domain, vm.uuid, vm.nova_name, [(vm.mac, vm.tap)], vm.nova_ns)
            for vm in vms]


def node_file(domains: Iterable[str]) -> str:
    """The node file around ``domains``: a small host the test driver pretends to be."""
    return ("<node>\n  <cpu><mhz>2000</mhz><model>i686</model><active>2</active>"
            "<total>2</total><nodes>1</nodes><sockets>1</sockets><cores>2</cores>"
            "<threads>1</threads></cpu>\n  <memory>8388608</memory>\n"
            + "\n".join(domains) + "\n</node>\n")


def node_xml(vms: Iterable[LabVm] = VMS) -> str:
    """The lab's node file: one <domain> per lab instance."""
    return node_file(lab_domains(vms))
