"""Drops ranked by rate, as text (rich; no I/O): ``snapshot`` prints it."""

from __future__ import annotations

from rich.table import Table

from model.drops import Drop
from widgets.format import count, rate

SHOWN = 30


def drops_text(ranked: list[Drop]) -> Table:
    t = Table(title="drops now (fastest first)", title_justify="left", title_style="bold",
              box=None, padding=(0, 1), expand=False)
    for col, kw in (("pps", {"justify": "right"}), ("total", {"justify": "right"}),
                    ("source", {}), ("concerns", {}), ("counter", {"overflow": "fold"})):
        t.add_column(col, **kw)
    for d in ranked[:SHOWN]:
        t.add_row(rate(d.rate) if d.rate is not None else "-", count(d.counter.total),
                  d.counter.source, d.counter.subject, d.counter.what,
                  style="dim" if d.counter.benign else ("bold red" if d.rate else ""))
    if len(ranked) > SHOWN:
        t.add_row("", "", "", "", f"… {len(ranked) - SHOWN} more (snapshot --json has all)")
    if not ranked:
        t.add_row("", "", "", "", "no drop counter above zero")
    return t
