"""One port or tap, as each source sees it, side by side, with rates."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from model.join import PortView
from model.scopes import Scope
from node import mark as marks
from model import words
from model.neutron import DEAD_VLAN
from model.ports import counters_of
from model.words import display_name
from node.session import Refresh
from tui.navigation import OpenFlows, OpenInstance, OpenPath, OpenTrace, OpenVlan
from tui import rows
from tui.screens.base import NodeScreen
from tui.screens.learned import BackgroundText, nic_learning, rundir_of
from widgets import format as fmt
from widgets.counters import CounterPanel
from widgets.status import spaced


def _kv(title: str, pairs: list[tuple[str, object]]) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", show_header=False,
              box=None, expand=True, padding=(0, 1))
    t.add_column(style="cyan", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in pairs:
        t.add_row(k, v if isinstance(v, Text) else Text(str(v) if v not in (None, "") else "-"))
    return t


def _rates(r: tuple[float, float, float, float] | None) -> dict[str, float | None]:
    """The session's (rx_pps, tx_pps, rx_Bps, tx_Bps) as counter names (None: not yet)."""
    return dict(zip(("rx packets", "tx packets", "rx bytes", "tx bytes"), r or (None,) * 4))


class PortScreen(NodeScreen):
    BINDINGS = [
        Binding("f", "flows", "flows of port",
                tooltip="flows of the port (in_port, reg5, dl_dst, output)"),
        Binding("v", "vlan", "its VLAN"),
        Binding("i", "instance", "its instance"),
        Binding("b", "bridge", "bridge flows", tooltip="its bridge's flows"),
        Binding("P", "path", "path", tooltip="its hops, live counters, where packets stop"),
        Binding("t", "trace", "trace", tooltip="ofproto/trace a packet from this vNIC"),
    ]
    help_title = "port"
    # Panels take the height of their content (rows of an auto-height grid
    # are sized to it) and the whole screen scrolls, so no OVSDB row is ever
    # cut off, however many external_ids and other_config keys a port has.
    DEFAULT_CSS = """
    PortScreen #scroll { height: 1fr; }
    PortScreen #grid { grid-size: 2; grid-gutter: 0 1; height: auto; }
    PortScreen.narrow #grid { grid-size: 1; }
    PortScreen .panel { border: round $primary-darken-2; height: auto; }
    PortScreen #path { height: auto; padding: 0 1; }
    PortScreen #learning { height: auto; padding: 0 1; display: none; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.port_name = name
        self.crumb = name
        self._learning = BackgroundText(self, "#learning", "fdb")

    def body(self) -> ComposeResult:
        with VerticalScroll(id="scroll"):
            yield Static(id="path")
            yield Static(id="learning")  # a physical NIC's: the MACs learned via it
            # the counters first: what the operator came for is above the fold at
            # 80x24; OVSDB's rows (often many external_ids) after them
            with Grid(id="grid"):
                yield CounterPanel("OpenFlow port counters (ovs-ofctl dump-ports)", id="ofport",
                                   classes="panel")
                yield CounterPanel("netlink (the device in the kernel)", id="netlink",
                                   classes="panel")
                yield CounterPanel("libvirt (the VM's vNIC)", id="libvirt", classes="panel")
                yield Static(id="ovs", classes="panel")

    def retarget(self, name: str) -> None:
        """Show another port (the screen stays mounted, tui/app.py push_kept)."""
        self.port_name = self.crumb = name
        self._learning.clear()
        for scroll in self.query("#scroll"):  # none before it is composed
            scroll.scroll_home(animate=False)

    def on_mount(self) -> None:
        self.query_one("#scroll").focus()  # arrows and page keys scroll the panels

    def on_resize(self) -> None:
        self.set_class(self.size.width < 80, "narrow")

    def _port(self) -> PortView | None:
        return self.shown.model.port(self.port_name) if self.shown else None

    def show(self, refresh: Refresh) -> None:
        model = refresh.model
        pv = model.port(self.port_name)
        path = Text()
        if pv is None:
            path.append(f"port {self.port_name} is no longer in OVSDB", style="red")
            self.query_one("#path", Static).update(path)
            return
        i = pv.interface
        inst = model.instance(pv.domain_uuid) if pv.domain_uuid else None
        vlan = model.vlan(pv.port.tag) if pv.port.tag is not None else None
        # spaced: the words stay apart in a screenshot's text (widgets/status.py)
        if inst:
            spaced(path.append(display_name(inst.domain), style="bold"), " ")
            vv = next((v for v in inst.vnics if v.port is pv), None)
            ips = fmt.addresses(vv.fixed_ips, vv.fixed_ips_from) if vv else ""
            path.append(f"({inst.domain.name}) vNIC {pv.vnic_mac}"
                        + (f" {ips}" if ips else "") + " -> ")
        if pv.tap:
            path.append(f"{pv.tap} -> ")
        spaced(path.append(f"{pv.name}", style="bold"), " ")
        path.append(f"(ofport {pv.ofport} on {pv.bridge}) ")
        if pv.port.tag is not None:
            spaced(path.append(f"-> local VLAN {pv.port.tag}",
                               style="bold red" if pv.port.tag == DEAD_VLAN else "bold"), " ")
        if model.ovn is not None and vlan is None:  # OVN: the tap's network is its datapath
            vlan = next((v for v in model.vlans if pv.name in v.ports), None)
            if i and i.iface_id:
                spaced(path.append(f"-> logical port {i.iface_id}", style="bold"), " ")
            if vlan:
                spaced(path.append(f"-> datapath {vlan.datapath_key}", style="bold"), " ")
        if vlan:
            spaced(path.append("-> " + words.provider_side(vlan.network_type,
                                                           vlan.segmentation_id),
                               style="bold"), " ")
            path.append(f"on {vlan.physical_bridge or '?'} via {','.join(vlan.nics) or '?'} ")
        if i and i.peer:
            path.append(f"patched to {i.peer} on {pv.peer_bridge or '?'}")
        carried = [v for v in model.vlans if v.physical_bridge == pv.bridge and pv.name in v.nics]
        if carried:
            path.append("\nphysical NIC of " + pv.bridge + ", by the flows there now: ")
            for n, v in enumerate(carried):
                path.append("; " if n else "")
                path.append_text(rows.nic_carries(v))
        keys = ["f: flows", "b: bridge flows"]
        if pv.port.tag is not None or vlan is not None:
            keys.append("v: VLAN")
        if inst:
            keys.append("i: instance")
        path.append("\n" + "  ".join(keys), style="dim")
        self.query_one("#path", Static).update(path)
        rundir = rundir_of(self.app)
        if carried and rundir is not False:  # read off the UI thread
            self._learning.start(lambda: nic_learning(rundir, model, pv))

        pairs: list[tuple[str, object]] = [
            ("bridge", pv.bridge), ("ofport", pv.ofport), ("type", pv.type or "system"),
            ("tag", pv.port.tag), ("trunks", ",".join(map(str, pv.port.trunks))),
            ("vlan_mode", pv.port.vlan_mode), ("link_state", i.link_state if i else None),
            ("admin_state", i.admin_state if i else None),
            ("mac_in_use", i.mac_in_use if i else None),
            ("peer", f"{i.peer} on {pv.peer_bridge}" if i and i.peer else None),
            ("error", Text(i.error, style="red") if i and i.error else None),
        ]
        for k, v in sorted((i.external_ids if i else {}).items()):
            pairs.append((f"external_ids:{k}", v))
        for k, v in sorted(pv.port.other_config.items()):
            pairs.append((f"other_config:{k}", v))
        self.query_one("#ovs", Static).update(_kv("OVSDB (Port + Interface)", pairs))

        mark = refresh.mark
        ofc = counters_of(model.port_counters, pv)
        self.query_one("#ofport", CounterPanel).show(
            marks.values(ofc, marks.PORT_FIELDS),
            since=None if mark is None else mark.port(ofc) if ofc else {},
            note="" if ofc else "no counters (ovs-ofctl dump-ports)",
            rates=_rates(refresh.port_rates.get((pv.bridge, ofc.port)) if ofc else None))
        link = pv.link
        self.query_one("#netlink", CounterPanel).show(
            marks.values(link, marks.LINK_FIELDS),
            since=None if mark is None else mark.link(link) if link else {},
            rates=_rates(refresh.link_rates.get(link.ifname) if link else None),
            note=(f"{link.operstate}  mtu {link.mtu}  {link.mac}  kind {link.kind or '-'}"
                  f"  master {link.master or '-'}") if link else
                 "no such device in the netlink namespace read (--netns)")
        tap = pv.tap or pv.name
        vs = model.vnic_stats.get(tap)
        owner = (f"{inst.domain.name} vNIC {pv.vnic_mac} target {tap}" if inst else
                 "no libvirt domain owns this port")
        self.query_one("#libvirt", CounterPanel).show(
            marks.values(vs, marks.VNIC_FIELDS),
            since=None if mark is None else mark.vnic(vs) if vs else {},
            rates=_rates(refresh.vnic_rates.get(tap)),
            note=f"{words.SYNTHETIC_VNIC}\n{owner}" if vs is not None and vs.synthetic else owner)

    def action_flows(self) -> None:
        self.post_message(OpenFlows(Scope("port", self.port_name)))

    def action_bridge(self) -> None:
        pv = self._port()
        if pv:
            self.post_message(OpenFlows(Scope("bridge", pv.bridge)))

    def action_vlan(self) -> None:
        pv = self._port()
        ovn_net = next((v for v in self.shown.model.vlans if pv.name in v.ports
                        and v.local_vlan is None), None) if pv and self.shown else None
        if pv and pv.port.tag is not None:
            self.post_message(OpenVlan(pv.port.tag))
        elif ovn_net is not None:
            self.post_message(OpenVlan(ovn_net.key))
        else:
            self.notify("this port has no local VLAN tag", severity="warning")

    def action_instance(self) -> None:
        pv = self._port()
        if pv and pv.domain_uuid:
            self.post_message(OpenInstance(pv.domain_uuid))
        else:
            self.notify("no instance owns this port", severity="warning")

    def action_path(self) -> None:
        self.post_message(OpenPath(self.port_name))

    def action_trace(self) -> None:
        self.post_message(OpenTrace(self.port_name))
