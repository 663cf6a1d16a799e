"""A packet trace from a vNIC (or toward it from the wire) in an operator's words.

``request_for`` builds the ``ofproto/trace`` an operator would type (in_port,
MACs, IPs, ICMP echo, ``--ct-next`` so the firewall's conntrack pass is
followed); ``interpret`` turns what OVS answered into hops with Neutron's
table names and one verdict: where the packet leaves the node, or the flow
that drops it and why. Pure: the collector runs the trace.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from model import neutron
from model.join import NodeModel, PortView, ofp_name
from model.ovn_tables import br_int_table_name
from model.records import Flow
from model.vswitchd import DpifPort, Trace, TraceStep
from model.words import provider_network

BROADCAST = "ff:ff:ff:ff:ff:ff"
WIRE_MAC = "02:00:00:00:00:01"  # stands in for the unknown sender on the wire
PROTOS = ("icmp", "arp", "tcp:N", "udp:N")
FIREWALL_TABLES = frozenset({23, 24, 25, 71, 72, 73, 81, 82, 91, 92, 93, 94})


class TraceInputError(ValueError):
    """The trace cannot be built; the message says what to give instead."""


@dataclass(frozen=True, slots=True)
class TraceRequest:
    bridge: str
    flow: str  # the ofproto/trace flow, e.g. "in_port=3,icmp,dl_src=...,nw_dst=..."
    ct_next: tuple[str, ...]  # one --ct-next per conntrack pass
    port: str  # the vNIC's OVS port
    direction: str  # "egress" (from the vNIC) or "ingress" (from the wire)
    local_vlan: int | None
    provider_vlan: int | None
    nics: tuple[str, ...]

    def args(self) -> list[str]:
        """ofproto/trace's arguments, options first."""
        out: list[str] = []
        for state in self.ct_next:
            out += ["--ct-next", state]
        return [*out, self.bridge, self.flow]


@dataclass(frozen=True, slots=True)
class TraceHop:
    bridge: str
    table: int
    table_name: str
    priority: int | None  # None: no flow matched
    match: str  # port numbers shown as names
    actions: tuple[str, ...]
    notes: tuple[str, ...]
    cookie: int | None
    pass_no: int
    drops: bool


@dataclass(frozen=True, slots=True)
class Egress:
    bridge: str
    port: str
    vlan: int | None  # None: untagged
    kind: str  # "nic", "tunnel", "vif", "local", "other"


@dataclass(frozen=True, slots=True)
class TraceResult:
    verdict: str  # "output", "drop", "local", "no-port"
    summary: str
    hops: tuple[TraceHop, ...]
    egress: Egress | None
    outputs: tuple[Egress, ...]
    drop: TraceHop | None
    datapath_actions: str | None
    request: TraceRequest


# --------------------------------------------------------------------------
# what to trace


def vnic_ip(model: NodeModel, pv: PortView) -> str | None:
    """The vNIC's IPv4 address: its first known one (Nova's metadata, or on OVN
    its logical port's addresses), else as the firewall's anti-spoofing flows name it."""
    vv = next((v for i in model.instances for v in i.vnics if v.port is pv), None)
    known = [ip for ip in (vv.fixed_ips if vv else ()) if "." in ip]
    if known:
        return known[0]
    dump = model.flows.get(pv.bridge)
    if dump is None or pv.ofport is None or pv.ofport < 0:
        return None
    reg = f"reg5={pv.ofport:#x}"
    for f in dump.flows:
        if reg in f.match and "nw_src=" in f.match:
            m = re.search(r"nw_src=([0-9.]+)(?:,|$)", f.match)
            if m and m.group(1) != "0.0.0.0":
                return m.group(1)
    return None


def parse_proto(spec: str) -> tuple[str, int | None]:
    """icmp, arp, tcp:N or udp:N as (kind, port)."""
    kind, _, port = spec.partition(":")
    if kind in ("icmp", "arp") and not port:
        return kind, None
    if kind in ("tcp", "udp") and port.isdigit() and 0 < int(port) < 65536:
        return kind, int(port)
    raise TraceInputError(f"--proto {spec!r}: use one of {', '.join(PROTOS)}")


def _ip(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise TraceInputError(f"{what} {text!r} is not an IPv4 address") from None


def request_for(model: NodeModel, port: str, to_ip: str, proto: str = "icmp", *,
                from_wire: bool = False, src_ip: str | None = None,
                to_mac: str | None = None) -> TraceRequest:
    """The trace of one packet from a vNIC to ``to_ip`` (or back from the wire)."""
    pv = model.port(port)
    if pv is None:
        for inst in model.instances:  # the tap of a hybrid port, or a MAC
            for vv in inst.vnics:
                if vv.port and port in (vv.vnic.target, vv.vnic.mac):
                    pv = vv.port
    if pv is None:
        raise TraceInputError(f"no port or tap {port!r} on this node (see `snapshot`)")
    if pv.ofport is None or pv.ofport < 0:
        raise TraceInputError(f"port {pv.name} has no ofport: it cannot be traced")
    kind, l4 = parse_proto(proto)
    to_ip = _ip(to_ip, "--to")
    vm_ip = _ip(src_ip, "--src") if src_ip else vnic_ip(model, pv)
    if vm_ip is None:
        raise TraceInputError(f"the IP of {pv.name} is not in any firewall flow: give --src IP")
    vm_mac = (pv.vnic_mac or (pv.interface.attached_mac if pv.interface else None) or "").lower()
    if not vm_mac:
        raise TraceInputError(f"port {pv.name} has no attached MAC")
    vlan = model.vlan(pv.port.tag) if pv.port.tag is not None else None
    segid = vlan.segmentation_id if vlan and vlan.network_type != "flat" else None
    nics = vlan.nics if vlan else ()
    if not from_wire:
        bridge, in_port = pv.bridge, pv.ofport
        src_mac, dst_mac, src, dst = vm_mac, (to_mac or BROADCAST), vm_ip, to_ip
        vlan_match = ""
    else:
        if vlan is None or not vlan.physical_bridge or not nics:
            raise TraceInputError(f"{pv.name}'s VLAN leaves through no known physical bridge "
                                  "and NIC: there is no wire to trace from")
        nic = model.port(nics[0])
        if nic is None or nic.ofport is None:
            raise TraceInputError(f"NIC {nics[0]} has no ofport")
        bridge, in_port = vlan.physical_bridge, nic.ofport
        src_mac, dst_mac, src, dst = (to_mac or WIRE_MAC), vm_mac, to_ip, vm_ip
        vlan_match = f"dl_vlan={segid}," if segid is not None else ""
    if kind == "arp":
        flow = (f"in_port={in_port},{vlan_match}arp,dl_src={src_mac},dl_dst={BROADCAST},"
                f"arp_op=1,arp_spa={src},arp_tpa={dst},arp_sha={src_mac}")
    else:
        l4_part = ("icmp_type=8,icmp_code=0" if kind == "icmp"
                   else f"tp_src=40000,tp_dst={l4}")
        flow = (f"in_port={in_port},{vlan_match}{kind},dl_src={src_mac},dl_dst={dst_mac},"
                f"nw_src={src},nw_dst={dst},nw_ttl=64,{l4_part}")
    # the first packet of a connection: the firewall's conntrack pass sees it new
    ct_next = () if kind == "arp" else ("trk,new",)
    return TraceRequest(bridge=bridge, flow=flow, ct_next=ct_next, port=pv.name,
                        direction="ingress" if from_wire else "egress",
                        local_vlan=pv.port.tag, provider_vlan=segid, nics=nics)


# --------------------------------------------------------------------------
# what OVS answered


def _named(model: NodeModel, bridge: str, match: str) -> str:
    """``in_port=2`` as ``in_port=phy-br-provider``: the trace prints numbers."""
    names = {str(pv.ofport): ofp_name(pv.name) for pv in model.ports if pv.bridge == bridge}

    def sub(m: re.Match) -> str:
        return f"in_port={names.get(m.group(1), m.group(1))}"

    return re.sub(r"in_port=([0-9]+)(?![0-9])", sub, match)


def _table_name(model: NodeModel, bridge: str, table: int) -> str:
    """The agent's name for the table, or ovn-controller's on an OVN chassis' br-int."""
    name = br_int_table_name(model, bridge, table)
    return name if name is not None else neutron.table_name(model.bridge_role(bridge), table)


def _hop(model: NodeModel, s: TraceStep) -> TraceHop:
    return TraceHop(bridge=s.bridge, table=s.table,
                    table_name=_table_name(model, s.bridge, s.table),
                    priority=s.priority, match=_named(model, s.bridge, s.match),
                    actions=s.actions, notes=s.notes, cookie=s.cookie, pass_no=s.pass_no,
                    drops=s.drops)


def _split_actions(text: str) -> list[str]:
    """Datapath actions split at top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def datapath_outputs(model: NodeModel, actions: str | None,
                     dpif: tuple[DpifPort, ...]) -> tuple[Egress, ...]:
    """Each port the datapath sends the packet to, with the VLAN it carries then."""
    if not actions or actions == "drop":
        return ()
    by_dp = {p.dp_port: p for p in dpif if p.dp_port is not None}
    vlan: int | None = None
    out = []
    for a in _split_actions(actions):
        if a.startswith("push_vlan("):
            m = re.search(r"vid=([0-9]+)", a)
            vlan = int(m.group(1)) if m else vlan
        elif a == "pop_vlan":
            vlan = None
        elif a.isdigit():
            p = by_dp.get(int(a))
            if p is None:
                out.append(Egress("?", f"datapath port {a}", vlan, "other"))
                continue
            pv = model.port(p.name)
            kind = "other"
            if p.name == p.bridge:
                kind = "local"
            elif pv is not None and pv.is_vif:
                kind = "vif"
            elif pv is not None and pv.type in ("vxlan", "gre", "geneve"):
                kind = "tunnel"
            elif any(p.name in v.nics for v in model.vlans) or (
                    pv is not None and pv.bridge != model.integration_bridge
                    and pv.type in ("", "system", "dpdk")):
                kind = "nic"
            out.append(Egress(p.bridge, p.name, vlan, kind))
    return tuple(out)


def _why(model: NodeModel, req: TraceRequest, hop: TraceHop) -> str:
    """Why a flow that drops is there, in Neutron's terms."""
    role = model.bridge_role(hop.bridge)
    if hop.priority is None:
        return f"no flow matched in table {hop.table}"
    if role == "phys" and hop.priority == 2 and "in_port=" in hop.match:
        return f"no translation for local VLAN {req.local_vlan}"
    if role == "int" and hop.table == 0 and hop.priority == 2:
        provider = provider_network(req.provider_vlan)
        return f"no translation from {provider}"
    if role == "int" and hop.table in FIREWALL_TABLES:
        return "by the security group"
    return ""


def _vlan_words(vlan: int | None) -> str:
    return f"tagged {vlan}" if vlan is not None else "untagged"


def interpret(model: NodeModel, req: TraceRequest, trace: Trace,
              dpif: tuple[DpifPort, ...]) -> TraceResult:
    hops = tuple(_hop(model, s) for s in trace.steps)
    actions = trace.datapath_actions
    outputs = datapath_outputs(model, actions, dpif)
    if req.direction == "egress":
        wanted = [o for o in outputs if o.kind in ("nic", "tunnel")]
    else:
        wanted = [o for o in outputs if o.port == req.port]
    drops = [h for h in hops if h.drops]
    nonexistent = any("onexistent" in n or "does not exist" in n for h in hops for n in h.notes)
    egress = wanted[0] if wanted else None
    drop = None
    if egress is not None:
        verdict = "output"
        where = ", ".join(f"{o.port} {_vlan_words(o.vlan)}" for o in wanted)
        summary = (f"leaves {where}" if req.direction == "egress" else
                   f"reaches {egress.port} {_vlan_words(egress.vlan)}")
    elif nonexistent:
        verdict = "no-port"
        summary = "sent to a port that does not exist"
    elif drops:
        verdict = "drop"
        drop = drops[-1]
        why = _why(model, req, drop)
        flow = f"`{drop.match}`" if drop.match else "(matches everything)"
        name = f" ({drop.table_name})" if drop.table_name else ""
        if why == "by the security group":
            summary = (f"dropped by the security group: table {drop.table}{name} "
                       f"priority {drop.priority} {flow} on {drop.bridge}")
        elif drop.priority is None:
            summary = f"dropped on {drop.bridge}, table {drop.table}{name}: no flow matched"
        else:
            summary = (f"dropped on {drop.bridge}, table {drop.table}{name}, priority "
                       f"{drop.priority} {flow}" + (f" ({why})" if why else ""))
    else:
        verdict = "local" if outputs else "drop"
        summary = ("does not leave the node: only to "
                   + ", ".join(f"{o.port} {_vlan_words(o.vlan)}" for o in outputs)
                   if outputs else "dropped: the datapath has no action for it")
    return TraceResult(verdict=verdict, summary=summary, hops=hops, egress=egress,
                       outputs=outputs, drop=drop, datapath_actions=actions, request=req)


def flow_of_hop(model: NodeModel, hop: TraceHop) -> Flow | None:
    """The dumped flow a hop matched (to open it with its live counters)."""
    dump = model.flows.get(hop.bridge)
    if dump is None or hop.priority is None:
        return None
    same = [f for f in dump.flows if f.table == hop.table and f.priority == hop.priority
            and (hop.cookie is None or f.cookie == hop.cookie)]
    if len(same) <= 1:
        return same[0] if same else None
    want = hop.match.replace('"', "")
    for f in same:
        if _named(model, hop.bridge, f.match).replace('"', "") == want:
            return f
    return None


def _hop_dict(h: TraceHop) -> dict:
    return {"bridge": h.bridge, "table": h.table, "table_name": h.table_name,
            "priority": h.priority, "match": h.match, "actions": ",".join(h.actions),
            "notes": list(h.notes), "pass": h.pass_no}


def to_json(result: TraceResult) -> dict:
    """``ovsvlan-tui trace --json`` (the contract in README.md)."""
    r = result.request
    e = result.egress
    return {
        "schema": "ovsvlan-tui/trace/1",
        "verdict": result.verdict,
        "summary": result.summary,
        "request": {"bridge": r.bridge, "flow": r.flow, "ct_next": list(r.ct_next),
                    "port": r.port, "direction": r.direction},
        "hops": [_hop_dict(h) for h in result.hops],
        "egress": {"bridge": e.bridge, "port": e.port, "vlan": e.vlan} if e else None,
        "outputs": [{"bridge": o.bridge, "port": o.port, "vlan": o.vlan, "kind": o.kind}
                    for o in result.outputs],
        "drop": _hop_dict(result.drop) if result.drop else None,
        "datapath_actions": result.datapath_actions,
    }
