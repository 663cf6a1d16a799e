"""What the lab is: the seed's instances, networks, gateways and agent cookies.

Plain data shared by the lab's builder, its flows and its libvirt node file,
and by the tests and the benchmark that check against it.
"""

from __future__ import annotations

from dataclasses import dataclass

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
PROJECT_ID = "f2aeffb34ff34ffb8959f1cd813655c6"
VLAN_NET = "fab2345c-5de9-4fda-8342-f0430a9239ea"  # the seed's provider-100
FLAT_NET = "0c6a3b4e-7d21-4f5a-9b8c-3e2d1f0a9b87"
GATEWAY = "192.168.100.1"
FLAT_GATEWAY = "203.0.113.1"

AGENT_COOKIE = "0x5cba03097712b897"  # br-provider, from the seed
INT_COOKIE = "0xcd5d17f4f72cc4b6"  # br-int, from the seed
STALE_COOKIE = "0x1d8e74efef4967c4"  # an older agent's cookie still on br-int in the seed


@dataclass(frozen=True)
class LabVm:
    """One instance of the lab: a libvirt domain whose vNIC is a tap on br-int."""

    key: str  # namespace suffix
    domain: str
    uuid: str
    nova_name: str
    tap: str
    ofport: int
    mac: str
    address: str  # CIDR inside the VM namespace
    gateway: str
    port_id: str  # Neutron port UUID (the tap is "tap" + its first 11 chars)
    network: str
    network_type: str
    segmentation_id: int | None
    local_vlan: int
    state: str  # libvirt state in the node file


VMS = (
    LabVm(
        key="vm1", domain="instance-00000027", uuid="45ee5234-e888-4ab8-91d1-d8d646a382ae",
        nova_name="instance01", tap="tap2d1670a4-8e", ofport=3, mac="fa:16:3e:bc:78:a8",
        address="192.168.100.30/24", gateway=GATEWAY,
        port_id="2d1670a4-8e0b-4c34-9a57-0f2a61c3d9e1", network=VLAN_NET,
        network_type="vlan", segmentation_id=100, local_vlan=2, state="running",
    ),
    LabVm(
        key="vm2", domain="instance-00000026", uuid="8c0f5a52-3b7e-4a51-b1d6-6f7c2e9a4d10",
        nova_name="instance00", tap="tap60ad2c85-f3", ofport=2, mac="fa:16:3e:e9:6a:38",
        address="203.0.113.10/24", gateway=FLAT_GATEWAY,
        port_id="60ad2c85-f3d4-4e1a-8b2c-9d7e6f5a4b3c", network=FLAT_NET,
        network_type="flat", segmentation_id=None, local_vlan=1, state="running",
    ),
)
