"""A node read once, as ``snapshot`` and the benchmark read it: OVSDB read
(not followed), libvirt opened, then as many refreshes as the caller wants."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from collectors import ovsdb_once
from collectors.domains import LibvirtSource, LibvirtUnavailable
from collectors.endpoints import Endpoints
from model.records import SourceState
from node.sources import LiveSources

if TYPE_CHECKING:
    from model.join import NodeModel
    from node.session import NodeSession


@contextmanager
def opened(endpoints: Endpoints, *, ovsdb_timeout: float = 5.0,
           prefetch: bool = True, reads_once: bool = False) -> Iterator[NodeSession]:
    """A session on the node with OVSDB read once; libvirt is closed on the way out.

    ``prefetch``: the first flow dumps run while OVSDB is read (the benchmark
    turns it off to time a cold refresh on its own). ``reads_once``: the
    caller refreshes once, so the first dumps take no flow statistics and
    keep nothing to compare the next dump with (both only serve a next
    refresh: ~0.35 s of CPU at 50k flows).

    An unreachable source is reported in the session's states, never raised.
    """
    sources = LiveSources(endpoints)
    if prefetch:
        sources.prefetch_flows(once=reads_once)
    # Imported once the dumps run: the model's modules (~0.05-0.1 s to import)
    # load while ovs-ofctl prints, where before they delayed its start.
    from node.session import NodeSession
    try:
        sources.set_ovsdb(ovsdb_once.read_once(endpoints.db, timeout=ovsdb_timeout))
        sources.set_state(SourceState("ovsdb", "live"))
    except ovsdb_once.OvsdbError as e:
        sources.set_state(SourceState("ovsdb", "error", str(e)))
    libvirt = LibvirtSource(endpoints.libvirt)
    try:
        libvirt.open()
        sources.set_libvirt(libvirt)
    except LibvirtUnavailable as e:
        sources.set_state(SourceState("libvirt", "error", str(e)))
    try:
        yield NodeSession(sources)
    finally:
        libvirt.close()
        sources.close()


def collect_once(endpoints: Endpoints) -> NodeModel:
    """Read every source once; an unreachable one is reported in the model."""
    with opened(endpoints, reads_once=True) as session:
        return session.refresh().model
