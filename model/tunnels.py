"""Tunnel networks on br-tun: local VLAN -> VNI -> tunnel ports and remote IPs.

The Neutron OVS agent (neutron ``br_tun.py``, neutron-lib ``ovs_constants``)
turns a VNI into a local VLAN in table 3/4/6 (GRE/VXLAN/Geneve; another with
DVR) with ``tun_id=<VNI> -> mod_vlan_vid:<local>``, and a local VLAN into a
VNI in table 22 (flood) and 20 (unicast) with ``dl_vlan=<local> ->
strip_vlan, set_tunnel / load ->NXM_NX_TUN_ID[] / set_field ->tun_id,
output:<tunnels>``. As for VLAN translation the flows are found by their
effect, not by a fixed table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from model.ports import TUNNEL_TYPES, port_refers, remote_ip
from model.records import Flow, FlowDetail, FlowDump, OvsBridge
from model.views import DetailOf, PortView

# The agent's tunnel-to-local-VLAN tables, by network type.
TUNNEL_TABLE_TYPES: Mapping[int, str] = {3: "gre", 4: "vxlan", 6: "geneve"}

_NUM = r"(0x[0-9a-fA-F]+|[0-9]+)"
_RX_MATCH_VNI = re.compile(r"(?:^|,)tun_id=" + _NUM + r"(?=[,/]|$)")
_RX_DL_VLAN = re.compile(r"(?:^|,)dl_vlan=([0-9]{1,4})(?=,|$)")
# a learned flow (NXM_OF_VLAN_TCI[0..11]) matches the VID bits alone: vlan_tci=0x0003/0x0fff
_RX_VID_BITS = re.compile(r"(?:^|,)vlan_tci=(0x[0-9a-fA-F]{1,4})/0x0?fff(?=,|$)")
_RX_SET_VNI = re.compile(r"set_tunnel(?:64)?:" + _NUM + r"|load:" + _NUM + r"->NXM_NX_TUN_ID\[\]"
                         r"|set_field:" + _NUM + r"->tun_id")


@dataclass(frozen=True, slots=True)
class TunnelLeg:
    """What br-tun does with one local VLAN."""

    bridge: str
    vni: int | None
    network_type: str | None
    ingress: Flow | None  # VNI -> local VLAN
    egress: Flow | None  # local VLAN -> VNI, out of the tunnels (the flood flow if any)
    ports: tuple[str, ...]  # tunnel ports the egress flows output to
    remote_ips: tuple[str, ...]
    duplicates: tuple[Flow, ...] = ()
    # unicast to one MAC through a tunnel (table 20: l2pop's priority 2, learned priority 1):
    # once a MAC is known its frames take these, not the flood flow
    unicast: tuple[Flow, ...] = ()


def _num(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def match_vni(flow: Flow) -> int | None:
    m = _RX_MATCH_VNI.search(flow.match)
    return _num(m.group(1)) if m else None


def set_vni(flow: Flow) -> int | None:
    """The VNI a flow's actions put on the packet (outside learn(), which loads a field)."""
    actions = re.sub(r"learn\(.*?\)(?=,|$)", "", flow.actions)
    found = None
    for m in _RX_SET_VNI.finditer(actions):
        found = _num(next(g for g in m.groups() if g))
    return found


def tunnel_bridges(bridges: tuple[OvsBridge, ...], int_br: str | None,
                   iface_bridge: Mapping[str, str]) -> tuple[str, ...]:
    """Bridges holding tunnel ports and patched to the integration bridge."""
    out = []
    for b in bridges:
        if b.name == int_br:
            continue
        ifaces = [i for p in b.ports for i in p.interfaces]
        if any(i.type in TUNNEL_TYPES for i in ifaces) and any(
                i.type == "patch" and i.peer and iface_bridge.get(i.peer) == int_br for i in ifaces):
            out.append(b.name)
    return tuple(out)


def tunnel_map(tun_bridges: tuple[str, ...], by_name: Mapping[str, PortView],
               flows: Mapping[str, FlowDump], detail_of: DetailOf) -> dict[int, TunnelLeg]:
    legs: dict[int, TunnelLeg] = {}
    for br in tun_bridges:
        dump = flows.get(br)
        if dump is None:
            continue
        on_bridge = [pv for pv in by_name.values() if pv.bridge == br]
        tunnels = [pv for pv in on_bridge if pv.type in TUNNEL_TYPES]
        ingress: dict[int, list[tuple[Flow, int]]] = {}
        egress: dict[int, list[tuple[Flow, FlowDetail, int]]] = {}
        # l2pop's and learned unicast flows (table 20) can number thousands:
        # they are parsed only for a VLAN that has no flood flow (table 22)
        unicast: dict[int, list[Flow]] = {}
        for flow in dump.flows:
            if "tun_id=" in flow.match and "vlan" in flow.actions:
                vni = match_vni(flow)
                d = detail_of(flow)
                if vni is not None and d.set_vlan is not None:
                    ingress.setdefault(d.set_vlan, []).append((flow, vni))
            elif "vlan" in flow.match and ("tun" in flow.actions or "TUN_ID" in flow.actions):
                if "dl_dst=" in flow.match:
                    local = _unicast_vlan(flow.match)
                    if local is not None:
                        unicast.setdefault(local, []).append(flow)
                    continue
                if "dl_vlan=" in flow.match:
                    _add_egress(egress, flow, detail_of)
        for local, found in unicast.items():
            if local not in egress:
                for flow in found:
                    _add_egress(egress, flow, detail_of)
        for local in set(ingress) | set(egress):
            legs[local] = _leg(br, ingress.get(local, []), egress.get(local, []), tunnels,
                               unicast.get(local, []))
    return legs


def _unicast_vlan(match: str) -> int | None:
    """The local VLAN a unicast-to-tunnel flow matches, from its text alone."""
    m = _RX_DL_VLAN.search(match)
    if m:
        return int(m.group(1))
    m = _RX_VID_BITS.search(match)
    return (int(m.group(1), 16) & 0xFFF) or None if m else None


def _add_egress(egress: dict, flow: Flow, detail_of: DetailOf) -> None:
    vni = set_vni(flow)
    if vni is None:
        return
    d = detail_of(flow)
    if d.dl_vlan is not None and d.strip_vlan:
        egress.setdefault(d.dl_vlan, []).append((flow, d, vni))


def _leg(br: str, ingress: list[tuple[Flow, int]], egress: list[tuple[Flow, FlowDetail, int]],
         tunnels: list[PortView], unicast: list[Flow]) -> TunnelLeg:
    ingress.sort(key=lambda e: e[0].priority, reverse=True)
    best_in = ingress[0] if ingress else None
    duplicates = tuple(f for f, vni in ingress[1:] if best_in and f.table == best_in[0].table
                       and f.priority == best_in[0].priority and vni != best_in[1])
    # the flood flow (no dl_dst) before l2pop's and learned unicast ones
    egress.sort(key=lambda e: (e[1].dl_dst is None, e[0].priority), reverse=True)
    best_out = egress[0] if egress else None
    ports: list[str] = []
    for _flow, d, _vni in egress:
        for ref in d.outputs:
            name = next((pv.name for pv in tunnels if port_refers(ref, pv)), ref)
            if name not in ports:
                ports.append(name)
    ips = []
    for name in ports:
        pv = next((t for t in tunnels if t.name == name), None)
        ip = remote_ip(pv.interface) if pv and pv.interface else None
        if ip and ip not in ips:
            ips.append(ip)
    vni = best_in[1] if best_in else (best_out[2] if best_out else None)
    net_type = TUNNEL_TABLE_TYPES.get(best_in[0].table) if best_in else None
    if net_type is None:
        kinds = {pv.type for pv in tunnels if pv.name in ports} or {pv.type for pv in tunnels}
        net_type = kinds.pop() if len(kinds) == 1 else None
    return TunnelLeg(bridge=br, vni=vni, network_type=net_type,
                     ingress=best_in[0] if best_in else None,
                     egress=best_out[0] if best_out else None,
                     ports=tuple(ports), remote_ips=tuple(ips), duplicates=duplicates,
                     unicast=tuple(sorted(unicast, key=lambda f: f.priority, reverse=True)))
