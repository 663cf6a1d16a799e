"""Which flows belong to a port, a VLAN, an instance or a bridge, and the text filter.

Membership is decided on the flow's text with one compiled regex per scope,
not on a full parse: it runs over every flow of a bridge (tens of thousands)
each refresh, where a regex costs about a microsecond a flow and the full
parse 50-140 us.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from operator import attrgetter
from typing import Callable, Iterable, Literal

from model.ports import ofp_name, port_refers
from model.views import NodeModel, PortView
from model.records import Flow
from model.words import display_name

ScopeKind = Literal["all", "bridge", "port", "vlan", "instance"]
SortKey = Literal["table", "packets", "rate"]
SORTS: tuple[SortKey, ...] = ("table", "rate", "packets")

_END = r"(?![0-9A-Za-z_])"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    value: str = ""  # bridge or port name, local VLAN (as text), domain uuid

    def title(self, model: NodeModel | None = None) -> str:
        if self.kind == "all":
            return "all flows"
        if self.kind == "instance" and model is not None:
            inst = model.instance(self.value)
            if inst:
                return f"flows of {display_name(inst.domain)}"
        if self.kind == "vlan":
            if not self.value.isdigit():
                return f"flows of OVN datapath {self.value[2:]}"
            return f"flows of local VLAN {self.value}"
        return f"flows of {self.kind} {self.value}"


def _alt(values: Iterable[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))


def _port_patterns(pv: PortView) -> tuple[str, str]:
    """(regex over the match, regex over the actions) for one port."""
    # as ovs-ofctl prints it: cut to 15 bytes, bare or quoted with JSON escapes
    name = ofp_name(pv.name)
    refs = [name, json.dumps(name, ensure_ascii=False)]
    if pv.ofport is not None and pv.ofport >= 0:
        refs.append(str(pv.ofport))
    match = [rf"in_port=(?:{_alt(refs)}){_END}"]
    macs = {m.lower() for m in (pv.vnic_mac, pv.interface.attached_mac if pv.interface else None) if m}
    if pv.ofport is not None and pv.ofport > 0 and pv.bridge:
        match.append(rf"reg5=0x{pv.ofport:x}{_END}")
    for mac in macs:
        match.append(rf"dl_(?:dst|src)={re.escape(mac)}{_END}")
    actions = [rf"output:(?:{_alt(refs)}){_END}"]
    return "|".join(match), "|".join(actions)


def _vlan_patterns(local: int, segid: int | None) -> tuple[str, str]:
    match = [rf"dl_vlan={local}{_END}", rf"reg6=0x{local:x}{_END}", rf"ct_zone={local}{_END}"]
    actions = [rf"mod_vlan_vid:{local}{_END}", rf"set_field:{0x1000 | local}->vlan_vid",
               rf"load:0x{local:x}->NXM_NX_REG6\[\]"]
    return "|".join(match), "|".join(actions)


def scope_filter(model: NodeModel, scope: Scope) -> Callable[[Flow], bool]:
    """A predicate saying whether a flow belongs to ``scope``."""
    if scope.kind == "all":
        return lambda f: True
    if scope.kind == "bridge":
        return lambda f: f.bridge == scope.value

    per_bridge: dict[str, list[tuple[str, str]]] = {}
    if scope.kind == "port":
        pv = model.port(scope.value)
        if pv is not None:
            per_bridge.setdefault(pv.bridge, []).append(_port_patterns(pv))
    elif scope.kind == "instance":
        inst = model.instance(scope.value)
        for vv in inst.vnics if inst else ():
            if vv.port is not None:
                per_bridge.setdefault(vv.port.bridge, []).append(_port_patterns(vv.port))
    elif scope.kind == "vlan" and model.vlan(scope.value) is not None \
            and model.vlan(scope.value).local_vlan is None:
        vlan = model.vlan(scope.value)  # OVN: the datapath's flows on br-int
        dp = vlan.datapath_key
        per_bridge.setdefault(vlan.bridge, []).append(
            (rf"metadata=0x{dp:x}{_END}",
             rf"load:0x{dp:x}->OXM_OF_METADATA\[\]|set_field:0x{dp:x}->metadata{_END}"))
    elif scope.kind == "vlan":
        vlan = model.vlan(int(scope.value)) if scope.value.isdigit() else None
        if vlan is not None:
            per_bridge.setdefault(vlan.bridge, []).append(
                _vlan_patterns(vlan.local_vlan, vlan.segmentation_id))
            # the ingress translation matches the provider VLAN and sets ours
            if vlan.physical_bridge:
                per_bridge.setdefault(vlan.physical_bridge, []).append(
                    (rf"dl_vlan={vlan.local_vlan}{_END}", r"(?!)"))
            for f in (vlan.egress_flow, vlan.ingress_flow, *vlan.tunnel_unicast_flows):
                if f is not None:
                    per_bridge.setdefault(f.bridge, []).append(
                        ("^" + re.escape(f.match) + "$", r"(?!)"))

    compiled = {b: (re.compile("|".join(f"(?:{m})" for m, _ in pats)),
                    re.compile("|".join(f"(?:{a})" for _, a in pats)))
                for b, pats in per_bridge.items()}

    def belongs(flow: Flow) -> bool:
        pair = compiled.get(flow.bridge)
        if pair is None:
            return False
        return bool(pair[0].search(flow.match) or pair[1].search(flow.actions))

    return belongs


def text_filter(text: str) -> Callable[[Flow], bool]:
    """Every word must appear in the flow (bridge, table=, priority=, cookie=, match, actions).

    A word ending in a letter or digit must end there in the flow too, so
    ``dl_vlan=2`` does not match ``dl_vlan=20`` and ``reg5=0x3`` not ``reg5=0x3a``.
    """
    words = text.split()
    if not words:
        return lambda f: True
    patterns = [re.compile(re.escape(w) + (_END if w[-1].isalnum() else ""), re.I) for w in words]

    def matches(flow: Flow) -> bool:
        hay = (f"{flow.bridge} table={flow.table} priority={flow.priority} "
               f"cookie={flow.cookie:#x} {flow.match} {flow.actions}")
        return all(p.search(hay) for p in patterns)

    return matches


def select_flows(model: NodeModel, scope: Scope, text: str, sort: SortKey,
                 rate_of: Callable[[Flow], float | None]) -> list[Flow]:
    """The flows to show, in the order to show them.

    Runs at every refresh while a flows screen is open, over every flow of
    the node: key functions are C attrgetters where the order allows (a
    Python lambda per flow doubles the cost of a 100k-flow sort).
    """
    if scope.kind == "all" and not text.split():
        flows = list(model.all_flows())
    else:
        in_scope = scope_filter(model, scope)
        wanted = text_filter(text)
        flows = [f for f in model.all_flows() if in_scope(f) and wanted(f)]
    if sort == "packets":
        flows.sort(key=attrgetter("n_packets"), reverse=True)
    elif sort == "rate":
        flows.sort(key=lambda f: (-(rate_of(f) or 0.0), -f.n_packets))
    else:  # by bridge and table, the highest priority first (two stable sorts)
        flows.sort(key=attrgetter("priority"), reverse=True)
        flows.sort(key=attrgetter("bridge", "table"))
    return flows


def ports_of_flow(model: NodeModel, flow: Flow, detail) -> list[PortView]:
    """The ports a flow is about (in_port, reg5, MAC, output): the way back from a
    flow to its instance."""

    on_bridge = [pv for pv in model.ports if pv.bridge == flow.bridge]
    found: list[PortView] = []

    def add(pv: PortView) -> None:
        if pv not in found:
            found.append(pv)

    refs = [detail.in_port, *detail.outputs]
    for pv in on_bridge:
        if any(port_refers(r, pv) for r in refs if r):
            add(pv)
    for reg in ("reg5",):
        value = detail.regs.get(reg, detail.loads.get(reg))
        if value is not None:
            for pv in on_bridge:
                if pv.ofport == value:
                    add(pv)
    macs = {m.lower() for m in (detail.dl_dst, detail.dl_src) if m}
    for pv in on_bridge:
        mac = pv.vnic_mac or (pv.interface.attached_mac if pv.interface else None)
        if mac and mac.lower() in macs:
            add(pv)
    return found
