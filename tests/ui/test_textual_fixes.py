"""The Textual workarounds (widgets/textual_fixes.py) reach into Textual's
private parts and were measured on one version: on another, each must be
checked again before the tool is trusted for a long incident session."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from widgets import textual_fixes


def test_the_installed_textual_is_the_one_the_workarounds_were_written_for():
    installed = version("textual")
    assert installed == textual_fixes.WRITTEN_FOR, (
        f"textual {installed} is installed, widgets/textual_fixes.py was written for "
        f"{textual_fixes.WRITTEN_FOR}: re-check each workaround there against {installed} "
        f"(run tests/ui/test_screen_churn.py and the soak), then change WRITTEN_FOR")


def test_pyproject_pins_that_version():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert f'"textual=={textual_fixes.WRITTEN_FOR}"' in pyproject


def _after_quick_escape(env: dict) -> list[str]:
    """Textual's Escape wait and the Linux input thread's selector, after quick_escape()
    in a fresh interpreter with ``env``."""
    import os
    import subprocess
    import sys

    code = ("from widgets import textual_fixes as f; f.quick_escape()\n"
            "from textual import constants; from textual.drivers import linux_driver as d\n"
            "print(constants.ESCAPE_DELAY); print(d.selectors.SelectSelector.__name__)")
    clean = {k: v for k, v in os.environ.items() if k != "ESCDELAY"}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parents[2],
                         timeout=60)
    return out.stdout.split()


def test_escape_goes_back_without_waiting_a_tenth_of_a_second():
    delay, selector = _after_quick_escape({})
    assert float(delay) == textual_fixes.QUICK_ESCAPE_S
    assert selector == "_PromptSelector"  # looks at the Escape timer every 10 ms


def test_an_operators_escdelay_is_left_to_textual():
    delay, selector = _after_quick_escape({"ESCDELAY": "300"})
    assert float(delay) == 0.3
    assert selector == "SelectSelector"


def test_the_prompt_selector_still_sees_input():
    import os

    r, w = os.pipe()
    try:
        selector = textual_fixes._PromptSelector()
        selector.register(r, textual_fixes.selectors.EVENT_READ)
        os.write(w, b"\x1b")
        assert [key.fd for key, _ in selector.select(0.1)] == [r]  # input is still seen
        selector.close()
    finally:
        os.close(r)
        os.close(w)


class _Reading:
    """Stands for a refresh: what a worker returns, with a weakref to see it go."""


async def test_a_finished_workers_result_is_freed_without_waiting_for_a_full_collection():
    # a refresh's reading (50k flows) waited for the next full collection: 60-80 ms every ~5 s.
    # An async worker: a thread worker's thread also keeps the last worker it ran (one, not a pile)
    import gc
    import weakref

    from textual.app import App

    textual_fixes.free_finished_workers()
    seen: list = []

    async def read() -> _Reading:
        return _Reading()

    class Reads(App):
        def on_mount(self) -> None:
            self.run_worker(read())

        def on_worker_state_changed(self, event) -> None:
            if event.state.name == "SUCCESS":
                seen.append(weakref.ref(event.worker.result))

    gc.collect()
    gc.disable()
    try:
        app = Reads()
        async with app.run_test() as pilot:
            while not seen or app.workers:
                await pilot.pause(0.02)
            await pilot.pause()
            assert seen[0]() is None, "the result outlived its worker (kept by a reference cycle)"
    finally:
        gc.enable()


async def test_a_status_line_that_reads_the_same_asks_for_no_layout():
    # Textual lays the whole screen out on each Static.update: 10-16 ms a refresh at 160x48
    from rich.text import Text
    from textual.app import App

    from widgets.status import Steady

    class Line(App):
        def compose(self):
            yield Steady()

    app = Line()
    async with app.run_test() as pilot:
        line = app.query_one(Steady)
        asked: list[bool] = []
        refresh = line.refresh
        line.refresh = lambda *a, layout=False, **k: (asked.append(layout), refresh(*a, layout=layout, **k))[1]
        line.update(Text("all sources live", style="green"))
        await pilot.pause()
        line.update(Text("all sources live", style="green"))
        line.update(Text("ovsdb stale 3s", style="yellow"))
        await pilot.pause()
        assert asked == [True, True]  # the first and the changed one, not the one that read the same
