"""`?`: what each key does, where, read from the bindings themselves.

Each key is described once, in its Binding: ``description`` is the footer's
short word, ``tooltip`` (when the footer word is not enough) the help's
sentence. A binding without a description only hides a key from the footer
and is not listed. A new screen's keys appear here by themselves once the
app lists the screen in ``HELP_SCREENS``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

# How keys are written in the help (Textual writes "esc", "⏎", "^p").
_KEY_NAMES = {"escape": "Esc", "enter": "Enter", "tab": "tab", "ctrl+p": "ctrl+p"}

HelpSection = tuple[str, list[tuple[str, str]]]


def own_bindings(owner: type) -> list[Binding]:
    """The bindings a class declares itself (not those it inherits), one per key."""
    return [b for b in Binding.make_bindings(owner.__dict__.get("BINDINGS", ()))
            if b.description]


def key_text(app: App, binding: Binding) -> str:
    return _KEY_NAMES.get(binding.key) or app.get_key_display(binding)


def sections(app: App, everywhere: Sequence[Binding],
             screens: Iterable[type]) -> list[HelpSection]:
    """("everywhere", the keys of ``everywhere``), then one section per screen
    (titled by its ``help_title``) with the keys it adds; (key, what) each."""
    def keys(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
        return [(key_text(app, b), b.tooltip or b.description) for b in bindings]

    out: list[HelpSection] = [("everywhere", keys(everywhere))]
    for screen in screens:
        screen_keys = keys(own_bindings(screen))
        if screen_keys:
            out.append((screen.help_title, screen_keys))
    return out


class HelpScreen(Screen):
    """Opaque, not modal, and made once (the app installs it): dimming the
    screen below on every frame cost ~0.2 s a visit at 200 ports."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 0 1;
                                  scrollbar-gutter: stable; }
    """

    def __init__(self, keys: list[HelpSection]) -> None:
        super().__init__()
        self.keys = keys

    def key_table(self) -> Table:
        table = Table(show_header=False, box=None, expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for where, keys in self.keys:
            table.add_row(Text(where, style="bold"), "")
            for key, what in keys:
                table.add_row(f"  {key}", Text(what))
        return table

    def compose(self) -> ComposeResult:
        with VerticalScroll() as keys:
            keys.border_title = "Keys"
            keys.border_subtitle = "Esc, q or ?: close"
            yield Static(DrawnOnce(self.key_table()))


class DrawnOnce:
    """A rich renderable laid out once per width.

    Textual measures a Static's content several times while it arranges a
    screen (its width, then its height at that width, then draws it), and
    rich lays a Table out again each time: ~50 ms for the help's table, so
    ~1 s for the first `?` and ~0.4 s for each one after it, at 160x48.
    """

    def __init__(self, renderable) -> None:
        self.renderable = renderable
        self._lines: dict[int, list] = {}
        self._widths: dict[int, Measurement] = {}

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        found = self._widths.get(options.max_width)
        if found is None:
            found = self._widths[options.max_width] = Measurement.get(console, options,
                                                                      self.renderable)
        return found

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        lines = self._lines.get(options.max_width)
        if lines is None:
            lines = self._lines[options.max_width] = console.render_lines(
                self.renderable, options.update(height=None), pad=False)
        for line in lines:
            yield from line
            yield Segment.line()
