"""A vNIC's path as a picture, its counters moving, and where packets stop.

Rates are taken over the last few refreshes (``WINDOW`` seconds), not one:
a hop is only marked when packets stopped there over the whole window.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from collectors import appctl
from model import learning, path as pathmod
from model.scopes import Scope
from node.session import Refresh
from tui.navigation import (OpenConntrack, OpenFlowDetail, OpenFlows, OpenInstance, OpenPort,
                            OpenTrace, OpenVlan)
from tui.screens.base import NodeScreen
from tui.screens.learned import BackgroundText, read_fdb, rundir_of
from widgets.learning import fdb_text
from widgets.format import drawn
from widgets.path import conntrack_text, render_path

WINDOW = 5.0  # seconds the rates and the stop are judged over


class PathScreen(NodeScreen):
    BINDINGS = [
        Binding("up", "move(-1)", "previous hop", show=False),
        Binding("down", "move(1)", "next hop", show=False),
        Binding("left", "move(-1)", "previous hop", show=False),
        Binding("right", "move(1)", "next hop", show=False),
        Binding("enter", "open", "open hop",
                tooltip="the selected hop (arrows pick it): its drop flow when packets stop "
                        "there, else its port, VLAN, instance or flows"),
        Binding("t", "trace", "trace", tooltip="ofproto/trace a packet from this vNIC"),
        Binding("c", "conntrack", "conntrack",
                tooltip="the port's conntrack entries (its zone, reg6), by state, filterable"),
    ]
    help_title = "path"
    DEFAULT_CSS = """
    PathScreen #scroll { height: 1fr; }
    PathScreen #picture { height: auto; padding: 0 1; }
    PathScreen #learning { height: auto; padding: 1 1 0 1; }
    """

    def __init__(self, port: str) -> None:
        super().__init__()
        self.port_name = port
        self.crumb = f"path {port}"
        self.selected = 0
        self.path: pathmod.PacketPath | None = None
        self._readings: deque[tuple[float, dict]] = deque(maxlen=64)
        self._refresh: Refresh | None = None
        self._learning = BackgroundText(self, "#learning", "fdb-conntrack")

    def body(self) -> ComposeResult:
        with VerticalScroll(id="scroll"):
            yield Static(id="picture")
            yield Static(id="learning")

    def show(self, refresh: Refresh) -> None:
        # netlink is read every few seconds; the tap hop wants it every refresh while shown
        sources = getattr(getattr(self.app.backend, "session", None), "sources", None)
        if sources is not None and hasattr(sources, "links_changed"):
            sources.links_changed()
        self._refresh = refresh
        model = refresh.model
        title, specs = pathmod.path_of(model, self.port_name)
        now = pathmod.read(model, pathmod.counter_ids(specs))
        self._readings.append((refresh.clock, now))
        while len(self._readings) > 2 and refresh.clock - self._readings[1][0] >= WINDOW:
            self._readings.popleft()
        then_clock, then = self._readings[0]
        self.path = pathmod.measure(title, specs, then, now, refresh.clock - then_clock)
        self._draw()
        rundir = rundir_of(self.app)
        if rundir is not False:
            self._learning.start(lambda: self._learned_text(model, rundir))

    def _draw(self) -> None:
        if self.path is None:
            return
        self.selected = min(self.selected, max(len(self.path.hops) - 1, 0))
        width = self.size.width or self.app.size.width
        self.query_one("#picture", Static).update(drawn(
            self.app.console, render_path(self.path, width, self.selected), width - 2))

    def _learned_text(self, model, rundir) -> Text | None:
        """fdb/show of the bridge the VLAN leaves by, and the port's conntrack zone."""
        pv = model.port(self.port_name) or next(
            (p for p in model.ports if p.tap == self.port_name), None)
        if pv is None:
            return None
        vlan = model.vlan(pv.port.tag) if pv.port.tag is not None else None
        text = Text()
        provider = learning.provider_tag(vlan)
        if provider is not None and vlan.nics:
            fdb, why = read_fdb(rundir, vlan.physical_bridge)
            if fdb is None:
                text.append(why, style="yellow")
            else:
                text.append_text(fdb_text(model, fdb, vlan.physical_bridge, provider, vlan.nics))
        zone = learning.ct_zone(model, pv)
        if zone is not None:
            try:
                entries = appctl.parse_conntrack(appctl.run(
                    rundir, "dpctl/dump-conntrack", f"zone={zone}"))
                text.append("\n")
                text.append_text(conntrack_text(zone, entries))
            except appctl.AppctlError as e:
                text.append(f"\nconntrack not read: {e}", style="yellow")
        return text

    def on_resize(self) -> None:
        self._draw()

    def retarget(self, port: str) -> None:
        """Show another vNIC's path (the screen stays mounted, tui/app.py push_kept)."""
        self.port_name = port
        self.crumb = f"path {port}"
        self.selected = 0
        self.path = None
        self._readings.clear()
        self._learning.clear()

    def on_screen_suspend(self) -> None:
        """Left (it stays mounted, tui/app.py push_kept): rates start over when it is
        back, never taken over the minutes it was away."""
        self._readings.clear()

    def action_move(self, step: int) -> None:
        if self.path and self.path.hops:
            self.selected = (self.selected + step) % len(self.path.hops)
            self._draw()

    def action_open(self) -> None:
        """The stop's drop flow when the hop has one, else what the hop is about."""
        if not self.path or not self.path.hops:
            return
        for stop in self.path.stop_at(self.selected):
            if stop.flow is not None:
                self.post_message(OpenFlowDetail(stop.flow))
                return
        opens = self.path.hops[self.selected].spec.opens
        if not opens:
            self.notify("nothing to open for this hop", severity="warning")
        elif opens[0] == "port":
            self.post_message(OpenPort(opens[1]))
        elif opens[0] == "instance":
            self.post_message(OpenInstance(opens[1]))
        elif opens[0] == "vlan":
            self.post_message(OpenVlan(opens[1]))
        elif opens[0] == "flows":
            self.post_message(OpenFlows(Scope(opens[1], opens[2])))

    def action_trace(self) -> None:
        self.post_message(OpenTrace(self.port_name))

    def action_conntrack(self) -> None:
        self.post_message(OpenConntrack(self.port_name))
