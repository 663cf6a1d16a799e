"""The live sources behind the app: starts the push collectors, runs refreshes.

The app talks to a backend only through this small interface, so UI tests
can give it a fake one (tests/fakes.py) and integration tests the real one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Callable, Protocol

from collectors import netlink, ovsdb_once
from collectors.domains import LibvirtSource, LibvirtUnavailable
from collectors.endpoints import Endpoints
from collectors.ovsdb_rows import OvsdbError
from model.records import SourceState
from node.session import NodeSession, Refresh
from node.sources import LiveSources
from node.ui_first import UiFirst

if TYPE_CHECKING:
    from collectors.ovsdb import OvsdbCollector


class Backend(Protocol):
    ui_first: UiFirst  # the app holds refreshes back while it answers a key

    def start(self, loop: asyncio.AbstractEventLoop, changed: Callable[[str], None]) -> None:
        """Start push sources; ``changed(source)`` may be called from any thread."""

    def refresh(self) -> Refresh:
        """Blocking; the app runs it in a worker thread."""

    async def stop(self) -> None: ...

    def request_mark(self) -> None: ...

    def clear_mark(self) -> None: ...


class LiveBackend:
    """OVSDB (its own thread), libvirt (events on the app loop), netlink watcher, and
    the session that pulls counters."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.ui_first = UiFirst()
        self.sources = LiveSources(endpoints, topology_first=True, pause=self.ui_first.pause)
        self.session = NodeSession(self.sources, pause=self.ui_first.pause)
        self._ovsdb: OvsdbCollector | None = None
        self._libvirt: LibvirtSource | None = None
        self._watcher: netlink.LinkWatcher | None = None
        self._changed: Callable[[str], None] = lambda source: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._prefetching = False
        self._flows_shown = False  # a refresh with the flows has been handed out
        self._watch_started = False
        self._ovsdb_lock = threading.Lock()  # the first read and the collector's snapshots
        self._followed = False  # the collector has delivered a snapshot
        self._read_once_at: float | None = None  # time.time() of the first OVSDB read
        self._stopping = False

    def prefetch_flows(self) -> None:
        """Start the first flow dumps now (see LiveSources.prefetch_flows).

        start() calls it once the app runs. Started before the UI's imports it
        made the first frame later, not the flows sooner: reading 50k lines
        in Python competes with the imports for the interpreter (bench at 50k
        on a quiet machine: first frame 2.69 s and with flows 2.69 s, against
        1.69 s and 2.56 s when started by start())."""
        if not self._prefetching:
            self._prefetching = True
            self.sources.prefetch_flows()

    def start(self, loop: asyncio.AbstractEventLoop, changed: Callable[[str], None]) -> None:
        self._loop = loop
        self._changed = changed
        self.prefetch_flows()
        if ovsdb_once.direct(self.endpoints.db):
            threading.Thread(target=self._read_ovsdb_once, name="ovsdb first read",
                             daemon=True).start()
        self._follow_ovsdb()
        self._open_libvirt()
        # the link watcher starts once the flows are shown (see refresh)

    def _read_ovsdb_once(self) -> None:
        """The first frame's OVSDB, read once without python-ovs's IDL (0.02 s of
        CPU) beside the collector that follows it, so the first frame does not
        wait for the IDL's first sync (0.23 s of CPU on the bench node's 200
        ports); dropped if the collector delivered first. A failure is left to
        the collector to say."""
        try:
            snapshot = ovsdb_once.read_once(self.endpoints.db)
        except OvsdbError:
            return
        with self._ovsdb_lock:
            if self._followed:
                return
            self._read_once_at = time.time()
            self.sources.set_ovsdb(snapshot, SourceState(
                "ovsdb", "live", f"read {self.endpoints.db}", self._read_once_at))
        self._changed("ovsdb")

    def _follow_ovsdb(self) -> None:
        """Start the collector that follows OVSDB."""
        from collectors.ovsdb import OvsdbCollector  # python-ovs, imported once the app runs

        def on_snapshot(snapshot) -> None:
            with self._ovsdb_lock:
                self._followed = True
                self.sources.set_ovsdb(snapshot)
            self._changed("ovsdb")

        def on_state(state: SourceState) -> None:
            with self._ovsdb_lock:
                if state.status == "connecting" and not self._followed \
                        and self._read_once_at is not None:
                    return  # the first read is on screen, live, while the collector connects
                self.sources.set_state(state)
            self._changed("ovsdb")

        self._ovsdb = OvsdbCollector(self.endpoints.db, on_snapshot, on_state)
        self._ovsdb.start()

    def _open_libvirt(self) -> None:
        """Open read-only; when it fails, say why and try again in 10 s."""
        self._retry = None
        source = LibvirtSource(self.endpoints.libvirt)
        try:
            try:
                source.register_events(self._loop, self._on_domain_event, self._on_libvirt_closed)
            except LibvirtUnavailable:
                pass  # events are bound to another loop (tests): polling still works
            source.open()
        except LibvirtUnavailable as e:
            self.sources.set_state(SourceState("libvirt", "error", str(e)))
            self._changed("libvirt")
            self._retry = self._loop.call_later(10.0, self._open_libvirt)
            return
        self._libvirt = source
        self.sources.set_libvirt(source)
        self._changed("libvirt")

    def _on_domain_event(self, uuid: str, event: str) -> None:
        self.sources.domains_changed()
        self._changed("libvirt")

    def _on_libvirt_closed(self, reason: str) -> None:
        self.sources.set_libvirt(None)
        self.sources.set_state(SourceState("libvirt", "stale",
                                           f"connection closed ({reason}); reconnecting"))
        if self._libvirt is not None:
            self._libvirt.close()
            self._libvirt = None
        self._changed("libvirt")
        if self._loop is not None and self._retry is None:
            self._retry = self._loop.call_later(2.0, self._open_libvirt)

    def _start_watching(self) -> None:
        if not self._stopping:
            self._loop.create_task(self._watch_links())

    async def _watch_links(self) -> None:
        """Taps appearing and vanishing show at once, not at the next interval."""
        def on_link(_ifname: str) -> None:
            self.sources.links_changed()
            self._changed("netlink")
        self._watcher = netlink.LinkWatcher(on_link, netns=self.endpoints.netns)
        try:
            await self._watcher.start()
        except netlink.NetlinkUnavailable as e:
            self.sources.set_state(SourceState("netlink", "error", str(e)))
            self._watcher = None
        except Exception:  # pyroute2 can raise from deep inside
            # Only the shortcut is lost: every refresh still reads the links.
            self._watcher = None

    def refresh(self) -> Refresh:
        """The session's refresh; the first one after the flows were shown also
        starts the link watcher. It is only a shortcut (every refresh reads
        the links, every LINK_POLL seconds at least) and imports pyroute2:
        0.16 s of the interpreter taken from the first frames when started
        with the app."""
        if self._flows_shown and not self._watch_started and self._loop is not None:
            self._watch_started = True
            self._loop.call_soon_threadsafe(self._start_watching)
        self.ui_first.refresh_starts()
        refresh = self.session.refresh()
        self._flows_shown = self._flows_shown or refresh.flows_settled
        return refresh

    def request_mark(self) -> None:
        self.session.request_mark()

    def clear_mark(self) -> None:
        self.session.clear_mark()

    async def stop(self) -> None:
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception:
                pass
        if self._ovsdb is not None:
            await asyncio.to_thread(self._ovsdb.stop)
        if self._libvirt is not None:
            self._libvirt.close()
        await asyncio.to_thread(self.sources.close)
