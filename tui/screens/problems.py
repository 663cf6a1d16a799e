"""Everything the model found wrong, each leading to what it concerns."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable

from collectors.session import Refresh
from tui.screens.base import NodeScreen
from widgets.keyed_table import KeyedTable


class ProblemsScreen(NodeScreen):
    crumb = "problems"

    def body(self) -> ComposeResult:
        yield KeyedTable([("kind", "Kind"), ("subject", "Subject"), ("detail", "Detail")],
                         id="problems")

    def on_mount(self) -> None:
        self.query_one("#problems").focus()

    def show(self, refresh: Refresh) -> None:
        self.query_one("#problems", KeyedTable).sync([
            (f"{p.kind}\x1f{p.subject}\x1f{n}", [p.kind, p.subject, p.detail])
            for n, p in enumerate(refresh.model.problems)])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        kind, subject, _ = event.row_key.value.split("\x1f")
        self.app.open_subject(kind, subject)
