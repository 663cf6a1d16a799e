"""Everything on the node that drops packets, ranked by how fast it drops now.

Flows whose actions drop (``drop``, or no action at all: the firewall's
drop tables too), port drop and error counters (``dump-ports``, netlink,
libvirt) and the datapath's lost upcalls (``dpctl/show -s``). Each drop
counter names what it concerns (port, VLAN, instance) and what Enter opens.
Rates come from two readings (``rank``): one reading has totals only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from model.join import NodeModel, port_refers
from model.ports import counters_of
from model.records import Flow
from model.vswitchd import DatapathStats
from model.words import display_name


@dataclass(frozen=True, slots=True)
class DropCounter:
    id: tuple  # stable across readings
    source: str  # "flow", "dump-ports", "netlink", "libvirt", "datapath"
    what: str  # the flow or the counter, as an operator reads it
    subject: str  # the port, VLAN or instance it concerns ("" when none)
    total: int
    flow: Flow | None = None
    port: str | None = None  # an OVS port (or tap) Enter opens
    # a bridge's own internal port sends nothing when it is down (br-int always is on
    # an agent's node): frames flooded to it count as tx drops, and that is normal
    benign: bool = False


@dataclass(frozen=True, slots=True)
class Drop:
    counter: DropCounter
    rate: float | None  # per second over the window; None: one reading


LOCAL_NOTE = " (the bridge's internal port: floods to it while it is down; normal)"
_REG5 = re.compile(r"reg5=0x([0-9a-f]+)")
_VLAN = re.compile(r"dl_vlan=([0-9]+)")


def _flow_subject(model: NodeModel, f: Flow) -> tuple[str, str | None]:
    """(subject, port to open) read from the flow's text: in_port, reg5, dl_vlan."""
    ports = [pv for pv in model.ports if pv.bridge == f.bridge]
    m = re.search(r'in_port=("(?:[^"\\]|\\.)*"|[^,]+)', f.match)
    if m:
        pv = next((p for p in ports if port_refers(m.group(1), p)), None)
        if pv is not None:
            return _owned(model, pv.name, pv.domain_uuid), pv.name
    m = _REG5.search(f.match)
    if m:
        pv = next((p for p in ports if p.ofport == int(m.group(1), 16)), None)
        if pv is not None:
            return _owned(model, pv.name, pv.domain_uuid), pv.name
    m = _VLAN.search(f.match)
    if m:
        return f"VLAN {m.group(1)}", None
    return f.bridge, None


def _owned(model: NodeModel, port: str, uuid: str | None) -> str:
    inst = model.instance(uuid) if uuid else None
    if inst is None:
        return port
    return f"{port} ({display_name(inst.domain)})"


def _port_of_device(model: NodeModel, name: str) -> tuple[str, str | None]:
    pv = model.port(name) or next((p for p in model.ports if p.tap == name), None)
    if pv is None:
        return name, None
    return _owned(model, name, pv.domain_uuid), pv.name


def counters(model: NodeModel, datapaths: Iterable[DatapathStats] = ()) -> list[DropCounter]:
    """Every drop counter of one reading of the node."""
    out: list[DropCounter] = []
    for f in model.all_flows():
        if f.actions not in ("drop", ""):
            continue
        subject, port = _flow_subject(model, f)
        out.append(DropCounter(("flow", f.key), "flow",
                               f"{f.bridge} t{f.table} p{f.priority} {f.match or '(any)'} "
                               f"actions={f.actions or '(none)'}",
                               subject, f.n_packets, flow=f, port=port))
    # the port each dump-ports line is (ovs-ofctl may print a cut name or a number)
    port_of = {}
    for pv in model.ports:
        c = counters_of(model.port_counters, pv)
        if c is not None:
            port_of[id(c)] = pv.name
    for (bridge, port), c in model.port_counters.items():
        for name in ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors"):
            value = getattr(c, name)
            if value is None:
                continue
            dev = port_of.get(id(c), bridge if port == "LOCAL" else port)
            subject, opens = _port_of_device(model, dev)
            local = port == "LOCAL" and name == "tx_dropped"
            out.append(DropCounter(("port", bridge, port, name), "dump-ports",
                                   f"{bridge} port {dev if port != 'LOCAL' else port} "
                                   f"{name.replace('_', ' ')}"
                                   + (LOCAL_NOTE if local else ""), subject, value,
                                   port=opens, benign=local))
    seen_links = set()
    for pv in model.ports:
        link = pv.link
        if link is None or link.ifname in seen_links:
            continue
        seen_links.add(link.ifname)
        for name in ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors"):
            subject, opens = _port_of_device(model, link.ifname)
            out.append(DropCounter(("link", link.ifname, name), "netlink",
                                   f"{link.ifname} {name.replace('_', ' ')}", subject,
                                   getattr(link, name), port=opens))
    for tap, s in model.vnic_stats.items():
        if s.synthetic:  # libvirt's test driver counts from the clock: no drop is real
            continue
        for name, value in (("rx drop", s.rx_drop), ("tx drop", s.tx_drop)):
            subject, opens = _port_of_device(model, tap)
            out.append(DropCounter(("vnic", tap, name), "libvirt", f"vNIC {tap} {name}",
                                   subject, value, port=opens))
    for dp in datapaths:
        if dp.lost is not None:
            out.append(DropCounter(("datapath", dp.name, "lost"), "datapath",
                                   f"{dp.name} lost upcalls", dp.name, dp.lost))
        for p in dp.ports:
            for name in ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors"):
                value = getattr(p, name)
                if value is None:
                    continue
                subject, opens = _port_of_device(model, p.name)
                local = name == "tx_dropped" and any(b.name == p.name for b in model.bridges)
                out.append(DropCounter(("dpport", dp.name, p.name, name), "datapath",
                                       f"{dp.name} port {p.name} {name.replace('_', ' ')}"
                                       + (LOCAL_NOTE if local else ""), subject, value,
                                       port=opens, benign=local))
    return out


def rank(now: list[DropCounter], then: Mapping[tuple, int] | None = None,
         seconds: float = 0.0) -> list[Drop]:
    """Fastest first, a bridge's internal port after the rest; then, with no rate, the
    biggest totals. Counters at 0 are left out."""
    drops = []
    for c in now:
        rate = None
        if then is not None and seconds > 0 and c.id in then and c.total >= then[c.id]:
            rate = (c.total - then[c.id]) / seconds  # went back: started over, unknown
        if c.total == 0 and not rate:
            continue
        drops.append(Drop(c, rate))
    drops.sort(key=lambda d: (d.counter.benign, -(d.rate or 0.0), -d.counter.total))
    return drops


def totals(counters_: list[DropCounter]) -> dict[tuple, int]:
    return {c.id: c.total for c in counters_}


def drop_dict(d: Drop) -> dict:
    """One entry of the contract's ``drops`` list."""
    c, f = d.counter, d.counter.flow
    return {"source": c.source, "what": c.what, "subject": c.subject, "port": c.port,
            "benign": c.benign,
            "total": c.total, "rate": None if d.rate is None else round(d.rate, 3),
            "flow": None if f is None else {
                "bridge": f.bridge, "table": f.table, "priority": f.priority,
                "cookie": f"{f.cookie:#x}", "match": f.match, "actions": f.actions}}
