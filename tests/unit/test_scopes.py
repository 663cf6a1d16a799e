"""Which flows a flows screen lists and in what order: every flow of the node,
bridge by bridge, table by table, the highest priority first (as OVS
matches them), or by packets or rate; a filter keeps flows holding every word."""

from __future__ import annotations

import random

from model.scopes import Scope, select_flows
from tests.fakes import PORT, seed_refresh


def no_rate(flow):
    return None


def test_all_flows_come_by_bridge_then_table_then_highest_priority_first():
    model = seed_refresh().model
    flows = select_flows(model, Scope("all"), "", "table", no_rate)
    assert len(flows) == sum(len(d.flows) for d in model.flows.values())
    assert flows == sorted(flows, key=lambda f: (f.bridge, f.table, -f.priority))


def test_flows_of_equal_rank_keep_the_order_ovs_listed_them_in():
    model = seed_refresh().model
    listed = list(model.all_flows())
    flows = select_flows(model, Scope("all"), "", "table", no_rate)
    rank = {id(f): n for n, f in enumerate(listed)}
    for a, b in zip(flows, flows[1:]):
        if (a.bridge, a.table, a.priority) == (b.bridge, b.table, b.priority):
            assert rank[id(a)] < rank[id(b)]


def test_sorting_by_packets_puts_the_busiest_first_and_by_rate_the_fastest():
    refresh = seed_refresh()
    model = refresh.model
    by_packets = select_flows(model, Scope("all"), "", "packets", no_rate)
    assert [f.n_packets for f in by_packets] == sorted((f.n_packets for f in by_packets),
                                                       reverse=True)
    rates = {id(f): random.Random(n).random() for n, f in enumerate(model.all_flows())}
    by_rate = select_flows(model, Scope("all"), "", "rate", lambda f: rates[id(f)])
    assert [rates[id(f)] for f in by_rate] == sorted(rates.values(), reverse=True)


def test_a_filter_keeps_flows_holding_every_word_and_the_sort_still_applies():
    model = seed_refresh().model
    flows = select_flows(model, Scope("all"), "table=82 reg5=0x3", "table", no_rate)
    assert flows and all(f.table == 82 and "reg5=0x3" in f.match for f in flows)
    assert select_flows(model, Scope("all"), "reg5=0x", "table", no_rate) == []  # a word ends
    assert flows == sorted(flows, key=lambda f: (f.bridge, f.table, -f.priority))


def test_the_flows_of_a_port_are_a_subset_in_the_same_order():
    model = seed_refresh().model
    everything = select_flows(model, Scope("all"), "", "table", no_rate)
    of_port = select_flows(model, Scope("port", PORT), "", "table", no_rate)
    assert 0 < len(of_port) < len(everything)
    assert of_port == [f for f in everything if f in set(of_port)]
