"""One mark baseline, taken by the session, for every counter; rates over a
window that always holds a sample at a ping's rate; no trend drawn for time
not observed.

The flows are the seed node's saved dumps (tests/fixtures/seed), with their
counters moved by the test as a ping would move them.
"""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest

from collectors import netlink, openflow
from collectors.endpoints import Endpoints
from model.records import Link, PortCounters
from node.rates import CounterWindow, FlowWindow
from node.session import HISTORY, NodeSession
from node.sources import LiveSources
from tests.fakes import SEED, seed_observation

EGRESS = 'priority=4,in_port="phy-br-provider",dl_vlan=2'  # the VLAN 2 -> 100 flow


class Node:
    """What the session reads, set by the test: flow dumps, dump-ports, links."""

    def __init__(self) -> None:
        self.dumps = {b: (SEED / f"dump-flows-{b}.txt").read_text()
                      for b in ("br-int", "br-provider")}
        self.clock = 1000.0
        self.ports = {"eth0": 100}
        self.links = {"tap1": (7, 100)}  # ifname -> (index, rx_packets)

    def move(self, match: str, packets: int, duration: float | None = None) -> None:
        """Add packets to the br-provider flow with this match (or set its duration)."""
        lines = []
        for line in self.dumps["br-provider"].splitlines():
            if f", {match} actions=" in line:
                n = int(re.search(r"n_packets=(\d+)", line).group(1))
                line = re.sub(r"n_packets=\d+", f"n_packets={n + packets}" if duration is None
                              else f"n_packets={packets}", line)
                if duration is not None:
                    line = re.sub(r"duration=[\d.]+s", f"duration={duration}s", line)
            lines.append(line)
        self.dumps["br-provider"] = "\n".join(lines) + "\n"

    def add(self, line: str) -> None:
        self.dumps["br-provider"] += line + "\n"


@pytest.fixture
def node(monkeypatch) -> Node:
    n = Node()

    async def refresh_table(table, *, rundir=None, timeout=5.0, pause=None):
        n.clock += 1.0
        dump = openflow.parse_dump(table.bridge, n.dumps[table.bridge], n.clock)
        return table.update(dump), None

    async def dump_ports(bridge, *, rundir=None, timeout=5.0):
        if bridge != "br-provider":
            return ()
        return tuple(PortCounters(bridge, name, rx_packets=rx, tx_packets=rx)
                     for name, rx in n.ports.items())

    async def read_links(netns=None):
        return tuple(Link(index=i, ifname=name, operstate="UP", rx_packets=rx)
                     for name, (i, rx) in n.links.items())

    monkeypatch.setattr(openflow, "refresh_table", refresh_table)
    monkeypatch.setattr(openflow, "dump_ports", dump_ports)
    monkeypatch.setattr(netlink, "read_links", read_links)
    return n


def a_session() -> NodeSession:
    sources = LiveSources(Endpoints(db="unix:/nonexistent/db.sock", ovs_rundir="/nonexistent",
                                    libvirt="test:///default"))
    sources.set_ovsdb(seed_observation()[0].ovsdb)
    return NodeSession(sources, hostname="node")


def tap1(session: NodeSession) -> Link:
    """The last read of tap1 (a link no OVS port is: the model has no view of it)."""
    return next(l for l in session.sources._links if l.ifname == "tap1")


def egress(refresh):
    return next(f for f in refresh.model.flows["br-provider"].flows if f.match == EGRESS[11:]
                and f.priority == 4)


def test_since_mark_counts_from_the_mark_for_every_source(node):
    session = a_session()
    session.refresh()
    session.request_mark()
    session.refresh()  # the mark is taken here
    node.move(EGRESS, 10)
    node.ports["eth0"] += 10
    node.links["tap1"] = (7, 110)
    later = session.refresh()
    node.move(EGRESS, 5)
    node.ports["eth0"] += 5
    node.links["tap1"] = (7, 115)
    latest = session.refresh()  # links are read at most every LINK_POLL: 110 here still
    for r, moved in ((later, 10), (latest, 15)):  # the same baseline whenever asked
        assert r.since_mark(egress(r))[0] == moved
        eth0 = r.model.port_counters[("br-provider", "eth0")]
        assert r.mark.port(eth0)["rx packets"] == moved
    session.sources.links_changed()
    node.links["tap1"] = (7, 120)
    r = session.refresh()
    assert r.mark.link(tap1(session))["rx packets"] == 20


def test_a_flow_added_after_the_mark_counts_in_whole(node):
    session = a_session()
    session.refresh()
    session.request_mark()
    session.refresh()
    node.add(" cookie=0x5cba03097712b897, duration=1.5s, table=0, n_packets=7, n_bytes=700, "
             'priority=5,in_port="phy-br-provider",dl_vlan=3 actions=mod_vlan_vid:300,NORMAL')
    r = session.refresh()
    added = next(f for f in r.model.flows["br-provider"].flows if "dl_vlan=3" in f.match)
    assert r.since_mark(added) == (7, 700)


def test_a_flow_deleted_and_added_again_after_the_mark_counts_in_whole(node):
    """Its key is the same as the one marked, but every packet it holds is new."""
    session = a_session()
    session.refresh()
    session.request_mark()
    session.refresh()  # marked with 124 packets
    node.move(EGRESS, 200, duration=0.5)  # re-added: young, and already past the marked count
    r = session.refresh()
    assert r.since_mark(egress(r))[0] == 200


def test_a_device_made_again_after_the_mark_counts_in_whole(node):
    session = a_session()
    session.refresh()
    session.request_mark()
    session.refresh()
    node.links["tap1"] = (9, 130)  # a new ifindex: deleted and re-created, 130 packets since
    session.sources.links_changed()
    r = session.refresh()
    assert r.mark.link(tap1(session))["rx packets"] == 130


def test_the_mark_reads_links_then_not_up_to_a_poll_period_before(node):
    session = a_session()
    session.refresh()  # links read: 100
    node.links["tap1"] = (7, 104)
    session.request_mark()
    r = session.refresh()
    assert tap1(session).rx_packets == 104 and r.mark.link(tap1(session))["rx packets"] == 0


def test_a_source_not_read_at_the_mark_gives_no_since_mark(node, monkeypatch):
    async def refused(bridge, *, rundir=None, timeout=5.0):
        return "ovs-ofctl: br-provider is not a bridge or a socket"

    monkeypatch.setattr(openflow, "dump_ports", refused)
    session = a_session()
    session.refresh()
    session.request_mark()
    r = session.refresh()
    assert r.mark.port(PortCounters("br-provider", "eth0", rx_packets=5))["rx packets"] is None


# -- rates ------------------------------------------------------------------

def _delta(interval: float, moved: dict, new=frozenset()) -> openflow.FlowDelta:
    return openflow.FlowDelta("br-int", interval, new=frozenset(new),
                              moved=MappingProxyType(moved))


def test_a_ping_at_one_packet_a_second_never_reads_zero():
    """Refreshes drift against the pings: 1 s windows hold 0 or 2 packets."""
    window = FlowWindow("br-int")
    key = ("br-int", 0, 4, "dl_vlan=2", 0)
    rates = []
    for n in range(20):
        rates.append(window.add(_delta(1.0, {key: (2, 196)} if n % 2 else {})).rate(key)[0])
    assert min(rates[1:]) > 0  # from the second refresh on, the window holds a packet
    assert all(0.5 <= r <= 2.0 for r in rates[5:])


def test_a_flow_has_no_rate_until_seen_twice():
    window = FlowWindow("br-int")
    old = ("br-int", 0, 4, "dl_vlan=2", 0)
    born = ("br-int", 0, 4, "dl_vlan=3", 0)
    window.add(_delta(1.0, {old: (1, 98)}))
    rates = window.add(_delta(1.0, {old: (1, 98)}, new={born}))
    assert rates.rate(born) is None
    rates = window.add(_delta(1.0, {old: (1, 98), born: (3, 294)}))
    assert rates.rate(born) == (3.0, 294.0)  # over its one observed second, not the window


def test_counter_rates_span_the_window_and_wait_for_two_samples():
    window = CounterWindow(span=5.0)
    assert dict(window.add(0.0, {"eth0": (0,)})) == {}  # one sample: no rate (a dash)
    got = [window.add(t, {"eth0": (t if t % 2 else t - 1,)})["eth0"][0]
           for t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)]
    assert min(got) > 0


def test_a_counter_that_went_back_has_no_rate_rather_than_zero():
    """A port deleted and made again (a tap plugged again) counts from 0: its rate
    over the window is unknown, a dash, never 0/s."""
    window = CounterWindow(span=5.0)
    window.add(0.0, {"tap1": (900, 90_000), "eth0": (10, 1000)})
    rates = window.add(1.0, {"tap1": (4, 400), "eth0": (15, 1500)})
    assert "tap1" not in rates
    assert rates["eth0"] == (5.0, 500.0)


def test_a_trend_draws_no_time_before_the_tool_started(node):
    session = a_session()
    session.refresh()
    session.refresh()
    node.move(EGRESS, 3)
    r = session.refresh()
    history = r.history[egress(r).key]
    assert len(history) == 2 < HISTORY  # one idle interval observed, then the move
    assert history[-1] > 0


def test_a_flow_added_while_the_tool_runs_draws_no_time_before_it_existed(node):
    session = a_session()
    for _ in range(5):  # the tool has watched br-provider for 4 intervals
        session.refresh()
    match = 'priority=5,in_port="phy-br-provider",dl_vlan=3'
    node.add(" cookie=0x5cba03097712b897, duration=0.5s, table=0, n_packets=0, n_bytes=0, "
             f"{match} actions=mod_vlan_vid:300,NORMAL")
    session.refresh()  # added: it existed for part of this interval, idle
    node.move(match, 3)
    r = session.refresh()
    added = next(f for f in r.model.flows["br-provider"].flows if "dl_vlan=3" in f.match)
    history = r.history[added.key]
    assert len(history) == 2  # its idle interval, then the move: not the 4 before it
    assert history[0] == 0.0 and history[-1] > 0
