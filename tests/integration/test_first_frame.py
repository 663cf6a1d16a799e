"""On a busy node the first flow dump takes seconds (50k flows: ~1.4 s), so
the display shows the bridges, ports and instances first, claims nothing
about flows it has not read yet, and reads them at the very next refresh."""

from __future__ import annotations

import asyncio

import pytest

from collectors import ovsdb
from collectors.domains import LibvirtSource
from model.records import SourceState
from node.live import LiveBackend
from node.session import NodeSession
from node.sources import LiveSources
from tests.integration.live_app import ip, lab_endpoints

pytestmark = pytest.mark.lab


@pytest.fixture
def session(shared_lab):
    """A session as the TUI opens one: OVSDB and libvirt connected, no refresh yet."""
    endpoints = lab_endpoints(shared_lab)
    sources = LiveSources(endpoints, topology_first=True)
    sources.set_ovsdb(ovsdb.read_once(shared_lab.db))
    sources.set_state(SourceState("ovsdb", "live"))
    with LibvirtSource(endpoints.libvirt) as source:
        sources.set_libvirt(source)
        yield NodeSession(sources)


def test_topology_comes_first_then_flows_with_no_false_problem_in_between(session):

    first = session.refresh()
    assert first.flows_pending
    assert {b.name for b in first.model.bridges} == {"br-int", "br-provider"}
    assert any(i.domain.name == "instance-00000027" for i in first.model.instances)
    assert first.model.flows == {}
    assert not [p for p in first.model.problems if p.kind == "missing-vlan-translation"]
    openflow = next(s for s in first.model.sources if s.source == "openflow")
    assert openflow.status == "connecting" and "first flow dump" in openflow.detail

    second = session.refresh()
    assert not second.flows_pending
    assert len(second.model.flows["br-int"].flows) > 10
    vlan2 = next(v for v in second.model.vlans if v.local_vlan == 2)
    assert vlan2.egress_flow is not None and vlan2.ingress_flow is not None
    assert second.model.problems == ()


def test_a_snapshot_session_reads_flows_at_once(shared_lab):
    sources = LiveSources(lab_endpoints(shared_lab))
    sources.set_ovsdb(ovsdb.read_once(shared_lab.db))
    refresh = NodeSession(sources).refresh()
    assert not refresh.flows_pending
    assert len(refresh.model.flows["br-int"].flows) > 10


def test_flows_dumped_before_ovsdb_answers_come_with_the_first_frame(shared_lab):
    """The TUI starts the first flow dumps from the bridges' management sockets
    while OVSDB is still connecting; the first frame with bridges then has them."""
    endpoints = lab_endpoints(shared_lab)
    sources = LiveSources(endpoints, topology_first=True)
    sources.prefetch_flows().join()
    sources.set_ovsdb(ovsdb.read_once(shared_lab.db))
    sources.set_state(SourceState("ovsdb", "live"))
    with LibvirtSource(endpoints.libvirt) as source:
        sources.set_libvirt(source)
        first = NodeSession(sources).refresh()
    assert not first.flows_pending
    assert len(first.model.flows["br-int"].flows) > 10
    vlan2 = next(v for v in first.model.vlans if v.local_vlan == 2)
    assert vlan2.egress_flow is not None and vlan2.ingress_flow is not None
    assert first.model.problems == ()


def test_a_prefetch_still_running_leaves_the_first_frame_to_the_topology(shared_lab):
    """A topology-first reading never waits for the prefetch; the next one does."""
    endpoints = lab_endpoints(shared_lab)
    sources = LiveSources(endpoints, topology_first=True)
    sources.set_ovsdb(ovsdb.read_once(shared_lab.db))
    sources.set_state(SourceState("ovsdb", "live"))
    session = NodeSession(sources)
    sources.prefetch_flows()
    first = session.refresh()
    second = session.refresh()
    if first.flows_pending:
        assert first.model.flows == {}
    assert not second.flows_pending
    assert len(second.model.flows["br-int"].flows) > 10
    sources.close()


async def test_the_link_watcher_starts_once_the_flows_are_shown(shared_lab):
    """The watcher (taps showing at once, not at the next link poll) imports
    pyroute2: it starts with the refresh after the one that brought the flows,
    not before the first frames, and then reports a new link."""
    backend = LiveBackend(lab_endpoints(shared_lab))
    seen: list[str] = []
    backend.start(asyncio.get_running_loop(), seen.append)
    try:
        for _ in range(100):  # refreshes until one brings the flows (OVSDB answers first)
            refresh = await asyncio.to_thread(backend.refresh)
            if refresh.flows_settled:
                break
            await asyncio.sleep(0.05)
        assert status_of(refresh, "openflow") == "live"
        await asyncio.sleep(0.2)
        assert backend._watcher is None  # nothing started it yet
        await asyncio.to_thread(backend.refresh)
        for _ in range(100):
            if backend._watcher is not None and backend._watcher.running:
                break
            await asyncio.sleep(0.05)
        seen.clear()
        ip(shared_lab, "link", "add", "ffwatch0", "type", "veth", "peer", "name", "ffwatch1")
        try:
            for _ in range(100):
                if "netlink" in seen:
                    break
                await asyncio.sleep(0.05)
            assert "netlink" in seen
        finally:
            ip(shared_lab, "link", "del", "ffwatch0")
    finally:
        await backend.stop()


def status_of(refresh, source: str) -> str:
    return next(s.status for s in refresh.model.sources if s.source == source)


async def test_the_first_frame_reads_ovsdb_once_then_follows_it(shared_lab):
    """OVSDB is read once for the first frame (without the IDL's costly first
    sync) beside the collector that follows it; once live, the state stays
    live across the handover."""
    backend = LiveBackend(lab_endpoints(shared_lab))
    states: list[SourceState] = []
    backend.start(asyncio.get_running_loop(), lambda source: states.append(
        backend.sources.state("ovsdb")) if source == "ovsdb" else None)
    try:
        for _ in range(100):
            refresh = await asyncio.to_thread(backend.refresh)
            if refresh.flows_settled:
                break
            await asyncio.sleep(0.05)
        assert status_of(refresh, "ovsdb") == "live"
        assert {b.name for b in refresh.model.bridges} == {"br-int", "br-provider"}
        for _ in range(100):
            if backend.sources.state("ovsdb").detail.startswith("following"):
                break
            await asyncio.sleep(0.05)
        assert backend.sources.state("ovsdb").detail.startswith("following")
        first_live = next(n for n, s in enumerate(states) if s.status == "live")
        assert all(s.status == "live" for s in states[first_live:])
    finally:
        await backend.stop()


def test_a_first_dump_without_statistics_is_lined_up_by_the_refreshes_after(shared_lab):
    """The first dump goes without flow statistics before it (the counters come
    sooner); the next refresh dumps the text again with them, and from the one
    after on counters come from the statistics, every flow still there."""
    endpoints = lab_endpoints(shared_lab)
    sources = LiveSources(endpoints, topology_first=True)
    sources.prefetch_flows().join()
    sources.set_ovsdb(ovsdb.read_once(shared_lab.db), SourceState("ovsdb", "live"))
    session = NodeSession(sources)
    first = session.refresh()
    table = sources._tables["br-int"]
    assert not first.flows_pending and not table.lined_up
    session.refresh()
    third = session.refresh()
    assert table.lined_up
    assert [f.key for f in third.model.flows["br-int"].flows] == \
        [f.key for f in first.model.flows["br-int"].flows]
    assert third.model.problems == ()
    sources.close()
