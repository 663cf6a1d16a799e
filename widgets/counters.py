"""A panel of counters with their rate and how much they moved since the mark."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets import format as fmt


class CounterPanel(Static):
    """Rates come from the caller where it has them (the session's, for the
    same interval as every other rate on screen) and otherwise from this
    panel's own consecutive updates, so any source's counters (OpenFlow,
    netlink, libvirt) get them."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self._prev: tuple[float, Mapping[str, int | None]] | None = None
        self._baseline: Mapping[str, int | None] | None = None
        self._mark: float | None = None

    def show(self, values: Mapping[str, int | None], at: float, mark_time: float | None,
             note: str = "", rates: Mapping[str, float] | None = None) -> None:
        if mark_time != self._mark:
            self._mark = mark_time
            self._baseline = dict(values) if mark_time is not None else None
        own: dict[str, float] = {}
        if self._prev is not None and at > self._prev[0]:
            dt = at - self._prev[0]
            for k, v in values.items():
                old = self._prev[1].get(k)
                if v is not None and old is not None and v >= old:
                    own[k] = (v - old) / dt
        self._prev = (at, dict(values))
        own.update(rates or {})

        t = Table(title=self.title, title_justify="left", title_style="bold", box=None,
                  expand=True, padding=(0, 1), show_header=bool(values))
        t.add_column("counter", style="cyan", no_wrap=True)
        t.add_column("value", justify="right")
        t.add_column("/s", justify="right")
        if self._baseline is not None:  # the column only means something once marked
            t.add_column("since mark", justify="right")
        for k, v in values.items():
            r = own.get(k)
            moved = r is not None and r > 0
            cells = [k, fmt.count(v), Text(fmt.rate(r), style="bold yellow" if moved else "")]
            if self._baseline is not None:
                base = self._baseline.get(k)
                cells.append(fmt.count(max(v - base, 0)) if v is not None and base is not None
                             else "")
            t.add_row(*cells)
        if note:
            t.caption = note
            t.caption_justify = "left"
        self.update(t)
