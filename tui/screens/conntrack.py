"""A port's conntrack entries (its firewall zone, reg6), counted by state, filterable.

``dpctl/dump-conntrack zone=N`` is read in a thread of its own at each
refresh while the screen is on top (read-only: it reports, it changes nothing).
"""

from __future__ import annotations

import threading

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from collectors import appctl
from model import learning
from node.session import Refresh
from tui.screens.base import NodeScreen
from widgets.path import conntrack_text

SHOWN = 500


class ConntrackScreen(NodeScreen):
    help_title = "conntrack"
    DEFAULT_CSS = """
    ConntrackScreen #filter { height: 3; }
    ConntrackScreen #scroll { height: 1fr; }
    ConntrackScreen #entries { height: auto; padding: 0 1; }
    """

    def __init__(self, port: str) -> None:
        super().__init__()
        self.port_name = port
        self.crumb = f"conntrack {port}"
        self.text = ""
        self.entries: tuple = ()
        self.zone: int | None = None
        self._reading = False

    def body(self) -> ComposeResult:
        yield Input(placeholder="filter: words that must all appear (icmp, 10.0.0.5, ESTABLISHED)",
                    id="filter")
        with VerticalScroll(id="scroll"):
            yield Static(id="entries")

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        pv = model.port(self.port_name) or next(
            (p for p in model.ports if p.tap == self.port_name), None)
        self.zone = learning.ct_zone(model, pv) if pv is not None else None
        if self.zone is None:
            self._say(f"{self.port_name} has no conntrack zone: no openvswitch-firewall "
                      "table-60 flow loads its reg6", "yellow")
            return
        endpoints = getattr(self.app.backend, "endpoints", None)
        if endpoints is not None and not self._reading:
            self._reading = True
            threading.Thread(target=self._read, args=(endpoints.ovs_rundir, self.zone),
                             name="conntrack", daemon=True).start()

    def _read(self, rundir, zone: int) -> None:
        try:
            answer = (appctl.parse_conntrack(appctl.run(rundir, "dpctl/dump-conntrack",
                                                        f"zone={zone}")), "")
        except appctl.AppctlError as e:
            answer = ((), str(e))
        try:
            self.app.call_from_thread(self._read_done, *answer)
        except RuntimeError:  # the app closed meanwhile
            pass

    def _read_done(self, entries: tuple, error: str) -> None:
        self._reading = False
        if not self.is_attached:
            return
        if error:
            self._say(error, "red")
            return
        self.entries = entries
        self._draw()

    @on(Input.Changed, "#filter")
    def _filtered(self, event: Input.Changed) -> None:
        self.text = event.value
        self._draw()

    def _draw(self) -> None:
        if self.zone is None:
            return
        shown = learning.ct_filter(self.entries, self.text)
        t = conntrack_text(self.zone, shown, shown=SHOWN)
        if self.text:
            t.append(f"\n({len(shown)} of {len(self.entries)} match {self.text!r})", style="dim")
        self.query_one("#entries", Static).update(t)

    def _say(self, message: str, style: str) -> None:
        self.query_one("#entries", Static).update(Text(message, style=style))
