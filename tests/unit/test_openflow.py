"""What the operator relies on from the OpenFlow collector: every flow line of
a real dump is read (or shown raw), VLAN translation is decoded whatever
OpenFlow version printed it, counters turn into honest rates, and ovs-ofctl
failures come back as a sentence saying what to do."""

from __future__ import annotations

import asyncio
from dataclasses import replace
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from ovs.flow.ofp import OFPFlow

from model import neutron
from collectors.openflow import (
    DEFAULT_PRIORITY,
    FlowStats,
    FlowTable,
    dump_flows,
    dump_ports,
    flow_detail,
    flow_stats,
    parse_dump,
    parse_dump_ports,
    parse_flow_line,
    parse_ofctl_show,
    refresh_table,
)
from collectors.openflow.lines import DumpReader
from model.records import Flow, FlowDump

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED = FIXTURES / "seed"
REAL = FIXTURES / "openflow"  # captured from ovs-vswitchd 3.1 with odd port names


def seed_lines(bridge: str) -> list[str]:
    return [line for line in (SEED / f"dump-flows-{bridge}.txt").read_text().splitlines() if line]


def flow_with(flows, **fields) -> Flow:
    """The one flow whose match/actions contain the given fragments."""
    found = [
        f for f in flows
        if all(fragment in getattr(f, name) for name, fragment in fields.items())
    ]
    assert len(found) == 1, f"expected one flow with {fields}, got {found}"
    return found[0]


# --------------------------------------------------------------------------
# Reading dump-flows lines


@pytest.mark.parametrize("bridge", ["br-int", "br-provider"])
def test_every_seed_flow_line_reads_with_the_counters_python_ovs_reads(bridge):
    for line in seed_lines(bridge):
        flow = parse_flow_line(bridge, line)
        assert flow is not None, line
        reference = OFPFlow(line.strip())  # the slow, complete parser as the oracle
        assert flow.bridge == bridge
        assert flow.table == reference.info["table"]
        assert flow.cookie == reference.info["cookie"]
        assert flow.n_packets == reference.info["n_packets"]
        assert flow.n_bytes == reference.info["n_bytes"]
        assert flow.duration == reference.info["duration"]
        assert flow.priority == reference.match.get("priority", DEFAULT_PRIORITY)
        assert flow.actions == reference.section("actions").string
        assert "priority=" not in flow.match
        assert line.rstrip().endswith(f"{flow.match} actions={flow.actions}".lstrip())


def test_the_seed_translation_flow_on_br_int_reads_field_by_field():
    flow = parse_flow_line("br-int", seed_lines("br-int")[0])
    assert flow == Flow(
        bridge="br-int", table=0, priority=3, cookie=0xCD5D17F4F72CC4B6,
        match='in_port="int-br-provider",dl_vlan=100', actions="mod_vlan_vid:2,resubmit(,59)",
        n_packets=70, n_bytes=8597, duration=880.789,
    )
    assert flow.key == ("br-int", 0, 3, 'in_port="int-br-provider",dl_vlan=100', 0xCD5D17F4F72CC4B6)


def test_a_flow_without_priority_has_openflows_default_priority():
    line = " cookie=0x0, duration=1.5s, table=3, n_packets=0, n_bytes=0, in_port=1,dl_vlan=100 actions=drop"
    flow = parse_flow_line("br-int", line)
    assert flow.priority == 32768
    assert flow.match == "in_port=1,dl_vlan=100"


def test_a_flow_matching_everything_has_an_empty_match():
    stats = " cookie=0x0, duration=2.0s, table=6, n_packets=5, n_bytes=7, "
    flow = parse_flow_line("br-x", stats + "actions=NORMAL")
    assert (flow.match, flow.actions, flow.priority, flow.n_packets) == ("", "NORMAL", 32768, 5)
    flow = parse_flow_line("br-x", stats + "priority=0 actions=NORMAL")
    assert (flow.match, flow.priority) == ("", 0)


def test_timeouts_ages_importance_and_flow_flags_are_not_part_of_the_match():
    # Real OVS 3.1 output: OpenFlow 1.4 prints "idle_timeout=300, hard_timeout=600,
    # send_flow_rem check_overlap reset_counts importance=5, priority=3 actions=drop".
    dump = parse_dump("br-x", (REAL / "dump-flows-names-of14.txt").read_text(), 0.0)
    assert dump.unparsed == ()
    table5 = sorted((f.priority, f.match) for f in dump.flows if f.table == 5)
    assert table5 == [(3, ""), (4, "ip"), (32768, "ip")]
    # --no-names output adds "idle_age=N, " and the NXST_FLOW header.
    no_names = parse_dump("br-x", (REAL / "dump-flows-no-names.txt").read_text(), 0.0)
    assert no_names.unparsed == () and len(no_names.flows) == 16
    flow = flow_with(no_names.flows, match="in_port=6")
    assert (flow.table, flow.priority, flow.actions) == (7, 11, "output:5,output:10")


def test_the_same_flows_dumped_in_openflow_1_0_and_1_4_have_the_same_keys():
    of10 = parse_dump("br-x", (REAL / "dump-flows-names-of10.txt").read_text(), 0.0)
    of14 = parse_dump("br-x", (REAL / "dump-flows-names-of14.txt").read_text(), 0.0)
    # Matches are printed alike; only the flags and the VLAN actions differ.
    assert {f.key for f in of10.flows} == {f.key for f in of14.flows}


def test_quoted_port_names_with_commas_spaces_quotes_and_unicode_stay_in_the_match():
    dump = parse_dump("br-x", (REAL / "dump-flows-names-of10.txt").read_text(), 0.0)
    assert dump.unparsed == ()
    comma = flow_with(dump.flows, match='"a b,c"')
    assert comma.match == 'in_port="a b,c"'
    assert comma.actions == 'output:"q\\"x"'
    assert flow_with(dump.flows, match='"q\\"x"').actions == 'output:"a b,c",output:"b\\\\q"'
    assert flow_with(dump.flows, match="p:1").actions == 'output:"actions=x"'
    assert flow_with(dump.flows, actions="drop", match="ü").match == 'in_port="ü(x)=y"'


def test_a_port_name_holding_actions_and_spaces_does_not_split_the_flow():
    line = (' cookie=0x1, duration=1.000s, table=0, n_packets=1, n_bytes=2, '
            'priority=5,in_port="x actions=y" actions=output:"p q"')
    flow = parse_flow_line("br", line)
    assert (flow.priority, flow.match, flow.actions) == (5, 'in_port="x actions=y"', 'output:"p q"')


def test_flow_reply_headers_are_skipped_and_are_not_errors():
    text = "NXST_FLOW reply (xid=0x4):\n" + "\n".join(seed_lines("br-provider"))
    text += "\nOFPST_FLOW reply (OF1.3) (xid=0x2):\n"
    dump = parse_dump("br-provider", text, 12.5)
    assert len(dump.flows) == 4
    assert dump.unparsed == ()
    assert dump.taken_at == 12.5


def test_a_line_that_is_not_a_flow_is_kept_raw_never_dropped():
    garbage = " cookie=0x1, duration=1s, table=0, n_packets=x, n_bytes=0, actions=drop"
    text = "\n".join([seed_lines("br-provider")[0], garbage, "ovs-ofctl: something odd", ""])
    dump = parse_dump("br-provider", text, 0.0)
    assert len(dump.flows) == 1
    assert dump.unparsed == (garbage, "ovs-ofctl: something odd")
    assert parse_flow_line("br-provider", garbage) is None


def test_a_truncated_line_is_not_a_flow():
    line = seed_lines("br-int")[0]
    assert parse_flow_line("br-int", line[: line.index(" actions=")]) is None
    assert parse_flow_line("br-int", line[:40]) is None


# --------------------------------------------------------------------------
# The full parse


def test_provider_bridge_translation_decodes_to_set_vlan_100_and_normal():
    flows = parse_dump("br-provider", "\n".join(seed_lines("br-provider")), 0.0).flows
    detail = flow_detail(flow_with(flows, match="dl_vlan=2"))
    assert (detail.in_port, detail.dl_vlan, detail.set_vlan) == ("phy-br-provider", 2, 100)
    assert detail.normal and not detail.partial


def test_integration_bridge_translation_decodes_to_set_vlan_2_then_table_59():
    flows = parse_dump("br-int", "\n".join(seed_lines("br-int")), 0.0).flows
    detail = flow_detail(flow_with(flows, match="int-br-provider"))
    assert (detail.in_port, detail.dl_vlan, detail.set_vlan) == ("int-br-provider", 100, 2)
    assert detail.resubmits == (59,)


def test_flat_network_egress_decodes_to_strip_vlan():
    flows = parse_dump("br-provider", "\n".join(seed_lines("br-provider")), 0.0).flows
    detail = flow_detail(flow_with(flows, match="dl_vlan=1"))
    assert detail.strip_vlan and detail.set_vlan is None and detail.normal


def test_openflow13_set_field_vlan_vid_decodes_without_the_present_bit():
    dump = parse_dump("br-x", (REAL / "dump-flows-names-of14.txt").read_text(), 0.0)
    flat = flow_detail(flow_with(dump.flows, match="vlan_tci=0x0000/0x1fff"))
    assert flat.untagged and flat.push_vlan and flat.set_vlan == 100  # set_field:4196->vlan_vid
    assert flat.resubmits == (60,)  # goto_table:60
    to_local = flow_with(dump.flows, actions="set_field:4098->vlan_vid")
    assert flow_detail(to_local).set_vlan == 2


def test_set_field_in_hex_and_into_a_register_decode_too():
    flow = Flow("br-int", 0, 3, 0, "in_port=1,dl_vlan=5",
                "set_field:0x1064->vlan_vid,set_field:0x3->reg5,pop_vlan,output:in_port,goto_table:60",
                0, 0, 1.0)
    detail = flow_detail(flow)
    assert detail.set_vlan == 100
    assert dict(detail.loads) == {"reg5": 3}
    assert detail.strip_vlan
    assert detail.outputs == ("IN_PORT",)
    assert detail.resubmits == (60,)


def test_firewall_flows_decode_their_registers_and_the_vif_output():
    flows = parse_dump("br-int", "\n".join(seed_lines("br-int")), 0.0).flows
    transient = flow_detail(flow_with(flows, match='in_port="tap2d1670a4-8e"', actions="resubmit(,71)"))
    assert dict(transient.loads) == {"reg5": 3, "reg6": 2}
    ingress = flow_detail(flow_with(flows, match="ct_state=+est-rel+rpl,ct_zone=2"))
    assert dict(ingress.regs) == {"reg5": 3}
    assert ingress.outputs == ("tap2d1670a4-8e",)
    egress = flow_detail(flow_with(flows, match="ip,reg5=0x3,in_port"))
    assert egress.resubmits == (72,)  # ct(table=72,...) carries on in table 72
    assert egress.dl_src == "fa:16:3e:bc:78:a8"
    masked = flow_detail(Flow("br-int", 4, 3, 0, "reg5=0x3,reg6=0x2/0xff", "drop", 0, 0, 1.0))
    assert dict(masked.regs) == {"reg5": 3, "reg6": 2}


def test_explicit_drop_and_empty_actions_both_mean_drop():
    flows = parse_dump("br-provider", "\n".join(seed_lines("br-provider")), 0.0).flows
    assert flow_detail(flow_with(flows, actions="drop")).drop
    assert flow_detail(Flow("br-x", 0, 1, 0, "", "", 0, 0, 1.0)).drop
    assert not flow_detail(flow_with(flows, match="dl_vlan=2")).drop


def test_port_names_come_back_unquoted_in_the_detail():
    dump = parse_dump("br-x", (REAL / "dump-flows-names-of10.txt").read_text(), 0.0)
    detail = flow_detail(flow_with(dump.flows, match='"q\\"x"'))
    assert detail.in_port == 'q"x'
    assert detail.outputs == ("a b,c", "b\\q")
    assert flow_detail(flow_with(dump.flows, match="p:1")).outputs == ("actions=x",)
    numbers = parse_dump("br-x", (REAL / "dump-flows-no-names.txt").read_text(), 0.0)
    detail = flow_detail(flow_with(numbers.flows, match="in_port=6"))
    assert (detail.in_port, detail.outputs) == ("6", ("5", "10"))


def test_a_flow_python_ovs_refuses_still_gives_its_vlan_basics_marked_partial():
    # python-ovs has no decoder for this (made-up) match field.
    flow = Flow("br-provider", 0, 4, 0, 'in_port="phy-br-provider",dl_vlan=2,future_field=7',
                "mod_vlan_vid:100,output:\"eth0\",resubmit(,3),NORMAL", 0, 0, 1.0)
    with pytest.raises(Exception):
        OFPFlow(f"table=0 priority=4,{flow.match} actions={flow.actions}")
    detail = flow_detail(flow)
    assert detail.partial
    assert (detail.in_port, detail.dl_vlan, detail.set_vlan) == ("phy-br-provider", 2, 100)
    assert detail.outputs == ("eth0",) and detail.resubmits == (3,) and detail.normal


# --------------------------------------------------------------------------
# Counters across refreshes


def dump_of(bridge: str, lines: list[str], taken_at: float) -> FlowDump:
    return parse_dump(bridge, "\n".join(lines), taken_at)


def with_counters(line: str, packets: int, nbytes: int, duration: float | None = None) -> str:
    flow = parse_flow_line("x", line)
    line = line.replace(f"n_packets={flow.n_packets},", f"n_packets={packets},")
    line = line.replace(f"n_bytes={flow.n_bytes},", f"n_bytes={nbytes},")
    if duration is not None:
        line = line.replace(f"duration={flow.duration:.3f}s", f"duration={duration:.3f}s")
    return line


def test_counters_that_moved_give_packet_and_byte_deltas_and_rates():
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    first = table.update(dump_of("br-provider", lines, 100.0))
    assert first.interval == 0.0 and len(first.new) == 4 and not first.moved
    vlan2 = parse_flow_line("br-provider", lines[1])  # dl_vlan=2 -> mod_vlan_vid:100: 124 pkts
    later = list(lines)
    later[1] = with_counters(lines[1], 124 + 6, 10704 + 600, duration=vlan2.duration + 2)
    delta = table.update(dump_of("br-provider", later, 102.0))
    assert delta.interval == 2.0
    assert not delta.new and not delta.gone and not delta.reset
    assert dict(delta.moved) == {vlan2.key: (6, 600)}
    assert delta.rate(vlan2.key) == (3.0, 300.0)
    idle = parse_flow_line("br-provider", lines[2]).key
    assert delta.rate(idle) == (0.0, 0.0)


def test_a_re_added_flow_counts_from_zero_instead_of_going_negative():
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    table.update(dump_of("br-provider", lines, 100.0))
    readded = list(lines)
    readded[1] = with_counters(lines[1], 4, 400, duration=1.5)  # was 124 pkts, 832 s
    delta = table.update(dump_of("br-provider", readded, 102.0))
    key = parse_flow_line("br-provider", lines[1]).key
    assert key in delta.reset
    assert delta.moved[key] == (4, 400)
    assert delta.rate(key) == (2.0, 200.0)


def test_a_re_added_flow_is_recognised_by_its_duration_even_when_counters_grew():
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    table.update(dump_of("br-provider", lines, 100.0))
    readded = list(lines)
    readded[1] = with_counters(lines[1], 130, 11000, duration=1.0)  # was 124 pkts, 832 s
    delta = table.update(dump_of("br-provider", readded, 102.0))
    key = parse_flow_line("br-provider", lines[1]).key
    assert key in delta.reset
    assert delta.moved[key] == (130, 11000)  # not 130 - 124


def test_new_and_gone_flows_are_reported_and_have_no_rate():
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    table.update(dump_of("br-provider", lines[:3], 100.0))
    delta = table.update(dump_of("br-provider", lines[1:], 101.0))
    first, last = (parse_flow_line("br-provider", lines[i]).key for i in (0, 3))
    assert delta.new == {last} and delta.gone == {first}
    assert delta.rate(last) is None and delta.rate(first) is None


def test_flows_are_parsed_fully_only_when_asked_once_and_forgotten_when_gone(monkeypatch):
    from collectors.openflow import table as table_module

    parsed = []

    def counting(flow):
        parsed.append(flow.key)
        return flow_detail(flow)

    monkeypatch.setattr(table_module, "flow_detail", counting)
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update(dump_of("br-int", lines, 1.0))
    assert parsed == []  # a refresh only splits counters
    for flow in table.dump.flows:
        table.detail_of(flow)
        table.detail_of(flow)
    assert len(parsed) == len(lines)  # each once, however often asked
    table.update(dump_of("br-int", [with_counters(line, 999, 9999) for line in lines], 2.0))
    for key in list(table.keys()):
        table.detail(key)
    assert len(parsed) == len(lines)  # counters moved, nothing re-parsed
    gone = parse_flow_line("br-int", lines[0])
    table.update(dump_of("br-int", lines[1:], 3.0))
    assert table.detail(gone.key) is None
    assert gone.key not in table.details() and gone.key not in table.keys()
    assert len(parsed) == len(lines)
    kept = parse_flow_line("br-int", lines[1])
    assert table.detail(kept.key).loads["reg5"] == 3
    assert table.detail_of(kept) is table.detail(kept.key)
    assert table.detail_of(gone).set_vlan == 2  # parsed on demand
    assert table.detail(gone.key) is None


def test_parses_asked_for_flows_of_another_dump_do_not_pile_up():
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update(dump_of("br-int", lines[:5], 1.0))
    for line in lines[5:]:
        assert table.detail_of(parse_flow_line("br-int", line)) is not None
    table.update(dump_of("br-int", lines[:5], 2.0))
    assert len(table.details()) <= 5


def test_a_failed_dump_does_not_make_every_flow_look_gone():
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    table.update(dump_of("br-provider", lines, 1.0))
    delta = table.update(FlowDump("br-provider", (), 2.0, error="ovs-ofctl failed"))
    assert not delta.gone and not delta.new
    assert len(table.dump.flows) == 4
    assert table.update(dump_of("br-provider", lines, 3.0)).interval == 2.0


# --------------------------------------------------------------------------
# A refresh reads only the lines that changed


def aged(lines: list[str], seconds: float) -> list[str]:
    """The same lines a while later: only their durations grew."""
    return [re.sub(r"duration=([0-9.]+)s",
                   lambda m: f"duration={float(m.group(1)) + seconds:.3f}s", line)
            for line in lines]


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Every line FlowTable reads in full."""
    from collectors.openflow import table as table_module

    seen: list[str] = []

    def counting(bridge, line, seen_at=None, repeated=None):
        seen.append(line)
        return parse_flow_line(bridge, line, seen_at, repeated)

    monkeypatch.setattr(table_module, "parse_flow_line", counting)
    return seen


def test_a_dump_where_only_durations_grew_reads_no_line_and_keeps_every_flow(reads):
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    first = table.dump.flows
    reads.clear()
    delta = table.update_text("\n".join(aged(lines, 2)), 102.0)
    assert reads == []
    assert all(a is b for a, b in zip(table.dump.flows, first)) and len(first) == len(lines)
    assert (delta.interval, delta.new, delta.gone, dict(delta.moved)) == (2.0, set(), set(), {})


@pytest.mark.parametrize("field", ["actions", "cookie"])
def test_flows_with_the_same_actions_or_cookie_share_one_copy_of_it(field):
    """A firewall's flows repeat a few actions and cookies: 200k flows hold ~2k
    different actions texts and a few cookies."""
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    copies: dict[object, set[int]] = {}
    for flow in table.dump.flows:
        copies.setdefault(getattr(flow, field), set()).add(id(getattr(flow, field)))
    assert len(table.dump.flows) > len(copies)  # some flows share it
    assert all(len(ids) == 1 for ids in copies.values())
    moved = list(lines)
    moved[0] = with_counters(moved[0], 7, 700)
    table.update_text("\n".join(moved), 101.0)
    value = getattr(table.dump.flows[0], field)
    assert id(value) in copies[value]


def test_a_dump_read_in_runs_of_lines_as_printed_is_the_dump_read_at_once():
    """ovs-ofctl's output is read while it is printed: any cut between lines gives
    the same flows, and the same delta from the dump before."""
    lines = seed_lines("br-int")
    whole, pieces = FlowTable("br-int"), FlowTable("br-int")
    for table in (whole, pieces):
        table.update_text("\n".join(lines[:20] + lines[21:]), 100.0)
    later = aged(lines[:30] + lines[31:], 1)
    later[5] = with_counters(later[5], 7, 700)
    expected = whole.update_text("\n".join(later) + "\n", 101.0)
    reader = pieces.text_reader(101.0)
    assert pieces.dump.taken_at == 100.0  # nothing taken before finish
    for start in range(0, len(later), 7):
        reader.feed("".join(line + "\n" for line in later[start:start + 7]))
    delta = reader.finish()
    assert pieces.dump == whole.dump and delta == expected and delta.new and delta.gone


def test_a_dump_read_once_in_runs_of_lines_is_the_dump_a_flow_table_reads():
    """A reading no refresh follows (snapshot) reads the dump its own way, in runs of
    lines as printed: the same flows, counters and raw lines as a FlowTable reads."""
    lines = seed_lines("br-int") + (REAL / "dump-flows-names-of14.txt").read_text().splitlines()
    lines.insert(3, "this line is not a flow\r")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    reader = DumpReader("br-int", 100.0)
    for start in range(0, len(lines), 5):
        reader.feed("".join(line + "\n" for line in lines[start:start + 5]))
    once = reader.finish()
    assert once == table.dump == parse_dump("br-int", "\n".join(lines), 100.0)
    assert once.unparsed == ("this line is not a flow",)
    assert FlowTable("br-int").update(once) == FlowTable("br-int").update_text(
        "\n".join(lines), 100.0)


def test_a_kept_flow_still_tells_its_age_now():
    line = seed_lines("br-int")[0]  # duration=880.789s
    table = FlowTable("br-int")
    table.update_text(line, 100.0)
    table.update_text(aged([line], 5)[0], 105.0)
    flow = table.dump.flows[0]
    assert flow.duration == 880.789  # as read at 100.0, when the line last changed
    assert flow.age(105.0) == pytest.approx(885.789)


def test_only_the_line_whose_counters_moved_is_read(reads):
    lines = seed_lines("br-provider")
    table = FlowTable("br-provider")
    table.update_text("\n".join(lines), 100.0)
    vlan2 = parse_flow_line("br-provider", lines[1])
    later = aged(lines, 2)
    later[1] = with_counters(later[1], 124 + 6, 10704 + 600)
    reads.clear()
    delta = table.update_text("\n".join(later), 102.0)
    assert reads == [later[1]]
    assert dict(delta.moved) == {vlan2.key: (6, 600)} and delta.rate(vlan2.key) == (3.0, 300.0)
    assert table.dump.flows[1].n_packets == 130


def test_an_added_and_a_deleted_flow_are_new_and_gone_and_nothing_else_is_read(reads):
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines[:20] + lines[21:]), 100.0)
    added, deleted = parse_flow_line("br-int", lines[20]), parse_flow_line("br-int", lines[30])
    reads.clear()
    delta = table.update_text("\n".join(aged(lines[:30] + lines[31:], 1)), 101.0)
    assert len(reads) <= 3  # the added line, and the line after the deleted one
    assert delta.new == {added.key} and delta.gone == {deleted.key} and not delta.moved
    assert [f.key for f in table.dump.flows] == [
        parse_flow_line("br-int", line).key for line in lines[:30] + lines[31:]]
    assert table.detail(deleted.key) is None


def test_flows_listed_in_another_order_are_the_same_flows():
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    delta = table.update_text("\n".join(aged(lines[::-1], 1)), 101.0)
    assert not delta.new and not delta.gone and not delta.moved
    assert sorted(f.key for f in table.dump.flows) == sorted(
        parse_flow_line("br-int", line).key for line in lines)


def test_a_dump_keeps_its_layout_while_only_counters_move_and_takes_a_new_one_else():
    """What the flows screen derived from the flows' identities and order (tui/choices.py)
    is kept exactly while the layout is the same: a flow added, deleted, moved or
    given other actions is another layout."""
    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    first = table.dump.layout
    assert first is not None
    later = aged(lines, 1)
    later[3] = with_counters(later[3], 999, 99999)
    table.update_text("\n".join(later), 101.0)
    assert table.dump.layout is first  # durations and counters only
    table.update(replace(table.dump))  # the same flows read whole
    assert table.dump.layout is first
    for changed in (later[:20] + later[21:],  # deleted
                    later[:5] + [later[6], later[5]] + later[7:],  # two swapped
                    later[:8] + [later[8].replace("actions=", "actions=drop,", 1)
                                 if "actions=" in later[8] else later[8]] + later[9:]):
        table = FlowTable("br-int")
        table.update_text("\n".join(later), 100.0)
        before = table.dump.layout
        table.update_text("\n".join(aged(changed, 1)), 101.0)
        assert table.dump.layout is not before


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8])
def test_reading_text_and_reading_it_whole_say_the_same_after_any_changes(seed):
    """Random counters, deletions, additions and reorderings over 40 dumps: the
    line-by-line shortcut gives the flows and deltas of a full parse."""
    import random

    pool = seed_lines("br-int") + seed_lines("br-provider")
    pool = [line for line in pool if parse_flow_line("br-int", line) is not None]
    rng = random.Random(seed)
    fast, whole = FlowTable("br-int"), FlowTable("br-int")
    current = rng.sample(pool, 30)
    for step in range(40):
        if step:
            current = [with_counters(line, f.n_packets + rng.choice([0, 0, 1, 7]),
                                     f.n_bytes + rng.choice([0, 60]))
                       for line in current for f in [parse_flow_line("x", line)]]
            if rng.random() < 0.3:
                current.pop(rng.randrange(len(current)))
            if rng.random() < 0.3:  # a flow not in the table (a dump lists each flow once)
                keys = {parse_flow_line("x", line).key for line in current}
                extra = [line for line in pool if parse_flow_line("x", line).key not in keys]
                current.insert(rng.randrange(len(current) + 1), rng.choice(extra))
            if rng.random() < 0.2:
                rng.shuffle(current)
        text = "NXST_FLOW reply (xid=0x4):\n" + "\n".join(aged(current, step)) + "\n"
        got = fast.update_text(text, 100.0 + step)
        want = whole.update(parse_dump("br-int", text, 100.0 + step))
        assert [(f.key, f.n_packets, f.n_bytes) for f in fast.dump.flows] == \
            [(f.key, f.n_packets, f.n_bytes) for f in whole.dump.flows]
        assert (got.new, got.gone, dict(got.moved)) == (want.new, want.gone, dict(want.moved))
        assert fast.keys() == whole.keys()


# --------------------------------------------------------------------------
# dump-ports and show


def test_dump_ports_reads_names_local_and_unknown_counters():
    ports = {p.port: p for p in parse_dump_ports("br-x", (REAL / "dump-ports-names.txt").read_text())}
    assert set(ports) == {"LOCAL", "p:1", "b\\q", "a b,c", "actions=x", 'q"x', "ü(x)=y", "int-br-provider"}
    local = ports["LOCAL"]
    assert (local.rx_packets, local.rx_dropped, local.tx_errors) == (0, 0, 0)
    patch = ports["a b,c"]
    assert (patch.rx_packets, patch.tx_bytes) == (0, 0)
    assert patch.rx_dropped is None and patch.tx_errors is None  # printed as "?"
    assert all(p.bridge == "br-x" for p in ports.values())


def test_dump_ports_reads_the_openflow14_layout_and_port_numbers():
    of14 = parse_dump_ports("br-x", (REAL / "dump-ports-names-of14.txt").read_text())
    assert len(of14) == 8
    numbered = parse_dump_ports("br-x", (REAL / "dump-ports-no-names.txt").read_text())
    assert {p.port for p in numbered} == {"LOCAL", "1", "5", "6", "7", "8", "9", "10"}


def test_dump_ports_with_traffic_keeps_each_counter_in_its_place():
    text = ("OFPST_PORT reply (xid=0x2): 1 ports\n"
            '  port  "tap2d1670a4-8e": rx pkts=129, bytes=11142, drop=1, errs=2, frame=0, over=0, crc=0\n'
            "           tx pkts=70, bytes=8597, drop=3, errs=4, coll=0\n")
    (port,) = parse_dump_ports("br-int", text)
    assert (port.port, port.rx_packets, port.rx_bytes, port.rx_dropped, port.rx_errors) == (
        "tap2d1670a4-8e", 129, 11142, 1, 2)
    assert (port.tx_packets, port.tx_bytes, port.tx_dropped, port.tx_errors) == (70, 8597, 3, 4)


def test_ofctl_show_maps_port_numbers_to_names():
    assert parse_ofctl_show((SEED / "ovs-ofctl-show-br-int.txt").read_text()) == {
        1: "int-br-provider", 2: "tap60ad2c85-f3", 3: "tap2d1670a4-8e", "LOCAL": "br-int"}
    assert parse_ofctl_show((SEED / "ovs-ofctl-show-br-provider.txt").read_text()) == {
        1: "eth0", 2: "phy-br-provider", "LOCAL": "br-provider"}
    odd = parse_ofctl_show((REAL / "ovs-ofctl-show-odd-names.txt").read_text())
    assert odd[5] == "a b,c" and odd[6] == 'q"x' and odd[10] == "b\\q"
    assert 7 not in odd  # OVS 3.1 prints "7()" for the non-ASCII name


# --------------------------------------------------------------------------
# Neutron's names for tables and registers


def test_seed_tables_have_the_agents_names():
    assert neutron.table_name("int", 0) == "local switching"
    assert neutron.table_name("int", 60) == "transient"
    assert neutron.table_name("int", 82) == "rules ingress"
    assert neutron.table_name("int", 94) == "accepted egress normal"
    assert neutron.table_name("phys", 2) == "local VLAN translation"
    assert neutron.table_name("phys", 60) == ""
    assert neutron.table_name("int", 200) == ""


def test_registers_are_described_in_order_with_their_meaning():
    assert neutron.describe_registers({"reg6": 2, "reg5": 3, "reg0": 16}) == (
        "reg0=0x10, reg5=3 (VIF ofport), reg6=2 (network / conntrack zone)")
    assert neutron.describe_registers({}) == ""


# --------------------------------------------------------------------------
# Running ovs-ofctl


def fake_ofctl(directory: Path, script: str) -> None:
    """An ovs-ofctl on PATH that behaves badly on purpose."""
    path = directory / "ovs-ofctl"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


async def test_missing_ovs_ofctl_becomes_an_error_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    dump = await dump_flows("br-int")
    assert dump.flows == () and "install Open vSwitch" in dump.error
    assert "install Open vSwitch" in await dump_ports("br-int")


async def test_a_failing_ovs_ofctl_gives_its_reason_and_the_run_directory(monkeypatch, tmp_path):
    fake_ofctl(tmp_path, 'echo "ovs-ofctl: $5 is not a bridge or a socket" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    dump = await dump_flows("br-int", rundir="/run/elsewhere")
    assert "br-int is not a bridge or a socket" in dump.error
    assert "/run/elsewhere" in dump.error


async def test_ovs_ofctl_gets_a_read_only_argument_list_and_the_rundir(monkeypatch, tmp_path):
    fake_ofctl(tmp_path, 'echo "$@" > "$OVS_RUNDIR/args"\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    dump = await dump_flows('br "odd"; rm -rf /', rundir=str(tmp_path))
    assert dump.error is None
    assert (tmp_path / "args").read_text() == '--read-only --names -- dump-flows br "odd"; rm -rf /\n'


async def test_a_dump_is_handed_over_in_whole_lines_while_ovs_ofctl_prints_it(
        monkeypatch, tmp_path):
    from collectors.openflow import ofctl

    lines = seed_lines("br-int")
    (tmp_path / "dump").write_text("\n".join(lines) + "\n")
    # half the dump, a line cut in two, a pause, then the rest
    cut = len("\n".join(lines[:10])) + 20
    fake_ofctl(tmp_path, f'/usr/bin/head -c {cut} {tmp_path}/dump; /bin/sleep 0.3; '
                         f'/usr/bin/tail -c +{cut + 1} '
                         f'{tmp_path}/dump\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    runs: list[str] = []
    raw = await ofctl.dump_flows_text("br-int", on_output=runs.append)
    assert raw.error is None and raw.text == ""
    assert len(runs) >= 2 and all(run.endswith("\n") for run in runs)
    assert runs[0] == "".join(line + "\n" for line in lines[:10])
    assert "".join(runs) == "\n".join(lines) + "\n"


async def test_a_large_dump_is_handed_over_in_bounded_runs_of_whole_lines(monkeypatch, tmp_path):
    """A big dump is never held whole twice (its bytes and its text): it goes in
    runs of at most READ_RUN bytes, a line longer than that in one piece."""
    from collectors.openflow import ofctl

    monkeypatch.setattr(ofctl, "READ_RUN", 4096)
    lines = seed_lines("br-int") * 20
    lines.insert(7, lines[7].replace("actions=", "actions=" + "note:00," * 1200))  # 9.6 kB
    text = "\n".join(lines)  # its last line without a newline, as a printer may end
    (tmp_path / "dump").write_text(text)
    fake_ofctl(tmp_path, f'/bin/cat {tmp_path}/dump\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    runs: list[str] = []
    raw = await ofctl.dump_flows_text("br-int", on_output=runs.append)
    assert raw.error is None and "".join(runs) == text
    assert all(run.endswith("\n") for run in runs[:-1])
    assert len(runs) > len(text) // 4096
    assert all(len(run) <= 4096 for run in runs if lines[7] not in run)
    (long_run,) = [run for run in runs if lines[7] in run]
    assert len(long_run) <= 2 * len(lines[7])


@pytest.mark.parametrize("streamed", [False, True], ids=["read-at-end", "read-while-printed"])
async def test_a_hung_ovs_ofctl_is_killed_at_the_timeout(monkeypatch, tmp_path, streamed):
    from collectors.openflow import ofctl

    fake_ofctl(tmp_path, f'echo $$ > {tmp_path}/pid\nexec /bin/sleep 30\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    started = time.monotonic()
    if streamed:
        dump = await ofctl.dump_flows_text("br-int", timeout=0.5, on_output=[].append)
    else:
        dump = await dump_flows("br-int", timeout=0.5)
    assert time.monotonic() - started < 5
    assert "no answer within 0.5 s" in dump.error
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --------------------------------------------------------------------------
# Against a real ovs-vswitchd


def lab_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a network namespace for ovs-vswitchd)"
    for binary in ("ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    return None


ODD_NAME = 'a "b", ü'  # a quote, a comma, a space and unicode
VLAN100_PACKET = (  # broadcast, tagged VLAN 100, IPv4 ICMP
    "fffffffffffffa163ebc78a88100006408004500001c0001000040010000"
    "c0a86401c0a8641e0800f7ff00000000"
)


class Switch:
    """One netdev bridge in ovs-vswitchd inside a private network namespace."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ovsvlan-of-"))
        self.netns = f"ovsvlan-of-{os.getpid()}"
        self.db = f"unix:{self.dir}/db.sock"
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_DBDIR": str(self.dir),
                    "OVS_LOGDIR": str(self.dir)}

    def run(self, *args: str) -> str:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def in_netns(self, *args: str) -> str:
        return self.run("ip", "netns", "exec", self.netns, *args)

    def start(self) -> None:
        d = self.dir
        self.run("ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
        self.run("ip", "netns", "add", self.netns)
        self.in_netns("ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
                      f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
                      f"--log-file={d}/ovsdb-server.log", "--no-chdir", "--detach")
        self.run("ovs-vsctl", f"--db={self.db}", "--no-wait", "init")
        self.in_netns("ovs-vswitchd", self.db, "--disable-system",
                      f"--pidfile={d}/ovs-vswitchd.pid", f"--unixctl={d}/ovs-vswitchd.ctl",
                      f"--log-file={d}/ovs-vswitchd.log", "--no-chdir", "--detach")
        # Two patch ports peered to each other: no kernel device, any name.
        self.run("ovs-vsctl", f"--db={self.db}", "--timeout=20",
                 "add-br", "br-lab", "--", "set", "bridge", "br-lab", "datapath_type=netdev",
                 "--", "add-port", "br-lab", "int-br-provider", "--", "set", "interface",
                 "int-br-provider", "type=patch", f"options:peer={ODD_NAME}", "ofport_request=1",
                 "--", "add-port", "br-lab", ODD_NAME, "--", "set", "interface", ODD_NAME,
                 "type=patch", "options:peer=int-br-provider", "ofport_request=2")
        self.run("ovs-ofctl", "del-flows", "br-lab")
        for flow in ("table=0,priority=0,actions=drop",
                     'table=0,priority=3,in_port="int-br-provider",dl_vlan=100,'
                     "actions=mod_vlan_vid:2,resubmit(,59)",
                     "table=60,priority=100,in_port=2,"
                     "actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],resubmit(,71)",
                     "table=82,priority=50,reg5=0x3,actions=output:2"):
            self.run("ovs-ofctl", "add-flow", "br-lab", flow)
        self.run("ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-lab",
                 "table=0,priority=3,in_port=1,vlan_tci=0x0000/0x1fff,"
                 "actions=push_vlan:0x8100,set_field:4196->vlan_vid,goto_table:60")

    def send_vlan100(self) -> None:
        self.run("ovs-ofctl", "packet-out", "br-lab",
                 f"in_port=int-br-provider packet={VLAN100_PACKET} actions=table")

    def stop(self) -> None:
        for name in ("ovs-vswitchd", "ovsdb-server"):
            pidfile = self.dir / f"{name}.pid"
            if not pidfile.exists():
                continue
            pid = int(pidfile.read_text())
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def switch():
    reason = lab_missing()
    if reason:
        pytest.skip(reason)
    lab = Switch()
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


@pytest.mark.lab
async def test_a_real_dump_parses_completely_and_decodes_the_translation(switch):
    dump = await dump_flows("br-lab", rundir=str(switch.dir))
    assert dump.error is None and dump.unparsed == ()
    assert len(dump.flows) == 5
    translation = flow_detail(flow_with(dump.flows, match="dl_vlan=100"))
    assert (translation.in_port, translation.set_vlan, translation.resubmits) == (
        "int-br-provider", 2, (59,))
    flat = flow_detail(flow_with(dump.flows, match="vlan_tci=0x0000/0x1fff"))
    # OpenFlow 1.0 prints the push as mod_vlan_vid:100 on an untagged match.
    assert flat.untagged and flat.set_vlan == 100 and flat.resubmits == (60,)
    odd = flow_detail(flow_with(dump.flows, actions="resubmit(,71)"))
    assert odd.in_port == ODD_NAME and dict(odd.loads) == {"reg5": 3, "reg6": 2}
    assert flow_detail(flow_with(dump.flows, match="reg5=0x3")).outputs == (ODD_NAME,)
    assert not any(flow_detail(f).partial for f in dump.flows)


@pytest.mark.lab
async def test_real_traffic_moves_the_translation_flows_counters(switch):
    table = FlowTable("br-lab")
    table.update(await dump_flows("br-lab", rundir=str(switch.dir)))
    switch.send_vlan100()
    switch.send_vlan100()
    delta = table.update(await dump_flows("br-lab", rundir=str(switch.dir)))
    key = flow_with(table.dump.flows, match="dl_vlan=100").key
    packets, nbytes = delta.moved[key]
    assert packets == 2 and nbytes == 2 * len(VLAN100_PACKET) // 2
    assert delta.interval > 0 and delta.rate(key)[0] > 0
    assert not delta.new and not delta.gone


@pytest.mark.lab
async def test_real_dump_ports_and_show_give_the_odd_name(switch):
    ports = await dump_ports("br-lab", rundir=str(switch.dir))
    assert {p.port for p in ports} == {"LOCAL", "int-br-provider", ODD_NAME}
    shown = parse_ofctl_show(switch.run("ovs-ofctl", "show", "br-lab"))
    assert shown[1] == "int-br-provider" and shown["LOCAL"] == "br-lab"


@pytest.mark.lab
async def test_a_real_missing_bridge_is_an_error_not_an_exception(switch):
    dump = await dump_flows("br-nope", rundir=str(switch.dir))
    assert dump.flows == () and "br-nope is not a bridge or a socket" in dump.error
    ports = await dump_ports("br-nope", rundir=str(switch.dir))
    assert isinstance(ports, str) and "br-nope" in ports


# --------------------------------------------------------------------------
# Counters from flow statistics (OpenFlow 1.3/1.4 over the management socket)

OFPT_HELLO, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 2, 3
OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 18, 19


def stats_entry(table: int, priority: int, cookie: int, packets: int, nbytes: int,
                rest: bytes = b"\x00\x01\x00\x04\x00\x00\x00\x00", seconds: int = 5000) -> bytes:
    """One ofp_flow_stats (``rest``: its match and instructions)."""
    return struct.pack("!HBxIIHHHH4xQQQ", 48 + len(rest), table, seconds, 0, priority, 0, 0, 0,
                       cookie, packets, nbytes) + rest


class FakeSwitch:
    """A management socket that answers like ovs-vswitchd and records what it is sent."""

    def __init__(self, path: Path, versions: int, replies: list[list[bytes]]) -> None:
        self.path, self.versions, self.replies = path, versions, replies
        self.received: list[tuple[int, bytes]] = []

    async def _read(self, reader) -> tuple[int, int, bytes]:
        header = await reader.readexactly(8)
        version, kind, length, xid = struct.unpack("!BBHI", header)
        body = await reader.readexactly(length - 8)
        self.received.append((kind, body))
        return kind, xid, body

    async def handle(self, reader, writer) -> None:
        await self._read(reader)  # HELLO
        bitmap = struct.pack("!HHI", 1, 8, self.versions)
        writer.write(struct.pack("!BBHI", 5, OFPT_HELLO, 16, 1) + bitmap)
        kind, xid, body = await self._read(reader)
        if kind != OFPT_MULTIPART_REQUEST:
            writer.close()
            return
        writer.write(struct.pack("!BBHI", 5, OFPT_ECHO_REQUEST, 8, 99))  # a keepalive
        await self._read(reader)  # its reply
        for n, entries in enumerate(self.replies):
            more = n < len(self.replies) - 1
            body = struct.pack("!HH4x", 1, 1 if more else 0) + b"".join(entries)
            writer.write(struct.pack("!BBHI", 5, OFPT_MULTIPART_REPLY, 8 + len(body), xid) + body)
        await writer.drain()
        writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_unix_server(self.handle, path=str(self.path))
        return self

    async def __aexit__(self, *_exc) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_flow_statistics_come_from_several_replies_after_a_read_only_request(tmp_path):
    replies = [[stats_entry(0, 3, 0xCD, 70, 8597), stats_entry(0, 2, 0xCD, 0, 0)],
               [stats_entry(60, 100, 0xCD, 5, 500)]]
    async with FakeSwitch(tmp_path / "br-x.mgmt", 1 << 4 | 1 << 5, replies) as switch:
        stats = await flow_stats("br-x", rundir=str(tmp_path))
    assert stats.error is None and len(stats.replies) == 2
    # It only ever said HELLO, asked for every table's flow statistics, answered the echo.
    kinds = [kind for kind, _ in switch.received]
    assert kinds == [OFPT_HELLO, OFPT_MULTIPART_REQUEST, OFPT_ECHO_REPLY]
    mp_type, flags, table = struct.unpack_from("!HH4xB", switch.received[1][1])
    assert (mp_type, flags, table) == (1, 0, 0xFF)  # OFPMP_FLOW, all tables


async def test_a_bridge_that_speaks_neither_openflow_13_nor_14_is_an_error(tmp_path):
    async with FakeSwitch(tmp_path / "br-x.mgmt", 1 << 1, []):  # OpenFlow 1.0 only
        stats = await flow_stats("br-x", rundir=str(tmp_path))
    assert "neither OpenFlow 1.3 nor 1.4" in stats.error and stats.replies == ()


async def test_no_socket_and_names_that_are_paths_are_errors_not_exceptions(tmp_path):
    assert "br-none.mgmt" in (await flow_stats("br-none", rundir=str(tmp_path))).error
    assert (await flow_stats("../../run/x", rundir=str(tmp_path))).error


def stats_of(bridge: str, *entries: bytes, at: float) -> FlowStats:
    """Statistics in one multipart reply."""
    return FlowStats(bridge, (struct.pack("!BBHIHH4x", 5, 19, 0, 1, 1, 0) + b"".join(entries),), at)


def test_counters_come_from_statistics_once_those_before_and_after_the_text_agree():
    lines = seed_lines("br-provider")
    flows = [parse_flow_line("br-provider", line) for line in lines]
    same = [stats_entry(f.table, f.priority, f.cookie, f.n_packets, f.n_bytes) for f in flows]
    table = FlowTable("br-provider")
    table.update_text("\n".join(lines), 100.0, stats_before=stats_of("br-provider", *same, at=99.9))
    assert not table.lined_up  # nothing taken after the text yet
    unmoved = table.dump.flows[0]
    moved = list(same)
    moved[1] = stats_entry(flows[1].table, flows[1].priority, flows[1].cookie,
                           flows[1].n_packets + 4, flows[1].n_bytes + 400)
    delta = table.update_stats(stats_of("br-provider", *moved, at=102.0))
    assert table.lined_up
    assert dict(delta.moved) == {flows[1].key: (4, 400)} and delta.interval == 2.0
    assert table.dump.flows[1].n_packets == flows[1].n_packets + 4
    assert table.dump.flows[0] is unmoved  # flows that did not move are kept as they were


def test_statistics_that_are_not_the_flows_of_the_text_dump_are_not_taken():
    lines = seed_lines("br-provider")
    flows = [parse_flow_line("br-provider", line) for line in lines]
    same = [stats_entry(f.table, f.priority, f.cookie, f.n_packets, f.n_bytes) for f in flows]
    table = FlowTable("br-provider")
    table.update_text("\n".join(lines), 100.0, stats_before=stats_of("br-provider", *same, at=99.9))
    table.update_stats(stats_of("br-provider", *same, at=101.0))
    # A flow more, one less, another cookie or other actions: not these flows.
    other = stats_entry(flows[2].table, flows[2].priority, 0x99, 0, 0)
    for wrong in (same + [same[0]], same[1:], same[:2] + [other] + same[3:],
                  same[:3] + [stats_entry(0, 0, flows[3].cookie, 0, 0, b"\x00" * 16)]):
        assert table.update_stats(stats_of("br-provider", *wrong, at=102.0)) is None
    assert table.dump.taken_at == 101.0  # nothing was taken
    # Statistics that changed while the text was dumped line nothing up.
    table.update_text("\n".join(lines), 103.0, stats_before=stats_of("br-provider", *same, at=102.9))
    assert table.update_stats(stats_of("br-provider", *same[:-1], at=104.0)) is None
    assert not table.lined_up


def test_counters_from_statistics_keep_the_text_comparison_exact(reads):
    """After counters came from statistics, a text dump with those counters reads nothing."""
    lines = seed_lines("br-provider")
    flows = [parse_flow_line("br-provider", line) for line in lines]
    entries = [stats_entry(f.table, f.priority, f.cookie, f.n_packets, f.n_bytes) for f in flows]
    table = FlowTable("br-provider")
    table.update_text("\n".join(lines), 100.0,
                      stats_before=stats_of("br-provider", *entries, at=99.9))
    entries[1] = stats_entry(flows[1].table, flows[1].priority, flows[1].cookie, 130, 11304)
    assert table.update_stats(stats_of("br-provider", *entries, at=101.0)).moved
    reads.clear()
    later = aged(lines, 2)
    later[1] = with_counters(later[1], 130, 11304)
    delta = table.update_text("\n".join(later), 102.0)
    assert reads == [] and not delta.moved


def replies_of(*entries: bytes, per: int) -> list[bytes]:
    """Statistics in multipart replies of ``per`` entries each."""
    return [struct.pack("!BBHIHH4x", 5, 19, 0, 1, 1, 0) + b"".join(entries[n:n + per])
            for n in range(0, len(entries), per)]


def said_arrays(said) -> tuple:
    return (bytes(said.tables), list(said.priorities), list(said.cookies), list(said.entries),
            list(said.flows))


def test_statistics_read_as_they_come_are_compared_whole_while_the_flows_are_the_same():
    lines = seed_lines("br-provider") + seed_lines("br-int")
    flows = [parse_flow_line("br-x", line) for line in lines]
    same = [stats_entry(f.table, f.priority, f.cookie, f.n_packets, f.n_bytes) for f in flows]
    table = FlowTable("br-x")
    table.update_text("\n".join(lines), 100.0, stats_before=stats_of("br-x", *same, at=99.9))
    moved = list(same)
    moved[5] = stats_entry(flows[5].table, flows[5].priority, flows[5].cookie,
                           flows[5].n_packets + 9, flows[5].n_bytes + 900)
    scan = table.stats_reader()
    for reply in replies_of(*moved, per=4):
        scan.feed(reply)
    assert scan.kept_from is None  # every entry was its flow
    delta = table.take_stats(scan, 101.0)
    assert dict(delta.moved) == {flows[5].key: (9, 900)}
    assert table.lined_up


@pytest.mark.parametrize("wrong_at", [0, 9, 30, None])
def test_statistics_read_as_they_come_say_what_they_would_have_said_read_whole(wrong_at):
    """When the flows changed, what is kept of the statistics (to line up the
    next text dump) is what reading them whole would have kept."""
    from collectors.openflow import stats as wire

    lines = seed_lines("br-provider") + seed_lines("br-int")
    flows = [parse_flow_line("br-x", line) for line in lines]
    same = [stats_entry(f.table, f.priority, f.cookie, f.n_packets, f.n_bytes) for f in flows]
    table = FlowTable("br-x")
    table.update_text("\n".join(lines), 100.0, stats_before=stats_of("br-x", *same, at=99.9))
    assert table.update_stats(stats_of("br-x", *same, at=100.5)) is not None
    now = list(same)
    now[2] = stats_entry(flows[2].table, flows[2].priority, flows[2].cookie, 7, 700)
    if wrong_at is None:
        now = now[:-2]  # two flows fewer
    else:
        now[wrong_at] = stats_entry(flows[wrong_at].table, flows[wrong_at].priority, 0x99, 0, 0)
    scan = table.stats_reader()
    replies = replies_of(*now, per=4)
    for reply in replies:
        scan.feed(reply)
    assert scan.kept_from == (None if wrong_at is None else wrong_at // 4 * 4)
    assert table.take_stats(scan, 101.0) is None
    whole = wire.scanned(FlowStats("br-x", tuple(replies), 101.0), None, ())
    assert said_arrays(scan.as_said()) == said_arrays(whole.as_said())


@pytest.mark.lab
async def test_once_lined_up_counters_come_from_statistics_without_ovs_ofctl(switch, monkeypatch):
    from collectors.openflow import ofctl

    table = FlowTable("br-lab")
    delta, error = await refresh_table(table, rundir=str(switch.dir))
    assert error is None and len(delta.new) == 5
    ran = []
    text_dump = ofctl.dump_flows_text

    async def spy(*args, **kwargs):
        ran.append(args)
        return await text_dump(*args, **kwargs)

    monkeypatch.setattr(ofctl, "dump_flows_text", spy)
    switch.send_vlan100()
    switch.send_vlan100()
    delta, error = await refresh_table(table, rundir=str(switch.dir))
    assert error is None and ran == [] and table.lined_up
    key = flow_with(table.dump.flows, match="dl_vlan=100").key
    assert delta.moved[key] == (2, 2 * len(VLAN100_PACKET) // 2)
    truth = await dump_flows("br-lab", rundir=str(switch.dir))
    assert [(f.key, f.n_packets, f.n_bytes) for f in table.dump.flows] == [
        (f.key, f.n_packets, f.n_bytes) for f in truth.flows]


@pytest.mark.lab
async def test_an_added_or_modified_flow_is_read_from_the_text_again(switch):
    table = FlowTable("br-lab")
    await refresh_table(table, rundir=str(switch.dir))
    try:
        switch.run("ovs-ofctl", "add-flow", "br-lab", "table=23,priority=0,actions=drop")
        delta, _ = await refresh_table(table, rundir=str(switch.dir))
        (added,) = [f for f in table.dump.flows if f.table == 23]
        assert delta.new == {added.key}
        await refresh_table(table, rundir=str(switch.dir))
        assert table.lined_up  # statistics again
        switch.run("ovs-ofctl", "add-flow", "br-lab", "table=23,priority=0,actions=resubmit(,24)")
        await refresh_table(table, rundir=str(switch.dir))
        assert [f.actions for f in table.dump.flows if f.table == 23] == ["resubmit(,24)"]
        switch.run("ovs-ofctl", "--strict", "del-flows", "br-lab", "table=23,priority=0")
        delta, _ = await refresh_table(table, rundir=str(switch.dir))
        assert delta.gone == {added.key}
        await refresh_table(table, rundir=str(switch.dir))
        assert table.lined_up
    finally:
        switch.run("ovs-ofctl", "--strict", "del-flows", "br-lab", "table=23,priority=0")


@pytest.mark.lab
async def test_a_bridge_limited_to_openflow_10_is_read_from_the_text_every_time(switch):
    switch.run("ovs-vsctl", f"--db={switch.db}", "set", "bridge", "br-lab",
               "protocols=OpenFlow10")
    try:
        table = FlowTable("br-lab")
        _, error = await refresh_table(table, rundir=str(switch.dir))
        assert error is None and not table.lined_up
        switch.send_vlan100()
        delta, error = await refresh_table(table, rundir=str(switch.dir))
        key = flow_with(table.dump.flows, match="dl_vlan=100").key
        assert error is None and delta.moved[key][0] == 1
    finally:
        switch.run("ovs-vsctl", f"--db={switch.db}", "clear", "bridge", "br-lab", "protocols")


def test_what_is_read_from_the_flows_text_is_read_once_a_layout_with_each_dumps_counters(
        monkeypatch):
    """At 200k flows each refresh scanned every flow for the VLAN translations
    (~13 ms) though only counters had moved: the scan is kept with the layout,
    the flows it picks are this dump's, so the VLAN map's counters are live."""
    from model import vlans

    lines = seed_lines("br-int")
    table = FlowTable("br-int")
    table.update_text("\n".join(lines), 100.0)
    first = vlans.may_translate({"br-int": table.dump}, "br-int")
    assert first, "the seed's br-int translates the provider VLAN to its local one"
    at = next(n for n, f in enumerate(table.dump.flows) if f.key == first[0].key)
    later = aged(lines, 1)
    line = next(n for n, text in enumerate(later) if parse_flow_line("br-int", text).key
                == first[0].key)
    later[line] = with_counters(later[line], 999, 99999)
    table.update_text("\n".join(later), 101.0)
    scans: list = []
    monkeypatch.setattr(vlans, "_may_translate", lambda f: scans.append(f) or True)
    again = vlans.may_translate({"br-int": table.dump}, "br-int")
    assert not scans  # not scanned again: the same layout
    assert [f.key for f in again] == [f.key for f in first]
    assert table.dump.flows[at].n_packets == again[0].n_packets == 999
