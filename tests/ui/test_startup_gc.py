"""The cyclic GC is off while the TUI starts (tui/cli.py) and on again once the
first refresh with flows is on screen: a long session never runs without it."""

from __future__ import annotations

import dataclasses
import gc
import threading

from model.records import SourceState
from tests.fakes import FakeBackend, seed_refresh
from tests.ui.test_snapshots import until
from tui.app import OvsVlanApp


class _TopologyThenFlows(FakeBackend):
    """A first refresh with the flows pending, then the full one once let go."""

    def __init__(self) -> None:
        super().__init__()
        self.flows_read = threading.Event()

    def refresh(self):
        self.refreshes += 1
        if self.refreshes == 1:  # as LiveSources says it before the first flow dump
            full = seed_refresh()
            sources = tuple(SourceState("openflow", "connecting", "first flow dump of 2 bridges")
                            if s.source == "openflow" else s for s in full.model.sources)
            return dataclasses.replace(full, flows_pending=True,
                                       model=dataclasses.replace(full.model, sources=sources))
        self.flows_read.wait(10)
        return seed_refresh()


async def test_the_gc_paused_for_the_start_is_on_again_once_the_flows_are_shown():
    backend = _TopologyThenFlows()
    app = OvsVlanApp(backend, gc_paused=True)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.latest is not None, "the topology frame")
            assert app.latest.flows_pending and not app.latest.flows_settled
            await pilot.pause()
            assert not gc.isenabled()  # the flows' frame is still to come
            backend.flows_read.set()
            await until(pilot, lambda: app.latest is not None and not app.latest.flows_pending,
                        "the frame with flows")
            await until(pilot, gc.isenabled, "the GC on again")
    finally:
        backend.flows_read.set()
        if was_enabled:
            gc.enable()


async def test_an_app_not_told_of_a_pause_leaves_the_gc_as_it_is():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        app = OvsVlanApp(FakeBackend())
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.latest is not None, "the first frame")
            await pilot.pause()
            assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()


async def test_a_screen_left_for_good_is_freed_a_moment_later_not_at_the_next_full_collection():
    # its widgets are garbage in cycles; full collections wait for 100 younger ones
    # (keys at 50k flows), so the one-minute soak's churn had grown by 28 MiB
    import weakref

    from tests.ui.test_snapshots import to_instance

    was_enabled = gc.isenabled()
    gc.disable()  # only the app's own collection frees cycles
    try:
        app = OvsVlanApp(FakeBackend())
        async with app.run_test(size=(160, 48)) as pilot:
            await to_instance(pilot)
            await until(pilot, lambda: app._heap_frozen, "the first refresh with flows")
            left = weakref.ref(app.screen)
            await pilot.press("escape")
            await until(pilot, lambda: left() is None, "the instance screen freed", timeout=5)
    finally:
        if was_enabled:
            gc.enable()
