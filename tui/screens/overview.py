"""The first screen: instances, the VLAN map, bridges with their ports, problems."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical

from model.scopes import Scope
from model.problems import verdict
from node.session import Refresh
from tui import rows
from tui.navigation import OpenFlows, OpenInstance, OpenPath, OpenPort, OpenVlan
from tui.screens.base import NodeScreen
from widgets.pane_table import PaneTable
from widgets.status import Steady, source_text


# The sources each pane is drawn from: a pane whose source is stale or in
# error says so on its own border, where the operator is looking.
PANE_SOURCES = {
    "#instances-pane": ("libvirt", "ovsdb"),
    "#vlans-pane": ("ovsdb", "openflow"),
    "#ports-pane": ("ovsdb", "netlink"),
}


def pane_state(sources, names: tuple[str, ...], now: float) -> Text | None:
    """The first of ``names`` that is not live, as a border note; None when all are."""
    by_source = {s.source: s for s in sources}
    for name in names:
        s = by_source.get(name)
        if s is not None and s.status in ("stale", "error"):
            return Text(" ").append_text(source_text(s, now)).append(f": {s.detail} ")
    return None


class OverviewScreen(NodeScreen):
    crumb = help_title = "overview"

    BINDINGS = [
        Binding("escape", "back", show=False),  # the first screen: nowhere to go back to
        Binding("tab", "app.focus_next", "next pane", show=False),
        Binding("f", "flows", "all flows"),
        Binding("P", "path", "path of vNIC",
                tooltip="the selected instance's vNIC: its hops, live counters, where packets stop"),
    ]

    DEFAULT_CSS = """
    OverviewScreen .pane { border: round $primary-darken-2; border-title-color: $text;
                           height: auto; }
    OverviewScreen .pane:focus-within { border: round $accent; }
    OverviewScreen .pane PaneTable { height: auto; max-height: 100%;
                                     scrollbar-size-horizontal: 0; }
    OverviewScreen #instances-pane { max-height: 40%; }
    OverviewScreen #vlans-pane { max-height: 30%; }
    OverviewScreen #ports-pane { height: 1fr; min-height: 5; }
    OverviewScreen #ports-pane PaneTable { height: 1fr; }
    OverviewScreen #problems-line { height: auto; padding: 0 1; }
    """

    def body(self) -> ComposeResult:
        with Vertical(id="instances-pane", classes="pane"):
            yield PaneTable(rows.INSTANCE_COLUMNS, id="instances")
        with Vertical(id="vlans-pane", classes="pane"):
            yield PaneTable(rows.VLAN_COLUMNS, id="vlans")
        with Vertical(id="ports-pane", classes="pane"):
            yield PaneTable(rows.PORT_COLUMNS, id="ports")
        yield Steady(id="problems-line")

    def on_mount(self) -> None:
        self.query_one("#instances-pane").border_title = "Instances  [Enter: vNICs]"
        self.query_one("#vlans-pane").border_title = "VLAN map  [Enter: VLAN]"
        self.query_one("#ports-pane").border_title = "Bridges and ports  [Enter: port]"
        self.query_one("#instances").focus()

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        self.query_one("#instances", PaneTable).sync(rows.instance_rows(model, refresh))
        self.query_one("#vlans", PaneTable).sync(rows.vlan_rows(model, refresh))
        self.query_one("#ports", PaneTable).sync(rows.port_rows(model, refresh))
        for pane, names in PANE_SOURCES.items():
            note = pane_state(model.sources, names, refresh.at)
            self.query_one(pane).border_subtitle = note
        line = Text()
        said, clean = verdict(model)
        if model.problems:
            line.append(f"{said}: ", style="bold red")
            line.append("; ".join(f"{p.kind} {p.subject}" for p in model.problems[:4]))
            if len(model.problems) > 4:
                line.append(" …")
            line.append("  [!: list]", style="dim")
        else:
            line.append(said, style="green" if clean else "bold yellow")
        problems_line = self.query_one("#problems-line", Steady)
        problems_line.update(line)
        # nothing found: the source bar says so already; the row goes to the panes
        problems_line.display = not clean

    def on_virtual_table_row_selected(self, event: PaneTable.RowSelected) -> None:
        key = event.key
        table = event.table.id
        if table == "instances":
            self.post_message(OpenInstance(key.split("/")[0]))
        elif table == "vlans":
            self.post_message(OpenVlan(int(key) if key.isdigit() else key))  # "dp1" on OVN
        elif table == "ports":
            self.post_message(OpenPort(key))

    def action_flows(self) -> None:
        self.post_message(OpenFlows(Scope("all")))

    def action_path(self) -> None:
        """The path of the instance row's vNIC, or of the port row's."""
        key = self.query_one("#instances", PaneTable).cursor_key
        model = self.shown.model if self.shown else None
        if key and model:
            uuid, _, n = key.partition("/")
            inst = model.instance(uuid)
            if inst and n.isdigit() and int(n) < len(inst.vnics) and inst.vnics[int(n)].port:
                self.post_message(OpenPath(inst.vnics[int(n)].port.name))
                return
        self.notify("pick an instance whose vNIC is on OVS", severity="warning")
