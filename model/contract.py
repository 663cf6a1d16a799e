"""The JSON output contract (schema ``ovsvlan-tui/snapshot/1``).

Scripts and acceptance checks depend on these names and types (DESIGN.md
section 5); fields may be added, never renamed or removed.
"""

from __future__ import annotations

from model.views import NodeModel, PortView, VlanView
from model.records import Flow

SCHEMA = "ovsvlan-tui/snapshot/1"


def _cookie(value: int) -> str:
    return f"{value:#x}"


def flow_brief(flow: Flow | None) -> dict | None:
    if flow is None:
        return None
    return {"bridge": flow.bridge, "table": flow.table, "priority": flow.priority,
            "cookie": _cookie(flow.cookie), "match": flow.match, "actions": flow.actions,
            "n_packets": flow.n_packets, "n_bytes": flow.n_bytes}


def port_dict(pv: PortView) -> dict:
    i = pv.interface
    return {
        "name": pv.name,
        "ofport": pv.ofport,
        "type": pv.type or "system",
        "tag": pv.port.tag,
        "trunks": list(pv.port.trunks),
        "vlan_mode": pv.port.vlan_mode,
        "peer": i.peer if i else None,
        "peer_bridge": pv.peer_bridge,
        "iface_id": i.iface_id if i else None,
        "attached_mac": i.attached_mac if i else None,
        "vm_uuid": i.vm_uuid if i else None,
        "domain_uuid": pv.domain_uuid,
        "link_state": pv.link_state,
        "admin_state": i.admin_state if i else None,
        "error": (i.error if i else None) or (
            "ofport -1: the interface could not be opened" if i and i.ofport == -1 else None),
        "other_config": dict(pv.port.other_config),
    }


def vlan_dict(v: VlanView) -> dict:
    return {
        "bridge": v.bridge,
        "local_vlan": v.local_vlan,
        "segmentation_id": v.segmentation_id,
        "network_type": v.network_type,
        "physical_network": v.physical_network,
        "physical_bridge": v.physical_bridge,
        "nics": list(v.nics),
        "ports": list(v.ports),
        "egress_flow": flow_brief(v.egress_flow),
        "ingress_flow": flow_brief(v.ingress_flow),
    }


def to_contract(model: NodeModel) -> dict:
    by_bridge: dict[str, list[PortView]] = {}
    for pv in model.ports:
        by_bridge.setdefault(pv.bridge, []).append(pv)
    return {
        "schema": SCHEMA,
        "node": {"hostname": model.hostname, "ovs_version": model.ovs_version,
                 "integration_bridge": model.integration_bridge},
        "sources": [{"source": s.source, "status": s.status, "detail": s.detail}
                    for s in model.sources],
        "bridges": [{"name": b.name, "datapath_type": b.datapath_type, "fail_mode": b.fail_mode,
                     "ports": [port_dict(pv) for pv in by_bridge.get(b.name, [])]}
                    for b in model.bridges],
        "instances": [{
            "domain": inst.domain.name,
            "uuid": inst.domain.uuid,
            "name": inst.domain.nova_name,
            "state": inst.domain.state,
            "project": inst.domain.project,
            "project_id": inst.domain.project_id,
            "flavor": inst.domain.flavor,
            "interfaces": [{
                "mac": vv.vnic.mac,
                "tap": vv.vnic.target,
                "port": vv.port.name if vv.port else None,
                "bridge": vv.port.bridge if vv.port else None,
                "ofport": vv.port.ofport if vv.port else None,
                "local_vlan": vv.local_vlan,
                "segmentation_id": vv.segmentation_id,
                "network_type": vv.network_type,
                "physical_network": vv.physical_network,
                "physical_bridge": vv.physical_bridge,
                "nics": list(vv.nics),
                "link_state": vv.link_state,
            } for vv in inst.vnics],
        } for inst in model.instances],
        "vlans": [vlan_dict(v) for v in model.vlans],
        "flows": [{
            "bridge": f.bridge, "table": f.table, "priority": f.priority,
            "cookie": _cookie(f.cookie), "match": f.match, "actions": f.actions,
            "n_packets": f.n_packets, "n_bytes": f.n_bytes, "duration": f.duration,
        } for f in model.all_flows()],
        "unparsed_flow_lines": [{"bridge": d.bridge, "line": line}
                                for d in model.flows.values() for line in d.unparsed],
        "problems": [{"kind": p.kind, "subject": p.subject, "detail": p.detail}
                     for p in model.problems],
    }
