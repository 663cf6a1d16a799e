"""Walking the real app over a real lab node, key by key, as an operator does:
every drill-down path, Esc back along the breadcrumb, the command palette,
the flow filter and sort, the mark, pause, and counters that move while
instance01 pings its gateway.

The app runs with the real LiveBackend (OVSDB, ovs-ofctl, libvirt's test
driver, netlink) on the lab of tests/conftest.py; what each step shows is
read back from the widgets on screen.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from textual.command import CommandList, CommandPalette
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import OvsVlanApp
from node.live import LiveBackend
from lab.node import VMS
from tests.conftest import continuous_ping
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.flows import FlowsScreen
from tui.screens.instance import InstanceScreen
from tui.screens.overview import OverviewScreen
from tui.screens.port import PortScreen
from tui.screens.problems import ProblemsScreen
from tui.screens.vlan import VlanScreen
from widgets.keyed_table import KeyedTable
from widgets.pane_table import PaneTable
from widgets.status import Breadcrumb, SourceBar
from widgets.virtual_table import VirtualTable

pytestmark = pytest.mark.lab

SIZE = (160, 48)
VM1, VM2 = VMS  # instance01 (VLAN 2 -> 100) and instance00 (VLAN 1, flat)
TAP, MAC, OTHER_TAP, OTHER_MAC = VM1.tap, VM1.mac, VM2.tap, VM2.mac


# --------------------------------------------------------------------------
# helpers


def live_app(lab) -> OvsVlanApp:
    return OvsVlanApp(LiveBackend(lab.endpoints()))


async def until(pilot: Pilot, ready, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                break
        except Exception:  # a widget not mounted yet, a row not there yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


def text_of(widget) -> str:
    """What the widget shows, as plain text (all of it, also what is scrolled away)."""
    width, height = widget.outer_size
    return "\n".join(strip.text.rstrip()
                     for strip in widget.render_lines(Region(0, 0, width, height)))


def crumbs(pilot: Pilot) -> str:
    return text_of(pilot.app.screen.query_one(Breadcrumb)).strip()


def cells(table: KeyedTable, key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


def flow_text(table: VirtualTable) -> list[str]:
    """Each row's match and actions as the flows table holds them."""
    names = [c.key for c in table.columns]
    m, a = names.index("match"), names.index("actions")
    return [f"{row.cells[m]} actions={row.cells[a]}" for row in table.rows]


def column(table: VirtualTable, key: str) -> list[str]:
    n = [c.key for c in table.columns].index(key)
    return [str(row.cells[n]) for row in table.rows]


def packets_in(cell: str) -> int:
    """'1.0 (77)' -> 77: the packet count a VLAN map cell shows in brackets."""
    found = re.search(r"\((\d+)\)", cell)
    assert found, f"no exact packet count in {cell!r}"
    return int(found.group(1))


async def started(pilot: Pilot) -> None:
    """The first refresh that saw the whole lab: both instances, both VLANs."""
    app = pilot.app
    await until(pilot, lambda: app.latest is not None
                and len(app.latest.model.instances) == 2
                and {v.local_vlan for v in app.latest.model.vlans} == {1, 2}
                and all(s.status == "live" for s in app.latest.model.sources),
                "a refresh with every source live")
    await until(pilot, lambda: len(app.screen.query_one("#instances", PaneTable).rows) == 2,
                "the instance rows")
    # the first frame comes before the first flow dump: wait for the flows' counters
    await until(pilot, lambda: "(" in " ".join(cells(app.screen.query_one("#vlans", PaneTable),
                                                     "2")), "VLAN 2's flow counters")


async def on(pilot: Pilot, screen_type, what: str = ""):
    await until(pilot, lambda: isinstance(pilot.app.screen, screen_type),
                what or screen_type.__name__)
    return pilot.app.screen


async def cursor_to(pilot: Pilot, table, key: str) -> None:
    """Down (or up) arrow until the cursor is on ``key``, as an operator would."""
    table.focus()
    await pilot.pause()
    order = [r.value for r in table.rows] if isinstance(table, KeyedTable) \
        else [r.key for r in table.rows]
    assert key in order, f"{key!r} is not a row of #{table.id}: {order}"
    for _ in range(len(order) + 1):
        if table.cursor_key == key:
            return
        await pilot.press("down" if order.index(key) > order.index(table.cursor_key) else "up")
    assert table.cursor_key == key


async def open_port_from_overview(pilot: Pilot, port: str) -> PortScreen:
    ports = pilot.app.screen.query_one("#ports", PaneTable)
    await cursor_to(pilot, ports, port)
    await pilot.press("enter")
    screen = await on(pilot, PortScreen)
    assert screen.port_name == port
    await until(pilot, lambda: port in text_of(screen.query_one("#path")), "the port's path")
    return screen


async def flows_shown(pilot: Pilot) -> VirtualTable:
    screen = await on(pilot, FlowsScreen)
    table = screen.query_one("#flows", VirtualTable)
    await until(pilot, lambda: len(table.rows) > 0, "flow rows")
    return table


@pytest.fixture
def ping(shared_lab):
    """`ovsvlan-tui lab ping --continuous` while the test runs, stopped by its pid."""
    yield from continuous_ping(shared_lab)


# --------------------------------------------------------------------------
# drilling down


async def test_instance_to_vnic_port_flows_flow_and_back_to_the_instance(shared_lab):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        instances = app.screen.query_one("#instances", PaneTable)
        await cursor_to(pilot, instances, f"{VM1.uuid}/0")
        assert cells(instances, f"{VM1.uuid}/0")[:4] == ["instance01", "running", TAP, "2 -> 100"]
        await pilot.press("enter")

        screen = await on(pilot, InstanceScreen)
        assert crumbs(pilot) == "overview › instance01"
        vnics = screen.query_one("#vnics", KeyedTable)
        await until(pilot, lambda: vnics.row_count == 1, "instance01's vNIC")
        assert cells(vnics, TAP)[:4] == [TAP, MAC, "192.168.100.30 (flows)", "2 -> 100"]
        assert "instance-00000027" in text_of(screen.query_one("#facts"))
        await pilot.press("enter")

        port = await on(pilot, PortScreen)
        assert port.port_name == TAP
        assert crumbs(pilot) == f"overview › instance01 › {TAP}"
        await until(pilot, lambda: "provider VLAN 100" in text_of(port.query_one("#path")),
                    "the port's path")
        path = text_of(port.query_one("#path"))
        assert "instance01" in path and MAC in path
        assert "local VLAN 2" in path and "provider VLAN 100" in path and "eth0" in path
        ovsdb = text_of(port.query_one("#ovs"))  # every row, none cut off
        assert re.search(r"other_config:segmentation_id\s+100", ovsdb)
        assert re.search(r"other_config:tag\s+2", ovsdb)
        assert re.search(r"external_ids:attached-mac\s+" + MAC, ovsdb)
        # the test driver's vNIC counters follow the clock: said so, not passed off as traffic
        await until(pilot, lambda: "synthetic" in text_of(port.query_one("#libvirt")),
                    "the libvirt panel's counters")
        assert "libvirt test driver: synthetic counters" in text_of(port.query_one("#libvirt"))
        await pilot.press("f")

        table = await flows_shown(pilot)
        assert crumbs(pilot) == f"overview › instance01 › {TAP} › flows of {TAP}"
        flows = flow_text(table)
        # what makes a flow the port's: its name, its ofport in reg5, its MAC, output to it
        assert any(f'in_port="{TAP}"' in f for f in flows)
        assert any(re.search(r"reg5=0x3(?!\w)", f) for f in flows)
        assert any(f"dl_dst={MAC}" in f for f in flows)
        assert any(f'output:"{TAP}"' in f for f in flows)
        for f in flows:
            assert re.search(rf'in_port="{TAP}"|reg5=0x3(?!\w)|dl_(dst|src)={MAC}'
                             rf'|output:"{TAP}"', f), f"not the port's: {f}"
            assert OTHER_TAP not in f and OTHER_MAC not in f and "reg5=0x2" not in f, f
        await pilot.press("enter")

        detail = await on(pilot, FlowDetailScreen)
        chosen = detail.flow
        assert f"{chosen.bridge} t{chosen.table} p{chosen.priority}" in crumbs(pilot)
        shown = text_of(detail.query_one("#text"))
        assert f"{chosen.bridge} table {chosen.table}" in shown
        assert chosen.match in shown and chosen.actions in shown
        assert f"about ports: {TAP} (ofport 3) of instance01" in shown
        await pilot.press("i")

        back = await on(pilot, InstanceScreen, "instance01 again")
        assert back.uuid == VM1.uuid
        path_so_far = (f"overview › instance01 › {TAP} › flows of {TAP} › "
                       f"{chosen.bridge} t{chosen.table} p{chosen.priority} › instance01")
        assert crumbs(pilot) == path_so_far

        # Esc walks the same path back, one screen at a time
        expected = path_so_far.split(" › ")
        for screen_type in (FlowDetailScreen, FlowsScreen, PortScreen, InstanceScreen,
                            OverviewScreen):
            await pilot.press("escape")
            await on(pilot, screen_type)
            expected.pop()
            assert crumbs(pilot) == " › ".join(expected)
        await pilot.press("escape")  # nowhere further back: stays on the overview
        assert isinstance(app.screen, OverviewScreen)


async def test_port_to_its_vlan_with_both_translations_then_to_the_nic(shared_lab):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_port_from_overview(pilot, TAP)
        await pilot.press("v")

        vlan = await on(pilot, VlanScreen)
        assert vlan.local_vlan == 2
        assert crumbs(pilot) == f"overview › {TAP} › VLAN 2"
        facts = text_of(vlan.query_one("#facts"))
        assert "local VLAN 2 on br-int" in facts and "provider VLAN 100" in facts
        members = vlan.query_one("#members", KeyedTable)
        await until(pilot, lambda: members.row_count == 1, "VLAN 2's ports")
        assert cells(members, TAP)[:5] == [TAP, "br-int", "3", "instance01", MAC]
        translation = vlan.query_one("#translation", VirtualTable)
        await until(pilot, lambda: len(translation.rows) == 2, "both translation flows")
        egress, ingress = flow_text(translation)
        assert "dl_vlan=2" in egress and "mod_vlan_vid:100" in egress
        assert "dl_vlan=100" in ingress and "mod_vlan_vid:2" in ingress
        assert column(translation, "bridge") == ["br-provider", "br-int"]
        await pilot.press("n")

        nic = await on(pilot, PortScreen, "the NIC's port screen")
        assert nic.port_name == "eth0"
        assert crumbs(pilot) == f"overview › {TAP} › VLAN 2 › eth0"
        await until(pilot, lambda: "by the flows there now" in text_of(nic.query_one("#path")),
                    "the NIC's path")
        path = text_of(nic.query_one("#path"))
        assert "physical NIC of br-provider" in path
        assert "local VLAN 2 as provider VLAN 100" in path
        assert "local VLAN 1 as flat (untagged)" in path


async def test_vlan_map_row_opens_that_vlan(shared_lab):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        vlans = app.screen.query_one("#vlans", PaneTable)
        await until(pilot, lambda: vlans.row_count == 2, "the VLAN map")
        assert cells(vlans, "1")[:3] == ["1", "flat", "1"]
        assert cells(vlans, "2")[:3] == ["2", "100", "1"]
        await cursor_to(pilot, vlans, "1")
        await pilot.press("enter")
        vlan = await on(pilot, VlanScreen)
        assert vlan.local_vlan == 1
        assert crumbs(pilot) == "overview › VLAN 1"
        members = vlan.query_one("#members", KeyedTable)
        await until(pilot, lambda: members.row_count == 1, "VLAN 1's ports")
        assert cells(members, OTHER_TAP)[3] == "instance00"
        assert "flat (untagged)" in text_of(vlan.query_one("#facts"))


async def test_problem_list_leads_to_the_port_concerned(shared_lab):
    app = live_app(shared_lab)
    vsctl = ["ovs-vsctl", f"--db={shared_lab.db}", "--timeout=5"]
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("exclamation_mark")
        problems = await on(pilot, ProblemsScreen)
        assert crumbs(pilot) == "overview › problems"
        await until(pilot, lambda: "no problems found" in text_of(problems.query_one("#summary")),
                    "a healthy lab's empty list")
        # The agent could not bind instance00's port: it is parked on the dead VLAN.
        subprocess.run([*vsctl, "set", "Port", OTHER_TAP, "tag=4095"], check=True)
        try:
            table = problems.query_one("#problems", KeyedTable)
            await until(pilot, lambda: table.row_count == 1, "the dead VLAN problem")
            key = next(r.value for r in table.rows)
            assert cells(table, key)[:2] == ["dead-vlan", OTHER_TAP]
            assert "tagged 4095" in text_of(problems.query_one("#detail"))
            assert "1 problem" in text_of(problems.query_one("#summary"))
            await pilot.press("enter")
            port = await on(pilot, PortScreen)
            assert port.port_name == OTHER_TAP
            assert crumbs(pilot) == f"overview › problems › {OTHER_TAP}"
            await until(pilot, lambda: "local VLAN 4095" in text_of(port.query_one("#path")),
                        "the dead VLAN on the port screen")
        finally:
            subprocess.run([*vsctl, "set", "Port", OTHER_TAP, f"tag={VM2.local_vlan}"],
                           check=True)


# --------------------------------------------------------------------------
# the command palette


@pytest.mark.parametrize("query, screen_type, check", [
    ("instance01", InstanceScreen, lambda s: s.uuid == VM1.uuid),
    (MAC, PortScreen, lambda s: s.port_name == TAP),
    ("192.168.100.30", FlowsScreen, lambda s: s.text == "192.168.100.30"),
    ("vlan 100", VlanScreen, lambda s: s.local_vlan == 2),
])
async def test_command_palette_finds_and_jumps(shared_lab, query, screen_type, check):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        palette = await on(pilot, CommandPalette)
        palette.query_one(Input).focus()
        await pilot.press(*query)
        hits = palette.query_one(CommandList)
        await until(pilot, lambda: hits.option_count > 0
                    and str(hits.get_option_at_index(0).prompt).startswith(query),
                    f"a hit for {query!r}")
        assert hits.highlighted == 0
        await pilot.press("enter")
        screen = await on(pilot, screen_type)
        assert check(screen)
        if screen_type is FlowsScreen:  # every flow shown mentions the address
            table = await flows_shown(pilot)
            assert all(query in f for f in flow_text(table))
            assert crumbs(pilot) == f"overview › flows with {query}"


# --------------------------------------------------------------------------
# the flows screen: filter, sort


async def test_filter_keeps_only_flows_with_every_word(shared_lab):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("f")
        table = await flows_shown(pilot)
        total = len(table.rows)
        screen = app.screen

        async def filter_by(text: str) -> list[str]:
            await pilot.press("slash")
            box = screen.query_one("#filter", Input)
            assert box.has_focus
            await pilot.press("ctrl+u", *text, "enter")
            await until(pilot, lambda: screen.text == text and screen.query_one("#flows").has_focus
                        and (f"filter: {text}" in text_of(screen.query_one("#summary"))) == bool(text),
                        f"the filter {text!r}")
            return flow_text(table)

        reg5 = await filter_by("reg5=0x3")
        assert 0 < len(reg5) < total
        assert all(re.search(r"reg5=0x3(?![0-9a-fA-Fx])", f) for f in reg5)

        vlan2 = await filter_by("dl_vlan=2")
        assert 0 < len(vlan2) < total
        assert all(re.search(r"dl_vlan=2(?!\d)", f) for f in vlan2)
        assert any("mod_vlan_vid:100" in f for f in vlan2)  # the egress translation

        everything = await filter_by("")
        assert len(everything) == total


async def test_sort_cycles_table_rate_packets(shared_lab, ping):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("f")
        table = await flows_shown(pilot)
        screen = app.screen

        def numbers(key: str) -> list[float]:
            return [_number(c) for c in column(table, key)]

        async def sorted_by(name: str) -> None:
            await pilot.press("s")
            await until(pilot, lambda: f"sorted by {name}" in text_of(screen.query_one("#summary")),
                        f"sort by {name}")

        await until(pilot, lambda: any(numbers("pps")), "a moving flow")
        await sorted_by("rate")
        # (a refresh window at one ping a second may hold no packet: wait for one that does)
        await until(pilot, lambda: numbers("pps")[:1] != [] and numbers("pps")[0] > 0,
                    "a moving flow on top")
        pps = numbers("pps")
        assert pps == sorted(pps, reverse=True)
        await sorted_by("packets")
        packets = numbers("packets")
        assert packets == sorted(packets, reverse=True) and packets[0] > 0
        await sorted_by("table")
        order = [(b, int(t), -int(p)) for b, t, p in
                 zip(column(table, "bridge"), column(table, "table"), column(table, "prio"))]
        assert order == sorted(order)


def _number(cell: str) -> float:
    """'1.5', '12', '1.2k', '', '–' -> a float to compare (what fmt.rate/count print)."""
    if not cell or cell == "–":  # not measured yet
        return 0.0
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
    return float(cell[:-1]) * scale[cell[-1]] if cell[-1] in scale else float(cell)


# --------------------------------------------------------------------------
# mark, pause, and counters that move


async def test_mark_shows_what_moved_since(shared_lab, ping):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_port_from_overview(pilot, TAP)
        await pilot.press("f")
        table = await flows_shown(pilot)
        assert "mark" in table.hidden  # no mark yet: no empty column either
        await pilot.press("m")
        await until(pilot, lambda: "mark" not in table.hidden, "the since-mark column")
        assert "Since mark" in text_of(table).splitlines()[0]
        await until(pilot, lambda: re.search(r"mark \d+s ago", text_of(app.screen.query_one(
            SourceBar))), "the mark's age")
        # the ping keeps crossing the port: its busiest flows count up from the mark
        await until(pilot, lambda: max(_number(c) for c in column(table, "mark")) >= 2,
                    "packets counted since the mark", timeout=10)
        marks = column(table, "mark")
        assert all(re.fullmatch(r"\d+", c) for c in marks)
        packets = [int(c) for c in column(table, "packets")]
        assert all(int(m) <= p for m, p in zip(marks, packets))


async def test_pause_freezes_the_screen_while_refreshes_go_on(shared_lab, ping):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        vlans = app.screen.query_one("#vlans", PaneTable)
        await pilot.press("p")
        assert app.paused
        bar = text_of(app.screen.query_one(SourceBar))
        assert "PAUSED" in bar
        frozen = cells(vlans, "2")
        seen_at = app.latest.at
        await pilot.pause(2.5)
        assert app.latest.at > seen_at  # still collecting...
        egress = [c.key for c in vlans.columns].index("egress")
        # ...the ping moved the counters...
        assert app.latest.model.vlan(2).egress_flow.n_packets > packets_in(frozen[egress])
        assert cells(vlans, "2") == frozen  # ...but the screen stands still
        await pilot.press("p")
        assert not app.paused
        await until(pilot, lambda: cells(vlans, "2") != frozen, "the screen catching up")
        assert "PAUSED" not in text_of(app.screen.query_one(SourceBar))


async def test_vlan_map_counters_grow_while_instance01_pings(shared_lab, ping):
    app = live_app(shared_lab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        vlans = app.screen.query_one("#vlans", PaneTable)
        names = [c.key for c in vlans.columns]
        egress, ingress = names.index("egress"), names.index("ingress")
        first = cells(vlans, "2")
        await pilot.pause(2.5)
        second = cells(vlans, "2")
        assert packets_in(second[egress]) > packets_in(first[egress])
        assert packets_in(second[ingress]) > packets_in(first[ingress])
        # at one ping a second, a one-second window now and then holds none
        await until(pilot, lambda: _number(cells(vlans, "2")[egress].split(" (")[0]) > 0,
                    "a non-zero egress rate")
