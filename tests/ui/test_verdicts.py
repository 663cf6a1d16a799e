"""Every place a problem count is shown says so when no check could run,
instead of "no problems found" / "0 problems" on a node it could not read."""

from __future__ import annotations

from tests.fakes import FakeBackend, unread_refresh
from tests.ui.test_snapshots import first_refresh, on_screen
from tui.app import OvsVlanApp
from tui.screens.problems import ProblemsScreen


def _text(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return "\n".join(line.text for line in widget.render_lines(widget.region.reset_offset))


async def test_no_check_could_run_is_said_on_the_overview_the_bar_and_the_problem_list():
    app = OvsVlanApp(FakeBackend(refresh=unread_refresh()))
    async with app.run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        await pilot.pause()
        for selector in ("#problems-line", "#sources"):
            text = " ".join(_text(app, selector).split())
            assert "no check could run (libvirt, ovsdb not read)" in text, (selector, text)
            assert "no problems" not in text and "0 problems" not in text
        await pilot.press("exclamation_mark")
        await on_screen(pilot, ProblemsScreen)
        text = " ".join(_text(app, "#summary").split())
        assert "no problems found" not in text
        assert "orphan-port: not run: ovsdb not read: cannot connect to unix:/nonexistent" in text
        assert "libvirt not read: cannot open qemu:///nonexistent read-only" in text
