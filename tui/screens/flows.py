"""Flows of a bridge, port, VLAN or instance, with live rates; filter and sort."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from model.scopes import SORTS, Scope
from node.session import Refresh
from tui import choices, rows
from tui.navigation import OpenFlowDetail, OpenFlowOwner
from tui.screens.base import NodeScreen
from widgets.status import spaced
from widgets.virtual_table import LazyRows, VirtualTable


_NOTHING = {  # why a scope can be empty, for the operator wondering
    "port": "no flow mentions this port (by in_port, its ofport in reg5, its MAC, or output)",
    "instance": "no flow mentions this instance's ports",
    "vlan": "no flow matches or sets this local VLAN",
    "bridge": "this bridge has no flows",
    "all": "no flows on any bridge",
}


def _moving(refresh: Refresh, index: dict, exact: bool = False) -> int:
    """How many of the chosen flows (``index``: by row key, rows.flow_row_keys)
    moved in the rate window: the few that moved are looked up, not every
    flow's rate (the same count, a tenth of the choice's time at 50k flows)."""
    moving = 0
    for rates in refresh.flow_rates.values():
        for key, (packets, _) in rates.moved.items():
            if packets > 0 and rates.young.get(key, rates.seconds) > 0 \
                    and rows.row_key_of(key, exact) in index:
                moving += 1
    return moving


class FlowsScreen(NodeScreen):
    BINDINGS = [
        Binding("slash", "filter", "filter",
                tooltip="filter: words like tap2d1670a4-8e, 192.168.100.30, reg5=0x3, "
                        "dl_vlan=2, table=71, cookie=0x1d8e74efef4967c4"),
        Binding("escape", "back", "back", tooltip="leave the filter box (an empty filter "
                                                  "shows every flow); else back"),
        Binding("s", "sort", "sort", tooltip="sort: table, rate, packets"),
        Binding("i", "instance", "instance", show=False,
                tooltip="instance of the selected flow's port"),
    ]
    help_title = "flows"
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
        self._flows: list = []
        self._flow_index: dict[str, int] = {}
        self._refresh: Refresh | None = None
        self._generation = 0  # of the newest flow choice asked for
        self._away = False  # left since its rows were chosen

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

    def _select(self, refresh: Refresh, text: str, sort: str):
        """Show the flows chosen from this refresh; only the newest choice lands.

        The choice made from these same flows (tui/choices.py) is shown at
        once; another is made in a worker."""
        self._generation += 1
        kept = self.app.flow_choices.kept(refresh.model, self.scope, text, sort)
        if kept is not None:
            self._show_rows(self._generation, refresh, *kept, text, sort)
            return None
        if self._away:  # back on screen: what it showed when left is not shown meanwhile
            table = self.query_one("#flows", VirtualTable)
            table.empty = "choosing flows…"
            table.set_rows([])
            self.query_one("#summary", Static).update(Text("choosing flows…", style="dim"))
        return self._choose(self._generation, refresh, text, sort)

    def on_screen_suspend(self) -> None:
        self._away = True  # left: it may stay mounted (tui/app.py push_kept)

    # A description, or Textual names the worker by repr() of its arguments:
    # the whole Refresh, 0.3 s of the UI thread's time at 50k flows.
    @work(thread=True, exclusive=True, group="flow-select", description="select flows")
    def _choose(self, generation: int, refresh: Refresh, text: str, sort: str) -> None:
        """Choosing and ordering flows is O(flows): off the UI thread, which
        then builds only the rows on screen. A thread cannot be stopped, so a
        superseded choice still finishes: its generation is then not the
        newest and _show_rows drops it (else a slow old choice, say a filter
        just cleared, would land over the newer one)."""
        flows, choice = choices.choose(refresh.model, self.scope, text, sort,
                                       lambda f: (refresh.rate(f) or (None, None))[0])
        self.app.call_from_thread(self._show_rows, generation, refresh, flows, choice, text,
                                  sort, True)

    def _show_rows(self, generation: int, refresh: Refresh, flows: list, choice: choices.Choice,
                   text: str, sort: str, made: bool = False) -> None:
        if generation != self._generation or not self.is_attached:
            return  # superseded (a newer choice is on its way), or the screen was left
        if made:
            self.app.flow_choices.keep(refresh.model, self.scope, text, sort, choice)
        self._away = False
        keys, index, cookies = choice.keys, choice.index, choice.cookies
        moving = _moving(refresh, index, choice.exact)
        total = choice.total
        model = refresh.model
        self._flows = flows
        self._flow_index = index
        table = self.query_one("#flows", VirtualTable)
        table.hide({"mark"} if refresh.mark is None else set())
        table.empty = (f"no flow here has every word of: {text}" if text else
                       _NOTHING.get(self.scope.kind, "no flows"))
        table.set_rows(LazyRows(keys, lambda i: rows.flow_row(model, refresh, flows[i], keys[i],
                                                              text)), index)
        s = Text()
        spaced(s.append(f"{len(keys)}", style="bold"), " ")
        s.append(f"of {total} flows, {moving} moving, sorted by {sort}")
        if text:
            s.append(f", filter: {text}", style="cyan")
        if cookies:
            s.append("  cookies: " + "  ".join(f"{c:#x} ({n})" for c, n in cookies.most_common(4)))
        s.append("\n/: filter  s: sort  Enter: flow detail  m: mark", style="dim")
        self.query_one("#summary", Static).update(s)

    def _flow(self, key: str | None):
        i = self._flow_index.get(key) if key is not None else None
        return self._flows[i] if i is not None else None

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
        flow = self._flow(event.key)
        if flow is not None:
            self.post_message(OpenFlowDetail(flow))

    def action_instance(self) -> None:
        flow = self._flow(self.query_one("#flows", VirtualTable).cursor_key)
        if flow is not None:
            self.post_message(OpenFlowOwner(flow))
