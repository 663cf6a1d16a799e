"""Whatever ovs-ofctl (or a broken pipe) prints, the parsers answer instead of
raising: a line is a flow or it is kept raw, a port name comes back exactly as
OVSDB holds it, and a counter is a number or unknown."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from collectors.openflow import (
    flow_detail,
    parse_dump,
    parse_dump_ports,
    parse_flow_line,
    parse_ofctl_show,
)
from model.records import Flow, FlowDetail, FlowDump

FIXTURES = Path(__file__).parent.parent / "fixtures"
REAL_LINES = [
    line
    for path in sorted((FIXTURES / "seed").glob("dump-flows-*.txt"))
    + sorted((FIXTURES / "openflow").glob("dump-flows-*.txt"))
    for line in path.read_text().splitlines()
    if "actions=" in line
]
PORTS_TEXT = (FIXTURES / "openflow" / "dump-ports-names-of14.txt").read_text()

# Port names as an operator (or a buggy tool) might create them in OVSDB.
odd_names = st.text(
    alphabet=st.sampled_from(list('ab-_:,;= ()[]{}"\\\'/#.') + ["ü", "名", "\t", "\u2028", "\x01"]),
    min_size=1,
    max_size=15,
)
# Fragments of real flow syntax, so the full parser's decoders get exercised.
flowish = st.lists(
    st.sampled_from([
        "load:", "->", "NXM_NX_REG5[", "NXM_OF_VLAN_TCI[", "OXM_OF_VLAN_VID[", "..", "]", "[]",
        "set_field:", "(", ")", ",", "=", ":", "0x", "1", "4196", "99", "ct(", "resubmit(",
        "learn(", "clone(", "output:", "in_port", "vlan_tci", "vlan_vid", "dl_vlan", "/", "reg5",
        "actions=", '"', "\\", " ", "table=", "mod_vlan_vid:", "push_vlan:", "goto_table:", "drop",
        "NORMAL", "exec(", "nat(", "dl_src=", "fa:16:3e:bc:78:a8", "nw_src=", "192.168.0.1",
        "conjunction(", "ü", "\t", "\r",
    ]),
    max_size=40,
).map("".join)
garbled = st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace"))


def printed(name: str) -> str:
    """A name the way ovs-ofctl --names prints it: double-quoted, JSON escapes."""
    return json.dumps(name, ensure_ascii=False)


@given(st.text(max_size=400))
@example("actions=")
@example(" cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, actions=")
@example(' cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, in_port="x actions=')
def test_any_text_is_a_flow_or_none(text):
    flow = parse_flow_line("br-int", text)
    assert flow is None or isinstance(flow, Flow)


@given(garbled)
def test_undecodable_bytes_read_with_replacement_are_a_flow_or_none(text):
    assert parse_flow_line("br-int", text) is None or "actions=" in text
    dump = parse_dump("br-int", text, 0.0)
    assert isinstance(dump, FlowDump)
    assert len(dump.flows) + len(dump.unparsed) <= len(text.split("\n"))


@given(st.sampled_from(REAL_LINES), st.data())
def test_a_real_line_cut_anywhere_is_refused_or_read_with_fewer_actions(line, data):
    whole = parse_flow_line("br-int", line)
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    flow = parse_flow_line("br-int", line[:cut])
    if flow is not None:
        assert flow.key == whole.key
        assert whole.actions.startswith(flow.actions)
        assert isinstance(flow_detail(flow), FlowDetail)


@given(st.sampled_from(REAL_LINES), st.integers(min_value=0, max_value=10**40))
def test_huge_counters_are_read_exactly_or_not_at_all(line, packets):
    original = parse_flow_line("br-int", line)
    line = line.replace(f"n_packets={original.n_packets},", f"n_packets={packets},")
    flow = parse_flow_line("br-int", line)
    if packets < 2**64:
        assert flow.n_packets == packets
    else:  # never wrapped or cut to a wrong number: exact, or kept raw by parse_dump
        assert flow is None or flow.n_packets == packets


@given(odd_names, odd_names, st.integers(min_value=0, max_value=65535))
def test_odd_port_names_come_back_exactly(in_name, out_name, priority):
    match = f"in_port={printed(in_name)},dl_vlan=100"
    actions = f"mod_vlan_vid:2,output:{printed(out_name)},resubmit(,59)"
    line = (" cookie=0xcd5d17f4f72cc4b6, duration=880.789s, table=0, n_packets=70,"
            f" n_bytes=8597, priority={priority},{match} actions={actions}")
    flow = parse_flow_line("br-int", line)
    assert (flow.priority, flow.match, flow.actions) == (priority, match, actions)
    detail = flow_detail(flow)
    assert detail.in_port == in_name
    assert detail.outputs == (out_name,)
    assert (detail.dl_vlan, detail.set_vlan, detail.resubmits) == (100, 2, (59,))


@settings(max_examples=300)
@given(st.text(max_size=200), st.text(max_size=200))
@example("in_port=", "output:")
@example('in_port="', 'output:"\\')
@example("reg5=0xffffffffffffffffff", "load:0x1->NXM_NX_REG5[99..0],set_field:->vlan_vid")
@example("vlan_tci=0x1064", "resubmit(,),goto_table:x,ct(table=),set_field:1->dl_vlan")
def test_the_full_parse_never_raises_on_any_match_and_actions(match, actions):
    detail = flow_detail(Flow("br-int", 0, 1, 0, match, actions, 0, 0, 0.0))
    assert isinstance(detail, FlowDetail)


@settings(max_examples=300)
@given(flowish, flowish)
@example("in_port=1\t", "drop")  # python-ovs 3.1 alone loops forever on this tab
@example("", "load:0x1->NXM_NX_REG5[99999999..0]")
def test_the_full_parse_never_raises_or_hangs_on_flow_like_text(match, actions):
    assert isinstance(flow_detail(Flow("br-int", 0, 1, 0, match, actions, 0, 0, 0.0)), FlowDetail)


@given(garbled, garbled)
def test_the_full_parse_never_raises_on_replacement_characters(match, actions):
    assert isinstance(flow_detail(Flow("br-int", 0, 1, 0, match, actions, 0, 0, 0.0)), FlowDetail)


@given(odd_names, st.integers(min_value=0, max_value=2**64 - 1), st.sampled_from(["0", "?"]))
def test_dump_ports_reads_odd_names_and_unknown_counters(name, packets, drop):
    text = (f"OFPST_PORT reply (xid=0x2): 1 ports\n"
            f"  port  {printed(name)}: rx pkts={packets}, bytes=0, drop={drop}, errs=?,"
            f" frame=?, over=?, crc=?\n"
            f"           tx pkts=0, bytes=0, drop=?, errs=?, coll=?\n")
    (port,) = parse_dump_ports("br-int", text)
    assert port.port == name
    assert port.rx_packets == packets
    assert port.rx_dropped == (None if drop == "?" else 0)


@given(st.one_of(st.text(max_size=400), garbled), st.data())
def test_dump_ports_and_show_never_raise(text, data):
    assert isinstance(parse_dump_ports("br-int", text), tuple)
    assert isinstance(parse_ofctl_show(text), dict)
    cut = data.draw(st.integers(min_value=0, max_value=len(PORTS_TEXT)))
    assert len(parse_dump_ports("br-x", PORTS_TEXT[:cut])) <= 8
