"""What each screen looks like, as SVG snapshots of the app fed the seed node
by the fake backend (tests/fakes.py): a change to any screen's layout, wording
or colours shows up here as a diff to look at (pytest --snapshot-update
accepts it once it is right).

The drill-down keys are pressed as an operator would, and each step waits
for what it needs (the first refresh, the flow list worker), so the picture
never depends on timing.
"""

from __future__ import annotations

import time

from textual.pilot import Pilot

from tests.fakes import FakeBackend
from tui.app import OvsVlanApp
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.flows import FlowsScreen
from tui.screens.instance import InstanceScreen
from tui.screens.port import PortScreen
from tui.screens.vlan import VlanScreen
from widgets.virtual_table import VirtualTable

WIDE = (160, 48)
NARROW = (80, 24)


async def until(pilot: Pilot, ready, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


async def on_screen(pilot: Pilot, screen_type) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, screen_type), screen_type.__name__)


async def first_refresh(pilot: Pilot) -> None:
    await until(pilot, lambda: pilot.app.latest is not None, "the first refresh")


async def to_instance(pilot: Pilot) -> None:
    await first_refresh(pilot)
    await pilot.press("enter")  # instance01, the seed's only domain
    await on_screen(pilot, InstanceScreen)


async def to_port(pilot: Pilot) -> None:
    await to_instance(pilot)
    await pilot.press("enter")  # its vNIC
    await on_screen(pilot, PortScreen)


async def to_vlan(pilot: Pilot) -> None:
    await to_port(pilot)
    await pilot.press("v")
    await on_screen(pilot, VlanScreen)


async def to_port_flows(pilot: Pilot) -> None:
    await to_port(pilot)
    await pilot.press("f")
    await on_screen(pilot, FlowsScreen)
    table = pilot.app.screen.query_one("#flows", VirtualTable)
    await until(pilot, lambda: len(table.rows) > 0, "the port's flows")


async def to_flow_detail(pilot: Pilot) -> None:
    await to_port_flows(pilot)
    await pilot.press("enter")
    await on_screen(pilot, FlowDetailScreen)


def app(**kwargs) -> OvsVlanApp:
    return OvsVlanApp(FakeBackend(**kwargs))


def test_overview(snap_compare):
    """Instances, the VLAN map and the ports of both bridges, with the seed's
    missing flat ingress translation in the problem line."""
    assert snap_compare(app(), terminal_size=WIDE, run_before=first_refresh)


def test_overview_narrow(snap_compare):
    """80x24: each pane keeps its first columns (name, VLAN, link, rates) in view."""
    assert snap_compare(app(), terminal_size=NARROW, run_before=first_refresh)


def test_instance(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=to_instance)


def test_port(snap_compare):
    """The tap's path to provider VLAN 100, every OVSDB row, and three sources' counters."""
    assert snap_compare(app(), terminal_size=WIDE, run_before=to_port)


def test_port_marked(snap_compare):
    """With a mark, the counter panels gain their "since mark" column."""
    assert snap_compare(app(marked=True), terminal_size=WIDE, run_before=to_port)


def test_vlan(snap_compare):
    """VLAN 2: its port, and both translation flows written out in full."""
    assert snap_compare(app(), terminal_size=WIDE, run_before=to_vlan)


def test_port_flows(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=to_port_flows)


def test_port_flows_marked(snap_compare):
    """The "since mark" column appears only once a mark is set."""
    assert snap_compare(app(marked=True), terminal_size=WIDE, run_before=to_port_flows)


def test_flow_detail(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=to_flow_detail)


def test_problems(snap_compare):
    async def to_problems(pilot: Pilot) -> None:
        await first_refresh(pilot)
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: pilot.app.screen.crumb == "problems", "the problem list")

    assert snap_compare(app(), terminal_size=WIDE, run_before=to_problems)


def test_help(snap_compare):
    async def to_help(pilot: Pilot) -> None:
        await first_refresh(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", "help")

    assert snap_compare(app(), terminal_size=WIDE, run_before=to_help)
