"""What the switch learned about a vNIC's traffic: MACs (``fdb/show``) and
connections (``dpctl/dump-conntrack``), read for one vNIC's path.

"The gateway's MAC was never learned on VLAN 100 via eth0" answers "the
upstream switch does not carry VLAN 100"; a port's conntrack zone is the
firewall's reg6 for it, loaded by its table-60 flows.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from model.join import NodeModel, PortView, port_refers
from model.vswitchd import CtEntry, FdbEntry

_REG6 = re.compile(r"load:0x([0-9a-f]+)->NXM_NX_REG6\[\]|set_field:0x([0-9a-f]+)->reg6")


def ct_zone(model: NodeModel, pv: PortView) -> int | None:
    """The conntrack zone the firewall uses for this port (reg6 from its table-60 flow)."""
    dump = model.flows.get(pv.bridge)
    for f in dump.flows if dump else ():
        if f.table != 60 or "in_port=" not in f.match:
            continue
        ref = f.match.split("in_port=", 1)[1].split(",", 1)[0]
        if port_refers(ref, pv):
            m = _REG6.search(f.actions)
            if m:
                return int(m.group(1) or m.group(2), 16)
    return None


def ct_states(entries: Iterable[CtEntry]) -> Counter:
    """Entries counted by protocol and state ("tcp ESTABLISHED", "icmp", ...)."""
    return Counter(f"{e.proto} {e.state}" if e.state else e.proto for e in entries)


def ct_filter(entries: Iterable[CtEntry], text: str) -> list[CtEntry]:
    """Entries whose protocol, state or addresses contain every word of ``text``."""
    words = text.lower().split()
    out = []
    for e in entries:
        hay = " ".join((e.proto, e.state or "", e.orig.text(), e.reply.text())).lower()
        if all(w in hay for w in words):
            out.append(e)
    return out


def learned_on(fdb: Iterable[FdbEntry], model: NodeModel, bridge: str, vlan: int,
               port: str) -> list[FdbEntry]:
    """MACs the bridge learned on ``vlan`` behind ``port`` (fdb/show prints ofports)."""
    pv = model.port(port)
    return [e for e in fdb if e.bridge == bridge and e.vlan == vlan and pv is not None
            and port_refers(e.port, pv)]


def provider_tag(vlan) -> int | None:
    """The VLAN the physical bridge learns a network's MACs on: its provider VLAN,
    0 for a flat network (untagged), None for a tunnel network or one not known."""
    if vlan is None or vlan.tunnel_bridge or not vlan.physical_bridge:
        return None
    if vlan.network_type == "flat":
        return 0
    return vlan.segmentation_id


def learned_by_port(fdb: Iterable[FdbEntry], model: NodeModel, bridge: str,
                    vlan: int) -> dict[str, list[FdbEntry]]:
    """MACs the bridge learned on ``vlan``, by the name of the port behind which
    each was learned (fdb/show prints ofports; LOCAL is the bridge's own port)."""
    names = {str(pv.ofport): pv.name for pv in model.ports
             if pv.bridge == bridge and pv.ofport is not None}
    names["LOCAL"] = bridge
    out: dict[str, list[FdbEntry]] = {}
    for e in fdb:
        if e.bridge == bridge and e.vlan == vlan:
            out.setdefault(names.get(e.port, e.port), []).append(e)
    return out


def learned_via(fdb: Iterable[FdbEntry], model: NodeModel, bridge: str,
                port: str) -> dict[int, list[FdbEntry]]:
    """MACs the bridge learned behind ``port``, by VLAN."""
    pv = model.port(port)
    out: dict[int, list[FdbEntry]] = {}
    for e in fdb:
        if e.bridge == bridge and pv is not None and port_refers(e.port, pv):
            out.setdefault(e.vlan, []).append(e)
    return out
