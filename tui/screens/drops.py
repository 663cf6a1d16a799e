"""Everything dropping now, fastest first; Enter opens the flow or the port.

Rates are over the last ``WINDOW`` seconds of refreshes (a 1 s window at
1 pps may hold no packet). The datapath's counters (``dpctl/show -s``) are
read in a worker at each refresh while the screen is on top.
"""

from __future__ import annotations

import threading
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from collectors import appctl
from model import drops as dropsmod
from node.session import Refresh
from tui.navigation import OpenFlowDetail, OpenPort
from tui.screens.base import NodeScreen
from widgets.format import count, rate
from widgets.keyed_table import KeyedTable

WINDOW = 5.0
SHOWN = 200  # rows: the rest are counters that are not moving


class DropsScreen(NodeScreen):
    crumb = help_title = "drops"
    DEFAULT_CSS = """
    DropsScreen #summary { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._readings: deque[tuple[float, dict]] = deque(maxlen=64)
        self._datapaths: tuple = ()
        self._datapath_error = ""
        self._reading = False  # a dpctl/show is running
        self.ranked: list[dropsmod.Drop] = []

    def body(self) -> ComposeResult:
        yield Static(id="summary")
        yield KeyedTable([("pps", "pps"), ("total", "total"), ("source", "source"),
                          ("subject", "concerns"), ("what", "counter")], id="drops")

    def on_mount(self) -> None:
        self.query_one("#drops").focus()

    def show(self, refresh: Refresh) -> None:
        if not self._reading:  # one read at a time (a thread of its own: see trace.py)
            self._reading = True
            threading.Thread(target=self._read_datapaths, name="dpctl-show", daemon=True).start()
        now = dropsmod.counters(refresh.model, self._datapaths)
        totals = dropsmod.totals(now)
        self._readings.append((refresh.clock, totals))
        while len(self._readings) > 2 and refresh.clock - self._readings[1][0] >= WINDOW:
            self._readings.popleft()
        then_clock, then = self._readings[0]
        seconds = refresh.clock - then_clock
        self.ranked = dropsmod.rank(now, then if seconds > 0 else None, seconds)
        moving = [d for d in self.ranked if d.rate and not d.counter.benign]
        summary = Text()
        if seconds <= 0:
            summary.append("first reading: rates follow at the next refresh", style="yellow")
        elif moving:
            summary.append(f"{len(moving)} counter(s) dropping now", style="bold red")
            summary.append(f" (rates over the last {seconds:.0f} s)", style="dim")
        else:
            summary.append(f"nothing dropping over the last {seconds:.0f} s", style="green")
        summary.append("   Enter: the flow or port", style="dim")
        if self._datapath_error:
            summary.append(f"\ndatapath counters not read: {self._datapath_error}",
                           style="yellow")
        self.query_one("#summary", Static).update(summary)
        self.query_one("#drops", KeyedTable).sync([
            (repr(d.counter.id), {
                "pps": Text(rate(d.rate) if d.rate is not None else "-",
                            style="dim" if d.counter.benign else ("bold red" if d.rate else "")),
                "total": count(d.counter.total), "source": d.counter.source,
                "subject": d.counter.subject, "what": d.counter.what})
            for d in self.ranked[:SHOWN]])

    def _read_datapaths(self) -> None:
        endpoints = getattr(self.app.backend, "endpoints", None)
        found, error = (), ""
        if endpoints is not None:
            try:
                found = appctl.parse_dpctl_show(appctl.run(endpoints.ovs_rundir, "dpctl/show",
                                                           "-s"))
            except appctl.AppctlError as e:
                error = str(e)
        try:
            self.app.call_from_thread(self._datapaths_read, found, error)
        except RuntimeError:  # the app closed meanwhile
            self._reading = False

    def _datapaths_read(self, found: tuple, error: str) -> None:
        self._reading = False
        self._datapaths, self._datapath_error = found, error

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        d = next((d for d in self.ranked if repr(d.counter.id) == event.row_key.value), None)
        if d is None:
            return
        if d.counter.flow is not None:
            self.post_message(OpenFlowDetail(d.counter.flow))
        elif d.counter.port:
            self.post_message(OpenPort(d.counter.port))
        else:
            self.notify(f"{d.counter.subject}: nothing to open", severity="warning")
