"""What a refresh costs beside the flows: links are read every few seconds (or
at once when the watcher saw a change) and their rates stay on screen in
between; a refresh run from the main thread never formats what it read."""

from __future__ import annotations

import pytest

from collectors import netlink
from node import sources as sources_module
from collectors.endpoints import Endpoints
from model.records import Link
from node.session import NodeSession
from node.sources import LiveSources


def link(rx_packets: int) -> Link:
    return Link(index=7, ifname="tap1", operstate="UP", rx_packets=rx_packets)


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The links the session reads: tap1's rx counter grows by 100 at each read."""
    done: list[int] = []

    async def read_links(netns=None):
        done.append(len(done))
        return (link(100 * len(done)),)

    monkeypatch.setattr(netlink, "read_links", read_links)
    return done


def a_session() -> NodeSession:
    # No OVSDB snapshot and no libvirt: a refresh reads links and nothing else.
    return NodeSession(LiveSources(Endpoints(db="unix:/nonexistent/db.sock",
                                             ovs_rundir="/nonexistent",
                                             libvirt="test:///default")), hostname="node")


def test_links_are_read_once_per_poll_period_not_at_every_refresh(reads):
    session = a_session()
    session.refresh()
    session.refresh()
    session.refresh()
    assert len(reads) == 1


def test_a_link_change_makes_the_next_refresh_read_links(reads):
    session = a_session()
    session.refresh()
    session.sources.links_changed()
    second = session.refresh()
    assert len(reads) == 2
    assert second.model.sources  # the refresh went through
    assert second.link_rates["tap1"][0] > 0  # 100 packets since the first read


def test_link_rates_stay_between_reads(reads, monkeypatch):
    session = a_session()
    session.refresh()
    session.sources.links_changed()
    measured = session.refresh().link_rates["tap1"]
    assert session.refresh().link_rates["tap1"] == measured  # not read: still shown
    monkeypatch.setattr(sources_module, "LINK_POLL", 0.0)
    session.refresh()
    assert len(reads) == 3


def test_a_refresh_in_the_main_thread_never_formats_what_it_read(monkeypatch):
    """asyncio.run does, through its SIGINT handler check: 1.1 s for 100k flows."""

    formatted = []

    class Links(tuple):
        def __repr__(self) -> str:
            formatted.append(self)
            return "links"

    async def read_links(netns=None):
        return Links((link(1),))

    monkeypatch.setattr(netlink, "read_links", read_links)
    assert a_session().refresh().model.hostname == "node"
    assert formatted == []
