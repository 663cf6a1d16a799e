"""Frozen records of what ovs-vswitchd reports through ``ovs-appctl``.

The collector (collectors/appctl.py) parses the commands' text into these;
the model (trace, path, drops) reads them. They live here, not in the
collector, because the model may not import collectors.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One table lookup in an ``ofproto/trace``: what matched and what it did."""

    bridge: str
    table: int
    match: str  # the flow's match as printed ("" for a priority-only flow)
    priority: int | None  # None: no flow matched ("No match.")
    cookie: int | None
    actions: tuple[str, ...]  # one per line, as printed
    notes: tuple[str, ...] = ()  # the "-> ..." lines explaining an action
    depth: int = 0  # nesting of resubmits that return (indentation level)
    pass_no: int = 0  # 0: the first pass, n: the n-th recirculation

    @property
    def matched(self) -> bool:
        return self.priority is not None

    @property
    def drops(self) -> bool:
        """The lookup ended the packet here: no match, or a flow whose only action is drop."""
        return not self.matched or self.actions == ("drop",) or not self.actions


@dataclass(frozen=True, slots=True)
class TracePass:
    """One pass through the pipeline: the first, or one resumed after conntrack."""

    flow: str  # the "Flow:" line
    steps: tuple[TraceStep, ...]
    final_flow: str | None
    megaflow: str | None
    datapath_actions: str | None
    recirc: str | None = None  # "recirc(0x4) - resume conntrack with ct_state=new|trk"


@dataclass(frozen=True, slots=True)
class Trace:
    passes: tuple[TracePass, ...]
    unparsed: tuple[str, ...] = ()

    @property
    def steps(self) -> tuple[TraceStep, ...]:
        return tuple(s for p in self.passes for s in p.steps)

    @property
    def datapath_actions(self) -> str | None:
        """What the datapath finally does: the last pass's actions."""
        for p in reversed(self.passes):
            if p.datapath_actions is not None:
                return p.datapath_actions
        return None


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """One MAC learned by a NORMAL bridge (``fdb/show``)."""

    bridge: str
    port: str  # ofport number (or LOCAL) as printed
    vlan: int
    mac: str
    age: int | None  # seconds; None when printed as "?"


@dataclass(frozen=True, slots=True)
class DatapathPort:
    number: int
    name: str
    type: str = ""
    rx_packets: int | None = None
    rx_errors: int | None = None
    rx_dropped: int | None = None
    tx_packets: int | None = None
    tx_errors: int | None = None
    tx_dropped: int | None = None


@dataclass(frozen=True, slots=True)
class DatapathStats:
    """One datapath of ``dpctl/show -s``: lookups and per-port counters."""

    name: str  # "netdev@ovs-netdev", "system@ovs-system"
    hit: int | None
    missed: int | None
    lost: int | None
    flows: int | None
    ports: tuple[DatapathPort, ...] = ()


@dataclass(frozen=True, slots=True)
class DpifPort:
    """A bridge port as ``dpif/show`` lists it: its ofport and datapath port."""

    bridge: str
    name: str
    ofport: int | None  # None for "LOCAL"-less odd lines
    dp_port: int | None  # None: "none" (patch ports have no datapath port)
    type: str = ""


@dataclass(frozen=True, slots=True)
class CtTuple:
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None
    icmp_id: str | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    def text(self) -> str:
        if self.sport is not None or self.dport is not None:
            return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"
        if self.icmp_type is not None:
            return f"{self.src} -> {self.dst} type {self.icmp_type}"
        return f"{self.src} -> {self.dst}"


@dataclass(frozen=True, slots=True)
class CtEntry:
    """One connection of ``dpctl/dump-conntrack``."""

    proto: str  # tcp, udp, icmp, icmpv6, ...
    orig: CtTuple
    reply: CtTuple
    zone: int = 0
    state: str | None = None  # protoinfo state (TCP), e.g. ESTABLISHED
    mark: int | None = None
    labels: str | None = None


@dataclass(frozen=True, slots=True)
class BondMember:
    name: str
    enabled: bool
    active: bool = False
    may_enable: bool | None = None


@dataclass(frozen=True, slots=True)
class Bond:
    """One bond of ``bond/show``."""

    name: str
    mode: str | None
    lacp_status: str | None
    members: tuple[BondMember, ...] = ()
