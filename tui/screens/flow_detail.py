"""One flow in full: parsed match and actions, Neutron names, decoded
registers, counters with rate and trend, and the ports (and instance) it is about."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from collectors import openflow
from model.join import PortView
from model.records import Flow
from model.scopes import ports_of_flow
from model.words import display_name
from node.session import Refresh
from tui import rows
from tui.navigation import OpenInstance, OpenPort
from tui.screens.base import NodeScreen
from widgets import format as fmt


def parsed_fields(flow: Flow) -> tuple[list, list]:
    """(match, actions) as key/value pairs from the full parser, or the text
    when it refuses the flow (an action it does not know, a control character)."""
    fields = openflow.flow_fields(flow)
    if fields is None:
        return [("(unparsed)", flow.match)], [("(unparsed)", flow.actions)]
    return fields


def value_text(value: object) -> str:
    """python-ovs's parsed values as ovs-ofctl would word them, not as Python reprs:
    {'value': 3, 'dst': {'field': 'NXM_NX_REG5'}} -> '3 -> NXM_NX_REG5'."""
    if value is True:
        return ""  # a flag such as "arp" or "strip_vlan": its name says it all
    if isinstance(value, dict):
        if "field" in value:
            start, end = value.get("start"), value.get("end")
            return value["field"] + (f"[{start}..{end}]" if start is not None else "")
        if "dst" in value and ("value" in value or "src" in value):
            source = value["value"] if "value" in value else value["src"]
            return f"{value_text(source)} -> {value_text(value['dst'])}"
        if set(value) == {"port"}:
            return value_text(value["port"])
        # not "v in ('', None)": python-ovs's decoded values raise when compared with a str
        return ", ".join(f"{k}={value_text(v)}" for k, v in value.items()
                         if v is not None and not (isinstance(v, str) and v == ""))
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v) for v in value)
    return str(value)


class FlowDetailScreen(NodeScreen):
    BINDINGS = [
        Binding("i", "instance", "its instance",
                tooltip="instance of the port this flow is about"),
        Binding("o", "port", "its port", tooltip="that port"),
    ]
    help_title = "flow"
    DEFAULT_CSS = """
    FlowDetailScreen #detail { height: 1fr; padding: 0 1; }
    """

    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow
        self.crumb = f"{flow.bridge} t{flow.table} p{flow.priority}"
        self.detail = openflow.flow_detail(flow)  # one flow: the full parse is cheap
        self.match, self.actions = parsed_fields(flow)
        self.ports: list[PortView] = []

    def body(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="text")

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        current = next((f for f in model.all_flows() if f.key == self.flow.key), None)
        flow = current or self.flow
        self.ports = ports_of_flow(model, flow, self.detail)
        head = Text()
        head.append(f"{flow.bridge} table {flow.table}", style="bold")
        name = rows.table_name(model, flow.bridge, flow.table)
        if name:
            head.append(f" ({name})")
        head.append(f"  priority {flow.priority}  cookie {flow.cookie:#x}")
        note = rows.table_note(model, flow.bridge, flow.table)
        if note:
            head.append(f"\ntable {flow.table}: {note}", style="dim")
        if current is None:
            head.append("\nthis flow is gone (deleted or replaced)", style="bold red")

        counters = Table(box=None, show_header=True, padding=(0, 2))
        rate = refresh.rate(flow)
        since = refresh.since_mark(flow)
        values = {"packets": str(flow.n_packets), "bytes": str(flow.n_bytes),
                  "pps": fmt.rate(rate[0] if rate else None),
                  "bps": fmt.bits(rate[1] if rate else None)}
        if since is not None:  # only once a mark is set
            values["since mark"] = fmt.count(since[0])
        values["trend (30 s)"] = fmt.spark(refresh.history.get(flow.key, ()), 30)
        values["age"] = f"{flow.age(refresh.clock):.0f}s"
        for c in values:
            counters.add_column(c, justify="right")
        counters.add_row(*values.values())

        parsed = Table(box=None, show_header=True, padding=(0, 1), expand=True)
        parsed.add_column("match", style="cyan", no_wrap=True)
        parsed.add_column("value", overflow="fold", ratio=1)  # the keys take what they need
        for k, v in self.match:
            parsed.add_row(k, value_text(v))
        parsed.add_row("", "")
        parsed.add_row(Text("actions", style="bold"), "")
        for k, v in self.actions:
            if k == "resubmit" and isinstance(v, dict) and v.get("table") is not None:
                tname = rows.table_name(model, flow.bridge, int(v["table"]))
                v = f"table {v['table']}" + (f" ({tname})" if tname else "")
            parsed.add_row(k, value_text(v))

        about = Text()
        if self.detail.regs:
            about.append("registers: " + rows.describe_registers(model, flow.bridge, self.detail.regs)
                         + "\n")
        if self.detail.loads:
            about.append("loads: " + rows.describe_registers(model, flow.bridge, self.detail.loads)
                         + "\n")
        if self.detail.metadata is not None or self.detail.load_metadata is not None:
            about.append(f"datapath (metadata): {self.detail.metadata or self.detail.load_metadata}"
                         + (" loaded" if self.detail.load_metadata is not None else "") + "\n")
        if self.detail.set_vlan is not None:
            about.append(f"sets VLAN {self.detail.set_vlan}\n", style="bold")
        if self.detail.strip_vlan:
            about.append("strips the VLAN tag\n", style="bold")
        if self.ports:
            about.append("about ports: ")
            for pv in self.ports:
                owner = model.instance(pv.domain_uuid) if pv.domain_uuid else None
                about.append(f"{pv.name} (ofport {pv.ofport})", style="bold")
                if owner:
                    about.append(f" of {display_name(owner.domain)}")
                about.append("  ")
            about.append("\no: the port   i: its instance", style="dim")
        else:
            about.append("not tied to one port", style="dim")

        raw = Text(f"\n{flow.match or '(any)'} actions={flow.actions}", style="dim")
        self.query_one("#text", Static).update(Group(head, counters, about, parsed, raw))

    def action_port(self) -> None:
        if self.ports:
            self.post_message(OpenPort(self.ports[0].name))
        else:
            self.notify("this flow is not tied to one port", severity="warning")

    def action_instance(self) -> None:
        for pv in self.ports:
            if pv.domain_uuid:
                self.post_message(OpenInstance(pv.domain_uuid))
                return
        self.notify("no instance owns the ports of this flow", severity="warning")
