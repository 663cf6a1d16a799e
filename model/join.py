"""The joined node: instance -> vNIC -> tap -> OVS port -> local VLAN ->
provider VLAN -> physical bridge and NIC -> the flows that carry it.

Pure functions over the collectors' records, so every join and every problem
is unit-testable on saved outputs. A flow's full parse is asked for through
``detail_of`` (the flow table caches it per flow); the model only asks for it
where a cheap string test says the flow can matter, because a full parse
costs 50-140 us and a busy br-int has tens of thousands of flows.

This module does the join; the VLAN map is model/vlans.py, the problems
model/problems.py, the records it returns model/views.py (re-exported here
for the callers that import them from the join).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable, Mapping

from model.neutron import physical_network
from model.ovn import chassis_of, refine
from model.ports import ofp_name, port_owner, port_refers  # noqa: F401  (re-exported)
from model.problems import find_problems
from model.neutron import BASE_EGRESS_TABLE
from model.records import Domain, FlowDump, Observation, OvsBridge, Vnic, from_text
from model.tunnels import tunnel_bridges, tunnel_map
from model.views import (  # noqa: F401  (re-exported)
    DetailOf,
    InstanceView,
    NodeModel,
    PortView,
    Problem,
    VlanView,
    VnicView,
)
from model.vlans import as_int, physical_bridges, vlan_map


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
            peer_bridge = iface_bridge.get(i.peer) if i and i.peer else _veth_peer(p.name, b.name,
                                                                                 iface_bridge)
            uuid, mac, tap = owners.get(p.name, (None, None, None))
            pv = PortView(bridge=b.name, port=p, interface=i, peer_bridge=peer_bridge,
                          domain_uuid=uuid, vnic_mac=mac, tap=tap, link=links.get(p.name),
                          owner=port_owner(p, b.name, integration_bridge=int_br,
                                           domain_uuid=uuid))
            port_views.append(pv)
            by_name[p.name] = pv

    phys = physical_bridges(bridges, int_br, iface_bridge)
    tun_brs = tunnel_bridges(bridges, int_br, iface_bridge)
    legs = tunnel_map(tun_brs, by_name, obs.flows, detail_of)
    vlans = vlan_map(bridges, int_br, phys, by_name, obs.flows, detail_of, legs, tun_brs)
    vlan_by_local = {v.local_vlan: v for v in vlans}

    instances = []
    spoofing: dict[int, tuple[str, ...]] | None = None  # read once, when a vNIC needs it
    # libvirt lists domains in hash order, different from one run to the next
    for d in sorted(obs.domains or (), key=lambda d: (d.name, d.uuid)):
        views = []
        for n, v in enumerate(d.vnics):
            pv = by_name.get(vnic_port.get((d.uuid, n), ""))
            ips, where = _fixed_ips(d, v, pv), "nova"
            if not ips and pv is not None and pv.bridge == int_br and pv.ofport:
                if spoofing is None:
                    spoofing = anti_spoofing_ips(obs.flows.get(int_br))
                ips, where = spoofing.get(pv.ofport, ()), "flows"
            vv = VnicView(vnic=v, port=pv, link=links.get(v.target or ""),
                          fixed_ips=ips, fixed_ips_from=where if ips else "")
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
    chassis = chassis_of(obs)
    if chassis is not None:  # ML2/OVN: the same ports and owners, OVN's networks
        return refine(model, obs, chassis, detail_of)
    problems, checks = find_problems(model)
    return replace(model, problems=problems, checks=checks)


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


def _with_network(vv: VnicView, pv: PortView, vlans: Mapping[int, VlanView], int_br) -> VnicView:
    tag = pv.port.tag
    oc = pv.port.other_config
    vlan = vlans.get(tag) if tag is not None else None
    return replace(
        vv,
        local_vlan=tag,
        segmentation_id=vlan.segmentation_id if vlan else as_int(oc.get("segmentation_id")),
        network_type=(vlan.network_type if vlan else None) or oc.get("network_type"),
        physical_network=(vlan.physical_network if vlan else None) or physical_network(oc),
        physical_bridge=vlan.physical_bridge if vlan else None,
        nics=vlan.nics if vlan else (),
        tunnel_bridge=vlan.tunnel_bridge if vlan else None,
    )


def _veth_peer(port: str, bridge: str, iface_bridge: Mapping[str, str]) -> str | None:
    """The far bridge of an old agent's veth pair int-br-X / phy-br-X."""
    if port.startswith("int-") and iface_bridge.get("phy-" + port[4:]) == port[4:]:
        return port[4:]
    if port.startswith("phy-") and port[4:] == bridge:
        other = iface_bridge.get("int-" + bridge)
        return other if other and other != bridge else None
    return None


_SPOOF_REG5 = re.compile(r"(?:^|,)reg5=(0x[0-9a-f]+|\d+)(?:,|$)")
_SPOOF_IP = re.compile(r"(?:^|,)(?:nw_src|arp_spa)=([0-9.]+)(?:,|$)")


def anti_spoofing_ips(dump: FlowDump | None) -> dict[int, tuple[str, ...]]:
    """ofport -> the IPv4 addresses its base-egress (table 71) flows let it send
    from, in the order the flows list them (0.0.0.0, DHCP's, left out)."""
    return from_text(dump, "anti-spoofing addresses", lambda: _anti_spoofing_ips(dump))


def _anti_spoofing_ips(dump: FlowDump | None) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for flow in dump.flows if dump else ():
        if flow.table != BASE_EGRESS_TABLE or "reg5=" not in flow.match:
            continue
        reg5, ip = _SPOOF_REG5.search(flow.match), _SPOOF_IP.search(flow.match)
        if reg5 is None or ip is None or ip.group(1) == "0.0.0.0":
            continue
        ips = out.setdefault(int(reg5.group(1), 0), [])
        if ip.group(1) not in ips:
            ips.append(ip.group(1))
    return {port: tuple(ips) for port, ips in out.items()}


def _fixed_ips(d: Domain, v: Vnic, pv: PortView | None) -> tuple[str, ...]:
    """The vNIC's fixed IPs from <nova:ports>, joined by Neutron port id: the
    virtualport's interfaceid, the OVS iface-id, or the tap named after it."""
    ids = {x for x in (v.iface_id, pv.interface.iface_id if pv and pv.interface else None) if x}
    for port in d.nova_ports:
        tap = "tap" + port.uuid[:11]
        if port.uuid in ids or tap in (v.target, pv.tap if pv else None):
            return port.fixed_ips
    return ()
