"""A node read from saved records goes through the same session as a live one:
the same joined picture, every source said to be "saved" with the time the
records were taken, and no rate, history or movement, since nothing was
measured over time. A source the records lack is an error saying so, and no
verdict is drawn from it."""

from __future__ import annotations

import dataclasses

from model.records import SourceState
from node.session import NodeSession
from node.sources import SavedSources
from tests.fakes import seed_observation

RECORDED_AT = 1713715200.0


def saved_session(**replace) -> NodeSession:
    records, _tables = seed_observation()
    return NodeSession(SavedSources(dataclasses.replace(records, **replace), RECORDED_AT),
                       hostname="compute01")


def test_saved_records_give_the_same_picture_with_every_source_saved_at_its_time():
    records, _tables = seed_observation()
    refresh = saved_session().refresh()
    assert [(s.source, s.status, s.last_ok) for s in refresh.model.sources] == [
        (s, "saved", RECORDED_AT) for s in ("ovsdb", "openflow", "libvirt", "netlink")]
    assert {b.name for b in refresh.model.bridges} == {"br-int", "br-provider"}
    assert [i.domain.nova_name for i in refresh.model.instances] == ["instance01"]
    assert refresh.model.flows.keys() == records.flows.keys()
    assert not refresh.flows_pending


def test_saved_counters_never_make_a_rate_however_often_they_are_refreshed():
    session = saved_session()
    session.refresh()
    session.request_mark()
    second = session.refresh()
    third = session.refresh()
    flows = list(third.model.all_flows())
    assert flows and all(third.rate(f) is None for f in flows)
    assert third.history == {}
    assert (third.link_rates, third.port_rates, third.vnic_rates) == ({}, {}, {})
    assert all(third.since_mark(f) == (0, 0) for f in flows)
    assert second.mark is not None


def test_a_source_missing_from_the_records_is_an_error_and_no_verdict_comes_from_it():
    refresh = saved_session(domains=None, vnic_stats=(), sources=()).refresh()
    libvirt = next(s for s in refresh.model.sources if s.source == "libvirt")
    assert (libvirt.status, libvirt.detail) == ("error", "not in the saved records")
    assert refresh.model.instances == ()
    assert refresh.model.problems == saved_session().refresh().model.problems


def test_a_state_the_reader_gave_for_a_source_it_could_not_read_is_kept():
    why = SourceState("netlink", "error", "ip -d link show: not in this sosreport")
    refresh = saved_session(links=None, sources=(why,)).refresh()
    assert why in refresh.model.sources


def test_a_saved_flow_is_parsed_in_full_once():
    session = saved_session()
    flow = next(iter(session.refresh().model.all_flows()))
    assert session.detail_of(flow) is session.detail_of(flow)
