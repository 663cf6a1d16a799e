"""Flows of a bridge, port, VLAN or instance, with live rates; filter and sort."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from collectors.scopes import SORTS, Scope, select_flows
from collectors.session import Refresh
from tui import rows
from tui.screens.base import NodeScreen
from widgets.virtual_table import VirtualTable


_NOTHING = {  # why a scope can be empty, for the operator wondering
    "port": "no flow mentions this port (by in_port, its ofport in reg5, its MAC, or output)",
    "instance": "no flow mentions this instance's ports",
    "vlan": "no flow matches or sets this local VLAN",
    "bridge": "this bridge has no flows",
    "all": "no flows on any bridge",
}


class FlowsScreen(NodeScreen):
    BINDINGS = [
        Binding("slash", "filter", "filter"),
        Binding("s", "sort", "sort"),
        Binding("i", "instance", "instance", show=False),
    ]
    DEFAULT_CSS = """
    FlowsScreen #summary { height: auto; padding: 0 1; }
    FlowsScreen #filter { dock: bottom; display: none; }
    FlowsScreen #filter.shown { display: block; }
    """

    def __init__(self, scope: Scope, title: str, text: str = "") -> None:
        super().__init__()
        self.scope = scope
        self.crumb = title
        self.text = text
        self.sort = "table"
        self._flows: dict[str, object] = {}
        self._refresh: Refresh | None = None

    def body(self) -> ComposeResult:
        yield Static(id="summary")
        yield VirtualTable(rows.FLOW_COLUMNS, id="flows", empty="no flows match")
        yield Input(value=self.text, placeholder="filter: words all present, e.g. reg5=0x3 "
                                                 "dl_vlan=2 192.168.100.30 (Enter to apply)",
                    id="filter", classes="shown" if self.text else "")

    def on_mount(self) -> None:
        self.query_one("#flows").focus()

    def show(self, refresh: Refresh) -> None:
        self._refresh = refresh
        self._select(refresh, self.text, self.sort)

    @work(thread=True, exclusive=True, group="flow-select")
    def _select(self, refresh: Refresh, text: str, sort: str) -> None:
        """Choosing and ordering flows is O(flows): off the UI thread."""
        model = refresh.model
        flows = select_flows(model, self.scope, text, sort,
                             lambda f: (refresh.rate(f) or (None, None))[0])
        keyed = [(rows.flow_key_text(f), f) for f in flows]
        total = sum(1 for _ in model.all_flows())
        cookies = Counter(f.cookie for _, f in keyed)
        self.app.call_from_thread(self._show_rows, refresh, keyed, total, cookies, text, sort)

    def _show_rows(self, refresh, keyed, total, cookies, text, sort) -> None:
        model = refresh.model
        self._flows = dict(keyed)
        table = self.query_one("#flows", VirtualTable)
        table.hide({"mark"} if refresh.mark is None else set())
        table.empty = (f"no flow here has every word of: {text}" if text else
                       _NOTHING.get(self.scope.kind, "no flows"))
        # only visible rows get rendered; building Row tuples for all is ~2 us each
        table.set_rows(
            [rows.flow_row(model, refresh, f, k) for k, f in keyed])
        moving = sum(1 for _, f in keyed if (refresh.rate(f) or (0,))[0])
        s = Text()
        s.append(f"{len(keyed)}", style="bold")
        s.append(f" of {total} flows, {moving} moving, sorted by {sort}")
        if text:
            s.append(f", filter: {text}", style="cyan")
        if cookies:
            s.append("  cookies: " + "  ".join(f"{c:#x} ({n})" for c, n in cookies.most_common(4)))
        s.append("\n/: filter  s: sort  Enter: flow detail  m: mark", style="dim")
        self.query_one("#summary", Static).update(s)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.text = event.value.strip()
        if not self.text:
            event.input.remove_class("shown")
        self.query_one("#flows").focus()
        if self._refresh is not None:
            self._select(self._refresh, self.text, self.sort)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        if self._refresh is not None:
            self._select(self._refresh, self.text, self.sort)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.query_one("#flows").focus()
            return
        super().action_back()

    def on_virtual_table_row_selected(self, event: VirtualTable.RowSelected) -> None:
        flow = self._flows.get(event.key)
        if flow is not None:
            self.app.open_flow(flow)

    def action_instance(self) -> None:
        key = self.query_one("#flows", VirtualTable).cursor_key
        flow = self._flows.get(key) if key else None
        if flow is not None:
            self.app.open_flow_owner(flow)
