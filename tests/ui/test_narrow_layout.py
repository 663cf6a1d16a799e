"""At 80x24 what the operator came for is visible without scrolling: every
port of the seed node in the overview, the port screen's counters, the flow
detail's breadcrumb to its last element, the footer's keys to "r refresh"."""

from __future__ import annotations

from tests.fakes import FakeBackend
from tests.ui.test_snapshots import NARROW, first_refresh, to_flow_detail, to_port
from tui.app import OvsVlanApp
from widgets.counters import CounterPanel
from widgets.pane_table import PaneTable
from widgets.status import Breadcrumb, crumb_text
from widgets.key_line import KeyLine


def _text(widget) -> str:
    return "\n".join(line.text for line in widget.render_lines(widget.region.reset_offset))


async def test_the_overview_shows_every_port_and_the_whole_footer_at_80x24():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=NARROW) as pilot:
        await first_refresh(pilot)
        await pilot.pause()
        ports = app.screen.query_one("#ports", PaneTable)
        assert ports.row_count == len(app.latest.model.ports)
        assert ports.region.height >= ports.row_count + 1  # header and every row, no scrolling
        footer = app.screen.query_one(KeyLine)
        keys = footer.spans
        # every key up to refresh fits, the command palette's at the right after them
        assert keys["refresh"][1] <= keys["palette"][0] < keys["palette"][1] <= 80
        assert "r refresh" in _text(footer)


async def test_the_port_screen_shows_its_counters_above_the_fold_at_80x24():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=NARROW) as pilot:
        await to_port(pilot)
        panel = app.screen.query_one("#ofport", CounterPanel)
        footer = app.screen.query_one(KeyLine)
        assert panel.region.y + panel.region.height <= footer.region.y
        assert "rx packets" in _text(panel)


async def test_the_flow_detail_breadcrumb_keeps_its_last_element_at_80x24():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=NARROW) as pilot:
        await to_flow_detail(pilot)
        bar = app.screen.query_one(Breadcrumb)
        crumb = _text(bar).strip()
        assert crumb.endswith(bar._path[-1]) and crumb.startswith("overview › ")


def test_a_long_path_loses_its_middle_never_its_end():
    path = ["overview", "instance01", "tap2d1670a4-8e", "flows of tap2d1670a4-8e",
            "br-int t60 p100"]
    assert crumb_text(path, 60).plain == (
        "overview › … › flows of tap2d1670a4-8e › br-int t60 p100")
    assert crumb_text(path, 0).plain == " › ".join(path)
