"""An ML2/OVN chassis: the same chain (instance -> tap -> network -> provider
VLAN -> bridge -> NIC) read from ovn-controller's br-int instead of the OVS agent's.

Facts from OVN's own code (controller/physical.c, patch.c, lflow.h,
include/ovn/logical-fields.h at v23.03.0 and main) and ovn-controller(8):

- A VIF's table-0 flow, ``in_port=<tap>``, loads ``metadata`` (the logical
  datapath's tunnel key, i.e. its network) and ``reg14`` (the logical input
  port); a localport's (Neutron's metadata port) also sets bit 10 of reg10
  (MLF_LOCALPORT).
- A localnet port becomes a patch pair ``patch-br-int-to-<localnet>`` /
  ``patch-<localnet>-to-br-int`` with ``external_ids:ovn-localnet-port``, on
  the bridge ``ovn-bridge-mappings`` names for its physnet. Its table-0 flows:
  priority 150 ``in_port=<patch>,dl_vlan=<tag>`` -> strip_vlan + metadata (VLAN),
  or priority 100 untagged (flat). Out: ``reg15=<localnet key>,metadata=<dp>``
  -> ``mod_vlan_vid:<tag>,output:<patch>`` (flat: just the output) in the
  "logical to physical" table: 65 up to 25.09, 89 on main. We find it from
  the flows.
- ovs-ofctl prints at most 15 bytes of a port name ("patch-br-int-to"), and
  the number when two names clash there: flows are joined to ports by ofport.

Everything here works from the local OVSDB and br-int's flows; the southbound
DB (``OvnSouthbound``) only adds names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from model.ports import NIC_TYPES, ofp_name, port_refers, strip_quotes
from model.problems import _read_ok, find_problems, ovn_checks
from model.records import (EMPTY_MAP, Flow, FlowDetail, Observation, OvsBridge, OvsPort,
                           from_text)
from model.views import (DetailOf, NodeModel, OvnChassis, OvnView, PortView, Problem,
                         VlanView)
from model.vlans import flows_of

UNBOUND_GRACE = 10.0  # seconds a new port may go without ovn-installed (plugging is ~1 s)
LOCALPORT_FLAG = 1 << 10  # MLF_LOCALPORT in reg10 (MFF_LOG_FLAGS)
# neutron's OVN metadata agent: br-int side of the veth into ovnmeta-<network>
_METADATA_TAP = re.compile(r"tap[0-9a-f-]{10}0")

def chassis_of(obs: Observation) -> OvnChassis | None:
    """This node as an OVN chassis, or None when nothing says it is one.

    An OVS agent node has a system-id too, so that alone proves nothing:
    ovn-remote, ovn-bridge-mappings, an ``ovn-installed`` interface or an
    OVN patch port does.
    """
    if obs.ovsdb is None:
        return None
    ids = obs.ovsdb.external_ids
    ports = [p for b in obs.ovsdb.bridges for p in b.ports]
    int_br = ids.get("ovn-bridge") or "br-int"
    if not ("ovn-remote" in ids or "ovn-bridge-mappings" in ids
            or any("ovn-localnet-port" in p.external_ids for p in ports)
            or any("ovn-installed" in i.external_ids for p in ports for i in p.interfaces)
            or _ovn_table0(obs.flows.get(int_br))):
        return None
    return OvnChassis(
        system_id=ids.get("system-id"), remote=ids.get("ovn-remote"),
        bridge_mappings=parse_bridge_mappings(ids.get("ovn-bridge-mappings", "")),
        encap_type=ids.get("ovn-encap-type"), encap_ip=ids.get("ovn-encap-ip"),
        integration_bridge=int_br)


def _ovn_table0(dump) -> bool:
    """ovn-controller's table 0 loads the datapath into metadata; the OVS agent never
    writes metadata (a saved `ovs-vsctl show` has no external_ids to go by)."""
    return dump is not None and from_text(dump, "OVN's table 0", lambda: any(
        f.table == 0 and ("OXM_OF_METADATA[]" in f.actions or "->metadata" in f.actions)
        for f in dump.flows))


def parse_bridge_mappings(text: str) -> Mapping[str, str]:
    """'physnet1:br-ex,physnet2:br-vlan' -> {physnet1: br-ex, physnet2: br-vlan}."""
    out = {}
    for item in text.split(","):
        physnet, sep, bridge = item.strip().partition(":")
        if sep and physnet and bridge:
            out[physnet.strip()] = bridge.strip()
    return out


_OVN_PATCH_KEYS = ("ovn-localnet-port", "ovn-l2gateway-port", "ovn-l3gateway-port",
                   "ovn-logical-patch-port")  # on the Port (controller/patch.c)


def is_ovn_own(port: OvsPort, localports: Iterable[str] = ()) -> bool:
    """OVN's ports, never orphans: localnet/gateway patches, tunnels to other
    chassis, and the metadata port (a localport, or by neutron's tap name)."""
    return ovn_owner(port, localports) is not None


def ovn_owner(port: OvsPort, localports: Iterable[str] = ()) -> str | None:
    """What an OVN-owned port is for, as the ports table names its owner."""
    iface = port.interface
    if "ovn-localnet-port" in port.external_ids:
        return "OVN localnet"
    if any(k in port.external_ids for k in _OVN_PATCH_KEYS):
        return "OVN patch"
    if iface is None:
        return None
    if "ovn-chassis-id" in iface.external_ids or "ovn-chassis-id" in port.external_ids:
        return "OVN tunnel"
    if iface.iface_id and (iface.iface_id in localports or (
            not iface.vm_uuid and _METADATA_TAP.fullmatch(iface.name))):
        return "OVN metadata"
    return None


# --------------------------------------------------------------------------
# the join


@dataclass(frozen=True, slots=True)
class _Localnet:
    patch: PortView
    name: str  # the localnet port
    physical_bridge: str | None
    physical_network: str | None
    nics: tuple[str, ...]
    ingress: tuple[Flow, FlowDetail] | None = None
    egress: tuple[Flow, FlowDetail] | None = None
    untagged_in: bool = False


def refine(model: NodeModel, obs: Observation, chassis: OvnChassis,
           detail_of: DetailOf) -> NodeModel:
    """The ML2/OVS join's ports and owners, with OVN's networks and problems."""
    base_problems, checks = find_problems(model)  # before OVN's networks replace the VLAN map
    int_br = chassis.integration_bridge if any(
        b.name == chassis.integration_bridge for b in model.bridges) else model.integration_bridge
    sb = obs.ovn_sb
    localports = {n for n, p in (sb.ports if sb else EMPTY_MAP).items() if p.type == "localport"}
    int_ports = [pv for pv in model.ports if pv.bridge == int_br]
    flows = flows_of(model.flows, int_br) if int_br else ()

    # a flow's in_port as printed (name, 15-byte name, or ofport) -> the port;
    # a clashing 15-byte name is left out (ovs-ofctl prints the number for those)
    by_ref: dict[str, PortView] = {}
    clashing = set()
    for p in int_ports:
        short = ofp_name(p.name)
        if short in by_ref and by_ref[short] is not p:
            clashing.add(short)
        by_ref[short] = p
    for short in clashing:
        del by_ref[short]
    for p in int_ports:
        by_ref[p.name] = p
        if p.ofport is not None:
            by_ref[str(p.ofport)] = p
    # table 0: which port loads which datapath (the VIF's network)
    table0: dict[int, tuple[Flow, FlowDetail]] = {}  # ofport -> its best flow
    vif_dp: dict[str, tuple[int, Flow, bool]] = {}  # port name -> (datapath, flow, localport)
    for flow in flows:
        if flow.table != 0 or "in_port=" not in flow.match:
            continue
        d = detail_of(flow)
        pv = by_ref.get(strip_quotes(d.in_port) or "")
        if pv is None or pv.ofport is None:
            continue
        old = table0.get(pv.ofport)
        if old is None or flow.priority > old[0].priority:
            table0[pv.ofport] = (flow, d)
        if d.load_metadata is not None and pv.type != "patch":
            vif_dp[pv.name] = (d.load_metadata, flow,
                               bool(d.loads.get("reg10", 0) & LOCALPORT_FLAG))
    localports |= {pv.interface.iface_id for pv in int_ports
                   if pv.interface and vif_dp.get(pv.name, (0, None, False))[2]}

    localnets = _localnets(model, int_ports, chassis, flows, detail_of, table0)
    egress_tables = {ln.egress[0].table for ln in localnets if ln.egress}
    networks = _networks(localnets, vif_dp, int_br, sb)
    by_dp = {v.datapath_key: v for v in networks}

    instances = []
    for inst in model.instances:
        views = []
        for vv in inst.vnics:
            pv = vv.port
            if pv is not None and pv.bridge == int_br and pv.interface:
                dp = vif_dp.get(pv.name)
                net = by_dp.get(dp[0]) if dp else None
                installed = pv.interface.external_ids.get("ovn-installed") == "true"
                binding = sb.ports.get(pv.interface.iface_id or "") if sb else None
                vv = replace(
                    vv, local_vlan=None,
                    logical_port=pv.interface.iface_id,
                    datapath_key=dp[0] if dp else None,
                    chassis=binding.chassis if binding else (
                        chassis.system_id if installed or dp else None),
                    addresses=binding.mac if binding else (),
                    **_southbound_ips(vv, binding),
                    ovn_installed=installed,
                    segmentation_id=net.segmentation_id if net else None,
                    network_type=net.network_type if net else None,
                    physical_network=net.physical_network if net else None,
                    physical_bridge=net.physical_bridge if net else None,
                    nics=net.nics if net else ())
            views.append(vv)
        instances.append(replace(inst, vnics=tuple(views)))

    model = replace(model, integration_bridge=int_br, vlans=tuple(networks),
                    instances=tuple(instances),
                    _instances_by_uuid={i.domain.uuid: i for i in instances})
    problems = [p for p in base_problems
                if not (p.kind == "orphan-port" and _own(model, p.subject, localports))]
    problems += _ovn_problems(model, obs, chassis, int_ports, table0, localnets, vif_dp)
    checks += ovn_checks(model, int_br, sb is not None)
    return replace(model, problems=tuple(problems), checks=checks,
                   ovn=OvnView(chassis=chassis, southbound=sb,
                               egress_tables=tuple(sorted(egress_tables)),
                               localports=frozenset(localports)))


def _southbound_ips(vv, binding) -> dict:
    """The logical port's IPs ("MAC IP IP..." entries) where Nova's metadata has none."""
    if vv.fixed_ips or binding is None:
        return {}
    ips = tuple(ip for entry in binding.mac for ip in entry.split()[1:])
    return {"fixed_ips": ips, "fixed_ips_from": "southbound"} if ips else {}


def _own(model: NodeModel, name: str, localports) -> bool:
    pv = model.port(name)
    return pv is not None and is_ovn_own(pv.port, localports)


def _localnets(model, int_ports, chassis: OvnChassis, flows, detail_of, table0) -> list[_Localnet]:
    bridge_physnet = {b: p for p, b in chassis.bridge_mappings.items()}
    out = []
    for pv in int_ports:
        i = pv.interface
        if i is None or i.type != "patch":
            continue
        ids = pv.port.external_ids
        name = ids.get("ovn-localnet-port")
        if name is None:
            # a saved `ovs-vsctl show` has no external_ids: go by OVN's naming
            # (patch.c), unless the port says it is a gateway or router patch
            if not pv.name.startswith("patch-br-int-to-") or any(k in ids for k in _OVN_PATCH_KEYS):
                continue
            name = pv.name[len("patch-br-int-to-"):]
        phys_br = pv.peer_bridge
        bridge = next((b for b in model.bridges if b.name == phys_br), None)
        ln = _Localnet(patch=pv, name=name, physical_bridge=phys_br,
                       physical_network=bridge_physnet.get(phys_br or ""),
                       nics=_nics(bridge))
        # in: every table-0 flow from the patch (VLAN: dl_vlan=<tag>; flat: untagged)
        for flow in flows:
            if flow.table != 0 or "in_port=" not in flow.match:
                continue
            d = detail_of(flow)
            if not port_refers(d.in_port, pv) or d.load_metadata is None:
                continue
            if d.dl_vlan is not None and d.dl_vlan != 0 and d.strip_vlan:
                if ln.ingress is None or ln.ingress[1].dl_vlan is None \
                        or flow.priority > ln.ingress[0].priority:
                    ln = replace(ln, ingress=(flow, d))
            elif d.untagged:
                ln = replace(ln, untagged_in=True)
                if ln.ingress is None:
                    ln = replace(ln, ingress=(flow, d))
        # out: reg15=<localnet key>,metadata=<dp> -> [mod_vlan_vid:<tag>,]output:<patch>
        for flow in flows:
            if flow.table == 0 or "reg15=" not in flow.match or "output:" not in flow.actions:
                continue
            d = detail_of(flow)
            if d.metadata is not None and any(port_refers(o, pv) for o in d.outputs):
                if ln.egress is None or flow.priority > ln.egress[0].priority:
                    ln = replace(ln, egress=(flow, d))
        out.append(ln)
    return out


def _nics(bridge: OvsBridge | None) -> tuple[str, ...]:
    if bridge is None:
        return ()
    return tuple(p.name for p in bridge.ports if p.name != bridge.name and p.interfaces
                 and all(i.type in NIC_TYPES for i in p.interfaces))


def _networks(localnets: list[_Localnet], vif_dp, int_br, sb: OvnSouthbound | None) -> list[VlanView]:
    """One view per datapath a local port is on or a localnet serves."""
    by_dp: dict[int, _Localnet] = {}
    for ln in localnets:
        d = (ln.ingress or ln.egress or (None, None))[1]
        dp = d.load_metadata if d is not None and d.load_metadata is not None else (
            d.metadata if d is not None else None)
        if dp is not None:
            by_dp.setdefault(dp, ln)
    dps = sorted(set(by_dp) | {v[0] for v in vif_dp.values()})
    out = []
    for dp in dps:
        ln = by_dp.get(dp)
        tag_in = ln.ingress[1].dl_vlan if ln and ln.ingress and not ln.ingress[1].untagged else None
        tag_out = ln.egress[1].set_vlan if ln and ln.egress else None
        tag = tag_out if tag_out is not None else tag_in
        net_type = None
        if ln is not None and (ln.ingress or ln.egress):
            net_type = "vlan" if tag is not None else "flat"
        out.append(VlanView(
            bridge=int_br, local_vlan=None,
            segmentation_id=tag, network_type=net_type,
            physical_network=ln.physical_network if ln else None,
            physical_bridge=ln.physical_bridge if ln else None,
            nics=ln.nics if ln else (),
            ports=tuple(sorted(n for n, v in vif_dp.items() if v[0] == dp)),
            egress_flow=ln.egress[0] if ln and ln.egress else None,
            ingress_flow=ln.ingress[0] if ln and ln.ingress else None,
            flow_segmentation_id=tag_in,
            datapath_key=dp, localnet=ln.name if ln else None,
            network_name=sb.networks.get(dp) if sb else None,
        ))
    return out


# --------------------------------------------------------------------------
# problems


def _ovn_problems(model, obs: Observation, chassis: OvnChassis, int_ports, table0,
                  localnets: list[_Localnet], vif_dp) -> list[Problem]:
    out = []
    flows_read = _read_ok(model.flows, model.integration_bridge or "")
    ages = obs.port_ages
    for pv in int_ports:
        i = pv.interface
        if i is None or not i.iface_id or pv.type == "patch" or not flows_read:
            continue
        if i.ofport is None or i.ofport < 0:
            continue  # interface-error says it
        if i.external_ids.get("ovn-installed") == "true" or i.ofport in table0:
            continue
        age = ages.get(pv.name) if ages is not None else None
        if age is not None and age < UNBOUND_GRACE:
            continue
        out.append(Problem(
            "unbound-port", pv.name,
            f"{pv.name} (logical port {i.iface_id}) is bound nowhere: no ovn-installed and "
            f"no table-0 flow for ofport {i.ofport} on {pv.bridge}, so its traffic is dropped. "
            f"Check that the logical port exists (ovn-nbctl lsp-get-addresses {i.iface_id}) "
            "and the ovn-controller log."))
    bridges = {b.name for b in model.bridges}
    for physnet, bridge in chassis.bridge_mappings.items():
        if bridge not in bridges:
            out.append(Problem(
                "missing-bridge-mapping", physnet,
                f"ovn-bridge-mappings maps physnet {physnet!r} to {bridge}, which does not "
                "exist: ovn-controller cannot make its localnet patch (\"No bridge for "
                "localnet port\" in its log)"))
    sb = obs.ovn_sb
    local_dps = {v[0] for v in vif_dp.values()}
    patched = {ln.name for ln in localnets}
    for name, port in (sb.ports if sb else EMPTY_MAP).items():
        if port.type != "localnet" or port.datapath_key not in local_dps:
            continue
        if port.network_name and port.network_name not in chassis.bridge_mappings:
            out.append(Problem(
                "missing-bridge-mapping", port.network_name,
                f"localnet port {name} needs physnet {port.network_name!r}, which "
                "ovn-bridge-mappings does not map: its network cannot leave this node"))
        elif name not in patched:
            out.append(Problem(
                "missing-localnet-patch", name,
                f"localnet port {name} serves a network in use here, but br-int has no "
                f"patch-br-int-to-{name}: check ovn-bridge-mappings and the ovn-controller log"))
    for ln in localnets:
        tag_out = ln.egress[1].set_vlan if ln.egress else None
        tag_in = ln.ingress[1].dl_vlan if ln.ingress and not ln.ingress[1].untagged else None
        subject = ln.name
        if tag_out is not None and tag_in != tag_out:
            out.append(Problem(
                "missing-vlan-translation", subject,
                f"ingress: {ln.patch.name} pushes VLAN {tag_out} on the way out but no table-0 "
                f"flow strips VLAN {tag_out} coming in from it"))
        if tag_in is not None and tag_out is None:
            where = (f"table {ln.egress[0].table} outputs to it without pushing VLAN {tag_in}"
                     if ln.egress else f"no flow outputs to it with VLAN {tag_in}")
            out.append(Problem(
                "missing-vlan-translation", subject,
                f"egress: table 0 strips VLAN {tag_in} coming in from {ln.patch.name} but "
                + where))
    return out
