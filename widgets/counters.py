"""A panel of counters with their rate and how much they moved since the mark."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets import format as fmt
from widgets.format import drawn


class CounterPanel(Static):
    """Rates and since-mark both come from the session (node.rates, node.mark),
    so they are the same however long this panel has been on screen."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self._table: Table | None = None

    def show(self, values: Mapping[str, int | None], *, since: Mapping[str, int | None] | None,
             note: str = "", rates: Mapping[str, float] | None = None) -> None:
        """``since``: counts since the mark by counter (None: no mark set);
        ``rates``: per second by counter, None for one not measured yet."""
        rates = rates or {}
        t = Table(title=self.title, title_justify="left", title_style="bold", box=None,
                  expand=True, padding=(0, 1), show_header=bool(values))
        t.add_column("counter", style="cyan", no_wrap=True)
        t.add_column("value", justify="right")
        t.add_column("/s", justify="right")
        if since is not None:  # the column only means something once marked
            t.add_column("since mark", justify="right")
        for k, v in values.items():
            r = rates.get(k)
            moved = r is not None and r > 0
            shown = fmt.rate(r) if k in rates else ""  # a counter no rate is kept of
            cells = [k, fmt.count(v), Text(shown, style="bold yellow" if moved else "")]
            if since is not None:
                cells.append(fmt.count(since.get(k)))
            t.add_row(*cells)
        if note:
            t.caption = note
            t.caption_justify = "left"
        self._put(t)

    def _put(self, table: Table) -> None:
        """Drawn once at the panel's width (widgets/format.py drawn) once it has one."""
        self._table = table
        width = self.content_size.width
        self.update(drawn(self.app.console, table, width) if width > 0 else table)

    def on_resize(self) -> None:
        if self._table is not None:
            self._put(self._table)
