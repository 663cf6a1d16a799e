"""Widget behaviour an operator relies on, without a node behind it: numbers
that stay short, tables that keep what matters on a narrow terminal, parsed
flows worded like ovs-ofctl."""

from __future__ import annotations

import html
import re

from textual.app import App, ComposeResult

from model.records import Flow, SourceState
from tui import rows
from tui.screens.flow_detail import parsed_fields, value_text
from widgets import format as fmt
from widgets.counters import CounterPanel
from widgets.status import SourceBar
from widgets.virtual_table import Row, VirtualTable


def test_counts_stay_short_up_to_64_bit_counters():
    # libvirt's test driver counts in the tens of terabytes
    assert fmt.count(17_956_800_000_000) == "18.0T"
    assert fmt.count(2**64 - 1) == "18.4E"
    assert all(len(fmt.count(10**n - 1)) <= 6 for n in range(1, 20))
    # exact while small enough to compare by eye, and no "1000.0M" at a unit's edge
    assert fmt.count(99_999) == "99999"
    assert fmt.count(999_950_000) == "1.0G"
    assert fmt.count(None) == "-"


def test_parsed_actions_read_like_ovs_ofctl_not_python():
    flow = Flow("br-int", 60, 100, 0xcd5d17f4f72cc4b6, 'in_port="tap2d1670a4-8e"',
                "load:0x3->NXM_NX_REG5[],ct(table=72,zone=NXM_NX_REG6[0..15]),"
                'output:"tap2d1670a4-8e"', 0, 0, 1.0)
    _match, actions = parsed_fields(flow)
    shown = [(k, value_text(v)) for k, v in actions]
    assert shown == [("load", "3 -> NXM_NX_REG5"),
                     ("ct", "table=72, zone=NXM_NX_REG6[0..15]"),
                     ("output", "tap2d1670a4-8e")]
    assert not any("{" in v or "'" in v for _, v in shown)


class _One(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def _header(table: VirtualTable) -> str:
    return table.render_line(0).text


async def test_flow_table_keeps_match_actions_and_counters_on_80_columns():
    table = VirtualTable(rows.FLOW_COLUMNS)
    async with _One(table).run_test(size=(80, 24)) as pilot:
        table.set_rows([Row("k", ("br-int", "0", "local switching", "3", "f72cc4b6",
                                  'in_port="int-br-provider",dl_vlan=100', "mod_vlan_vid:2",
                                  "70", "8597", "1.0", "784b/s", "12", "▁▂▃"))])
        await pilot.pause()
        header = _header(table).split()
        assert header == ["Bridge", "Tbl", "Prio", "Match", "Actions", "Packets", "pps"]
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no h-scroll
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        # wide enough: every column is back
        assert _header(table).split() == " ".join(c.label for c in rows.FLOW_COLUMNS).split()


async def test_hidden_column_leaves_no_blank_header():
    table = VirtualTable(rows.FLOW_COLUMNS)
    async with _One(table).run_test(size=(160, 24)) as pilot:
        table.hide({"mark"})
        await pilot.pause()
        assert "Since mark" not in _header(table)
        table.hide(set())
        await pilot.pause()
        assert "Since mark" in _header(table)


async def test_counter_panel_shows_since_mark_only_once_marked():
    panel = CounterPanel("OpenFlow port counters")
    async with _One(panel).run_test(size=(80, 24)) as pilot:
        panel.show({"rx packets": 10}, since=None, rates={"rx packets": 2.0})
        await pilot.pause()
        text = "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))
        assert "since mark" not in text and "2.0" in text  # the caller's rate, at once
        panel.show({"rx packets": 15}, since={"rx packets": 5}, rates={"rx packets": None})
        await pilot.pause()
        text = "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))
        assert "since mark" in text
        rx = next(line for line in text.splitlines() if "rx packets" in line)
        assert rx.split()[-1] == "5"  # the session's baseline, not the panel's first sight
        assert rx.split()[-2] == "–"  # no rate measured: a dash, never a 0


def _screenshot_runs(svg: str) -> list[str]:
    """Each line of a screenshot as its text runs read one by one, each without
    its leading spaces (as some readers of an SVG's text do): words glued here
    are glued for whoever reads the screenshots' text."""
    lines: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        text = html.unescape(m.group(3)).replace("\xa0", " ").lstrip()
        lines.setdefault(float(m.group(2)), []).append((float(m.group(1)), text))
    return ["".join(t for _, t in sorted(runs)) for _, runs in sorted(lines.items())]


async def test_the_source_bar_reads_as_words_in_a_screenshot():
    bar = SourceBar()
    sources = [SourceState("ovsdb", "live", "", 0.0),
               SourceState("openflow", "stale", "ovs-vswitchd does not answer", 95.0),
               SourceState("netlink", "live", "", 0.0)]
    async with _One(bar).run_test(size=(160, 5)) as pilot:
        bar.show(hostname="vm", ovs_version="3.1.0", datapaths=["netdev"], sources=sources,
                 interval=1.0, adapted=False, paused=True, mark_age=12.0, problems=0, now=100.0)
        await pilot.pause()
        first = _screenshot_runs(pilot.app.export_screenshot())[0]
    assert first.strip() == ("vm  OVS 3.1.0 (netdev)  ovsdb live  openflow stale 5s  netlink live  "
                             "every 1s  mark 12s ago  PAUSED 0 problems")


async def test_keyed_table_columns_fit_the_widest_of_many_cells_that_grew_at_once():
    # the first frame with flows: every row's counters appear in one refresh
    from widgets.keyed_table import KeyedTable

    table = KeyedTable([("name", "Name"), ("pps", "pps")])
    async with _One(table).run_test(size=(80, 60)) as pilot:
        table.sync([(f"r{n}", {"name": f"vm{n}", "pps": "-"}) for n in range(40)])
        await pilot.pause()
        grown = [(f"r{n}", {"name": f"vm{n}", "pps": f"{n}.0 ({'7' * (n % 9)})"})
                 for n in range(40)]
        table.sync(grown)
        await pilot.pause()
        widest = max(len(cells["pps"]) for _, cells in grown)
        assert table.columns["pps"].content_width == widest
        assert [str(c) for c in table.get_row("r8")] == ["vm8", "8.0 (77777777)"]
        # one cell outgrowing the others later widens the column again
        table.sync(grown[:-1] + [("r39", {"name": "vm39", "pps": "39.0 (" + "9" * 20 + ")"})])
        await pilot.pause()
        assert table.columns["pps"].content_width == len("39.0 (" + "9" * 20 + ")")
