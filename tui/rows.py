"""Table rows (key, cells) from the model: what each pane shows, as plain functions.

Kept apart from the screens so the same row means the same thing wherever it
appears, and so it can be tested without running the app.
"""

from __future__ import annotations

from operator import attrgetter

from rich.text import Text

from model import neutron, ovn, ovn_tables, words
from model.join import NodeModel, PortView, VlanView, VnicView
from model.neutron import DEAD_VLAN
from model.records import Flow, FlowKey
from model.words import display_name
from node.session import Refresh
from widgets import format as fmt
from widgets.virtual_table import Column, Row

# Column order is what a narrow terminal (80 columns) still shows: the
# columns an operator needs first come first, the rest scroll into view.
INSTANCE_COLUMNS = [("name", "Instance"), ("state", "State"), ("tap", "Tap"),
                    ("vlan", "Local->provider"), ("link", "Link"), ("pps", "VM tx/rx pps"),
                    ("ips", "IPs"), ("port", "Port"), ("phys", "Physical"), ("domain", "Domain"),
                    ("project", "Project")]
VLAN_COLUMNS = [("local", "Local"), ("provider", "Provider"), ("ports", "Ports"),
                ("egress", "Egress pps (pkts)"), ("ingress", "Ingress pps (pkts)"),
                ("type", "Type"), ("physnet", "Physnet"), ("bridge", "Phys bridge"),
                ("nic", "NIC")]
PORT_COLUMNS = [("name", "Port"), ("bridge", "Bridge"), ("ofport", "#"), ("vlan", "Tag"),
                ("link", "Link"), ("pps", "rx/tx pps"), ("owner", "Owner"), ("type", "Type"),
                ("peer", "Peer"), ("mode", "Mode"), ("error", "Error")]
VNIC_COLUMNS = [("tap", "Tap"), ("mac", "MAC"), ("ips", "IPs"), ("vlan", "Local->provider"), ("link", "Link"),
                ("pps", "VM tx/rx pps"), ("port", "OVS port"), ("bridge", "Bridge"),
                ("ofport", "#"), ("physnet", "Physnet"), ("phys", "Phys bridge"),
                ("nic", "NIC")]
FLOW_COLUMNS = [  # drop: which go first when narrow (match, actions and counters stay)
    Column("bridge", "Bridge", 11, drop=1),
    Column("table", "Tbl", 3, "right"),
    Column("tname", "Table name", 22, drop=6),  # the longest names whole ("accepted egress normal")
    Column("prio", "Prio", 5, "right"),
    Column("cookie", "Cookie", 8, drop=7),
    Column("match", "Match", 20, flex=5),
    Column("actions", "Actions", 16, flex=4),
    Column("packets", "Packets", 8, "right"),
    Column("bytes", "Bytes", 7, "right", drop=4),
    Column("pps", "pps", 6, "right"),
    Column("bps", "bps", 8, "right", drop=3),
    Column("mark", "Since mark", 10, "right", drop=5),
    Column("trend", "Trend", 10, drop=2),
]


def _link(state: str | None) -> Text:
    if state is None:
        return Text("?", style="dim")
    return Text(state, style="green" if state.lower() in ("up", "unknown") else "red")


def _owner_name(model: NodeModel, pv: PortView) -> str:
    """The instance's name, else who the port belongs to (router, dhcp, patch, ...)."""
    if pv.domain_uuid is None:
        if model.ovn:
            return ovn.ovn_owner(pv.port, model.ovn.localports) or ""
        return "" if pv.owner == "unknown" else pv.owner
    inst = model.instance(pv.domain_uuid)
    return display_name(inst.domain) if inst else pv.domain_uuid[:8]


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
        return fmt.rate(None)
    # what the VM sends, OVS receives
    return f"{fmt.rate(r[0])}/{fmt.rate(r[1])}"


def _local(vv: VnicView) -> int | str | None:
    """What the VLAN column starts from: the local VLAN, or on OVN the datapath."""
    if vv.local_vlan is None and vv.datapath_key is not None:
        return f"dp{vv.datapath_key}"
    return vv.local_vlan


def instance_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, dict]]:
    out = []
    for inst in sorted(model.instances, key=lambda i: display_name(i.domain)):
        d = inst.domain
        state = Text(d.state, style="green" if d.state == "running" else "yellow")
        for n, vv in enumerate(inst.vnics or (None,)):
            cells = {"name": d.nova_name or "" if n == 0 else "",
                     "domain": d.name if n == 0 else "", "state": state,
                     "project": d.project or ""}
            if vv is not None:
                phys = "/".join(x for x in (vv.physical_bridge, ",".join(vv.nics)) if x) \
                    or (vv.tunnel_bridge or "")
                cells.update(
                    tap=vv.vnic.target or "?",
                    port=(Text("not on OVS", style="red") if vv.port is None
                          else f"{vv.port.bridge}:{vv.port.ofport}"),
                    vlan=fmt.vlan_path(_local(vv), vv.segmentation_id, vv.network_type),
                    phys=phys, link=_link(vv.link_state), pps=_vm_pps(refresh, vv),
                    ips=fmt.addresses(vv.fixed_ips, vv.fixed_ips_from))
            out.append((f"{d.uuid}/{n}", cells))
    return out


def flow_pps(refresh: Refresh, flow: Flow | None, also: tuple[Flow, ...] = (),
             bridge: str | None = None) -> str | Text:
    """'1.0 (77)': packets per second, and (in brackets) the flow's packet count;
    with ``also`` (a tunnel VLAN's unicast flows beside its flood flow) their sum.
    Before the first flow dump of ``bridge`` (of any bridge when it is not known)
    a missing flow is "reading", never "none"."""
    if flow is None:
        flows = refresh.model.flows
        reading = refresh.flows_pending and (bridge not in flows if bridge is not None else any(
            b.name not in flows for b in refresh.model.bridges))
        return Text("reading", style="yellow") if reading else Text("none", style="red")
    rates = [r[0] for r in (refresh.rate(f) for f in (flow, *also)) if r]
    return (f"{fmt.rate(sum(rates) if rates else None)} "
            f"({fmt.count(sum(f.n_packets for f in (flow, *also)))})")


def nic_carries(v: VlanView) -> Text:
    """What a physical NIC carries of one local VLAN, from the translation flows
    that exist now (not from what the ports' other_config says it should):
    'local VLAN 2 as provider VLAN 100', or which direction has no flow."""
    t = Text()
    egress, ingress = v.egress_flow, v.ingress_flow
    if egress is None and ingress is None:
        t.append(f"local VLAN {v.local_vlan}: no translation flow either way", style="bold red")
        return t
    t.append(f"local VLAN {v.local_vlan} as "
             + words.provider_side(v.network_type, v.flow_segmentation_id), style="bold")
    if egress is None:
        t.append(f" inbound only: no egress flow on {v.physical_bridge or '?'}", style="bold red")
    elif ingress is None:
        t.append(f" outbound only: no ingress flow on {v.bridge}", style="bold red")
    return t


def vlan_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, dict]]:
    out = []
    for v in model.vlans:
        provider = ("flat" if v.network_type == "flat"
                    else str(v.segmentation_id) if v.segmentation_id is not None else "?")
        # a tunnel network leaves through br-tun's tunnels, not a physical NIC
        way_out = ",".join(v.tunnel_ports) + (
            f" ({','.join(v.remote_ips)})" if v.remote_ips else "") if v.tunnel_bridge else None
        out.append((v.key, {
            "local": v.key + (f" {v.network_name}" if v.network_name else ""),
            "provider": provider, "type": v.network_type or "?",
            "physnet": v.physical_network or ("-" if v.tunnel_bridge else "?"),
            "bridge": v.physical_bridge or v.tunnel_bridge or "?",
            "nic": (way_out or "-") if v.tunnel_bridge else nics_text(model, v.nics) or "-",
            "ports": str(len(v.ports)),
            "egress": flow_pps(refresh, v.egress_flow, v.tunnel_unicast_flows,
                               v.physical_bridge or v.tunnel_bridge),
            "ingress": flow_pps(refresh, v.ingress_flow, bridge=v.bridge),
        }))
    return out


def nics_text(model: NodeModel, nics: tuple[str, ...]) -> str:
    """'eth0', or a bond with its members' link states: 'bond0(eth1 up, eth2 down)'."""
    out = []
    for name in nics:
        pv = model.port(name)
        members = pv.port.interfaces if pv else ()
        states = ", ".join(f"{i.name} {i.link_state or '?'}" for i in members)
        out.append(f"{name}({states})" if len(members) > 1 else name)
    return ",".join(out)


def port_vlan(pv: PortView) -> str:
    if pv.port.tag is not None:
        return str(pv.port.tag) + (" dead" if pv.port.tag == DEAD_VLAN else "")
    if pv.port.trunks:
        return "trunks " + ",".join(map(str, pv.port.trunks))
    return ""


PORT_NAME_WIDTH = 32  # OVN's patch-br-int-to-provnet-<uuid> is 60: the rest of the row matters


def short_name(name: str) -> str:
    """A port name cut to PORT_NAME_WIDTH with an ellipsis (the port screen has it whole)."""
    return name if len(name) <= PORT_NAME_WIDTH else name[:PORT_NAME_WIDTH - 1] + "…"


def port_rows(model: NodeModel, refresh: Refresh) -> list[tuple[str, dict]]:
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
        out.append((pv.name, {
            "bridge": pv.bridge, "ofport": ofport, "name": short_name(pv.name),
            "type": pv.type or "system",
            "vlan": Text(vlan, style="bold red") if pv.port.tag == DEAD_VLAN else vlan,
            "mode": pv.port.vlan_mode or "", "peer": i.peer if i and i.peer else "",
            "link": _link(pv.link_state), "owner": _owner_name(model, pv),
            "pps": f"{fmt.rate(r[0])}/{fmt.rate(r[1])}" if r else fmt.rate(None),
            "error": Text(error, style="red"),
        }))
    return out


def vnic_rows(model: NodeModel, refresh: Refresh, uuid: str) -> list[tuple[str, dict]]:
    inst = model.instance(uuid)
    out = []
    for vv in inst.vnics if inst else ():
        p = vv.port
        out.append((vv.vnic.target or vv.vnic.mac or "?", {
            "mac": vv.vnic.mac or "?", "tap": vv.vnic.target or "?",
            "ips": fmt.addresses(vv.fixed_ips, vv.fixed_ips_from),
            "port": p.name if p else Text("not on OVS", style="red"),
            "bridge": p.bridge if p else "",
            "ofport": str(p.ofport) if p and p.ofport is not None else "",
            "vlan": fmt.vlan_path(_local(vv), vv.segmentation_id, vv.network_type),
            "physnet": vv.physical_network or "", "phys": vv.physical_bridge or "",
            "nic": ",".join(vv.nics), "link": _link(vv.link_state), "pps": _vm_pps(refresh, vv),
        }))
    return out


def vnic_path(model: NodeModel, refresh: Refresh, vv: VnicView) -> Text:
    """One vNIC's way out, with the translation flows that carry it and their
    live counters: the question the instance screen answers at a glance."""
    t = Text()
    t.append(f"{vv.vnic.mac or '?'} -> {vv.vnic.target or '?'}", style="bold")
    if vv.fixed_ips:
        t.append(f"  {fmt.addresses(vv.fixed_ips, vv.fixed_ips_from)}")
    p = vv.port
    if p is None:
        t.append("  on no OVS bridge", style="bold red")
        return t
    if p.tap:
        t.append(f" -> {p.name}", style="bold")
    t.append(f"  (ofport {p.ofport} on {p.bridge}, ")
    t.append_text(_link(vv.link_state))
    t.append(")")
    if model.ovn is not None and vv.local_vlan is None:
        return _ovn_path(t, model, refresh, vv)
    if vv.local_vlan is None:
        t.append("\n  no local VLAN tag: the agent has not bound this port", style="red")
        return t
    if vv.local_vlan == DEAD_VLAN:
        t.append(f"\n  {words.DEAD}", style="bold red")
        return t
    t.append(f"\n  local VLAN {vv.local_vlan} on {p.bridge}  <->  ")
    vlan = model.vlan(vv.local_vlan)
    if vv.tunnel_bridge:
        vni = vv.segmentation_id if vv.segmentation_id is not None else "?"
        t.append(f"{vv.network_type or 'tunnel'} VNI {vni}", style="bold")
        tunnels = ", ".join(vlan.tunnel_ports) if vlan and vlan.tunnel_ports else "?"
        remote = f" to {', '.join(vlan.remote_ips)}" if vlan and vlan.remote_ips else ""
        t.append(f" on {vv.tunnel_bridge} (tunnels {tunnels}{remote})")
        return _translation(t, refresh, vlan)
    t.append(words.provider_side(vv.network_type, vv.segmentation_id), style="bold")
    t.append(f" on {vv.physical_bridge or '?'} (physnet {vv.physical_network or '?'}, "
             f"NIC {','.join(vv.nics) or '?'})")
    return _translation(t, refresh, model.vlan(vv.local_vlan))


def _ovn_path(t: Text, model: NodeModel, refresh: Refresh, vv: VnicView) -> Text:
    """On an OVN chassis: logical port -> datapath -> localnet -> provider VLAN."""
    t.append(f"\n  logical port {vv.logical_port}")
    dump = model.flows.get(vv.port.bridge) if vv.port else None
    if vv.datapath_key is None and (dump is None or dump.error):
        t.append(f"  its network: {vv.port.bridge if vv.port else 'br-int'}'s flows are not "
                 "read (yet)", style="yellow")
        return t
    if vv.datapath_key is None:
        t.append("  not bound: no table-0 flow loads its network", style="bold red")
        return t
    vlan = model.vlan(f"dp{vv.datapath_key}")
    t.append(f", datapath {vv.datapath_key}")
    if vlan and vlan.network_name:
        t.append(f" ({vlan.network_name})")
    t.append(f" on {vv.port.bridge if vv.port else '?'}  <->  ")
    if vlan is None or vlan.localnet is None:
        t.append("no localnet port here (an overlay network, or no patch)", style="yellow")
        return t
    t.append(words.provider_side(vv.network_type, vv.segmentation_id), style="bold")
    t.append(f" via {vlan.localnet} on {vv.physical_bridge or '?'} (physnet "
             f"{vv.physical_network or '?'}, NIC {','.join(vv.nics) or '?'})")
    return _translation(t, refresh, vlan)


def _translation(t: Text, refresh: Refresh, vlan: VlanView | None) -> Text:
    """The egress and ingress translation flows with their live counters."""
    for label, flow in (("egress ", vlan.egress_flow if vlan else None),
                        ("ingress", vlan.ingress_flow if vlan else None)):
        t.append(f"\n  {label} ")
        if flow is None:
            t.append("no translation flow", style="bold red")
            continue
        rate = refresh.rate(flow)
        t.append(f"{flow.bridge} t{flow.table}".ljust(16) + " ")
        t.append(f"{flow.match} -> {flow.actions}", style="cyan")
        t.append(f"  {fmt.count(flow.n_packets)} pkts")
        if rate is not None:
            t.append(f"  {fmt.rate(rate[0])}/s", style="bold yellow" if rate[0] else "")
    return t


def table_name(model: NodeModel, bridge: str, table: int) -> str:
    """The table's name for the node's kind: ovn-controller's on an OVN br-int."""
    name = ovn_tables.br_int_table_name(model, bridge, table)
    return name if name is not None else neutron.table_name(model.bridge_role(bridge), table)


def table_note(model: NodeModel, bridge: str, table: int) -> str:
    """How the table's meaning changed between Neutron releases, or ""."""
    if model.ovn is not None and bridge == model.integration_bridge:
        return ""
    return neutron.table_note(model.bridge_role(bridge), table)


def describe_registers(model: NodeModel, bridge: str, regs) -> str:
    """Registers with what they hold: the OVS firewall's, or OVN's logical fields."""
    if model.ovn is not None and bridge == model.integration_bridge:
        return neutron.describe_registers(regs, ovn_tables.REGISTERS)
    return neutron.describe_registers(regs)


def match_cell(match: str, text: str = "") -> str:
    """A flow's match as its row shows it: with a filter, from the field a filter
    word matched ("…nw_src=192.168.100.30"), so a narrow Match column still
    shows why the row is there; the whole match is in the flow detail."""
    if not match:
        return "(any)"
    low = match.lower()
    for word in text.lower().split():
        at = low.find(word)
        if at > 0:
            start = match.rfind(",", 0, at) + 1  # the start of the field holding it
            return "…" + match[start:] if start else match
    return match


def flow_row(model: NodeModel, refresh: Refresh, flow: Flow, key, text: str = "") -> Row:
    """``text``: the flows screen's filter (see match_cell)."""
    rate = refresh.rate(flow)
    since = refresh.since_mark(flow)
    history = refresh.history.get(flow.key, ())
    moved = rate is not None and rate[0] > 0
    return Row(key, (
        flow.bridge, str(flow.table),
        table_name(model, flow.bridge, flow.table),
        str(flow.priority), f"{flow.cookie:#x}"[-8:] if flow.cookie else "0",
        match_cell(flow.match, text), flow.actions,
        fmt.count(flow.n_packets), fmt.count(flow.n_bytes),
        fmt.rate(rate[0] if rate else None), fmt.bits(rate[1] if rate else None),
        fmt.count(since[0]) if since else "", fmt.spark(history),
    ), "moved" if moved else "")


def flow_key_text(flow: Flow) -> str:
    """A flow's identity as text (FlowKey's fields), to find a flow by."""
    return f"{flow.bridge}\x1f{flow.table}\x1f{flow.priority}\x1f{flow.cookie}\x1f{flow.match}"


_FLOW_KEY = attrgetter("bridge", "table", "priority", "match", "cookie")  # Flow.key, in C


def flow_row_keys(flows) -> tuple[list, dict, bool]:
    """Row keys of many flows, their positions, and whether the keys are FlowKeys.

    Each flow's FlowKey hashed: an int (32 B) where the key holds the match
    (~150 B), and a refresh holds two choices at once (200k flows: 2 x 36 MB
    of texts and their index); the tuples made in C and hashed from their
    strings' cached hashes (10 ms at 50k flows, where building texts took 30).
    Should two keys hash alike, the FlowKeys are the row keys: a row key never
    stands for two flows."""
    keys: list = list(map(hash, map(_FLOW_KEY, flows)))
    index = dict(zip(keys, range(len(keys))))
    if len(index) == len(keys):
        return keys, index, False
    keys = list(map(_FLOW_KEY, flows))
    return keys, dict(zip(keys, range(len(keys)))), True


def row_key_of(key: FlowKey, exact: bool):
    """The row key flow_row_keys gave the flow with this FlowKey."""
    return key if exact else hash(key)
