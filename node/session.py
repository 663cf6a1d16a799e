"""One node's sources read together into the joined model, refresh after refresh.

UI-free: the TUI runs ``refresh`` in a worker thread and the ``snapshot``
command runs it once. The OVSDB collector pushes topology from its own thread
(``set_ovsdb``); counters (flows, ports, links, vNIC stats) are pulled here.
Each refresh returns a frozen ``Refresh``: the model plus what moved since the
previous one, so the UI computes no rates of its own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from collectors import netlink, openflow
from collectors.domains import LibvirtSource, LibvirtUnavailable
from collectors.endpoints import Endpoints
from model.join import NodeModel, build_model
from model.records import (
    Domain,
    Flow,
    FlowDetail,
    FlowDump,
    FlowKey,
    Link,
    Observation,
    OvsdbSnapshot,
    PortCounters,
    SourceState,
    VnicStats,
)

HISTORY = 30  # samples of pps kept per moving flow (sparklines)
DOMAIN_POLL = 10.0  # seconds between libvirt re-lists when no event arrives
LINK_POLL = 5.0  # seconds between netlink reads when links_changed() is not called


@dataclass(frozen=True)
class Refresh:
    """Everything one refresh produced, safe to hand to the UI thread."""

    model: NodeModel
    deltas: Mapping[str, openflow.FlowDelta]  # by bridge
    history: Mapping[FlowKey, tuple[float, ...]]  # recent pps of flows that moved
    mark: Mapping[FlowKey, tuple[int, int]] | None  # counters when the mark was set
    mark_time: float | None
    took: float  # seconds the refresh took (the UI adapts its interval to it)
    # per second since the previous refresh: (rx_pps, tx_pps, rx_Bps, tx_Bps)
    link_rates: Mapping[str, tuple[float, float, float, float]] = field(default_factory=dict)
    port_rates: Mapping[tuple[str, str], tuple[float, float, float, float]] = field(
        default_factory=dict)  # by (bridge, port) from dump-ports
    vnic_rates: Mapping[str, tuple[float, float, float, float]] = field(
        default_factory=dict)  # by tap, from libvirt's interfaceStats (the VM's view)
    # bridges shown before their first flow dump: the next refresh reads their flows
    flows_pending: bool = False
    at: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.monotonic)  # the same instant, for Flow.age()

    def rate(self, flow: Flow) -> tuple[float, float] | None:
        delta = self.deltas.get(flow.bridge)
        return delta.rate(flow.key) if delta else None

    def since_mark(self, flow: Flow) -> tuple[int, int] | None:
        if self.mark is None:
            return None
        base = self.mark.get(flow.key)
        if base is None:  # the flow appeared after the mark
            return flow.n_packets, flow.n_bytes
        return max(flow.n_packets - base[0], 0), max(flow.n_bytes - base[1], 0)


class NodeSession:
    """Holds the per-source state between refreshes (flow tables, last reads)."""

    def __init__(self, endpoints: Endpoints, *, hostname: str | None = None,
                 topology_first: bool = False) -> None:
        """``topology_first``: the first refresh that knows bridges skips their
        flows (see refresh), for a display that should show something at once."""
        self.endpoints = endpoints
        self._topology_first = topology_first
        self.hostname = hostname or socket.gethostname()
        self._lock = threading.Lock()
        self._ovsdb: OvsdbSnapshot | None = None
        self._states: dict[str, SourceState] = {
            s: SourceState(s, "connecting") for s in ("ovsdb", "openflow", "libvirt", "netlink")
        }
        self._tables: dict[str, openflow.FlowTable] = {}
        self._topology_shown = False  # a refresh has had bridges (see refresh)
        self._history: dict[FlowKey, deque] = {}
        self._idle: dict[FlowKey, int] = {}
        self._mark: dict[FlowKey, tuple[int, int]] | None = None
        self._mark_time: float | None = None
        self._mark_wanted = False
        self._libvirt: LibvirtSource | None = None
        self._domains: tuple[Domain, ...] | None = None
        self._domains_at = 0.0
        self._domains_stale = True
        self._vnic_stats: tuple[VnicStats, ...] = ()
        self._links: tuple[Link, ...] | None = None
        self._links_at: float | None = None  # when links were last read; None: read now
        self._link_rates: dict[str, tuple[float, float, float, float]] = {}
        self._port_counters: tuple[PortCounters, ...] = ()
        self._prev_links: tuple[float, dict[str, tuple[int, int, int, int]]] | None = None
        self._prev_ports: tuple[float, dict[tuple[str, str], tuple[int, int, int, int]]] | None = None
        self._prev_vnics: tuple[float, dict[str, tuple[int, int, int, int]]] | None = None

    # -- pushed in from other threads ------------------------------------

    def set_ovsdb(self, snapshot: OvsdbSnapshot) -> None:
        with self._lock:
            self._ovsdb = snapshot

    def set_state(self, state: SourceState) -> None:
        with self._lock:
            self._states[state.source] = state

    def domains_changed(self) -> None:
        """A libvirt lifecycle event: re-list domains at the next refresh."""
        self._domains_stale = True

    def set_libvirt(self, source: LibvirtSource | None) -> None:
        """The libvirt connection to read (opened by the caller, whose loop gets events)."""
        self._libvirt = source
        self._domains_stale = True

    def request_mark(self) -> None:
        """Counters from the next refresh on are also shown "since mark"."""
        self._mark_wanted = True

    def clear_mark(self) -> None:
        self._mark = None
        self._mark_time = None

    def state(self, source: str) -> SourceState:
        with self._lock:
            return self._states[source]

    # -- the refresh -------------------------------------------------------

    def refresh(self) -> Refresh:
        """Blocking: run it in a worker thread. Never raises for a source's failure."""
        started = time.monotonic()
        with self._lock:
            ovsdb = self._ovsdb
        bridges = [b.name for b in ovsdb.bridges] if ovsdb else []
        for bridge in list(self._tables):
            if bridge not in bridges:  # bridge deleted
                self._forget(self._tables.pop(bridge).keys())
        tables = [self._tables.setdefault(b, openflow.FlowTable(b)) for b in bridges]
        links_due = self._links_due()
        # The first time bridges are known they are shown before their first
        # flow dump, which on a busy node takes seconds (50k flows: ~1.4 s);
        # the refresh right after reads the flows.
        pending = self._topology_first and bool(tables) and not self._topology_shown
        self._topology_shown = self._topology_shown or bool(tables)
        flows, ports, links = _run(self._pull(tables, links_due, with_flows=not pending))
        if pending:
            deltas = {t.bridge: openflow.FlowDelta(t.bridge, 0.0) for t in tables}
            self.set_state(SourceState("openflow", "connecting",
                                       f"first flow dump of {len(tables)} bridges"))
        else:
            deltas = self._update_flows(tables, flows)
        self._read_libvirt()
        self._port_counters = ports
        now = time.monotonic()
        if links_due:  # else the last read and its rates stand
            if links is not None:
                self._links = links
            self._link_rates, self._prev_links = _rates(self._prev_links, now, {
                l.ifname: (l.rx_packets, l.tx_packets, l.rx_bytes, l.tx_bytes)
                for l in links or ()})
        port_rates, self._prev_ports = _rates(self._prev_ports, now, {
            (c.bridge, c.port): (c.rx_packets or 0, c.tx_packets or 0, c.rx_bytes or 0,
                                 c.tx_bytes or 0) for c in ports})
        vnic_rates, self._prev_vnics = _rates(self._prev_vnics, now, {
            v.target: (v.rx_packets, v.tx_packets, v.rx_bytes, v.tx_bytes)
            for v in self._vnic_stats})
        obs = Observation(
            hostname=self.hostname,
            ovsdb=ovsdb,
            # a bridge missing here is one whose flows are not read yet: no verdict on them
            flows=MappingProxyType({t.bridge: t.dump or FlowDump(t.bridge, (), now, error=error)
                                    for t, (_, error) in zip(tables, flows)}),
            port_counters=self._port_counters,
            domains=self._domains,
            vnic_stats=self._vnic_stats,
            links=self._links,
            sources=tuple(self._states.values()),
        )
        model = build_model(obs, self.detail_of)
        if self._mark_wanted and not pending:
            self._mark = {f.key: (f.n_packets, f.n_bytes) for f in model.all_flows()}
            self._mark_time = time.time()
            self._mark_wanted = False
        return Refresh(
            model=model,
            deltas=MappingProxyType(deltas),
            history=MappingProxyType({k: tuple(v) for k, v in self._history.items()}),
            mark=MappingProxyType(self._mark) if self._mark is not None else None,
            mark_time=self._mark_time,
            took=time.monotonic() - started,
            link_rates=MappingProxyType(self._link_rates),
            port_rates=MappingProxyType(port_rates),
            vnic_rates=MappingProxyType(vnic_rates),
            flows_pending=pending,
        )

    def detail_of(self, flow: Flow) -> FlowDetail:
        table = self._tables.get(flow.bridge)
        if table is None:
            return openflow.flow_detail(flow)
        return table.detail_of(flow)

    async def _pull(self, tables: list[openflow.FlowTable], links: bool, with_flows: bool = True):
        rundir = self.endpoints.ovs_rundir
        flow_jobs = [openflow.refresh_table(t, rundir=rundir) for t in tables] if with_flows else []
        port_jobs = [openflow.dump_ports(t.bridge, rundir=rundir) for t in tables]
        link_jobs = [self._read_links()] if links else []
        results = await asyncio.gather(*flow_jobs, *port_jobs, *link_jobs)
        flows: list[tuple[openflow.FlowDelta, str | None]] = list(results[: len(flow_jobs)])
        port_results = results[len(flow_jobs): len(flow_jobs) + len(tables)]
        ports = tuple(c for r in port_results if not isinstance(r, str) for c in r)
        return flows, ports, results[-1] if links else None

    def links_changed(self) -> None:
        """A link appeared, vanished or changed state: re-read links at the next refresh."""
        self._links_at = None

    def _links_due(self) -> bool:
        """Links are read every LINK_POLL seconds, or at once after links_changed().

        pyroute2 decodes ~0.35 ms of CPU per link: on a node with 200 ports
        (400 links with their peers) reading them every second would cost
        more than reading 50k unchanged flows.
        """
        now = time.monotonic()
        if self._links_at is None or now - self._links_at >= LINK_POLL:
            self._links_at = now
            return True
        return False

    async def _read_links(self) -> tuple[Link, ...] | None:
        try:
            links = await netlink.read_links(self.endpoints.netns)
        except netlink.NetlinkUnavailable as e:
            self.set_state(SourceState("netlink", "error", str(e)))
            return None
        except Exception as e:  # pyroute2 can raise from deep inside; never kill a refresh
            self.set_state(SourceState("netlink", "error", f"reading links failed: {e}"))
            return None
        self.set_state(SourceState("netlink", "live", "", time.time()))
        return links

    def _update_flows(self, tables: list[openflow.FlowTable],
                      flows: list[tuple[openflow.FlowDelta, str | None]]
                      ) -> dict[str, openflow.FlowDelta]:
        deltas = {}
        errors = []
        for table, (delta, error) in zip(tables, flows):
            deltas[table.bridge] = delta
            if error:
                errors.append(error)
            self._forget(delta.gone)
            self._record_history(delta)
        if errors:
            last_ok = self._states["openflow"].last_ok
            self.set_state(SourceState("openflow", "stale", errors[0], last_ok))
        elif tables:
            self.set_state(SourceState("openflow", "live", "", time.time()))
        elif self._states["ovsdb"].status in ("stale", "error"):
            # the bridges to dump come from OVSDB: say so rather than "connecting" forever
            last_ok = self._states["openflow"].last_ok
            self.set_state(SourceState("openflow", "stale" if last_ok else "error",
                                       "not read: bridges unknown while OVSDB is unavailable",
                                       last_ok))
        return deltas

    def _record_history(self, delta: openflow.FlowDelta) -> None:
        """Recent pps per flow, kept only while a flow moves (cost ~ moving flows)."""
        if delta.interval <= 0:
            return
        for key, (packets, _bytes) in delta.moved.items():
            h = self._history.get(key)
            if h is None:
                h = self._history[key] = deque([0.0] * (HISTORY - 1), maxlen=HISTORY)
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

    def _forget(self, keys) -> None:
        for key in keys:
            self._history.pop(key, None)
            self._idle.pop(key, None)

    def _read_libvirt(self) -> None:
        source = self._libvirt
        if source is None:
            return
        now = time.monotonic()
        try:
            if self._domains_stale or now - self._domains_at > DOMAIN_POLL:
                self._domains_stale = False
                self._domains = source.list_domains()
                self._domains_at = now
            self._vnic_stats = source.interface_stats(self._domains or ())
        except LibvirtUnavailable as e:
            self.set_state(SourceState("libvirt", "stale", str(e), self._states["libvirt"].last_ok))
            return
        except Exception as e:  # libvirt.libvirtError and friends
            self.set_state(SourceState("libvirt", "stale", f"libvirt read failed: {e}",
                                       self._states["libvirt"].last_ok))
            return
        self.set_state(SourceState("libvirt", "live", "", time.time()))


def _run(coroutine):
    """Run the reads on a loop of their own (the refresh runs in a worker thread).

    Not asyncio.run: called from the main thread (``snapshot``), its SIGINT
    handler check formats the finished task, result included, with repr():
    1.1 s for a 100k-flow dump on Python 3.11.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _rates(prev, now: float, current: dict) -> tuple[dict, tuple[float, dict]]:
    """Per-second deltas of each key's counters since ``prev`` (time, counters)."""
    out = {}
    if prev is not None and current:
        then, old = prev
        dt = now - then
        if dt > 0:
            for key, values in current.items():
                before = old.get(key)
                if before is not None:
                    out[key] = tuple(max(a - b, 0) / dt for a, b in zip(values, before))
    return out, ((now, current) if current else prev)
