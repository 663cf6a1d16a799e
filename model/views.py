"""What the model hands the UI and the contract: a port, a vNIC, an instance,
a local VLAN and the whole node, each joined across sources. Frozen, so a
screen can keep one for as long as it likes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from model.records import (
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
    local_vlan: int
    segmentation_id: int | None  # provider VLAN; None for flat or unknown
    network_type: str | None
    physical_network: str | None
    physical_bridge: str | None
    nics: tuple[str, ...]
    ports: tuple[str, ...]
    egress_flow: Flow | None  # on the physical bridge: local -> provider
    ingress_flow: Flow | None  # on the integration bridge: provider -> local
    flow_segmentation_id: int | None = None  # what the flows say, for the cross-check


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
    domains_known: bool = False  # libvirt was read (else no ownership problems)
    ovsdb_known: bool = False  # OVSDB was read (else no vNIC is "on no bridge")
    port_counters: Mapping[tuple[str, str], PortCounters] = field(default_factory=dict)
    vnic_stats: Mapping[str, VnicStats] = field(default_factory=dict)  # by tap
    _ports_by_name: Mapping[str, PortView] = field(default_factory=dict, repr=False)
    _instances_by_uuid: Mapping[str, InstanceView] = field(default_factory=dict, repr=False)

    def port(self, name: str) -> PortView | None:
        return self._ports_by_name.get(name)

    def instance(self, uuid: str) -> InstanceView | None:
        # a dict: the overview asks once per port at every refresh (200 ports, 100 instances)
        return self._instances_by_uuid.get(uuid)

    def vlan(self, local_vlan: int) -> VlanView | None:
        return next((v for v in self.vlans if v.local_vlan == local_vlan), None)

    def all_flows(self) -> Iterable[Flow]:
        for dump in self.flows.values():
            yield from dump.flows
