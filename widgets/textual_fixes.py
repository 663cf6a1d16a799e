"""Every workaround for a Textual leak, in one place, for one Textual version.

Each was measured in the soak (bench/soak.py) and the screen-churn test
(tests/ui/test_screen_churn.py) on Textual 8.2.8, and reaches into Textual's
private parts. tests/ui/test_textual_fixes.py fails when another Textual is
installed: re-check each fix against it (still needed? still right?), then
change WRITTEN_FOR.
"""

from __future__ import annotations

import inspect
import os
import selectors
from typing import Iterable

from textual import constants
from textual._styles_cache import StylesCache
from textual.app import App
from textual.dom import DOMNode
from textual.widgets import DataTable

WRITTEN_FOR = "8.2.8"  # the Textual these were measured on (pyproject.toml pins it)


def forget_drawn_lines() -> None:
    """Call when a screen goes away.

    Textual 8.2.8 memoizes StylesCache.get_inner_outer with lru_cache(1024)
    on the instance, which keeps the rendered lines of up to 1,024 removed
    widgets alive (the soak: +50 MiB in a few minutes of screen visits).
    """
    StylesCache.get_inner_outer.cache_clear()


def drop_stale_renders(table: DataTable) -> None:
    """Call after updating a DataTable's cells.

    Textual 8.2.8 keys its row, cell and line caches by an update count that
    every update_cell bumps, so after an update no old entry can be hit
    again, yet each lingers until 1,000-10,000 newer ones push it out:
    measured in the soak, +50 MiB of dead Strips over the first minutes.
    """
    for cache in (table._row_render_cache, table._cell_render_cache,
                  table._row_renderable_cache, table._line_cache):
        cache.clear()


def preload_css(app: App, classes: Iterable[type[DOMNode]]) -> None:
    """Add these classes' DEFAULT_CSS to the stylesheet before the first frame.

    Textual 8.2.8 adds a class's DEFAULT_CSS when its first instance mounts,
    then parses the whole stylesheet again and restyles every node: at 50k
    flows the first visit of the path screen took 550 ms to compose and the
    overview's next frame 340 ms. Added here (as Widget._post_register adds
    it, under the same names, so the later add is a no-op) it is parsed once
    with the rest at start.
    """
    for cls in classes:
        for tie_breaker, base in enumerate(cls._css_bases(cls)):
            css = base.__dict__.get("DEFAULT_CSS", "")
            if not css:
                continue
            try:
                where = (inspect.getfile(base), f"{base.__name__}.DEFAULT_CSS")
            except (TypeError, OSError):
                where = ("", f"{base.__name__}.DEFAULT_CSS")
            scoped = base.__dict__.get("SCOPED_CSS", True)
            app.stylesheet.add_source(css, read_from=where, is_default_css=True,
                                      tie_breaker=-tie_breaker,
                                      scope=base._css_type_name if scoped else "")


# A lone Escape byte could be the start of an escape sequence (an arrow key):
# the terminal's input parser waits this long for more before calling it the
# Escape key (Textual: ESCDELAY, 100 ms, as ncurses' and vim's waits).
QUICK_ESCAPE_S = 0.025  # tmux 3.5 waits 10 ms; a key's sequence comes in one write
_INPUT_POLL_S = 0.01  # the input thread's wait between looks at that timer


class _PromptSelector(selectors.SelectSelector):
    """Textual 8.2.8's input thread (LinuxDriver.run_input_thread) waits up to
    0.1 s in select() before it looks whether the Escape wait is over, so a
    lone Escape came 100-110 ms after it was pressed whatever ESCDELAY said
    (measured in tmux at 50k flows: half of Esc back's ~200 ms). Here it looks
    every 10 ms (an idle select() call each time)."""

    on_input = None  # called (input thread) when bytes come in: see on_input()

    def select(self, timeout=None):
        ready = super().select(_INPUT_POLL_S if timeout is None else min(timeout, _INPUT_POLL_S))
        if ready and _PromptSelector.on_input is not None:
            _PromptSelector.on_input()
        return ready


class _PromptSelectors:
    """The `selectors` module as Textual's Linux driver sees it."""

    EVENT_READ = selectors.EVENT_READ
    EVENT_WRITE = selectors.EVENT_WRITE
    SelectorKey = selectors.SelectorKey
    SelectSelector = _PromptSelector


def on_input(callback) -> None:
    """Call ``callback`` (from Textual's input thread) as soon as a key's bytes
    come in: a lone Escape is only a key 25 ms later, and the app would
    otherwise learn of it only then (node/ui_first.py holds the refresh from
    here). Only with quick_escape's selector (a Linux terminal, no ESCDELAY)."""
    _PromptSelector.on_input = staticmethod(callback)


def quick_escape() -> None:
    """Escape (back) answered in ~25-35 ms instead of ~105 ms, unless the
    operator set ESCDELAY (Textual then uses theirs, and the input thread
    keeps its own pace)."""
    if "ESCDELAY" in os.environ:
        return
    try:
        from textual.drivers import linux_driver
    except ImportError:  # not a Linux terminal: Textual's own driver and wait
        return
    constants.ESCAPE_DELAY = QUICK_ESCAPE_S
    linux_driver.selectors = _PromptSelectors


def compose_ahead(app: App, name: str) -> None:
    """Compose an installed screen now, before it is first pushed.

    Textual 8.2.8 composes a screen when it is first pushed (App._get_screen
    registers it then): for a node screen at 50k flows, 30-60 ms between the
    key and its first frame. Registered here while the app is idle, the push
    finds it running and only lays it out and draws it.
    """
    if not app.is_screen_installed(name):
        return
    screen = app.get_screen(name)
    if not screen.is_running:
        app._get_screen(name)


def lay_out_ahead(app: App, name: str) -> None:
    """Lay out an installed screen composed ahead (compose_ahead), off screen.

    A screen's first layout resolves every widget's styles and renders each
    once to measure it: 40-60 ms at 160x48 on the bench machine, paid by the
    key that first showed it. Screen._refresh_layout on a screen that is not
    on top sizes its widgets and draws nothing (only the top screen is
    displayed).
    """
    screen = _off_screen(app, name)
    if screen is not None:
        screen._refresh_layout(app.size)


def draw_ahead(app: App, name: str) -> None:
    """Draw a screen laid out ahead (lay_out_ahead) off screen, the result thrown away.

    Each widget keeps the lines it rendered until its content or size changes;
    a screen's first frame renders them all, its later ones only what changed.
    A first visit cost 100-250 ms where the next cost 40-90 (bench node, 50k
    flows, a 2-core AMD EPYC VM): drawn here while the app is idle, the first
    visit is a later one. Only the top screen is ever displayed, so nothing of
    this reaches the terminal.
    """
    screen = _off_screen(app, name)
    if screen is not None and screen.size:
        screen._compositor.render_full_update()


def _off_screen(app: App, name: str):
    """The installed screen ``name``, mounted and not on top; None while the app closes."""
    if not app.is_screen_installed(name) or not app.screen_stack:
        return None
    screen = app.get_screen(name)
    return screen if screen.is_mounted and screen is not app.screen else None


def free_finished_workers() -> None:
    """Let a finished worker go as soon as Textual forgets it.

    Textual 8.2.8's Worker holds its asyncio Task and the Task's context
    names the worker as the active one: each finished worker was cyclic
    garbage, and with it its arguments and its result. A refresh worker's
    result is the node's whole reading (at 50k flows a 50k-entry tuple of
    flows; 18,500 objects of garbage every 5 s in all), freed only by the
    next full collection: 60-80 ms of the whole process every ~5 s. The
    manager drops a worker once its task is done; the worker drops the task
    then.
    """
    from textual.worker_manager import WorkerManager

    remove = WorkerManager._remove_worker
    if getattr(remove, "frees_task", False):
        return

    def _remove_worker(self, worker) -> None:
        remove(self, worker)
        worker._task = None

    _remove_worker.frees_task = True
    WorkerManager._remove_worker = _remove_worker
