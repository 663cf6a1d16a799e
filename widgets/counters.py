"""A panel of counters with their rate and how much they moved since the mark."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets import format as fmt


class CounterPanel(Static):
    """Rates come from this panel's own consecutive updates, so any source's
    counters (OpenFlow, netlink, libvirt) get them the same way."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self._prev: tuple[float, Mapping[str, int | None]] | None = None
        self._baseline: Mapping[str, int | None] | None = None
        self._mark: float | None = None

    def show(self, values: Mapping[str, int | None], at: float, mark_time: float | None,
             note: str = "") -> None:
        if mark_time != self._mark:
            self._mark = mark_time
            self._baseline = dict(values) if mark_time is not None else None
        rates: dict[str, float] = {}
        if self._prev is not None and at > self._prev[0]:
            dt = at - self._prev[0]
            for k, v in values.items():
                old = self._prev[1].get(k)
                if v is not None and old is not None and v >= old:
                    rates[k] = (v - old) / dt
        self._prev = (at, dict(values))

        t = Table(title=self.title, title_justify="left", title_style="bold", box=None,
                  expand=True, padding=(0, 1), show_header=bool(values))
        t.add_column("counter", style="cyan", no_wrap=True)
        t.add_column("value", justify="right")
        t.add_column("/s", justify="right")
        t.add_column("since mark" if self._baseline is not None else "", justify="right")
        for k, v in values.items():
            since = ""
            if self._baseline is not None and v is not None and self._baseline.get(k) is not None:
                since = fmt.count(max(v - self._baseline[k], 0))
            r = rates.get(k)
            moved = r is not None and r > 0
            t.add_row(k, fmt.count(v), Text(fmt.rate(r), style="bold yellow" if moved else ""),
                      since)
        if note:
            t.caption = note
            t.caption_justify = "left"
        self.update(t)
