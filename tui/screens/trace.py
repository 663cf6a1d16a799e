"""A packet traced from a vNIC (or toward it from the wire), hop by hop.

``ofproto/trace`` runs in a worker thread on the model the app already has:
no flow table is dumped or parsed for it, so the answer comes as fast as
ovs-vswitchd computes it.
"""

from __future__ import annotations

import threading

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from collectors import appctl
from model import trace as tracemod
from node.session import Refresh
from tui.navigation import OpenFlowDetail
from tui.screens.base import NodeScreen
from widgets.trace_text import trace_text

PROTOS = ("icmp", "arp", "tcp:22", "udp:53")


class TraceScreen(NodeScreen):
    BINDINGS = [
        Binding("w", "direction", "direction",
                tooltip="trace from the vNIC, or from the wire on its provider VLAN toward it"),
        Binding("o", "proto", "protocol", tooltip="icmp echo, arp, tcp:22, udp:53"),
        Binding("up", "move(-1)", "previous hop", show=False),
        Binding("down", "move(1)", "next hop", show=False),
        Binding("f", "open", "open hop's flow",
                tooltip="the selected hop's flow (arrows pick it) with its live counters"),
    ]
    help_title = "trace"
    DEFAULT_CSS = """
    TraceScreen #ask { height: 3; }
    TraceScreen #to { width: 30; }
    TraceScreen #what { padding: 1 1; width: 1fr; }
    TraceScreen #scroll { height: 1fr; }
    TraceScreen #result { height: auto; padding: 0 1; }
    """

    def __init__(self, port: str, to: str = "") -> None:
        super().__init__()
        self.port_name = port
        self.crumb = f"trace {port}"
        self.to = to
        self.from_wire = False
        self.proto = PROTOS[0]
        self.result: tracemod.TraceResult | None = None
        self.selected: int | None = None
        self.running = False
        self._asked = 0  # traces asked for; only the last one's answer is shown

    def body(self) -> ComposeResult:
        with Horizontal(id="ask"):
            yield Input(self.to, placeholder="destination IP (e.g. the gateway), Enter",
                        id="to")
            yield Static(id="what")
        with VerticalScroll(id="scroll"):
            yield Static(id="result")

    def on_mount(self) -> None:
        self._describe()
        if self.to:
            self.query_one("#scroll").focus()
            if self.shown is not None:  # else the first refresh fed to it starts it
                self._start()
        else:
            self.query_one("#to", Input).focus()

    def show(self, refresh: Refresh) -> None:
        # the trace is of one moment (r re-runs it); one asked for before the
        # screen had its first refresh runs on that refresh
        if self.to and self._asked == 0 and not self.running:
            self._start()

    def on_resize(self) -> None:
        self._draw()

    def _describe(self) -> None:
        way = "from the wire toward" if self.from_wire else "from"
        self.query_one("#what", Static).update(Text.assemble(
            (f"{self.proto} ", "bold"), f"{way} {self.port_name}   ",
            ("Enter: trace  w: direction  o: protocol  f: open hop's flow", "dim")))

    @on(Input.Submitted, "#to")
    def _submitted(self, event: Input.Submitted) -> None:
        self.to = event.value.strip()
        self.query_one("#scroll").focus()  # the keys (w, o, f, arrows) are the screen's again
        self._start()

    def _start(self) -> None:
        latest = self.shown  # the refresh on screen (tui/navigation.py: screens are fed)
        if latest is None:
            self._say("no node read yet: wait for the first refresh", "yellow")
            return
        try:
            req = tracemod.request_for(latest.model, self.port_name, self.to, self.proto,
                                       from_wire=self.from_wire)
        except tracemod.TraceInputError as e:
            self._say(str(e), "red")
            return
        self._say("tracing… (ovs-appctl ofproto/trace " + " ".join(req.args()) + ")", "dim")
        self.running = True
        endpoints = getattr(self.app.backend, "endpoints", None)
        self._asked += 1
        self._trace(self._asked, latest.model, req, endpoints.ovs_rundir if endpoints else None)

    def _trace(self, asked: int, model, req, rundir) -> None:
        """A thread of its own, not a Textual thread worker: those share asyncio's
        default executor with the refresh and wait their turn (0.6-0.9 s at 50k flows)."""
        threading.Thread(target=self._traced, args=(asked, model, req, rundir), name="trace",
                         daemon=True).start()

    def _traced(self, asked: int, model, req, rundir) -> None:
        try:
            trace, dpif = appctl.trace(rundir, req.args())
            answer = (self._shown, tracemod.interpret(model, req, trace, dpif))
        except appctl.AppctlError as e:
            answer = (self._failed, str(e))
        try:
            self.app.call_from_thread(self._answered, asked, *answer)
        except RuntimeError:  # the app closed meanwhile
            pass

    def _answered(self, asked: int, show, value) -> None:
        if asked == self._asked and self.is_attached:  # not one asked for before the last
            show(value)

    def _failed(self, message: str) -> None:
        self.running = False
        self._say(message, "red")

    def _shown(self, result: tracemod.TraceResult) -> None:
        self.running = False
        self.result = result
        self.selected = None
        if result.drop is not None:
            self.selected = next(i for i, h in enumerate(result.hops) if h is result.drop)
        self._draw()

    def _draw(self) -> None:
        if self.result is None:
            return
        text = trace_text(self.result, width=self.size.width or 160, selected=self.selected)
        if self.selected is not None:
            h = self.result.hops[self.selected]
            text.append(f"\nselected: {h.bridge} table {h.table} priority {h.priority} "
                        f"{h.match or '(any)'}  (f opens it with its live counters)",
                        style="yellow")
        self.query_one("#result", Static).update(text)

    def _say(self, message: str, style: str) -> None:
        self.query_one("#result", Static).update(Text(message, style=style))

    def action_direction(self) -> None:
        self.from_wire = not self.from_wire
        self._describe()
        if self.to:
            self._start()

    def action_proto(self) -> None:
        self.proto = PROTOS[(PROTOS.index(self.proto) + 1) % len(PROTOS)]
        self._describe()
        if self.to:
            self._start()

    def action_move(self, step: int) -> None:
        if self.result and self.result.hops:
            n = len(self.result.hops)
            if self.selected is None:
                self.selected = n - 1 if step < 0 else 0
            else:
                self.selected = (self.selected + step) % n
            self._draw()

    def action_open(self) -> None:
        latest = self.shown
        if self.result is None or self.selected is None or latest is None:
            self.notify("trace first, then pick a hop with the arrows", severity="warning")
            return
        flow = tracemod.flow_of_hop(latest.model, self.result.hops[self.selected])
        if flow is None:
            self.notify("that hop matched no flow of the last dump", severity="warning")
            return
        self.post_message(OpenFlowDetail(flow))
