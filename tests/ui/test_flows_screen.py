"""The flow list shows the operator's newest choice: a filter typed then
cleared, or a sort changed twice, never ends with an older, slower choice of
flows on screen. Run on the fake backend (tests/fakes.py)."""

from __future__ import annotations

import threading

from tests.ui.test_snapshots import app, to_port_flows, until
from tui import choices
from tui.screens import flows as flows_screen
from tui.screens.flows import FlowsScreen
from widgets.virtual_table import VirtualTable


def summary_of(screen: FlowsScreen) -> str:
    return str(screen.query_one("#summary").render())


async def test_a_slow_superseded_selection_never_lands_over_the_newer_one(monkeypatch):
    slow_started = threading.Event()
    slow_may_finish = threading.Event()
    slow_landing = threading.Event()
    real_select = choices.select_flows

    def select(model, scope, text, sort, rate):
        if text == "slow":  # the first choice: held until the second has landed
            slow_started.set()
            assert slow_may_finish.wait(10), "the test never let the slow choice finish"
        return real_select(model, scope, text, sort, rate)

    real_show_rows = FlowsScreen._show_rows

    def show_rows(self, *args):
        real_show_rows(self, *args)
        if "slow" in args:
            slow_landing.set()

    monkeypatch.setattr(choices, "select_flows", select)
    monkeypatch.setattr(FlowsScreen, "_show_rows", show_rows)
    async with app().run_test(size=(160, 48)) as pilot:
        await to_port_flows(pilot)
        await pilot.press("p")  # no refresh starts a third choice meanwhile
        screen = pilot.app.screen
        table = screen.query_one("#flows", VirtualTable)
        await until(pilot, lambda: "sorted by table" in summary_of(screen), "the first rows")
        every_flow = len(table.rows)
        refresh = screen._refresh

        screen._select(refresh, "slow", "table")  # e.g. a filter, then at once...
        await until(pilot, slow_started.is_set, "the slow choice to start")
        screen._select(refresh, "", "rate")  # ...cleared and re-sorted
        await until(pilot, lambda: "sorted by rate" in summary_of(screen), "the newer choice")
        slow_may_finish.set()
        await until(pilot, slow_landing.is_set, "the slow choice to come back")
        await pilot.pause()

        assert "sorted by rate" in summary_of(screen)
        assert "slow" not in summary_of(screen)
        assert len(table.rows) == every_flow


def test_the_moving_count_is_the_chosen_flows_whose_rate_is_above_zero():
    from model.scopes import Scope, select_flows
    from tests.fakes import seed_refresh
    from tui import rows

    refresh = seed_refresh()
    for scope in (Scope("all"), Scope("bridge", "br-provider")):
        chosen = select_flows(refresh.model, scope, "", "table", lambda f: None)
        _keys, index, texts = rows.flow_row_keys(chosen)
        each = sum(1 for f in chosen if (refresh.rate(f) or (0,))[0] > 0)
        assert each > 0  # the seed's ping moves flows on both bridges
        assert flows_screen._moving(refresh, index, texts) == each
        by_key = {f.key: i for i, f in enumerate(chosen)}  # keys as two alike hashes leave them
        assert flows_screen._moving(refresh, by_key, True) == each


def test_row_keys_are_one_per_flow_and_the_same_across_refreshes():
    """The flows screen keys its rows by each flow's identity (compact, hashed):
    the cursor follows a flow whose counters moved, and no key stands for two."""
    from dataclasses import replace

    from model.scopes import Scope, select_flows
    from tests.fakes import seed_refresh
    from tui import rows

    chosen = select_flows(seed_refresh().model, Scope("all"), "", "table", lambda f: None)
    keys, index, _texts = rows.flow_row_keys(chosen)
    assert len(set(keys)) == len(chosen) and index[keys[5]] == 5
    moved = [replace(f, n_packets=f.n_packets + 7) for f in chosen]
    assert rows.flow_row_keys(moved)[0] == keys
    assert [rows.row_key_of(f.key, False) for f in chosen] == keys
