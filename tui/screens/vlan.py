"""One local VLAN: the provider VLAN it becomes, who is on it, and the
translation flows on both bridges with their live counters."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from model.scopes import Scope
from model import words
from model.words import display_name
from node.session import Refresh
from tui import rows
from tui.navigation import OpenFlowDetail, OpenFlows, OpenInstance, OpenPort
from tui.screens.base import NodeScreen
from tui.screens.learned import BackgroundText, rundir_of, vlan_learning
from widgets.keyed_table import KeyedTable
from widgets.status import spaced
from widgets.virtual_table import VirtualTable


class VlanScreen(NodeScreen):
    BINDINGS = [
        Binding("f", "flows", "flows of VLAN", tooltip="flows of the VLAN (both bridges)"),
        Binding("n", "nic", "physical NIC", tooltip="the physical NIC"),
        Binding("i", "instance", "instance of port",
                tooltip="the instance of the selected port"),
    ]
    help_title = "VLAN"
    DEFAULT_CSS = """
    VlanScreen #facts { height: auto; padding: 0 1; }
    VlanScreen #learning { height: auto; padding: 0 1; display: none; }
    VlanScreen .pane { border: round $primary-darken-2; border-title-color: $text;
                       height: auto; }
    VlanScreen .pane:focus-within { border: round $accent; }
    VlanScreen #members-pane { max-height: 60%; }
    VlanScreen #members { height: auto; max-height: 100%; }
    VlanScreen #translation { height: 3; }
    """

    def __init__(self, local_vlan: int | str) -> None:
        super().__init__()
        self.local_vlan = local_vlan
        self.key = str(local_vlan)  # VlanView.key: "2", or on OVN "dp1"
        self.crumb = f"VLAN {local_vlan}" if self.key.isdigit() else f"network {local_vlan}"
        self._keys: dict[str, object] = {}
        self._learning = BackgroundText(self, "#learning", "fdb")

    def body(self) -> ComposeResult:
        yield Static(id="facts")
        yield Static(id="learning")
        with Vertical(id="members-pane", classes="pane"):
            yield KeyedTable([("port", "Port"), ("bridge", "Bridge"), ("ofport", "#"),
                              ("instance", "Instance"), ("mac", "MAC"), ("link", "Link"),
                              ("pps", "rx/tx pps")], id="members")
        with Vertical(id="translation-pane", classes="pane"):
            yield VirtualTable(rows.FLOW_COLUMNS, id="translation", empty="no translation flows")

    def on_mount(self) -> None:
        self.query_one("#members-pane").border_title = "Ports on this VLAN  [Enter: port]"
        self.query_one("#translation-pane").border_title = (
            "Translation flows: egress, then ingress  [Enter: flow]")
        self.query_one("#members").focus()

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        v = model.vlan(self.key)
        facts = Text()
        if v is None:
            facts.append(f"{self.crumb} is not in use on this node", style="red")
            self.query_one("#facts", Static).update(facts)
            return
        # spaced: the words stay apart in a screenshot's text (widgets/status.py)
        if v.local_vlan is not None:
            facts.append(f"local VLAN {v.local_vlan} on {v.bridge}", style="bold")
        else:  # OVN: no local VLAN, the network is a datapath with a localnet port
            facts.append(f"OVN datapath {v.datapath_key}"
                         + (f" ({v.network_name})" if v.network_name else "")
                         + f" on {v.bridge}, localnet {v.localnet or 'none'}", style="bold")
        spaced(facts).append("<->  ")
        if v.tunnel_bridge:
            spaced(facts.append(f"{v.network_type or 'tunnel'} VNI {v.segmentation_id}",
                                style="bold"))
            facts.append(f"on {v.tunnel_bridge}, tunnels {', '.join(v.tunnel_ports) or '?'}"
                         + (f" to {', '.join(v.remote_ips)}" if v.remote_ips else ""))
        else:
            spaced(facts.append(words.provider_side(v.network_type, v.segmentation_id),
                                style="bold"))
            facts.append(f"{v.network_type or '?'} network, physnet {v.physical_network or '?'}, "
                         f"physical bridge {v.physical_bridge or '?'}, NIC {','.join(v.nics) or '?'}")
        if v.flow_segmentation_id is not None and v.segmentation_id != v.flow_segmentation_id:
            facts.append(f"\nflows translate to {v.flow_segmentation_id}, ports say "
                         f"{v.segmentation_id}", style="bold red")
        for p in model.problems:
            if p.subject in (f"vlan {v.local_vlan}", v.localnet):
                facts.append(f"\n{p.kind}: {p.detail}", style="red")
        for label, f in (("egress ", v.egress_flow), ("ingress", v.ingress_flow)):
            if f is not None:  # in full: the table below has no room for long matches
                facts.append(f"\n{label} ", style="bold")
                facts.append(f"{f.bridge} table {f.table} priority {f.priority}: ")
                spaced(facts.append(f"{f.match or '(any)'}", style="cyan"), " ")
                facts.append(f"-> {f.actions}")
        facts.append("\nEnter: port   f: all flows of this VLAN   n: NIC   i: instance", style="dim")
        self.query_one("#facts", Static).update(facts)
        rundir = rundir_of(self.app)
        if rundir is not False:  # which MACs its physical bridge learned, read off the UI thread
            self._learning.start(lambda: vlan_learning(rundir, model, v))

        members = []
        for name in v.ports:
            pv = model.port(name)
            if pv is None:
                continue
            inst = model.instance(pv.domain_uuid) if pv.domain_uuid else None
            r = rows.port_pps(refresh, pv)
            members.append((name, [name, pv.bridge, str(pv.ofport),
                                   display_name(inst.domain) if inst
                                   else ("" if pv.owner == "unknown" else pv.owner),
                                   pv.vnic_mac or (pv.interface.attached_mac if pv.interface else "") or "",
                                   pv.link_state or "?",
                                   f"{rows.fmt.rate(r[0])}/{rows.fmt.rate(r[1])}" if r
                                   else rows.fmt.rate(None)]))
        self.query_one("#members", KeyedTable).sync(members)
        flows = [f for f in (v.egress_flow, *v.tunnel_unicast_flows, v.ingress_flow) if f is not None]
        self._keys = {rows.flow_key_text(f): f for f in flows}
        table = self.query_one("#translation", VirtualTable)
        table.hide({"mark"} if refresh.mark is None else set())
        table.set_rows(
            [rows.flow_row(model, refresh, f, k) for k, f in self._keys.items()])
        # room for a tunnel VLAN's unicast flows too (a busy l2pop node scrolls)
        table.styles.height = max(3, min(1 + len(flows), 12))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenPort(event.row_key.value))

    def on_virtual_table_row_selected(self, event: VirtualTable.RowSelected) -> None:
        flow = self._keys.get(event.key)
        if flow is not None:
            self.post_message(OpenFlowDetail(flow))

    def action_flows(self) -> None:
        self.post_message(OpenFlows(Scope("vlan", self.key)))

    def action_nic(self) -> None:
        v = self.shown.model.vlan(self.key) if self.shown else None
        if v and v.nics:
            self.post_message(OpenPort(v.nics[0]))
        else:
            self.notify("no physical NIC known for this VLAN", severity="warning")

    def action_instance(self) -> None:
        key = self.query_one("#members", KeyedTable).cursor_key
        pv = self.shown.model.port(key) if key and self.shown else None
        if pv and pv.domain_uuid:
            self.post_message(OpenInstance(pv.domain_uuid))
        else:
            self.notify("select a port that belongs to an instance", severity="warning")
