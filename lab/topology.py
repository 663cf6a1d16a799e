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
    nova_ns: str = NOVA_NS  # the namespace of its Nova metadata (1.1, or 1.0 from older Nova)


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


# --------------------------------------------------------------------------
# The grown lab (`lab up --tunnels`): a second node joined by VXLAN, a tenant
# network with an instance on each node, a router and a DHCP port, a bond.

NOVA_NS_1_0 = "http://openstack.org/xmlns/libvirt/nova/1.0"  # older Nova (Ussuri and before)
TENANT_NET = "3f9c2b1a-6d4e-4c8b-9a7f-2e1d0c9b8a76"  # a VXLAN tenant network
TENANT_VNI = 1001  # its segmentation id (Neutron's vni_ranges)
TENANT_GATEWAY = "192.0.2.1"  # TEST-NET-1 (RFC 5737): the router's qr- port
ROUTER = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
TUNNEL_COOKIE = "0x7a1e3c5b9d2f4a68"  # br-tun's agent cookie
# The underlay: TEST-NET-2 (RFC 5737) on each node's br-phy, joined by a veth pair.
UNDERLAY = ("198.51.100.11", "198.51.100.12")


def tunnel_port_name(remote_ip: str, network_type: str = "vxlan") -> str:
    """The agent's tunnel port name: type and the remote IPv4 in hex
    (ovs_neutron_agent.get_tunnel_hash: '%08x' % addr)."""
    return f"{network_type}-" + "".join(f"{int(b):02x}" for b in remote_ip.split("."))


@dataclass(frozen=True)
class AgentPort:
    """A port the L3 or DHCP agent plugs into br-int: an OVS internal port
    moved into the agent's namespace (neutron's OVSInterfaceDriver)."""

    kind: str  # "qr" (router interface), "qg" (router gateway), "dhcp"
    port_id: str
    mac: str
    address: str  # CIDR inside the agent's namespace
    network: str
    network_type: str
    segmentation_id: int | None
    physical_network: str | None
    local_vlan: int

    @property
    def name(self) -> str:
        return ("tap" if self.kind == "dhcp" else f"{self.kind}-") + self.port_id[:11]


# instance02 on node 1 (Nova metadata 1.0) and instance03 on node 2, both on the tenant network
TUNNEL_VMS = (
    LabVm(
        key="vm3", domain="instance-00000028", uuid="c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
        nova_name="instance02", tap="tap9e4b7c21-5a", ofport=4, mac="fa:16:3e:4d:21:7a",
        address="192.0.2.13/24", gateway=TENANT_GATEWAY,
        port_id="9e4b7c21-5a3d-4f6e-8b1c-2d3e4f5a6b7c", network=TENANT_NET,
        network_type="vxlan", segmentation_id=TENANT_VNI, local_vlan=3, state="running",
        nova_ns=NOVA_NS_1_0,
    ),
    LabVm(
        key="vm4", domain="instance-00000029", uuid="d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
        nova_name="instance03", tap="tap0f8e2d6c-41", ofport=2, mac="fa:16:3e:7c:9b:52",
        address="192.0.2.14/24", gateway=TENANT_GATEWAY,
        port_id="0f8e2d6c-41b5-4a7e-9c3d-4e5f6a7b8c9d", network=TENANT_NET,
        network_type="vxlan", segmentation_id=TENANT_VNI, local_vlan=1, state="running",
    ),
)

AGENT_PORTS = (
    AgentPort(kind="qr", port_id="5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f", mac="fa:16:3e:11:22:33",
              address=TENANT_GATEWAY + "/24", network=TENANT_NET, network_type="vxlan",
              segmentation_id=TENANT_VNI, physical_network=None, local_vlan=3),
    AgentPort(kind="qg", port_id="6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a", mac="fa:16:3e:44:55:66",
              address="192.168.100.2/24", network=VLAN_NET, network_type="vlan",
              segmentation_id=100, physical_network="provider", local_vlan=2),
    AgentPort(kind="dhcp", port_id="7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", mac="fa:16:3e:77:88:99",
              address="192.0.2.2/24", network=TENANT_NET, network_type="vxlan",
              segmentation_id=TENANT_VNI, physical_network=None, local_vlan=3),
)
