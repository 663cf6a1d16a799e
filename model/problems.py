"""The problems an operator is shown, each only when the outputs read show it,
and which checks could run to find them.

A problem drawn from a source that was not read would be a verdict from
unread data: every check first asks whether its source was read, and says
whether it ran, ran on part of the node, or could not run and why, so "no
problems" is never said of a node whose sources could not be read.
"""

from __future__ import annotations

from typing import Mapping

from model.neutron import DEAD_VLAN, TUNNEL_NETWORKS
from model.records import FlowDump, Vnic
from model.words import provider_network
from model.views import Check, NodeModel, Problem

# Each kind of problem and the sources it is found from.
CHECKS: Mapping[str, tuple[str, ...]] = {
    "dead-vlan": ("ovsdb",),
    "interface-error": ("ovsdb",),
    "orphan-port": ("ovsdb", "libvirt"),
    "unplugged-vif": ("ovsdb", "libvirt"),
    "missing-vlan-translation": ("ovsdb", "openflow"),
    "vlan-mismatch": ("ovsdb", "openflow"),
    "duplicate-vlan-translation": ("ovsdb", "openflow"),
}

# The kinds only an OVN chassis has (model/ovn.py) and what each reads: br-int's
# flows say which networks are in use here; the southbound DB ("ovn-sb") names the
# localnet ports they need (missing-bridge-mapping also runs in part without it:
# a mapping to a bridge that does not exist needs only OVSDB).
OVN_CHECKS: Mapping[str, tuple[str, ...]] = {
    "unbound-port": ("ovsdb", "openflow"),
    "missing-bridge-mapping": ("ovsdb", "openflow", "ovn-sb"),
    "missing-localnet-patch": ("ovsdb", "openflow", "ovn-sb"),
}
SOUTHBOUND = "ovn-sb"

# Every kind find_problems reports (the exporter exports each, at 0 too).
KINDS = ("dead-vlan", "orphan-port", "unplugged-vif", "missing-vlan-translation",
         "vlan-mismatch", "interface-error", "duplicate-vlan-translation")


def find_problems(model: NodeModel) -> tuple[tuple[Problem, ...], tuple[Check, ...]]:
    checks = _checks(model)
    ran = {c.kind for c in checks if c.status != "not run"}
    return tuple(p for p in _problems(model) if p.kind in ran), checks


def verdict(model: NodeModel) -> tuple[str, bool]:
    """'2 problems', 'no problems found', '0 problems; 4 of 6 checks could not run
    (ovsdb, libvirt not read)': the one sentence every problem count is shown as,
    and whether it is a clean bill (nothing found and every check ran)."""
    n = len(model.problems)
    found = f"{n} problem{'s' if n != 1 else ''}"
    short = [c for c in model.checks if c.status != "ran"]
    if not short:
        return (found if n else "no problems found"), n == 0
    missing = sorted({s for c in short for s in c.missing})
    unread = f"{', '.join(missing)} not read"
    if all(c.status == "not run" for c in model.checks):
        return f"no check could run ({unread})", False
    not_run = sum(1 for c in short if c.status == "not run")
    part = sum(1 for c in short if c.status == "partial")
    said = []
    if not_run:
        said.append(f"{not_run} of {len(model.checks)} checks could not run")
    if part:
        said.append(f"{part} ran on part of the node")
    return f"{found}; {', '.join(said)} ({unread})", False


def ovn_checks(model: NodeModel, integration_bridge: str | None,
               southbound_read: bool) -> tuple[Check, ...]:
    """Whether each OVN kind's check could run on this chassis, and why not."""
    flows = {} if integration_bridge is None else _unread_flow_bridges(model)
    br_int_read = integration_bridge is not None and _read_ok(model.flows, integration_bridge)
    out = []
    for kind, sources in OVN_CHECKS.items():
        if not model.ovsdb_known:
            out.append(Check(kind, "not run", _state_detail(model, "ovsdb"), ("ovsdb",)))
            continue
        why, missing = [], []
        if not br_int_read:
            which = integration_bridge or "br-int"
            why.append(f"flows of {which} not read"
                       + (f": {flows[which]}" if flows.get(which) else ""))
            missing.append("openflow")
        if SOUTHBOUND in sources and not southbound_read:
            why.append(f"{_state_detail(model, SOUTHBOUND)} (it names the localnet ports "
                       "the networks in use need)")
            missing.append(SOUTHBOUND)
        if not missing:
            out.append(Check(kind, "ran"))
            continue
        # a mapping to a bridge that does not exist is found from OVSDB alone
        status = "partial" if kind == "missing-bridge-mapping" else "not run"
        out.append(Check(kind, status, "; ".join(why), tuple(missing)))
    return tuple(out)


def _state_detail(model: NodeModel, source: str) -> str:
    state = next((s for s in model.sources if s.source == source), None)
    if state is None or not state.detail:
        return f"{source} not read"
    return f"{source} not read: {state.detail}"


def _checks(model: NodeModel) -> tuple[Check, ...]:
    have = {"ovsdb": model.ovsdb_known, "libvirt": model.domains_known}
    unread_flows = _unread_flow_bridges(model)
    needed_flows = _needed_flow_bridges(model)
    out = []
    for kind, sources in CHECKS.items():
        missing = tuple(s for s in sources if s != "openflow" and not have[s])
        if missing:
            out.append(Check(kind, "not run", "; ".join(_state_detail(model, s) for s in missing),
                             missing))
            continue
        if "openflow" in sources and needed_flows:
            unread = [b for b in needed_flows if b in unread_flows]
            if unread:
                status = "not run" if len(unread) == len(needed_flows) else "partial"
                why = (f"flows of {', '.join(unread)} not read"
                       + (f": {unread_flows[unread[0]]}" if unread_flows[unread[0]] else ""))
                out.append(Check(kind, status, why, ("openflow",)))
                continue
        out.append(Check(kind, "ran"))
    return tuple(out)


def _needed_flow_bridges(model: NodeModel) -> list[str]:
    """The bridges whose flows the translation checks read: br-int, the physical
    ones and br-tun."""
    bridges = {v.bridge for v in model.vlans} | {v.physical_bridge for v in model.vlans
                                                  if v.physical_bridge} | {
        v.tunnel_bridge for v in model.vlans if v.tunnel_bridge}
    if model.integration_bridge:
        bridges.add(model.integration_bridge)
    return sorted(bridges)


def _unread_flow_bridges(model: NodeModel) -> dict[str, str]:
    """Bridge -> why its flows are not known ("" when not dumped yet)."""
    out = {}
    for b in model.bridges:
        dump = model.flows.get(b.name)
        if dump is None:
            out[b.name] = ""
        elif dump.error is not None:
            out[b.name] = dump.error
    return out


def _problems(model: NodeModel) -> list[Problem]:
    out: list[Problem] = []
    for pv in model.ports:
        i = pv.interface
        if pv.port.tag == DEAD_VLAN:
            out.append(Problem("dead-vlan", pv.name,
                               f"port {pv.name} on {pv.bridge} is tagged {DEAD_VLAN} (dead VLAN): "
                               "the OVS agent could not bind it; its traffic is dropped. "
                               "Check the neutron-openvswitch-agent log for this port."))
        if i is not None and (i.error or i.ofport == -1):
            out.append(Problem("interface-error", i.name,
                               f"interface {i.name} on {pv.bridge}: "
                               f"{i.error or 'ofport -1 (the interface could not be opened)'}"))
        # agent ports (router, gateway, DHCP) carry an iface-id too, but no VM
        if model.domains_known and pv.bridge == model.integration_bridge and pv.is_vif \
                and pv.domain_uuid is None and pv.owner == "unknown":
            owner = i.vm_uuid if i else None
            out.append(Problem("orphan-port", pv.name,
                               f"VIF port {pv.name} (Neutron port {i.iface_id}) belongs to no "
                               f"libvirt domain" + (f" (its vm-uuid {owner} is not defined here)"
                                                    if owner else "")))
    bridge_names = {b.name for b in model.bridges}
    for inst in model.instances:
        if not model.ovsdb_known or inst.domain.state not in ("running", "paused", "blocked"):
            continue
        for vv in inst.vnics:
            if vv.port is None and _meant_for_ovs(vv.vnic, bridge_names):
                what = vv.vnic.target or vv.vnic.mac or "?"
                out.append(Problem("unplugged-vif", what,
                                   f"{inst.domain.name}'s vNIC {vv.vnic.mac} (target "
                                   f"{vv.vnic.target or 'none'}) is on no OVS bridge"))
    tunnel_bridges = _tunnel_bridges(model)
    for v in model.vlans:
        subject = f"vlan {v.local_vlan}"
        if v.duplicate_flows:
            out.append(Problem("duplicate-vlan-translation", subject, _duplicates(v)))
        if not v.ports or v.network_type == "local":
            continue
        if v.network_type in TUNNEL_NETWORKS:
            if v.ingress_flow is None and v.tunnel_bridge and _read_ok(model.flows, v.tunnel_bridge):
                vni = f"VNI {v.segmentation_id}" if v.segmentation_id is not None else "its VNI"
                out.append(Problem("missing-vlan-translation", subject,
                                   f"ingress: no flow on {v.tunnel_bridge} turns {vni} into "
                                   f"local VLAN {v.local_vlan}"))
        else:
            if v.network_type is None and not all(_read_ok(model.flows, b) for b in tunnel_bridges):
                continue  # may be a tunnel network whose br-tun flows were not read
            out.extend(_missing_translation(model, v, subject))
        if v.segmentation_id is not None and v.flow_segmentation_id is not None \
                and v.segmentation_id != v.flow_segmentation_id:
            out.append(Problem("vlan-mismatch", subject,
                               f"ports say segmentation_id {v.segmentation_id} but the flows "
                               f"translate local VLAN {v.local_vlan} to {v.flow_segmentation_id}"))
    return out


def _missing_translation(model: NodeModel, v, subject: str) -> list[Problem]:
    out = []
    provider = provider_network(v.segmentation_id)
    if v.physical_bridge is not None:
        phy_read = _read_ok(model.flows, v.physical_bridge)
    else:  # "no flow on any physical bridge" needs every physical bridge's flows
        phys = {pv.peer_bridge for pv in model.ports if pv.bridge == v.bridge
                and pv.owner == "patch" and pv.peer_bridge} - _tunnel_bridges(model)
        if not phys:
            tunnels = sorted(_tunnel_bridges(model))
            if tunnels and v.network_type is None:  # their flows were read (checked by the caller)
                out.append(Problem("missing-vlan-translation", subject,
                                   f"no flow on {', '.join(tunnels)} turns local VLAN "
                                   f"{v.local_vlan} into a VNI, and no physical bridge is joined "
                                   f"to {v.bridge}: its frames cannot leave this node"))
            return out  # else no physical bridge here: no provider network to translate to
        phy_read = all(_read_ok(model.flows, b) for b in phys)
    if v.egress_flow is None and phy_read:
        out.append(Problem("missing-vlan-translation", subject,
                           f"egress: no flow on {v.physical_bridge or 'any physical bridge'} "
                           f"turns local VLAN {v.local_vlan} into {provider}"))
    if v.ingress_flow is None and _read_ok(model.flows, v.bridge):
        out.append(Problem("missing-vlan-translation", subject,
                           f"ingress: no flow on {v.bridge} turns {provider} into local "
                           f"VLAN {v.local_vlan}"))
    return out


def _meant_for_ovs(vnic: Vnic, bridges: set[str]) -> bool:
    """A vNIC Nova plugs into OVS: a tap (ethernet), a qbr Linux bridge (hybrid
    firewall), an OVS bridge or virtualport, or vhost-user. SR-IOV (hostdev),
    macvtap (direct) and other Linux bridges never reach OVS."""
    if vnic.virtualport == "openvswitch" or vnic.type == "vhostuser":
        return True
    if vnic.type == "bridge":
        return bool(vnic.source_bridge) and (vnic.source_bridge.startswith("qbr")
                                             or vnic.source_bridge in bridges)
    if vnic.type == "ethernet":
        return True
    return False


def _tunnel_bridges(model: NodeModel) -> set[str]:
    return {pv.bridge for pv in model.ports if pv.owner == "tunnel"}


def _duplicates(v) -> str:
    shown = v.ingress_flow or v.egress_flow
    flows = ([shown] if shown else []) + list(v.duplicate_flows)
    listed = "; ".join(f"{f.bridge} table {f.table} priority {f.priority}: {f.match} -> {f.actions}"
                       for f in flows)
    return (f"{len(flows)} flows of equal priority translate into local VLAN {v.local_vlan}, so "
            f"frames of another network land on it: {listed}")


def _read_ok(flows: Mapping[str, FlowDump], bridge: str) -> bool:
    dump = flows.get(bridge)
    return dump is not None and dump.error is None
