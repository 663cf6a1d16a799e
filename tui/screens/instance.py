"""One instance: its domain and Nova facts, and each vNIC's path through OVS."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from model.scopes import Scope
from model.words import display_name
from node.session import Refresh
from tui import rows
from tui.navigation import OpenFlows, OpenPath, OpenPort, OpenTrace
from tui.screens.base import NodeScreen
from widgets.keyed_table import KeyedTable


class InstanceScreen(NodeScreen):
    BINDINGS = [
        Binding("f", "flows", "flows of instance", tooltip="flows of all its ports"),
        Binding("P", "path", "path of vNIC",
                tooltip="the vNIC under the cursor: its hops, live counters, where packets stop"),
        Binding("t", "trace", "trace from vNIC", tooltip="ofproto/trace a packet from the vNIC"),
    ]
    help_title = "instance"
    DEFAULT_CSS = """
    InstanceScreen #facts { height: auto; padding: 0 1; }
    InstanceScreen #vnics { height: auto; max-height: 50%; }
    InstanceScreen #paths { height: auto; padding: 1 1 0 1; }
    """

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.crumb = name

    def body(self) -> ComposeResult:
        yield Static(id="facts")
        yield KeyedTable(rows.VNIC_COLUMNS, id="vnics")
        yield Static(id="paths")

    def on_mount(self) -> None:
        self.query_one("#vnics").focus()

    def show(self, refresh: Refresh) -> None:
        inst = refresh.model.instance(self.uuid)
        facts = Text()
        if inst is None:
            facts.append(f"instance {self.uuid} is no longer defined on this node", style="red")
        else:
            d = inst.domain
            facts.append(display_name(d), style="bold")
            facts.append(f"  {d.name}  {d.uuid}  ")
            facts.append(d.state, style="green" if d.state == "running" else "yellow")
            if d.flavor:
                facts.append(f"  flavor {d.flavor}")
            if d.project or d.project_id:
                facts.append(f"  project {d.project or ''} {d.project_id or ''}".rstrip())
            facts.append("\nEnter: the vNIC's port   f: flows of this instance", style="dim")
        self.query_one("#facts", Static).update(facts)
        self.query_one("#vnics", KeyedTable).sync(rows.vnic_rows(refresh.model, refresh, self.uuid))
        paths = Text("\n\n").join(rows.vnic_path(refresh.model, refresh, vv)
                                   for vv in (inst.vnics if inst else ()))
        self.query_one("#paths", Static).update(paths)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        inst = self.shown.model.instance(self.uuid) if self.shown else None
        for vv in inst.vnics if inst else ():
            if (vv.vnic.target or vv.vnic.mac) == event.row_key.value:
                if vv.port is not None:
                    self.post_message(OpenPort(vv.port.name))
                else:
                    self.notify(f"{vv.vnic.target} is on no OVS bridge: nothing to drill into",
                                severity="warning")

    def action_flows(self) -> None:
        self.post_message(OpenFlows(Scope("instance", self.uuid)))

    def _vnic_port(self) -> str | None:
        """The OVS port of the vNIC under the cursor (or the only one)."""
        inst = self.shown.model.instance(self.uuid) if self.shown else None
        key = self.query_one("#vnics", KeyedTable).cursor_key
        for vv in inst.vnics if inst else ():
            if vv.port is not None and (key is None or (vv.vnic.target or vv.vnic.mac) == key):
                return vv.port.name
        self.notify("this vNIC is on no OVS bridge", severity="warning")
        return None

    def action_path(self) -> None:
        port = self._vnic_port()
        if port:
            self.post_message(OpenPath(port))

    def action_trace(self) -> None:
        port = self._vnic_port()
        if port:
            self.post_message(OpenTrace(port))
