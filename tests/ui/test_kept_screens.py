"""The screens kept mounted between visits (all flows, the port screen, the
path screen; tui/app.py push_kept) show what was asked this time, never what
they showed for something else or before they were left. Run on the fake
backend (tests/fakes.py)."""

from __future__ import annotations

from tests.fakes import PORT, FakeBackend
from tests.ui.test_snapshots import first_refresh, on_screen, until
from tui.app import OvsVlanApp
from tui.navigation import OpenPath, OpenPort
from tui.screens.path import PathScreen
from tui.screens.port import PortScreen
from widgets.status import Breadcrumb


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def _open(pilot, message, screen_type):
    """Post a navigation message, as a screen's key does; the screen it opens."""
    pilot.app.post_message(message)
    await on_screen(pilot, screen_type)
    return pilot.app.screen


async def test_the_port_screen_opened_for_another_port_shows_only_that_port():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        first = await _open(pilot, OpenPort(PORT), PortScreen)
        assert PORT in _text(first, "#path")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PortScreen), "the overview")
        await _open(pilot, OpenPort("int-br-provider"), PortScreen)
        assert app.screen is first  # the same screen, kept
        shown = _text(app.screen, "#path")
        assert "int-br-provider" in shown and PORT not in shown
        assert app.screen.query_one(Breadcrumb)._path[-1] == "int-br-provider"


async def test_a_port_opened_from_a_screen_above_the_kept_one_gets_its_own_screen():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        below = await _open(pilot, OpenPort(PORT), PortScreen)
        await _open(pilot, OpenPath(PORT), PathScreen)
        await _open(pilot, OpenPort("int-br-provider"), PortScreen)
        assert app.screen is not below and below.port_name == PORT
        await pilot.press("escape")
        await on_screen(pilot, PathScreen)
        await pilot.press("escape")
        await on_screen(pilot, PortScreen)
        assert app.screen is below and PORT in _text(below, "#path")


async def test_the_path_screen_back_again_takes_no_rate_over_the_time_it_was_away():
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        path = await _open(pilot, OpenPath(PORT), PathScreen)
        await until(pilot, lambda: len(path._readings) >= 1, "a reading")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not path, "the overview")
        assert not path._readings  # what it read before it was left is dropped
        await _open(pilot, OpenPath(PORT), PathScreen)
        assert app.screen is path and path._readings  # read again from the refresh it came back to


async def test_the_screen_esc_goes_back_to_has_each_refresh_before_esc_is_pressed():
    # so going back only draws it: its panes were 12-24 ms of Esc at 50k flows
    app = OvsVlanApp(FakeBackend())
    async with app.run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        overview = app.screen
        await _open(pilot, OpenPort(PORT), PortScreen)
        app.action_mark()  # the fake's next refresh is another one: the same node, marked
        await until(pilot, lambda: app.latest.mark is not None, "a refresh on the port screen")
        await until(pilot, lambda: overview.shown is app.latest, "the overview fed below it")
        assert overview.fed == app._feed_state() and isinstance(app.screen, PortScreen)
