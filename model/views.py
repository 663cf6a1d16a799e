"""What the model hands the UI and the contract: a port, a vNIC, an instance,
a local VLAN and the whole node, each joined across sources. Frozen, so a
screen can keep one for as long as it likes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from model.neutron import BridgeRole, bridge_role
from model.records import (
    OvnSouthbound,
    Domain,
    Flow,
    FlowDetail,
    FlowDump,
    Link,
    OvsBridge,
    OvsInterface,
    OvsPort,
    PortCounters,
    SourceState,
    Vnic,
    VnicStats,
)

# A flow's full parse, asked for only where a cheap test says the flow can matter.
DetailOf = Callable[[Flow], FlowDetail]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # dead-vlan, orphan-port, unplugged-vif, missing-vlan-translation, ...
    subject: str  # the port, tap or VLAN concerned
    detail: str  # what is wrong and where to look


@dataclass(frozen=True, slots=True)
class Check:
    """One kind of problem looked for (model/problems.py), and whether it could be."""

    kind: str
    status: str  # "ran", "partial" (part of the node unread) or "not run"
    why: str = ""  # for partial and not run: what was not read, and why
    missing: tuple[str, ...] = ()  # the sources it lacked ("ovsdb", "openflow", "libvirt")


@dataclass(frozen=True, slots=True)
class PortView:
    """An OVS port with everything known about it from the other sources."""

    bridge: str
    port: OvsPort
    interface: OvsInterface | None
    peer_bridge: str | None = None  # bridge of the patch peer
    domain_uuid: str | None = None  # libvirt domain that owns it
    vnic_mac: str | None = None
    tap: str | None = None  # the VM's tap when the port is a qvo (hybrid firewall)
    link: Link | None = None  # netlink view of the port's device
    owner: str = "unknown"  # instance, router, gateway, dhcp, patch, tunnel, nic, bridge-internal

    @property
    def name(self) -> str:
        return self.port.name

    @property
    def ofport(self) -> int | None:
        return self.interface.ofport if self.interface else None

    @property
    def type(self) -> str:
        return self.interface.type if self.interface else ""

    @property
    def is_vif(self) -> bool:
        return bool(self.interface and self.interface.iface_id)

    @property
    def link_state(self) -> str | None:
        if self.interface and self.interface.link_state:
            return self.interface.link_state
        return self.link.operstate.lower() if self.link else None


@dataclass(frozen=True, slots=True)
class VnicView:
    """One vNIC of an instance and the path its traffic takes."""

    vnic: Vnic
    port: PortView | None  # None: the vNIC is on no OVS bridge
    local_vlan: int | None = None
    segmentation_id: int | None = None
    network_type: str | None = None
    physical_network: str | None = None
    physical_bridge: str | None = None
    nics: tuple[str, ...] = ()
    link: Link | None = None  # the tap itself
    # ML2/OVN (model/ovn.py); None on an ML2/OVS node
    logical_port: str | None = None  # iface-id: the logical switch port (Neutron port)
    datapath_key: int | None = None  # the network's datapath, loaded by the tap's table-0 flow
    chassis: str | None = None  # where the port is bound (southbound; else this node if bound)
    ovn_installed: bool | None = None  # ovn-controller has put the port's flows in
    addresses: tuple[str, ...] = ()  # the logical port's "MAC IP..." (southbound only)
    tunnel_bridge: str | None = None  # br-tun when its network is a tunnel network
    fixed_ips: tuple[str, ...] = ()  # the vNIC's addresses, from fixed_ips_from:
    # "nova" (<nova:ports> metadata 1.1), "flows" (its port's anti-spoofing flows,
    # when Nova's metadata has none), "southbound" (OVN: its logical port's
    # addresses), "" (none knows)
    fixed_ips_from: str = ""

    @property
    def link_state(self) -> str | None:
        if self.port and self.port.link_state:
            return self.port.link_state
        return self.link.operstate.lower() if self.link else None


@dataclass(frozen=True, slots=True)
class InstanceView:
    domain: Domain
    vnics: tuple[VnicView, ...]


@dataclass(frozen=True, slots=True)
class VlanView:
    """A local VLAN on the integration bridge and the provider VLAN it becomes."""

    bridge: str  # the integration bridge
    local_vlan: int | None  # None on an OVN chassis (no local VLANs: see datapath_key)
    segmentation_id: int | None  # provider VLAN; None for flat or unknown
    network_type: str | None
    physical_network: str | None
    physical_bridge: str | None
    nics: tuple[str, ...]
    ports: tuple[str, ...]
    egress_flow: Flow | None  # on the physical bridge: local -> provider
    ingress_flow: Flow | None  # on the integration bridge: provider -> local
    flow_segmentation_id: int | None = None  # what the flows say, for the cross-check
    # ML2/OVN: the network is a datapath, its provider side a localnet port
    datapath_key: int | None = None
    localnet: str | None = None  # the localnet port, e.g. provnet-<segment>
    network_name: str | None = None  # Neutron's name, from the southbound DB when reachable
    tunnel_bridge: str | None = None  # br-tun, for a tunnel network (VNI = segmentation_id)
    tunnel_ports: tuple[str, ...] = ()  # the tunnel ports its frames leave through
    remote_ips: tuple[str, ...] = ()  # the far ends of those tunnels
    # br-tun's unicast flows of this VLAN to one MAC each (l2pop or learned): a
    # known MAC's frames leave through these, not through egress_flow (the flood)
    tunnel_unicast_flows: tuple[Flow, ...] = ()
    # flows that translate into (or out of) this local VLAN as well as the one
    # shown, at the same table and priority: frames of another network land here
    duplicate_flows: tuple[Flow, ...] = ()

    @property
    def key(self) -> str:
        """What names this network on the node: its local VLAN, or its OVN datapath."""
        return str(self.local_vlan) if self.local_vlan is not None else f"dp{self.datapath_key}"


@dataclass(frozen=True, slots=True)
class OvnChassis:
    """What ``Open_vSwitch.external_ids`` says about this chassis (model/ovn.py)."""

    system_id: str | None
    remote: str | None  # ovn-remote: the southbound DB
    bridge_mappings: Mapping[str, str]  # physnet -> bridge
    encap_type: str | None = None
    encap_ip: str | None = None
    integration_bridge: str = "br-int"


@dataclass(frozen=True, slots=True)
class OvnView:
    """The chassis facts the screens and the contract show beside the join."""

    chassis: OvnChassis
    southbound: OvnSouthbound | None
    egress_tables: tuple[int, ...]  # where the flows output to localnet patches
    localports: frozenset[str]


@dataclass(frozen=True)
class NodeModel:
    hostname: str
    ovs_version: str | None
    integration_bridge: str | None
    bridges: tuple[OvsBridge, ...]
    ports: tuple[PortView, ...]
    instances: tuple[InstanceView, ...]
    vlans: tuple[VlanView, ...]
    flows: Mapping[str, FlowDump]
    problems: tuple[Problem, ...]
    sources: tuple[SourceState, ...] = ()
    checks: tuple[Check, ...] = ()  # which checks ran: a verdict only on what was read
    domains_known: bool = False  # libvirt was read (else no ownership problems)
    ovsdb_known: bool = False  # OVSDB was read (else no vNIC is "on no bridge")
    port_counters: Mapping[tuple[str, str], PortCounters] = field(default_factory=dict)
    vnic_stats: Mapping[str, VnicStats] = field(default_factory=dict)  # by tap
    ovn: OvnView | None = None  # set on an ML2/OVN chassis (model/ovn.py)
    _ports_by_name: Mapping[str, PortView] = field(default_factory=dict, repr=False)
    _instances_by_uuid: Mapping[str, InstanceView] = field(default_factory=dict, repr=False)

    def port(self, name: str) -> PortView | None:
        return self._ports_by_name.get(name)

    def instance(self, uuid: str) -> InstanceView | None:
        # a dict: the overview asks once per port at every refresh (200 ports, 100 instances)
        return self._instances_by_uuid.get(uuid)

    def vlan(self, key: int | str) -> VlanView | None:
        """By local VLAN (2 or "2"), or on OVN by datapath ("dp1")."""
        return next((v for v in self.vlans if v.key == str(key)), None)

    def bridge_role(self, bridge: str) -> BridgeRole:
        """Whose table layout the bridge's flows follow (model/neutron.py)."""
        return bridge_role(bridge, self.integration_bridge,
                           (pv.type for pv in self.ports if pv.bridge == bridge))

    def all_flows(self) -> Iterable[Flow]:
        for dump in self.flows.values():
            yield from dump.flows
