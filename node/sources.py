"""Where a session reads a node from: the live collectors or records saved earlier.

The session asks its ``Sources`` for a ``Reading`` at every refresh and never
learns which kind it has: ``LiveSources`` reads this node now (OVSDB pushed
in from its collector thread, flows, port counters, libvirt and netlink
pulled here), ``SavedSources`` serves records read once from saved outputs
(a sosreport, saved command outputs), with no rates since nothing moves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Protocol

from collectors import netlink, openflow, ovn_pki, ovn_sb
from collectors.domains import LibvirtSource, LibvirtUnavailable
from collectors.endpoints import Endpoints
from model.records import (
    Domain,
    Flow,
    FlowDetail,
    FlowDump,
    Link,
    Observation,
    OvnSouthbound,
    OvsdbSnapshot,
    PortCounters,
    SourceState,
    VnicStats,
)

SOURCES = ("ovsdb", "openflow", "libvirt", "netlink")
EMPTY: Mapping = MappingProxyType({})
DOMAIN_POLL = 10.0  # seconds between libvirt re-lists when no event arrives
LINK_POLL = 5.0  # seconds between netlink reads when links_changed() is not called
SB_POLL = 10.0  # seconds between reads of an OVN chassis' southbound DB (names only)
SB_SOURCE = "ovn-sb"  # a source only on an OVN chassis (OVSDB names its ovn-remote)


@dataclass(frozen=True)
class Reading:
    """What a node's sources hold at one refresh, and how each source is doing."""

    ovsdb: OvsdbSnapshot | None
    # by bridge; a bridge missing here is one whose flows are not read yet: no verdict on them
    flows: Mapping[str, FlowDump]
    deltas: Mapping[str, openflow.FlowDelta]  # what moved since the previous reading
    port_counters: tuple[PortCounters, ...]
    domains: tuple[Domain, ...] | None  # None: libvirt not read
    vnic_stats: tuple[VnicStats, ...]
    links: tuple[Link, ...] | None  # the last good read; None: netlink not read
    # the links read by this reading (() when that read failed); None: none read now,
    # the previous read and its rates stand
    links_read: tuple[Link, ...] | None
    states: tuple[SourceState, ...]
    # when the counters were read (time.monotonic()); saved records keep one
    # instant, so two readings of them give no rates
    clock: float
    flows_pending: bool = False  # bridges shown before their first flow dump
    ovn_sb: OvnSouthbound | None = None  # the last good southbound read (OVN chassis only)
    port_bridges: frozenset[str] = frozenset()  # bridges whose dump-ports answered


class Sources(Protocol):
    """A node as the session reads it."""

    def read(self) -> Reading:
        """Blocking (run it in a worker thread); never raises for a source's failure."""

    def detail_of(self, flow: Flow) -> FlowDetail:
        """The full parse of a flow of the last reading."""

    def links_changed(self) -> None:
        """Read links at the next reading (the mark's baseline is taken then)."""


class LiveSources:
    """This node's collectors: OVSDB pushed in, flows, ports, libvirt and links pulled."""

    def __init__(self, endpoints: Endpoints, *, topology_first: bool = False,
                 pause: Callable[[], None] | None = None) -> None:
        """``topology_first``: the first reading that knows bridges skips their
        flows (see read), for a display that should show something at once.
        ``pause``: called where a reading may wait for the UI (node/ui_first.py)."""
        self.endpoints = endpoints
        self._pause = pause or (lambda: None)
        self._topology_first = topology_first
        self._lock = threading.Lock()
        self._ovsdb: OvsdbSnapshot | None = None
        self._states: dict[str, SourceState] = {s: SourceState(s, "connecting") for s in SOURCES}
        self._tables: dict[str, openflow.FlowTable] = {}
        self._topology_shown = False  # a reading has had bridges (see read)
        self._libvirt: LibvirtSource | None = None
        self._domains: tuple[Domain, ...] | None = None
        self._domains_at = 0.0
        self._domains_stale = True
        self._vnic_stats: tuple[VnicStats, ...] = ()
        self._links: tuple[Link, ...] | None = None
        self._links_at: float | None = None  # when links were last read; None: read now
        # first flow dumps started before OVSDB answered (prefetch_flows)
        self._prefetch: threading.Thread | None = None
        self._prefetched: tuple[list[openflow.FlowTable], dict] = ([], {})
        self._sb: OvnSouthbound | None = None
        self._sb_at: float | None = None

    # -- pushed in from other threads ------------------------------------

    def set_ovsdb(self, snapshot: OvsdbSnapshot, state: SourceState | None = None) -> None:
        """The snapshot, and with ``state`` the state it comes in (read together)."""
        with self._lock:
            self._ovsdb = snapshot
            if state is not None:
                self._states[state.source] = state

    def set_state(self, state: SourceState) -> None:
        with self._lock:
            self._states[state.source] = state

    def state(self, source: str) -> SourceState:
        with self._lock:
            return self._states[source]

    def domains_changed(self) -> None:
        """A libvirt lifecycle event: re-list domains at the next reading."""
        self._domains_stale = True

    def set_libvirt(self, source: LibvirtSource | None) -> None:
        """The libvirt connection to read (opened by the caller, whose loop gets events)."""
        self._libvirt = source
        self._domains_stale = True

    def links_changed(self) -> None:
        """A link appeared, vanished or changed state: re-read links at the next reading."""
        self._links_at = None

    def prefetch_flows(self, *, once: bool = False) -> threading.Thread:
        """Start the first flow dumps now, in a thread, before OVSDB answers.

        On a busy node the first dump is the longest read (50k flows: ~1.4 s),
        and the bridges to dump are known without OVSDB: ovs-vswitchd serves
        each one's OpenFlow on ``<rundir>/<bridge>.mgmt``. The first reading
        that knows OVSDB's bridges takes these dumps as its own flow reads
        (waiting for them unless it is a topology-first reading); a bridge
        OVSDB does not list is dropped, one whose dump failed is read again.
        ``once``: a reading no refresh follows (see refresh_table).
        """
        tables = [openflow.FlowTable(b) for b in openflow.mgmt_bridges(self.endpoints.ovs_rundir)]
        rundir = self.endpoints.ovs_rundir
        results: dict[str, tuple[openflow.FlowDelta, str | None]] = {}

        async def dump_all() -> None:
            # no statistics before these dumps: the frame with counters comes
            # their wall time sooner; the next refresh dumps again to line them up
            done = await asyncio.gather(*(openflow.refresh_table(t, rundir=rundir, once=once,
                                                                 stats=False)
                                          for t in tables))
            results.update((t.bridge, r) for t, r in zip(tables, done))

        self._prefetched = (tables, results)
        self._prefetch = threading.Thread(target=_run, args=(dump_all(),),
                                          name="first flow dumps", daemon=True)
        self._prefetch.start()
        return self._prefetch

    def _take_prefetched(self, bridges: list[str], *, wait: bool
                         ) -> dict[str, tuple[openflow.FlowDelta, str | None]]:
        """The prefetched tables of ``bridges`` put in place once their dumps are
        done: their (delta, error), the flow reads of this reading."""
        prefetch = self._prefetch
        if prefetch is None or not bridges or (prefetch.is_alive() and not wait):
            return {}
        prefetch.join()
        tables, results = self._prefetched
        self._prefetch, self._prefetched = None, ([], {})
        taken = {}
        for table in tables:
            mine = self._tables.get(table.bridge)
            if table.bridge in bridges and table.dump is not None and table.bridge in results \
                    and (mine is None or mine.dump is None):
                self._tables[table.bridge] = table
                taken[table.bridge] = results[table.bridge]
        return taken

    def close(self) -> None:
        """Wait for a prefetch still running (its ovs-ofctl ends within its timeout)."""
        if self._prefetch is not None:
            self._prefetch.join()
            self._prefetch, self._prefetched = None, ([], {})

    # -- the reading -------------------------------------------------------

    def read(self) -> Reading:
        self._pause()  # before asking the switch: it works out 50k flows' statistics on a
        # core the UI then lacks
        with self._lock:
            # the snapshot and the state it was delivered in, taken together:
            # a "live" read later with the snapshot of before it would show no
            # bridges as live ones (and judge vNICs unplugged)
            ovsdb, ovsdb_state = self._ovsdb, self._states["ovsdb"]
        bridges = [b.name for b in ovsdb.bridges] if ovsdb else []
        for bridge in list(self._tables):
            if bridge not in bridges:  # bridge deleted
                del self._tables[bridge]
        # The first time bridges are known they are shown before their first
        # flow dump, which on a busy node takes seconds (50k flows: ~1.4 s),
        # unless a prefetch has read them already; the reading right after
        # reads the flows.
        first = self._topology_first and bool(bridges) and not self._topology_shown
        prefetched = self._take_prefetched(bridges, wait=not first)
        tables = [self._tables.setdefault(b, openflow.FlowTable(b)) for b in bridges]
        links_due = self._links_due()
        pending = first and any(t.dump is None for t in tables)
        self._topology_shown = self._topology_shown or bool(tables)
        flows, (ports, port_bridges), links = _run(
            self._pull(tables, links_due, with_flows=not pending, done=prefetched))
        if pending:
            deltas = {t.bridge: openflow.FlowDelta(t.bridge, 0.0) for t in tables}
            self.set_state(SourceState("openflow", "connecting",
                                       f"first flow dump of {len(tables)} bridges"))
        else:
            deltas = self._flow_states(tables, flows, ovsdb_state)
        self._pause()
        self._read_libvirt()
        self._read_southbound(ovsdb)
        now = time.monotonic()
        if links_due and links is not None:
            self._links = links
        with self._lock:
            states = tuple(ovsdb_state if st.source == "ovsdb" else st
                           for st in self._states.values())
        return Reading(
            ovsdb=ovsdb,
            flows=MappingProxyType({t.bridge: t.dump or FlowDump(t.bridge, (), now, error=error)
                                    for t, (_, error) in zip(tables, flows)}),
            deltas=MappingProxyType(deltas),
            port_counters=ports,
            domains=self._domains,
            vnic_stats=self._vnic_stats,
            links=self._links,
            links_read=(links or ()) if links_due else None,
            states=states,
            clock=now,
            flows_pending=pending,
            ovn_sb=self._sb,
            port_bridges=frozenset(port_bridges),
        )

    def detail_of(self, flow: Flow) -> FlowDetail:
        table = self._tables.get(flow.bridge)
        if table is None:
            return openflow.flow_detail(flow)
        return table.detail_of(flow)

    async def _pull(self, tables: list[openflow.FlowTable], links: bool, with_flows: bool = True,
                    done: Mapping[str, tuple[openflow.FlowDelta, str | None]] = EMPTY):
        """Flows (those in ``done`` read already), port counters and links, at once."""
        rundir = self.endpoints.ovs_rundir
        to_read = [t for t in tables if t.bridge not in done] if with_flows else []
        flow_jobs = [openflow.refresh_table(t, rundir=rundir, pause=self._pause) for t in to_read]
        port_jobs = [openflow.dump_ports(t.bridge, rundir=rundir) for t in tables]
        link_jobs = [self._read_links()] if links else []
        results = await asyncio.gather(*flow_jobs, *port_jobs, *link_jobs)
        read = dict(zip((t.bridge for t in to_read), results[: len(flow_jobs)]))
        flows: list[tuple[openflow.FlowDelta, str | None]] = [
            done[t.bridge] if t.bridge in done else read[t.bridge]
            for t in tables] if with_flows else []
        port_results = results[len(flow_jobs): len(flow_jobs) + len(tables)]
        ports = tuple(c for r in port_results if not isinstance(r, str) for c in r)
        answered = [t.bridge for t, r in zip(tables, port_results) if not isinstance(r, str)]
        return flows, (ports, answered), results[-1] if links else None

    def _links_due(self) -> bool:
        """Links are read every LINK_POLL seconds, or at once after links_changed().

        Set when pyroute2 decoded ~0.35 ms of CPU per link (on a node with 200
        ports, 400 links with their peers, more than reading 50k unchanged
        flows); the dump read by hand (collectors/rtnetlink.py) costs ~0.08 ms
        a link, and the period stays.
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

    def _flow_states(self, tables: list[openflow.FlowTable],
                     flows: list[tuple[openflow.FlowDelta, str | None]],
                     ovsdb_state: SourceState) -> dict[str, openflow.FlowDelta]:
        """Each bridge's delta, and the openflow state the dumps leave; with no
        bridge, from OVSDB's state when its snapshot was taken (OVSDB answering
        meanwhile does not make "no bridge to read" true)."""
        deltas = {table.bridge: delta for table, (delta, _error) in zip(tables, flows)}
        errors = [error for _delta, error in flows if error]
        if errors:
            # stale: shown from an older read; error: never read, nothing shown
            last_ok = self.state("openflow").last_ok
            self.set_state(SourceState("openflow", "stale" if last_ok else "error", errors[0],
                                       last_ok))
        elif tables:
            self.set_state(SourceState("openflow", "live", "", time.time()))
        elif ovsdb_state.status == "live":
            self.set_state(SourceState("openflow", "live", "no bridge to read", time.time()))
        elif ovsdb_state.status in ("stale", "error"):
            # the bridges to dump come from OVSDB: say so rather than "connecting" forever
            last_ok = self.state("openflow").last_ok
            self.set_state(SourceState("openflow", "stale" if last_ok else "error",
                                       "not read: bridges unknown while OVSDB is unavailable",
                                       last_ok))
        return deltas

    def _read_southbound(self, ovsdb: OvsdbSnapshot | None) -> None:
        """Every SB_POLL seconds on a node whose OVSDB names an ovn-remote."""
        remote = ovsdb.external_ids.get("ovn-remote") if ovsdb else None
        now = time.monotonic()
        if not remote or (self._sb_at is not None and now - self._sb_at < SB_POLL):
            return
        self._sb_at = now
        tls = ovn_pki.find(self.endpoints.db, ovsdb.ssl) if ovn_sb.is_ssl(remote) else None
        try:
            self._sb = ovn_sb.read_southbound(remote, tls=tls)
        except ovn_sb.OvnSbError as e:
            last = self._states.get(SB_SOURCE)
            self.set_state(SourceState(SB_SOURCE, "stale" if self._sb else "error", str(e),
                                       last.last_ok if last else None))
            return
        self.set_state(SourceState(SB_SOURCE, "live", "", time.time()))

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
            self._libvirt_failed(str(e))
            return
        except Exception as e:  # libvirt.libvirtError and friends
            self._libvirt_failed(f"libvirt read failed: {e}")
            return
        self.set_state(SourceState("libvirt", "live", "", time.time()))

    def _libvirt_failed(self, why: str) -> None:
        last_ok = self.state("libvirt").last_ok  # stale: an older read is shown
        self.set_state(SourceState("libvirt", "stale" if last_ok else "error", why, last_ok))


class SavedSources:
    """Records saved from a node earlier (a sosreport, saved command outputs),
    served as they are at every reading.

    ``records`` is everything the saved outputs held, as the collectors would
    have read it (``hostname`` is not used: the session has its own);
    ``recorded_at`` is when they were recorded (time.time()). Each source is
    "saved" (with ``recorded_at`` as its last good read) when the records hold
    its data, and "error" saying so when they do not; a state given in
    ``records.sources`` that is not "live" is kept as it is (say, why a
    command's output could not be read). Counters never move, so there are no
    rates, no flow history and nothing moves since a mark. Records whose flow
    dumps are still to be read are shown first as the live tool shows a node
    before its first dump: those bridges without flows, and no verdict on them.
    """

    def __init__(self, records: Observation, recorded_at: float,
                 rest: Callable[[], Observation] | None = None) -> None:
        """``rest``: the records made whole (the flow dumps' lines read), called by
        the second reading; the first one shows ``records``, its flows pending."""
        self._recorded_at = recorded_at
        self._rest = rest
        self._read_once = False
        self._clock = time.monotonic()  # one instant for every reading: no rates
        self._details: dict = {}
        self._take(records)

    def _take(self, records: Observation) -> None:
        self._records = records
        given = {s.source: s for s in records.sources}
        held = {"ovsdb": records.ovsdb is not None, "openflow": bool(records.flows),
                "libvirt": records.domains is not None, "netlink": records.links is not None}
        states = []
        for source in SOURCES:
            state = given.get(source)
            if state is not None and state.status != "live":
                states.append(state)
            elif held[source] or state is not None:
                states.append(SourceState(source, "saved", state.detail if state else "",
                                          self._recorded_at))
            else:
                states.append(SourceState(source, "error", "not in the saved records"))
        self._states = tuple(states)
        self._deltas = MappingProxyType({b: openflow.FlowDelta(b, 0.0) for b in records.flows})

    def read(self) -> Reading:
        if self._rest is not None and self._read_once:
            self._take(self._rest())
            self._rest = None
        self._read_once = True
        r = self._records
        return Reading(ovsdb=r.ovsdb, flows=r.flows, deltas=self._deltas,
                       port_counters=r.port_counters, domains=r.domains,
                       vnic_stats=r.vnic_stats, links=r.links, links_read=r.links,
                       states=self._states, clock=self._clock, ovn_sb=r.ovn_sb,
                       port_bridges=frozenset(c.bridge for c in r.port_counters),
                       flows_pending=self._rest is not None)

    def links_changed(self) -> None:
        """Saved links never change."""

    def detail_of(self, flow: Flow) -> FlowDetail:
        """Parsed once per flow: the saved flows never change."""
        detail = self._details.get(flow.key)
        if detail is None:
            detail = self._details[flow.key] = openflow.flow_detail(flow)
        return detail


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
