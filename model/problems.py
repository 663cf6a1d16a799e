"""The problems an operator is shown, each only when the outputs read show it.

A problem drawn from a source that was not read would be a verdict from
unread data: every check below first asks whether its source was read.
"""

from __future__ import annotations

from typing import Mapping

from model.neutron import DEAD_VLAN, TUNNEL_NETWORKS
from model.records import FlowDump
from model.views import NodeModel, Problem


def find_problems(model: NodeModel) -> tuple[Problem, ...]:
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
        if model.domains_known and pv.bridge == model.integration_bridge and pv.is_vif \
                and pv.domain_uuid is None:
            owner = i.vm_uuid if i else None
            out.append(Problem("orphan-port", pv.name,
                               f"VIF port {pv.name} (Neutron port {i.iface_id}) belongs to no "
                               f"libvirt domain" + (f" (its vm-uuid {owner} is not defined here)"
                                                    if owner else "")))
    for inst in model.instances:
        if not model.ovsdb_known or inst.domain.state not in ("running", "paused", "blocked"):
            continue
        for vv in inst.vnics:
            if vv.port is None:
                what = vv.vnic.target or vv.vnic.mac or "?"
                out.append(Problem("unplugged-vif", what,
                                   f"{inst.domain.name}'s vNIC {vv.vnic.mac} (target "
                                   f"{vv.vnic.target or 'none'}) is on no OVS bridge"))
    for v in model.vlans:
        if not v.ports or v.network_type in TUNNEL_NETWORKS or v.network_type == "local":
            continue
        subject = f"vlan {v.local_vlan}"
        provider = ("provider VLAN " + str(v.segmentation_id)) if v.segmentation_id is not None \
            else "the untagged provider network"
        phy_read = v.physical_bridge is None or _read_ok(model.flows, v.physical_bridge)
        if v.egress_flow is None and phy_read:
            out.append(Problem("missing-vlan-translation", subject,
                               f"egress: no flow on {v.physical_bridge or 'any physical bridge'} "
                               f"turns local VLAN {v.local_vlan} into {provider}"))
        if v.ingress_flow is None and _read_ok(model.flows, v.bridge):
            out.append(Problem("missing-vlan-translation", subject,
                               f"ingress: no flow on {v.bridge} turns {provider} into local "
                               f"VLAN {v.local_vlan}"))
        if v.segmentation_id is not None and v.flow_segmentation_id is not None \
                and v.segmentation_id != v.flow_segmentation_id:
            out.append(Problem("vlan-mismatch", subject,
                               f"ports say segmentation_id {v.segmentation_id} but the flows "
                               f"translate local VLAN {v.local_vlan} to {v.flow_segmentation_id}"))
    return tuple(out)


def _read_ok(flows: Mapping[str, FlowDump], bridge: str) -> bool:
    dump = flows.get(bridge)
    return dump is not None and dump.error is None
