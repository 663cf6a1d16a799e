"""The hops a vNIC's packets cross, each with the counter that hop really has.

vNIC (libvirt) -> tap (netlink) -> br-int port (dump-ports) -> firewall
(its table-60 flows) -> patch port (dump-ports) -> physical bridge's VLAN
translation (the translation flows, and the priority-2 drops beside them)
-> NIC (dump-ports) -> wire. ``path_of`` says which counters each hop has;
``measure`` turns two readings of them into rates both ways and finds the
first hop where packets stop. Two readings a few seconds apart, not one
refresh's 1 s window: at 1 pps a second may hold no packet, and a hop
marked dead that is not is the worst thing this tool can say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from model.join import NodeModel, PortView, port_refers
from model.ports import counters_of
from model.records import Flow
from model.trace import vnic_ip
from model.words import display_name, provider_side

# A counter: ("flow", FlowKey) | ("port", bridge, port, "rx"|"tx") |
# ("link", ifname, "rx"|"tx") | ("vnic", tap, "rx"|"tx")
CounterId = tuple
FIREWALL_TABLES = frozenset({71, 72, 73, 81, 82, 91, 92, 93, 94})
MIN_PACKETS = 2  # what "moving" takes over the window: one packet can be timing
# A flow installed again between two readings (ovn-controller or the agent
# replacing it with the same match and cookie) restarts its counters: its
# install time, read as seen_at - duration, moves by more than a reading's own
# error (a text dump's seen_at is its start or its end: 1.5 s apart at 200k flows).
REINSTALLED_S = 3.0


@dataclass(frozen=True, slots=True)
class HopSpec:
    key: str  # "vnic", "tap", "port", "firewall", "patch", "translation", "nic", "wire"
    label: str
    detail: str
    source: str  # where its counters come from, in words
    out_ids: tuple[CounterId, ...] = ()  # toward the wire
    in_ids: tuple[CounterId, ...] = ()  # toward the vNIC
    missing_out: str = ""  # the counter that should be there and is not (e.g. no flow)
    missing_in: str = ""
    drop_flows: tuple[Flow, ...] = ()
    opens: tuple = ()  # ("port", name) | ("vlan", n) | ("instance", uuid) | ("flows", kind, value)
    # its counters also count other vNICs' and VLANs' packets (patch ports, NICs):
    # a shared hop that moves says nothing about this vNIC's packets
    shared: bool = False
    # its source is read less often than the flows (netlink every few seconds):
    # its counters moving count, a still one may just not be re-read yet
    lags: bool = False


@dataclass(frozen=True, slots=True)
class Stop:
    hop: int  # index into hops
    direction: str  # "out" (toward the wire) or "in" (toward the vNIC)
    evidence: str
    flow: Flow | None = None  # the drop flow that shows it, when one does


@dataclass(frozen=True, slots=True)
class Hop:
    spec: HopSpec
    out_pps: float | None
    in_pps: float | None
    drops: tuple[tuple[Flow, float], ...]  # drop flows moving now, with pps


@dataclass(frozen=True, slots=True)
class PacketPath:
    title: str
    hops: tuple[Hop, ...]
    stops: tuple[Stop, ...]
    seconds: float  # the window the rates are over (0: one reading, no rates)

    def stop_at(self, index: int) -> tuple[Stop, ...]:
        return tuple(s for s in self.stops if s.hop == index)


_DROPS = ("drop", "")  # the actions of a flow that drops: explicit, or none at all


def _flows(model: NodeModel, bridge: str | None) -> tuple[Flow, ...]:
    dump = model.flows.get(bridge) if bridge else None
    return dump.flows if dump else ()


def _port_ids(pv: PortView, out: str, inn: str) -> tuple[tuple, tuple]:
    name = "LOCAL" if pv.name == pv.bridge else pv.name
    return ((("port", pv.bridge, name, out),), (("port", pv.bridge, name, inn),))


def path_of(model: NodeModel, port: str) -> tuple[str, tuple[HopSpec, ...]]:
    """(title, hops) of the vNIC on ``port`` (an OVS port or the tap behind it)."""
    pv = model.port(port) or next((p for p in model.ports if p.tap == port), None)
    if pv is None:
        return f"{port} is not on this node", ()
    inst = model.instance(pv.domain_uuid) if pv.domain_uuid else None
    tap = pv.tap or pv.name
    mac = (pv.vnic_mac or (pv.interface.attached_mac if pv.interface else "") or "").lower()
    ip = vnic_ip(model, pv)
    hops: list[HopSpec] = []
    name = display_name(inst.domain) if inst else "no instance"
    hops.append(HopSpec(
        "vnic", name, ", ".join(x for x in (ip, mac) if x) or "-", "libvirt",
        (("vnic", tap, "tx"),), (("vnic", tap, "rx"),),
        opens=("instance", inst.domain.uuid) if inst else ()))
    hops.append(HopSpec("tap", tap, "the tap", "netlink", (("link", tap, "rx"),),
                        (("link", tap, "tx"),), opens=("port", pv.name), lags=True))
    out_ids, in_ids = _port_ids(pv, "rx", "tx")
    tag = pv.port.tag
    hops.append(HopSpec("port", f"{pv.bridge} port {pv.ofport}",
                        f"VLAN {tag}" if tag is not None else "untagged", "dump-ports",
                        out_ids, in_ids, opens=("port", pv.name)))
    int_flows = _flows(model, pv.bridge)
    # one pass over br-int (tens of thousands of flows) for the tables a path reads
    fw_flows = tuple(f for f in int_flows if f.table == 60 or (
        f.actions in _DROPS and (f.table in FIREWALL_TABLES or f.priority == 2)))
    if model.ovn is not None and tag is None:
        hops += _ovn_hops(model, pv, int_flows)
        return f"path of {name}'s vNIC {mac or '?'} ({tap})", tuple(hops)
    fw_out = [f for f in fw_flows if f.table == 60 and port_refers(_in_port(f), pv)]
    fw_in = [f for f in fw_flows if f.table == 60 and mac and f"dl_dst={mac}" in f.match]
    if fw_out or fw_in:
        reg = f"reg5={pv.ofport:#x}" if pv.ofport is not None else "?"
        drops = tuple(f for f in fw_flows if f.actions in _DROPS and f.table in FIREWALL_TABLES
                      and (reg in f.match or "reg5=" not in f.match))
        hops.append(HopSpec("firewall", "firewall", "security groups",
                            "table-60 flows", tuple(("flow", f.key) for f in fw_out),
                            tuple(("flow", f.key) for f in fw_in), drop_flows=drops,
                            opens=("flows", "port", pv.name)))
    vlan = model.vlan(tag) if tag is not None else None
    tunnel = bool(vlan and vlan.tunnel_bridge and not vlan.physical_bridge)
    phy = (vlan.tunnel_bridge if tunnel else vlan.physical_bridge) if vlan else None
    int_patch = next((p for p in model.ports if p.bridge == pv.bridge and p.peer_bridge == phy
                      and p.type == "patch"), None) if phy else None
    if int_patch is not None:
        o, i = _port_ids(int_patch, "tx", "rx")
        peer = int_patch.interface.peer if int_patch.interface else "?"
        hops.append(HopSpec("patch", f"{int_patch.name} = {peer}", "patch ports",
                            "dump-ports", o, i, opens=("port", int_patch.name), shared=True))
    if vlan is not None and phy is not None:
        if tunnel:
            provider = f"VNI {vlan.segmentation_id}"
        else:
            provider = provider_side(vlan.network_type, vlan.segmentation_id)
        phy_patch = model.port(int_patch.interface.peer) if int_patch and int_patch.interface else None
        drops = tuple(f for f in _flows(model, phy) if f.priority == 2 and f.actions in _DROPS
                      and phy_patch and port_refers(_in_port(f), phy_patch))
        drops += tuple(f for f in fw_flows if f.priority == 2 and f.table == 0 and f.actions in _DROPS
                       and int_patch and port_refers(_in_port(f), int_patch))
        e, g = vlan.egress_flow, vlan.ingress_flow
        in_bridge = phy if tunnel else pv.bridge  # where the frames get their local VLAN back
        # br-tun floods (e) only until a MAC is known: unicast then takes table 20's flows
        egress = ((("flow", e.key),) if e else ()) + tuple(
            ("flow", f.key) for f in vlan.tunnel_unicast_flows)
        hops.append(HopSpec(
            "translation", f"{phy}, VLAN {tag} -> {provider}", "translation",
            "flows", egress,
            (("flow", g.key),) if g else (),
            missing_out="" if e else f"no flow on {phy} turns local VLAN {tag} into {provider}",
            missing_in="" if g else f"no flow on {in_bridge} turns {provider} into VLAN {tag}",
            drop_flows=drops, opens=("vlan", tag)))
        exits = vlan.tunnel_ports if tunnel else vlan.nics
        for n, exit_name in enumerate(exits):
            nic = model.port(exit_name)
            if nic is None:
                continue
            o, i = _port_ids(nic, "tx", "rx")
            members = [x.name for x in nic.port.interfaces]
            if tunnel:
                remote = vlan.remote_ips[n] if n < len(vlan.remote_ips) else "?"
                detail, key = f"remote {remote}, {provider}", "tunnel"
            else:
                detail = f"bond of {', '.join(members)}" if len(members) > 1 else "physical NIC"
                key = "nic"
            hops.append(HopSpec(key, nic.name, detail, "dump-ports", o, i,
                                opens=("port", nic.name), shared=True))
        hops.append(HopSpec("wire", "wire", provider, "", ()))
    return f"path of {name}'s vNIC {mac or '?'} ({tap})", tuple(hops)


def _ovn_hops(model: NodeModel, pv: PortView, int_flows: tuple[Flow, ...]) -> list[HopSpec]:
    """On an OVN chassis: the tap's logical port (its table-0 flow out, the
    output flow to it in), the localnet patch, the VLAN push and strip of
    model/ovn.py, the NIC and the wire."""
    vv = next((v for i in model.instances for v in i.vnics if v.port is pv), None)
    net = model.vlan(f"dp{vv.datapath_key}") if vv and vv.datapath_key is not None else None
    lport = pv.interface.iface_id if pv.interface else None
    dp = f"metadata={net.datapath_key:#x}" if net else None
    dump = model.flows.get(pv.bridge)
    read = dump is not None and dump.error is None  # else no verdict on missing flows
    t0 = [f for f in int_flows if f.table == 0 and port_refers(_in_port(f), pv)]
    out_to = [f for f in int_flows if dp and f.table != 0 and dp in f.match
              and _outputs_to(f, pv)]
    hops = [HopSpec("logical", f"logical port {lport or '?'}",
                    f"datapath {net.datapath_key}" if net else "no datapath", "flows",
                    tuple(("flow", f.key) for f in t0), tuple(("flow", f.key) for f in out_to),
                    missing_out="" if t0 or not read else
                    f"no table-0 flow for ofport {pv.ofport}: unbound",
                    opens=("flows", "port", pv.name))]
    if net is None or net.localnet is None:
        return hops
    patch = next((p for p in model.ports if p.bridge == pv.bridge and p.type == "patch"
                  and p.peer_bridge == net.physical_bridge and p.name.endswith(net.localnet)),
                 None)
    if patch is not None:
        o, i = _port_ids(patch, "tx", "rx")
        hops.append(HopSpec("patch", patch.name, "localnet patch", "dump-ports", o, i,
                            opens=("port", patch.name), shared=True))
    provider = ("flat (untagged)" if net.network_type == "flat"
                else f"VLAN {net.segmentation_id}")
    e, g = net.egress_flow, net.ingress_flow
    hops.append(HopSpec(
        "translation", f"{net.localnet} -> {provider}", "localnet", "flows",
        (("flow", e.key),) if e else (), (("flow", g.key),) if g else (),
        missing_out="" if e else f"no flow outputs datapath {net.datapath_key} to {net.localnet}",
        missing_in="" if g else f"no table-0 flow takes {provider} in from {net.localnet}",
        opens=("vlan", net.key)))
    for nic_name in net.nics:
        nic = model.port(nic_name)
        if nic is not None:
            o, i = _port_ids(nic, "tx", "rx")
            hops.append(HopSpec("nic", nic.name, "physical NIC", "dump-ports", o, i,
                                opens=("port", nic.name), shared=True))
    hops.append(HopSpec("wire", "wire", provider, "", ()))
    return hops


def _outputs_to(f: Flow, pv: PortView) -> bool:
    """An ``output:<port>`` of the flow's actions names this port (no full parse)."""
    for part in f.actions.split("output:")[1:]:
        target = part.split(",", 1)[0]
        if port_refers(target, pv):
            return True
    return False


def _in_port(f: Flow) -> str | None:
    """The in_port of a flow's match, read from its text (no full parse)."""
    start = f.match.find("in_port=")
    if start < 0:
        return None
    rest = f.match[start + 8:]
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[: end + 1] if end > 0 else rest
    return rest.split(",", 1)[0]


def counter_ids(hops: tuple[HopSpec, ...]) -> set[CounterId]:
    ids: set[CounterId] = set()
    for h in hops:
        ids.update(h.out_ids, h.in_ids)
        ids.update(("flow", f.key) for f in h.drop_flows)
    return ids


def read(model: NodeModel, ids: set[CounterId]) -> dict[CounterId, float]:
    """The packet counts of ``ids`` in one model (a counter it lacks is left out),
    and each live flow's install time as ("installed", key)."""
    out: dict[CounterId, float] = {}
    # bridge -> (tables, priorities): a flow's key is built only for those
    wanted: dict[str, tuple[set[int], set[int]]] = {}
    for i in ids:
        if i[0] == "flow":
            tables, prios = wanted.setdefault(i[1][0], (set(), set()))
            tables.add(i[1][1])
            prios.add(i[1][2])
    for b, (tables, prios) in wanted.items():
        for f in _flows(model, b):
            if f.priority in prios and f.table in tables:
                cid = ("flow", f.key)
                if cid in ids:
                    out[cid] = f.n_packets
                    if f.seen_at is not None:
                        out[("installed", f.key)] = f.seen_at - f.duration
    for cid in ids:
        kind = cid[0]
        if kind == "port":
            pv = model.port(cid[1] if cid[2] == "LOCAL" else cid[2])
            c = (counters_of(model.port_counters, pv) if pv is not None
                 else model.port_counters.get((cid[1], cid[2])))
            value = (c.rx_packets if cid[3] == "rx" else c.tx_packets) if c else None
        elif kind == "link":
            pv = model.port(cid[1])
            link = pv.link if pv else None
            if link is None:
                link = next((v.link for i in model.instances for v in i.vnics
                             if v.vnic.target == cid[1] and v.link), None)
            value = (link.rx_packets if cid[2] == "rx" else link.tx_packets) if link else None
        elif kind == "vnic":
            s = model.vnic_stats.get(cid[1])
            if s is None or s.synthetic:  # the test driver's counters are not traffic
                continue
            value = s.rx_packets if cid[2] == "rx" else s.tx_packets
        else:
            continue
        if value is not None:
            out[cid] = value
    return out


def _started_over(i: CounterId, then: Mapping, now: Mapping) -> bool:
    """A counter that went back (a port plugged again) or a flow installed again:
    what it counted in the window is not known, so its hop is not "still"."""
    if now[i] < then[i]:
        return True
    if i[0] != "flow":
        return False
    before, after = then.get(("installed", i[1])), now.get(("installed", i[1]))
    return before is not None and after is not None and after - before > REINSTALLED_S


def _rate(ids, then: Mapping, now: Mapping, seconds: float) -> float | None:
    if not ids or seconds <= 0 or any(i not in now or i not in then for i in ids):
        return None
    if any(_started_over(i, then, now) for i in ids):
        return None
    return sum(now[i] - then[i] for i in ids) / seconds


def measure(title: str, specs: tuple[HopSpec, ...], then: Mapping, now: Mapping,
            seconds: float) -> PacketPath:
    """Rates over the window between two readings, and where packets stop."""
    hops = []
    for s in specs:
        out_pps = _rate(s.out_ids, then, now, seconds)
        in_pps = _rate(s.in_ids, then, now, seconds)
        if seconds > 0 and s.missing_out:
            out_pps = 0.0
        if seconds > 0 and s.missing_in:
            in_pps = 0.0
        drops = []
        for f in s.drop_flows:
            r = _rate((("flow", f.key),), then, now, seconds)
            if r and r * seconds >= MIN_PACKETS:
                drops.append((f, r))
        drops.sort(key=lambda d: -d[1])
        hops.append(Hop(s, out_pps, in_pps, tuple(drops)))
    stops = []
    if seconds > 0:
        out_stop = _first_stop(hops, range(len(hops)), "out", seconds, upstream=None)
        if out_stop:
            stops.append(out_stop)
        # going in, the wire has no counter: this network's packets leaving
        # (its egress translation) stand for the conversation's other half
        left = next((h.out_pps for h in hops if h.spec.key == "translation"), None)
        in_stop = _first_stop(hops, range(len(hops) - 1, -1, -1), "in", seconds,
                              upstream=left)
        if in_stop:
            stops.append(in_stop)
    return PacketPath(title, tuple(hops), tuple(stops), seconds)


# What a hop's counter counts: 0 this vNIC's packets, 1 its network's (every vNIC
# of the local VLAN), 2 anyone's (the patch ports, the NIC). Without a flow that
# shows the loss, a stop is only said between hops that count the same packets,
# or from the network's to the NIC it must leave by.
LEVELS = {"tap": 0, "port": 0, "firewall": 0, "logical": 0, "translation": 1,
          "patch": 2, "nic": 2, "tunnel": 2}


def _first_stop(hops: list[Hop], order, direction: str, seconds: float,
                upstream: float | None) -> Stop | None:
    """The first hop with no packets after one of this vNIC's own that has them.

    Moving means MIN_PACKETS over the window. Only hops that count this
    vNIC's (or its network's) packets alone can say packets are moving: a
    shared hop (patch port, NIC) at zero is a stop, moving it proves nothing.
    See LEVELS for when a still counter is said to be a stop without a flow.
    """
    moving_label, moving_level = None, None
    if upstream is not None and upstream * seconds >= MIN_PACKETS:
        moving_label, moving_level = "its egress translation", LEVELS["translation"]
    prev: int | None = None
    for i in order:
        h = hops[i]
        rate = h.out_pps if direction == "out" else h.in_pps
        if rate is None or h.spec.key == "vnic":
            # libvirt reads the tap's own counters on a real node (nothing the
            # tap hop does not say) and makes them up in its test driver
            continue
        if rate * seconds >= MIN_PACKETS:
            if not h.spec.shared:
                moving_label, moving_level, prev = h.spec.label, LEVELS.get(h.spec.key, 0), i
            continue
        if moving_label is None or h.spec.lags:
            continue  # nothing of this vNIC moves before this hop (idle), or not re-read yet
        where = i
        drops = h.drops or (hops[prev].drops if prev is not None else ())
        if not h.drops and prev is not None and hops[prev].drops:
            where = prev
        missing = h.spec.missing_out if direction == "out" else h.spec.missing_in
        if drops:
            f, r = drops[0]
            evidence = (f"dropped by {f.bridge} table {f.table} priority {f.priority} "
                        f"{f.match or '(any)'} actions=drop at {r:.1f}/s")
            return Stop(where, direction, evidence, f)
        if missing:
            return Stop(where, direction, missing)
        level = LEVELS.get(h.spec.key, 0)
        if not (level == moving_level or (moving_level == 1 and level == 2)):
            # no flow or counter shows the loss, and the two hops count different
            # packets: a vNIC's moving while its network's or the patch's stay still is
            # traffic to another vNIC on the node; the network's moving while this
            # vNIC's stays still is traffic for another vNIC. Nothing to claim.
            return None
        exits = [j for j in range(i + 1, len(hops)) if hops[j].spec.key in ("nic", "tunnel")]
        if direction == "in" and h.spec.key == "translation" and exits:
            # the NIC receives (other VLANs' traffic), but nothing of this network:
            # its packets die before the NIC's ingress, upstream
            nic = hops[exits[0]]
            network = h.spec.label.split(" -> ")[-1]  # "VLAN 100", "VNI 239", "flat (untagged)"
            return Stop(exits[0], direction,
                        f"{moving_label} moves; nothing comes back on {network} from the "
                        f"wire on {nic.spec.label} (it receives only other traffic: "
                        f"{rate_text(nic.in_pps)}/s; the ingress translation: 0/s)")
        if h.spec.key in ("nic", "tunnel") and direction == "in":
            return Stop(where, direction, f"{moving_label}; nothing comes back from the "
                                          f"wire on {h.spec.label} ({h.spec.source} rx 0/s)")
        return Stop(where, direction, f"{moving_label} moves, {h.spec.label} does not "
                                      f"({h.spec.source}: 0/s)")
    return None


def path_between(then: NodeModel, now: NodeModel, port: str, seconds: float) -> PacketPath:
    """The path of ``port`` from two models read ``seconds`` apart (``snapshot --rates``)."""
    title, specs = path_of(now, port)
    ids = counter_ids(specs)
    return measure(title, specs, read(then, ids), read(now, ids), seconds)


def path_dict(p: PacketPath) -> dict:
    """One entry of ``snapshot --json``'s ``paths``."""
    return {
        "title": p.title,
        "hops": [{"kind": h.spec.key, "label": h.spec.label, "detail": h.spec.detail,
                  "source": h.spec.source, "out_pps": h.out_pps, "in_pps": h.in_pps,
                  "drops": [{"bridge": f.bridge, "table": f.table, "priority": f.priority,
                             "match": f.match, "rate": round(r, 3)} for f, r in h.drops]}
                 for h in p.hops],
        "stops": [{"hop": s.hop, "label": p.hops[s.hop].spec.label, "direction": s.direction,
                   "evidence": s.evidence} for s in p.stops],
    }


def rate_text(pps: float | None) -> str:
    return "?" if pps is None else f"{pps:.1f}"
