"""The VLAN map: each local VLAN on the integration bridge, the provider VLAN
it becomes on a physical bridge, and the two translation flows that do it.

Translation flows are found from their effect (match on the patch port and a
VLAN, set or strip a VLAN), never from a fixed table: DVR moves the physical
bridge's translation to table 2, and releases move what follows it.
"""

from __future__ import annotations

from typing import Mapping

from model.neutron import DEAD_VLAN, TUNNEL_NETWORKS, physical_network
from model.ports import NIC_TYPES, TUNNEL_TYPES, is_veth_pair, port_refers
from model.records import Flow, FlowDetail, FlowDump, OvsPort, from_text
from model.tunnels import TunnelLeg
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


def may_translate(flows: Mapping[str, FlowDump], bridge: str) -> list[Flow]:
    """The bridge's flows that can be VLAN translations, as this dump has them (counters)."""
    dump = flows.get(bridge)
    if dump is None:
        return []
    places = from_text(dump, "may translate VLANs",
                       lambda: [n for n, f in enumerate(dump.flows) if _may_translate(f)])
    return [dump.flows[n] for n in places]


def physical_bridges(bridges, int_br, iface_bridge) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Bridges joined to the integration bridge (by a patch pair, or by the
    veth pair int-br-X / phy-br-X of old agents) that carry no tunnels:
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
                peer = i.peer
            elif i and i.type in NIC_TYPES and iface_bridge.get(f"int-{b.name}") == int_br \
                    and is_veth_pair(f"int-{b.name}", p.name, b.name):
                peer = f"int-{b.name}"
            else:
                continue
            nics = tuple(p2.name for p2 in b.ports if p2.name not in (b.name, p.name)
                         and p2.interfaces and all(i2.type in NIC_TYPES for i2 in p2.interfaces)
                         and not p2.name.startswith(("qg-", "fg-")))
            out[b.name] = (p.name, peer, nics)
            break
    return out


def _keep_all(table: dict, vlan: int, entry: tuple[str, Flow, FlowDetail]) -> None:
    table.setdefault(vlan, []).append(entry)


def _best(entries: list[tuple[str, Flow, FlowDetail]] | None, other_vlan) -> tuple:
    """The highest-priority candidate (e.g. over a DVR table), and the other
    candidates at its very table and priority that come from another VLAN:
    two networks translated into one."""
    if not entries:
        return None, ()
    entries = sorted(entries, key=lambda e: e[1].priority, reverse=True)
    best = entries[0]
    dups = tuple(e[1] for e in entries[1:]
                 if e[0] == best[0] and e[1].table == best[1].table
                 and e[1].priority == best[1].priority and other_vlan(e[2]) != other_vlan(best[2]))
    return best, dups


def vlan_map(bridges, int_br, phys, by_name, flows: Mapping[str, FlowDump],
             detail_of: DetailOf, tunnels: Mapping[int, TunnelLeg] | None = None,
             tunnel_bridges: tuple[str, ...] = ()) -> list[VlanView]:
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
    tunnels = tunnels or {}
    egress: dict[int, list[tuple[str, Flow, FlowDetail]]] = {}
    ingress: dict[int, list[tuple[str, Flow, FlowDetail]]] = {}
    for br_name, (phy_patch, int_patch, _nics) in phys.items():
        phy_port, int_port = by_name.get(phy_patch), by_name.get(int_patch)
        for flow in may_translate(flows, br_name):
            d = detail_of(flow)
            if d.dl_vlan is not None and (d.set_vlan is not None or d.strip_vlan) \
                    and (d.in_port is None or (phy_port and port_refers(d.in_port, phy_port))):
                _keep_all(egress, d.dl_vlan, (br_name, flow, d))
        for flow in may_translate(flows, int_br):
            d = detail_of(flow)
            if d.set_vlan is not None and int_port and port_refers(d.in_port, int_port) \
                    and (d.dl_vlan is not None or d.untagged):
                _keep_all(ingress, d.set_vlan, (br_name, flow, d))

    out = []
    both = set(egress) & set(ingress)
    with_tunnel = {v for v, leg in tunnels.items() if leg.ingress is not None}
    for local in sorted(set(users) | both | with_tunnel):
        ports = users.get(local, [])
        oc = ports[0].other_config if ports else {}
        e, e_dups = _best(egress.get(local), lambda d: d.set_vlan)
        i, i_dups = _best(ingress.get(local), lambda d: d.dl_vlan)
        if i_dups and e and e[2].set_vlan is not None:
            # show the one that agrees with egress; the others are the problem
            tied = [i] + [c for c in ingress[local] if c[1] in i_dups]
            agree = next((c for c in tied if c[2].dl_vlan == e[2].set_vlan), i)
            i, i_dups = agree, tuple(c[1] for c in tied if c is not agree)
        segid = as_int(oc.get("segmentation_id"))
        net_type = oc.get("network_type")
        leg = tunnels.get(local)
        if net_type in TUNNEL_NETWORKS or (net_type is None and leg and not (e or i)):
            out.append(_tunnel_vlan(int_br, local, ports, oc, segid, net_type, leg,
                                    tunnel_bridges))
            continue
        phy_br = (e[0] if e else None) or (i[0] if i else None)
        # with no translation flow, the lone physical bridge is this VLAN's way
        # out only if it cannot be a tunnel network
        if phy_br is None and len(phys) == 1 and (not tunnel_bridges or net_type in ("vlan", "flat")):
            phy_br = next(iter(phys))
        flow_segid = None
        if e and e[2].set_vlan is not None:
            flow_segid = e[2].set_vlan
        elif i and i[2].dl_vlan is not None:
            flow_segid = i[2].dl_vlan
        if net_type is None and (e or i):
            net_type = "flat" if flow_segid is None else "vlan"
        out.append(VlanView(
            bridge=int_br,
            local_vlan=local,
            segmentation_id=segid if segid is not None else flow_segid,
            network_type=net_type,
            physical_network=physical_network(oc),
            physical_bridge=phy_br,
            nics=phys[phy_br][2] if phy_br in phys else (),
            ports=tuple(p.name for p in ports),
            egress_flow=e[1] if e else None,
            ingress_flow=i[1] if i else None,
            flow_segmentation_id=flow_segid,
            duplicate_flows=e_dups + i_dups,
        ))
    return out


def _tunnel_vlan(int_br, local, ports, oc, segid, net_type, leg: TunnelLeg | None,
                 tunnel_bridges) -> VlanView:
    return VlanView(
        bridge=int_br,
        local_vlan=local,
        segmentation_id=segid if segid is not None else (leg.vni if leg else None),
        network_type=net_type or (leg.network_type if leg else None),
        physical_network=None,
        physical_bridge=None,
        nics=(),
        ports=tuple(p.name for p in ports),
        egress_flow=leg.egress if leg else None,
        ingress_flow=leg.ingress if leg else None,
        flow_segmentation_id=leg.vni if leg else None,
        tunnel_bridge=leg.bridge if leg else (tunnel_bridges[0] if len(tunnel_bridges) == 1 else None),
        tunnel_ports=leg.ports if leg else (),
        remote_ips=leg.remote_ips if leg else (),
        duplicate_flows=leg.duplicates if leg else (),
        tunnel_unicast_flows=leg.unicast if leg else (),
    )
