"""Table rows (key, cells) from the model: what each pane shows, as plain functions.

Kept apart from the screens so the same row means the same thing wherever it
appears, and so it can be tested without running the app.
"""

from __future__ import annotations

from rich.text import Text

from collectors import neutron
from collectors.model import NodeModel, PortView, VnicView
from collectors.records import Flow
from collectors.session import Refresh
from widgets import format as fmt
from widgets.virtual_table import Column, Row

INSTANCE_COLUMNS = [("name", "Instance"), ("domain", "Domain"), ("state", "State"),
                    ("tap", "Tap"), ("port", "Port"), ("vlan", "VLAN local->provider"),
                    ("phys", "Physical"), ("link", "Link"), ("pps", "VM tx/rx pps"),
                    ("project", "Project")]
VLAN_COLUMNS = [("local", "Local"), ("provider", "Provider"), ("type", "Type"),
                ("physnet", "Physnet"), ("bridge", "Phys bridge"), ("nic", "NIC"),
                ("ports", "Ports"), ("egress", "Egress pps"), ("ingress", "Ingress pps")]
PORT_COLUMNS = [("bridge", "Bridge"), ("ofport", "#"), ("name", "Port"), ("type", "Type"),
                ("vlan", "Tag/Trunks"), ("mode", "Mode"), ("peer", "Peer"), ("link", "Link"),
                ("owner", "Instance"), ("pps", "rx/tx pps"), ("error", "Error")]
VNIC_COLUMNS = [("mac", "MAC"), ("tap", "Tap"), ("port", "OVS port"), ("bridge", "Bridge"),
                ("ofport", "#"), ("local", "Local VLAN"), ("provider", "Provider"),
                ("physnet", "Physnet"), ("phys", "Phys bridge"), ("nic", "NIC"),
                ("link", "Link"), ("pps", "VM tx/rx pps")]
FLOW_COLUMNS = [
    Column("bridge", "Bridge", 11),
    Column("table", "Tbl", 3, "right"),
    Column("tname", "Table name", 14),
    Column("prio", "Prio", 5, "right"),
    Column("cookie", "Cookie", 8),
    Column("match", "Match", 20, flex=5),
    Column("actions", "Actions", 16, flex=4),
    Column("packets", "Packets", 8, "right"),
    Column("bytes", "Bytes", 7, "right"),
    Column("pps", "pps", 6, "right"),
    Column("bps", "bps", 8, "right"),
    Column("mark", "Since mark", 10, "right"),
    Column("trend", "Trend", 10),
]


def _link(state: str | None) -> Text:
    if state is None:
        return Text("?", style="dim")
    return Text(state, style="green" if state.lower() in ("up", "unknown") else "red")


def _owner_name(model: NodeModel, pv: PortView) -> str:
    if pv.domain_uuid is None:
        return ""
    inst = model.instance(pv.domain_uuid)
    return (inst.domain.nova_name or inst.domain.name) if inst else pv.domain_uuid[:8]


def port_pps(refresh: Refresh, pv: PortView | None) -> tuple[float, float] | None:
    """(rx, tx) pps of an OVS port as OVS counts it (rx: into the switch)."""
    if pv is None:
        return None
    r = refresh.port_rates.get((pv.bridge, pv.name))
    if r is not None:
        return r[0], r[1]
    r = refresh.link_rates.get(pv.name)
    return (r[0], r[1]) if r is not None else None


def _vm_pps(refresh: Refresh, vv: VnicView) -> str:
    r = port_pps(refresh, vv.port)
    if r is None:
        return ""
    # what the VM sends, OVS receives
    return f"{fmt.rate(r[0])}/{fmt.rate(r[1])}"


def instance_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, list]]:
    out = []
    for inst in sorted(model.instances, key=lambda i: (i.domain.nova_name or i.domain.name)):
        d = inst.domain
        vnics = inst.vnics or (None,)
        for n, vv in enumerate(vnics):
            state = Text(d.state, style="green" if d.state == "running" else "yellow")
            if vv is None:
                cells = [d.nova_name or "", d.name, state, "", "", "", "", "", "", d.project or ""]
            else:
                port = (Text("not on OVS", style="red") if vv.port is None
                        else f"{vv.port.bridge}:{vv.port.ofport}")
                phys = "/".join(x for x in (vv.physical_bridge, ",".join(vv.nics)) if x)
                cells = [d.nova_name or "" if n == 0 else "", d.name if n == 0 else "", state,
                         vv.vnic.target or "?", port,
                         fmt.vlan_path(vv.local_vlan, vv.segmentation_id, vv.network_type),
                         phys, _link(vv.link_state), _vm_pps(refresh, vv), d.project or ""]
            out.append((f"{d.uuid}/{n}", cells))
    return out


def flow_pps(refresh: Refresh, flow: Flow | None) -> str:
    if flow is None:
        return Text("none", style="red")
    r = refresh.rate(flow)
    return f"{fmt.rate(r[0]) if r else ''} ({fmt.count(flow.n_packets)})"


def vlan_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, list]]:
    out = []
    for v in model.vlans:
        provider = ("flat" if v.network_type == "flat"
                    else str(v.segmentation_id) if v.segmentation_id is not None else "?")
        out.append((str(v.local_vlan), [
            str(v.local_vlan), provider, v.network_type or "?", v.physical_network or "?",
            v.physical_bridge or "?", ",".join(v.nics) or "-", str(len(v.ports)),
            flow_pps(refresh, v.egress_flow), flow_pps(refresh, v.ingress_flow),
        ]))
    return out


def port_vlan(pv: PortView) -> str:
    if pv.port.tag is not None:
        return str(pv.port.tag) + (" dead" if pv.port.tag == 4095 else "")
    if pv.port.trunks:
        return "trunks " + ",".join(map(str, pv.port.trunks))
    return ""


def port_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, list]]:
    out = []
    bridge_order = {b.name: n for n, b in enumerate(sorted(model.bridges, key=lambda b: (
        b.name != model.integration_bridge, b.name)))}
    ports = sorted(model.ports, key=lambda p: (bridge_order.get(p.bridge, 99),
                                               p.ofport if p.ofport is not None else 1 << 30,
                                               p.name))
    for pv in ports:
        i = pv.interface
        error = (i.error if i else None) or ("ofport -1" if pv.ofport == -1 else "")
        r = port_pps(refresh, pv)
        ofport = "LOCAL" if pv.name == pv.bridge else (str(pv.ofport) if pv.ofport is not None else "?")
        vlan = port_vlan(pv)
        out.append((pv.name, [
            pv.bridge, ofport, pv.name, pv.type or "system",
            Text(vlan, style="bold red") if pv.port.tag == 4095 else vlan,
            pv.port.vlan_mode or "", (i.peer if i and i.peer else ""), _link(pv.link_state),
            _owner_name(model, pv), f"{fmt.rate(r[0])}/{fmt.rate(r[1])}" if r else "",
            Text(error, style="red"),
        ]))
    return out


def vnic_rows(model: NodeModel, refresh: Refresh, uuid: str) -> list[tuple[str, list]]:
    inst = model.instance(uuid)
    out = []
    for vv in inst.vnics if inst else ():
        p = vv.port
        out.append((vv.vnic.target or vv.vnic.mac or "?", [
            vv.vnic.mac or "?", vv.vnic.target or "?",
            p.name if p else Text("not on OVS", style="red"), p.bridge if p else "",
            str(p.ofport) if p and p.ofport is not None else "",
            str(vv.local_vlan) if vv.local_vlan is not None else "",
            ("flat" if vv.network_type == "flat" else
             str(vv.segmentation_id) if vv.segmentation_id is not None else "?"),
            vv.physical_network or "", vv.physical_bridge or "", ",".join(vv.nics),
            _link(vv.link_state), _vm_pps(refresh, vv),
        ]))
    return out


def bridge_role(model: NodeModel, bridge: str) -> str:
    if bridge == model.integration_bridge:
        return "int"
    if bridge.startswith("br-tun"):
        return "tun"
    return "phys"


def flow_row(model: NodeModel, refresh: Refresh, flow: Flow, key: str) -> Row:
    rate = refresh.rate(flow)
    since = refresh.since_mark(flow)
    history = refresh.history.get(flow.key, ())
    moved = rate is not None and rate[0] > 0
    return Row(key, (
        flow.bridge, str(flow.table),
        neutron.table_name(bridge_role(model, flow.bridge), flow.table),
        str(flow.priority), f"{flow.cookie:#x}"[-8:] if flow.cookie else "0",
        flow.match or "(any)", flow.actions,
        fmt.count(flow.n_packets), fmt.count(flow.n_bytes),
        fmt.rate(rate[0]) if rate else "", fmt.bits(rate[1]) if rate else "",
        fmt.count(since[0]) if since else "", fmt.spark(history),
    ), "moved" if moved else "")


def flow_key_text(flow: Flow) -> str:
    """A flow's identity as a row key (FlowKey as text)."""
    return f"{flow.bridge}\x1f{flow.table}\x1f{flow.priority}\x1f{flow.cookie}\x1f{flow.match}"
