"""One node's refresh cycle: its sources read into the joined model, refresh after refresh.

UI-free: the TUI runs ``refresh`` in a worker thread and the ``snapshot``
command runs it once. What the node holds comes from its ``Sources``
(node/sources.py: live collectors or saved records; the session cannot tell
which). Each refresh returns a frozen ``Refresh``: the model plus what moved
since the previous one, so the UI computes no rates of its own.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from collectors import openflow
from model.join import NodeModel, build_model
from model.records import Flow, FlowDetail, FlowKey, Observation
from node.mark import Mark
from node.rates import CounterWindow, FlowRates, FlowWindow
from node.sources import Sources

HISTORY = 30  # samples of pps kept per moving flow (sparklines)


@dataclass(frozen=True)
class Refresh:
    """Everything one refresh produced, safe to hand to the UI thread."""

    model: NodeModel
    deltas: Mapping[str, openflow.FlowDelta]  # by bridge, since the previous dump
    history: Mapping[FlowKey, tuple[float, ...]]  # recent pps of flows that moved
    mark: Mark | None  # every counter when the mark was set
    took: float  # seconds the refresh took (the UI adapts its interval to it)
    # flow rates over the rate window (node.rates), by bridge
    flow_rates: Mapping[str, FlowRates] = field(default_factory=dict)
    # per second over the rate window: (rx_pps, tx_pps, rx_Bps, tx_Bps)
    link_rates: Mapping[str, tuple[float, float, float, float]] = field(default_factory=dict)
    port_rates: Mapping[tuple[str, str], tuple[float, float, float, float]] = field(
        default_factory=dict)  # by (bridge, port) from dump-ports
    vnic_rates: Mapping[str, tuple[float, float, float, float]] = field(
        default_factory=dict)  # by tap, from libvirt's interfaceStats (the VM's view)
    # bridges shown before their first flow dump: the next refresh reads their flows
    flows_pending: bool = False
    at: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.monotonic)  # the same instant, for Flow.age()

    @property
    def mark_time(self) -> float | None:
        return self.mark.at if self.mark is not None else None

    @property
    def flows_settled(self) -> bool:
        """The flows have been read, or found unreadable: the openflow source is
        past "connecting" (a refresh before OVSDB named the bridges is not)."""
        return any(s.source == "openflow" and s.status != "connecting"
                   for s in self.model.sources)

    def rate(self, flow: Flow) -> tuple[float, float] | None:
        rates = self.flow_rates.get(flow.bridge)
        return rates.rate(flow.key) if rates else None

    def since_mark(self, flow: Flow) -> tuple[int, int] | None:
        return self.mark.flow(flow) if self.mark is not None else None


class NodeSession:
    """One node's refresh cycle over its ``Sources``: rates, flow history and the
    mark kept between refreshes, the joined model built at each one."""

    def __init__(self, sources: Sources, *, hostname: str | None = None,
                 pause: Callable[[], None] | None = None) -> None:
        """``pause``: called where the refresh may wait for the UI (node/ui_first.py)."""
        self.sources = sources
        self._pause = pause or (lambda: None)
        self.hostname = hostname or socket.gethostname()
        self._bridges: set[str] = set()  # bridges of the last reading
        self._history: dict[FlowKey, deque] = {}
        self._idle: dict[FlowKey, int] = {}
        self._observed: dict[str, int] = {}  # intervals seen per bridge (history, up to HISTORY)
        # flows added (or re-added) during the session -> intervals they have existed,
        # until HISTORY: no trend bar is drawn for time before a flow was born
        self._lived: dict[FlowKey, int] = {}
        self._flow_windows: dict[str, FlowWindow] = {}
        self._mark: Mark | None = None
        self._mark_wanted = False
        self._link_rates: Mapping = MappingProxyType({})
        self._link_window = CounterWindow()
        self._port_window = CounterWindow()
        self._vnic_window = CounterWindow()
        # interfaces of the last OVSDB read, and those that appeared since the first
        # one -> when (monotonic): a new port's grace time (model/ovn.py unbound-port)
        self._known_ifaces: set[str] | None = None
        self._appeared: dict[str, float] = {}

    def _port_ages(self, ovsdb, now: float) -> dict[str, float] | None:
        """Seconds since each interface that appeared during this session did;
        those there from the start are left out (their age is unknown)."""
        if ovsdb is None:
            return None
        names = {i.name for b in ovsdb.bridges for p in b.ports for i in p.interfaces}
        if self._known_ifaces is not None:
            for name in names - self._known_ifaces:
                self._appeared[name] = now
        self._known_ifaces = names
        self._appeared = {n: t for n, t in self._appeared.items() if n in names}
        return {n: now - t for n, t in self._appeared.items()}

    def request_mark(self) -> None:
        """Counters from the next refresh on are also shown "since mark"."""
        self._mark_wanted = True
        self.sources.links_changed()  # the links' baseline is read then, not up to a poll old

    def clear_mark(self) -> None:
        self._mark = None

    # -- the refresh -------------------------------------------------------

    def refresh(self) -> Refresh:
        """Blocking: run it in a worker thread. Never raises for a source's failure."""
        started = time.monotonic()
        reading = self.sources.read()
        bridges = set(reading.deltas)
        gone = self._bridges - bridges  # bridges deleted: forget their flows' history
        self._forget([k for k in self._history if k[0] in gone])
        for bridge in gone:
            self._flow_windows.pop(bridge, None)
            self._observed.pop(bridge, None)
        self._bridges = bridges
        for delta in reading.deltas.values():
            self._forget(delta.gone)
            self._record_history(delta)
            self._flow_windows.setdefault(delta.bridge, FlowWindow(delta.bridge)).add(delta)
            if self._mark is not None:  # a flow added again since the mark counts in whole
                self._mark = self._mark.reborn(delta.new | delta.reset)
        now = reading.clock
        if reading.links_read is not None:  # else the last read and its rates stand
            self._link_rates = self._link_window.add(now, {
                l.ifname: (l.rx_packets, l.tx_packets, l.rx_bytes, l.tx_bytes)
                for l in reading.links_read})
        port_rates = self._port_window.add(now, {
            (c.bridge, c.port): (c.rx_packets or 0, c.tx_packets or 0, c.rx_bytes or 0,
                                 c.tx_bytes or 0) for c in reading.port_counters})
        vnic_rates = self._vnic_window.add(now, {
            v.target: (v.rx_packets, v.tx_packets, v.rx_bytes, v.tx_bytes)
            for v in reading.vnic_stats})
        obs = Observation(
            port_ages=self._port_ages(reading.ovsdb, now),
            ovn_sb=reading.ovn_sb,
            hostname=self.hostname,
            ovsdb=reading.ovsdb,
            flows=reading.flows,
            port_counters=reading.port_counters,
            domains=reading.domains,
            vnic_stats=reading.vnic_stats,
            links=reading.links,
            sources=reading.states,
        )
        self._pause()
        model = build_model(obs, self.sources.detail_of)
        pending = reading.flows_pending
        if self._mark_wanted and not pending:
            self._mark = Mark.take(
                time.time(), model.all_flows(),
                [b for b, d in model.flows.items() if d.error is None],
                reading.port_counters, reading.port_bridges, reading.links,
                reading.vnic_stats if reading.domains is not None else None)
            self._mark_wanted = False
        return Refresh(
            model=model,
            deltas=reading.deltas,
            history=MappingProxyType({k: tuple(v) for k, v in self._history.items()}),
            mark=self._mark,
            took=time.monotonic() - started,
            flow_rates=MappingProxyType({b: w.rates for b, w in self._flow_windows.items()}),
            link_rates=self._link_rates,
            port_rates=port_rates,
            vnic_rates=vnic_rates,
            flows_pending=pending,
        )

    def detail_of(self, flow: Flow) -> FlowDetail:
        return self.sources.detail_of(flow)

    def _record_history(self, delta: openflow.FlowDelta) -> None:
        """Recent pps per flow, kept only while a flow moves (cost ~ moving flows).

        A flow that starts moving gets zeros only for the intervals this
        session observed it in before, never for time before the tool started
        or before the flow was added."""
        if delta.interval <= 0:
            return
        observed = self._observed.get(delta.bridge, 0)
        self._observed[delta.bridge] = min(observed + 1, HISTORY)
        for key in delta.new | delta.reset:
            self._lived[key] = 0  # born within this interval
        for key, (packets, _bytes) in delta.moved.items():
            h = self._history.get(key)
            if h is None:
                idle = min(observed, self._lived.get(key, observed), HISTORY - 1)
                h = self._history[key] = deque([0.0] * idle, maxlen=HISTORY)
            h.append(packets / delta.interval)
            self._idle[key] = 0
        for key in list(self._history):
            if key[0] != delta.bridge or key in delta.moved:
                continue
            self._history[key].append(0.0)
            idle = self._idle.get(key, 0) + 1
            if idle >= HISTORY:
                del self._history[key]
                self._idle.pop(key, None)
            else:
                self._idle[key] = idle
        for key in [k for k in self._lived if k[0] == delta.bridge]:
            if self._lived[key] + 1 >= HISTORY:
                del self._lived[key]  # older than any trend drawn
            else:
                self._lived[key] += 1

    def _forget(self, keys) -> None:
        for key in keys:
            self._history.pop(key, None)
            self._idle.pop(key, None)
            self._lived.pop(key, None)

