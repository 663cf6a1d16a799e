"""The joined node: instance -> vNIC -> tap -> OVS port -> local VLAN ->
provider VLAN -> physical bridge and NIC -> the flows that carry it.

Pure functions over the collectors' records, so every join and every problem
is unit-testable on saved outputs. A flow's full parse is asked for through
``detail_of`` (the flow table caches it per flow); the model only asks for it
where a cheap string test says the flow can matter, because a full parse
costs 50-140 us and a busy br-int has tens of thousands of flows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

from model.records import (
    Domain,
    Flow,
    FlowDetail,
    FlowDump,
    Link,
    Observation,
    OvsBridge,
    PortCounters,
    VnicStats,
    OvsInterface,
    OvsPort,
    SourceState,
    Vnic,
)

DEAD_VLAN = 4095
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve", "stt", "erspan", "ip6gre", "ip6erspan"})
TUNNEL_NETWORKS = frozenset({"vxlan", "gre", "geneve"})
NIC_TYPES = frozenset({"", "system", "dpdk", "afxdp", "afxdp-nonpmd"})

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


# --------------------------------------------------------------------------
# helpers


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _unquote(name: str | None) -> str | None:
    if name and len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1]
    return name


def ofp_name(name: str) -> str:
    """A port name as OpenFlow (and so ovs-ofctl) knows it: at most 15 bytes."""
    return name.encode("utf-8")[:15].decode("utf-8", "ignore")


def port_refers(ref: str | None, port: PortView) -> bool:
    """True when a flow's port reference (name, quoted name or number) is this port."""
    ref = _unquote(ref)
    if ref is None:
        return False
    return (ref == port.name or ref == ofp_name(port.name)
            or (port.ofport is not None and ref == str(port.ofport)))


def _may_translate(flow: Flow) -> bool:
    """Cheap test (no full parse) for a flow that can be a VLAN translation."""
    if "vlan" not in flow.match:
        return False
    a = flow.actions
    return "vlan" in a  # mod_vlan_vid, strip_vlan, push_vlan, pop_vlan, ->vlan_vid


def integration_bridge(bridges: Iterable[OvsBridge]) -> str | None:
    """br-int by convention; otherwise the bridge holding the most VIF ports."""
    bridges = list(bridges)
    if any(b.name == "br-int" for b in bridges):
        return "br-int"
    best, count = None, 0
    for b in bridges:
        n = sum(1 for p in b.ports for i in p.interfaces if i.iface_id)
        if n > count:
            best, count = b.name, n
    return best


# --------------------------------------------------------------------------
# the join


def build_model(obs: Observation, detail_of: DetailOf) -> NodeModel:
    bridges = obs.ovsdb.bridges if obs.ovsdb else ()
    int_br = integration_bridge(bridges)
    links = {l.ifname: l for l in obs.links or ()}

    # OVS ports, and which bridge each interface is on
    iface_bridge: dict[str, str] = {}
    for b in bridges:
        for p in b.ports:
            for i in p.interfaces:
                iface_bridge[i.name] = b.name

    # Which domain owns which OVS port: directly by tap name, through the
    # qvo/qbr pair of the iptables_hybrid firewall, or by attached MAC and
    # vm-uuid (vhost-user and other non-tap ports).
    owners: dict[str, tuple[str, str | None, str | None]] = {}  # port -> (uuid, mac, tap)
    by_mac_vm = {}
    for b in bridges:
        for p in b.ports:
            for i in p.interfaces:
                if i.attached_mac and i.vm_uuid:
                    by_mac_vm[(i.attached_mac.lower(), i.vm_uuid)] = p.name
    ovs_port_of_iface = {i.name: p.name for b in bridges for p in b.ports for i in p.interfaces}
    vnic_port: dict[tuple[str, int], str] = {}
    for d in obs.domains or ():
        for n, v in enumerate(d.vnics):
            port_name, tap = _find_port_for_vnic(v, d.uuid, ovs_port_of_iface, by_mac_vm)
            if port_name:
                owners[port_name] = (d.uuid, v.mac, tap)
                vnic_port[(d.uuid, n)] = port_name

    port_views: list[PortView] = []
    by_name: dict[str, PortView] = {}
    for b in bridges:
        for p in b.ports:
            i = p.interface
            peer_bridge = iface_bridge.get(i.peer) if i and i.peer else None
            uuid, mac, tap = owners.get(p.name, (None, None, None))
            pv = PortView(bridge=b.name, port=p, interface=i, peer_bridge=peer_bridge,
                          domain_uuid=uuid, vnic_mac=mac, tap=tap, link=links.get(p.name))
            port_views.append(pv)
            by_name[p.name] = pv

    phys = _physical_bridges(bridges, int_br, iface_bridge)
    vlans = _vlan_map(bridges, int_br, phys, by_name, obs.flows, detail_of)
    vlan_by_local = {v.local_vlan: v for v in vlans}

    instances = []
    # libvirt lists domains in hash order, different from one run to the next
    for d in sorted(obs.domains or (), key=lambda d: (d.name, d.uuid)):
        views = []
        for n, v in enumerate(d.vnics):
            pv = by_name.get(vnic_port.get((d.uuid, n), ""))
            vv = VnicView(vnic=v, port=pv, link=links.get(v.target or ""))
            if pv is not None:
                vv = _with_network(vv, pv, vlan_by_local, int_br)
            views.append(vv)
        instances.append(InstanceView(domain=d, vnics=tuple(views)))

    model = NodeModel(
        hostname=obs.hostname,
        ovs_version=obs.ovsdb.ovs_version if obs.ovsdb else None,
        integration_bridge=int_br,
        bridges=tuple(bridges),
        ports=tuple(port_views),
        instances=tuple(instances),
        vlans=tuple(vlans),
        flows=obs.flows,
        problems=(),
        sources=obs.sources,
        domains_known=obs.domains is not None,
        ovsdb_known=obs.ovsdb is not None,
        port_counters={(c.bridge, c.port): c for c in obs.port_counters},
        vnic_stats={v.target: v for v in obs.vnic_stats},
        _ports_by_name=by_name,
        _instances_by_uuid={i.domain.uuid: i for i in instances},
    )
    return replace(model, problems=find_problems(model))


def _find_port_for_vnic(v: Vnic, uuid: str, ovs_port_of_iface: Mapping[str, str],
                        by_mac_vm: Mapping[tuple[str, str], str]) -> tuple[str | None, str | None]:
    """(OVS port name, tap name when the port is not the tap itself)."""
    if v.target and v.target in ovs_port_of_iface:
        return ovs_port_of_iface[v.target], None
    if v.target and v.target.startswith("tap"):
        qvo = "qvo" + v.target[3:]
        if qvo in ovs_port_of_iface:
            return ovs_port_of_iface[qvo], v.target
    if v.mac and (v.mac.lower(), uuid) in by_mac_vm:
        return by_mac_vm[(v.mac.lower(), uuid)], v.target
    return None, None


def _physical_bridges(bridges, int_br, iface_bridge) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Bridges patched to the integration bridge that carry no tunnels:
    name -> (their patch port, br-int's patch port, NICs)."""
    out = {}
    for b in bridges:
        if b.name == int_br:
            continue
        ifaces = [i for p in b.ports for i in p.interfaces]
        if any(i.type in TUNNEL_TYPES for i in ifaces):
            continue
        for p in b.ports:
            i = p.interface
            if i and i.type == "patch" and i.peer and iface_bridge.get(i.peer) == int_br:
                nics = tuple(p2.name for p2 in b.ports if p2.name != b.name and p2.interfaces
                             and all(i2.type in NIC_TYPES for i2 in p2.interfaces))
                out[b.name] = (p.name, i.peer, nics)
                break
    return out


def _vlan_map(bridges, int_br, phys, by_name, flows: Mapping[str, FlowDump],
              detail_of: DetailOf) -> list[VlanView]:
    if int_br is None:
        return []
    int_bridge = next(b for b in bridges if b.name == int_br)
    # local VLAN -> ports and what their other_config says
    # (any tagged port: VM taps, qvo ports, and the internal DHCP/router
    # ports of a network node all use the local VLAN)
    users: dict[int, list[OvsPort]] = {}
    for p in int_bridge.ports:
        i = p.interface
        if p.tag is None or p.tag == DEAD_VLAN or (i and i.type == "patch"):
            continue
        users.setdefault(p.tag, []).append(p)

    # Translation flows, found from their effect rather than a fixed table:
    # egress on a physical bridge matches in_port=<phy patch>,dl_vlan=<local>;
    # ingress on br-int matches in_port=<int patch> and sets the local VLAN.
    egress: dict[int, tuple[str, Flow, FlowDetail]] = {}
    ingress: dict[int, tuple[str, Flow, FlowDetail]] = {}
    for br_name, (phy_patch, int_patch, _nics) in phys.items():
        phy_port, int_port = by_name.get(phy_patch), by_name.get(int_patch)
        for flow in _flows_of(flows, br_name):
            if not _may_translate(flow):
                continue
            d = detail_of(flow)
            if d.dl_vlan is not None and (d.set_vlan is not None or d.strip_vlan) \
                    and (d.in_port is None or (phy_port and port_refers(d.in_port, phy_port))):
                _keep_best(egress, d.dl_vlan, (br_name, flow, d))
        for flow in _flows_of(flows, int_br):
            if not _may_translate(flow):
                continue
            d = detail_of(flow)
            if d.set_vlan is not None and int_port and port_refers(d.in_port, int_port) \
                    and (d.dl_vlan is not None or d.untagged):
                _keep_best(ingress, d.set_vlan, (br_name, flow, d))

    out = []
    for local in sorted(set(users) | (set(egress) & set(ingress))):
        ports = users.get(local, [])
        oc = ports[0].other_config if ports else {}
        e, i = egress.get(local), ingress.get(local)
        phy_br = (e[0] if e else None) or (i[0] if i else None)
        if phy_br is None and len(phys) == 1:
            phy_br = next(iter(phys))
        flow_segid = None
        if e and e[2].set_vlan is not None:
            flow_segid = e[2].set_vlan
        elif i and i[2].dl_vlan is not None:
            flow_segid = i[2].dl_vlan
        segid = _int(oc.get("segmentation_id"))
        net_type = oc.get("network_type")
        if net_type is None and (e or i):
            net_type = "flat" if flow_segid is None else "vlan"
        out.append(VlanView(
            bridge=int_br,
            local_vlan=local,
            segmentation_id=segid if segid is not None else flow_segid,
            network_type=net_type,
            physical_network=oc.get("physical_network"),
            physical_bridge=phy_br,
            nics=phys[phy_br][2] if phy_br in phys else (),
            ports=tuple(p.name for p in ports),
            egress_flow=e[1] if e else None,
            ingress_flow=i[1] if i else None,
            flow_segmentation_id=flow_segid,
        ))
    return out


def _keep_best(table: dict, vlan: int, entry: tuple[str, Flow, FlowDetail]) -> None:
    """Several candidates (e.g. a DVR table too): keep the highest priority."""
    old = table.get(vlan)
    if old is None or entry[1].priority > old[1].priority:
        table[vlan] = entry


def _flows_of(flows: Mapping[str, FlowDump], bridge: str) -> tuple[Flow, ...]:
    dump = flows.get(bridge)
    return dump.flows if dump else ()


def _with_network(vv: VnicView, pv: PortView, vlans: Mapping[int, VlanView], int_br) -> VnicView:
    tag = pv.port.tag
    oc = pv.port.other_config
    vlan = vlans.get(tag) if tag is not None else None
    return replace(
        vv,
        local_vlan=tag,
        segmentation_id=vlan.segmentation_id if vlan else _int(oc.get("segmentation_id")),
        network_type=(vlan.network_type if vlan else None) or oc.get("network_type"),
        physical_network=(vlan.physical_network if vlan else None) or oc.get("physical_network"),
        physical_bridge=vlan.physical_bridge if vlan else None,
        nics=vlan.nics if vlan else (),
    )


# --------------------------------------------------------------------------
# problems


def find_problems(model: NodeModel) -> tuple[Problem, ...]:
    out: list[Problem] = []
    for pv in model.ports:
        i = pv.interface
        if pv.port.tag == DEAD_VLAN:
            out.append(Problem("dead-vlan", pv.name,
                               f"port {pv.name} on {pv.bridge} is tagged {DEAD_VLAN} (dead VLAN): "
                               "the OVS agent could not bind it; its traffic is dropped. "
                               "Check the neutron-openvswitch-agent log for this port."))
        if i is not None and (i.error or i.ofport == -1):
            out.append(Problem("interface-error", i.name,
                               f"interface {i.name} on {pv.bridge}: "
                               f"{i.error or 'ofport -1 (the interface could not be opened)'}"))
        if model.domains_known and pv.bridge == model.integration_bridge and pv.is_vif \
                and pv.domain_uuid is None:
            owner = i.vm_uuid if i else None
            out.append(Problem("orphan-port", pv.name,
                               f"VIF port {pv.name} (Neutron port {i.iface_id}) belongs to no "
                               f"libvirt domain" + (f" (its vm-uuid {owner} is not defined here)"
                                                    if owner else "")))
    for inst in model.instances:
        if not model.ovsdb_known or inst.domain.state not in ("running", "paused", "blocked"):
            continue
        for vv in inst.vnics:
            if vv.port is None:
                what = vv.vnic.target or vv.vnic.mac or "?"
                out.append(Problem("unplugged-vif", what,
                                   f"{inst.domain.name}'s vNIC {vv.vnic.mac} (target "
                                   f"{vv.vnic.target or 'none'}) is on no OVS bridge"))
    for v in model.vlans:
        if not v.ports or v.network_type in TUNNEL_NETWORKS or v.network_type == "local":
            continue
        subject = f"vlan {v.local_vlan}"
        provider = ("provider VLAN " + str(v.segmentation_id)) if v.segmentation_id is not None \
            else "the untagged provider network"
        phy_read = v.physical_bridge is None or _read_ok(model.flows, v.physical_bridge)
        if v.egress_flow is None and phy_read:
            out.append(Problem("missing-vlan-translation", subject,
                               f"egress: no flow on {v.physical_bridge or 'any physical bridge'} "
                               f"turns local VLAN {v.local_vlan} into {provider}"))
        if v.ingress_flow is None and _read_ok(model.flows, v.bridge):
            out.append(Problem("missing-vlan-translation", subject,
                               f"ingress: no flow on {v.bridge} turns {provider} into local "
                               f"VLAN {v.local_vlan}"))
        if v.segmentation_id is not None and v.flow_segmentation_id is not None \
                and v.segmentation_id != v.flow_segmentation_id:
            out.append(Problem("vlan-mismatch", subject,
                               f"ports say segmentation_id {v.segmentation_id} but the flows "
                               f"translate local VLAN {v.local_vlan} to {v.flow_segmentation_id}"))
    return tuple(out)


def _read_ok(flows: Mapping[str, FlowDump], bridge: str) -> bool:
    dump = flows.get(bridge)
    return dump is not None and dump.error is None
