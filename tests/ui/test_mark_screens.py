""""Since mark" on a screen opened after the mark counts from the mark, not
from when the screen was opened (the session holds the one baseline)."""

from __future__ import annotations

from tests.fakes import FakeBackend, MARK_AGE, PPS
from tests.ui.test_snapshots import to_port
from tui.app import OvsVlanApp
from widgets.counters import CounterPanel


def _panel_rows(panel: CounterPanel) -> dict[str, list[str]]:
    text = "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))
    rows = [line.strip("│ ").split() for line in text.splitlines() if "packets" in line]
    return {" ".join(cells[:2]): cells for cells in rows}


async def test_a_port_screen_opened_after_the_mark_counts_from_the_mark():
    app = OvsVlanApp(FakeBackend(marked=True))  # marked MARK_AGE seconds before the refresh
    async with app.run_test(size=(160, 48)) as pilot:
        await to_port(pilot)
        for panel_id in ("#ofport", "#libvirt"):
            panel = app.screen.query_one(panel_id, CounterPanel)
            rx = _panel_rows(panel)["rx packets"]
            assert rx[-1] == str(int(MARK_AGE * PPS)), (panel_id, rx)
