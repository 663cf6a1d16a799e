"""Everything the model found wrong, each leading to what it concerns."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from model.problems import verdict
from node.session import Refresh
from tui.navigation import OpenSubject
from tui.screens.base import NodeScreen
from widgets.keyed_table import KeyedTable
from widgets.status import spaced


class ProblemsScreen(NodeScreen):
    crumb = help_title = "problems"
    DEFAULT_CSS = """
    ProblemsScreen #summary { height: auto; padding: 0 1; }
    ProblemsScreen #problems { height: auto; max-height: 70%; }
    ProblemsScreen #detail { height: auto; padding: 1 1 0 1; }
    """

    _shown: tuple = ()  # the problems on screen (the display may be paused)

    def body(self) -> ComposeResult:
        yield Static(id="summary")
        yield KeyedTable([("kind", "Kind"), ("subject", "Subject"), ("detail", "Detail")],
                         id="problems")
        yield Static(id="detail")

    def on_mount(self) -> None:
        self.query_one("#problems").focus()

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        problems = self._shown = model.problems
        said, clean = verdict(model)
        summary = Text()
        if problems:
            spaced(summary.append(said, style="bold red"), "   ")
            summary.append("Enter: go to the port, tap or VLAN concerned", style="dim")
        elif clean:
            summary.append("no problems found: no dead VLAN, orphan or unplugged port, missing "
                           "VLAN translation or interface error", style="green")
        else:
            summary.append(said, style="bold yellow")
        for check in model.checks:
            if check.status != "ran":
                summary.append(f"\n{check.kind}: {check.status}: {check.why}", style="yellow")
        self.query_one("#summary", Static).update(summary)
        table = self.query_one("#problems", KeyedTable)
        table.display = bool(problems)  # no header over an empty list
        if problems and self.focused is None:  # hidden, it lost the focus: Enter needs it
            table.focus()
        table.sync([(f"{p.kind}\x1f{p.subject}\x1f{n}", [p.kind, p.subject, p.detail])
                    for n, p in enumerate(problems)])
        self._show_detail(table.cursor_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    def _show_detail(self, key: str | None) -> None:
        """The detail in full, wrapped: in the table it is often wider than the screen."""
        n = int(key.rsplit("\x1f", 1)[1]) if key else -1
        problems = self._shown
        self.query_one("#detail", Static).update(
            Text(problems[n].detail) if 0 <= n < len(problems) else "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        _, subject, _ = event.row_key.value.split("\x1f")
        self.post_message(OpenSubject(subject))
