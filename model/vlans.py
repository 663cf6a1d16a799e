"""The VLAN map: each local VLAN on the integration bridge, the provider VLAN
it becomes on a physical bridge, and the two translation flows that do it.

Translation flows are found from their effect (match on the patch port and a
VLAN, set or strip a VLAN), never from a fixed table: DVR moves the physical
bridge's translation to table 2, and releases move what follows it.
"""

from __future__ import annotations

from typing import Mapping

from model.neutron import DEAD_VLAN
from model.ports import NIC_TYPES, TUNNEL_TYPES, port_refers
from model.records import Flow, FlowDetail, FlowDump, OvsPort
from model.views import VlanView, DetailOf


def as_int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _may_translate(flow: Flow) -> bool:
    """Cheap test (no full parse) for a flow that can be a VLAN translation."""
    if "vlan" not in flow.match:
        return False
    a = flow.actions
    return "vlan" in a  # mod_vlan_vid, strip_vlan, push_vlan, pop_vlan, ->vlan_vid


def flows_of(flows: Mapping[str, FlowDump], bridge: str) -> tuple[Flow, ...]:
    dump = flows.get(bridge)
    return dump.flows if dump else ()


def physical_bridges(bridges, int_br, iface_bridge) -> dict[str, tuple[str, str, tuple[str, ...]]]:
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


def vlan_map(bridges, int_br, phys, by_name, flows: Mapping[str, FlowDump],
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
        for flow in flows_of(flows, br_name):
            if not _may_translate(flow):
                continue
            d = detail_of(flow)
            if d.dl_vlan is not None and (d.set_vlan is not None or d.strip_vlan) \
                    and (d.in_port is None or (phy_port and port_refers(d.in_port, phy_port))):
                _keep_best(egress, d.dl_vlan, (br_name, flow, d))
        for flow in flows_of(flows, int_br):
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
        segid = as_int(oc.get("segmentation_id"))
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
