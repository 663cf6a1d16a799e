"""The JSON output contract (schema ``ovsvlan-tui/snapshot/1``).

Scripts and acceptance checks depend on these names and types
(docs/contract.md); fields may be added, never renamed or removed.

On an ML2/OVN chassis (``node.kind`` "ml2/ovn", ``ovn`` the chassis facts:
system_id, remote, bridge_mappings, encap, egress_tables) the same names hold:
``local_vlan`` is null (OVN has no local VLANs); each interface adds
``logical_port`` (its iface-id), ``datapath_key`` (the network's datapath, from
the tap's table-0 flow), ``chassis`` (its southbound binding, else this node
when bound here), ``ovn_installed`` and ``addresses`` (southbound, else []); each entry of
``vlans`` is a network (one per datapath) with ``datapath_key``, ``localnet``
(the localnet port) and ``network_name`` (from the southbound DB, else null),
its ``egress_flow`` the "logical to physical" flow pushing the provider VLAN
onto the localnet patch and its ``ingress_flow`` the table-0 flow stripping it.
Problem kinds added there: ``unbound-port``, ``missing-bridge-mapping``,
``missing-localnet-patch``; ``missing-vlan-translation`` names the localnet port.
On an ML2/OVS node all these are null and ``ovn`` is null.

Added for real nodes (ML2/OVS): each port has ``owner`` (instance, router,
gateway, dhcp, patch, tunnel, nic, bridge-internal, unknown) and
``interfaces`` (name, type, link_state: two or more for an OVS bond); each
vNIC ``network_type``, ``tunnel_bridge`` (br-tun for a tunnel network, else
null), ``fixed_ips`` and ``fixed_ips_from`` (``"nova"``: Nova's
``<nova:ports>``; ``"flows"``: its port's anti-spoofing flows, table 71, where
Nova's metadata has none; ``"southbound"``: on OVN, its logical port's
addresses; null: none); each VLAN
``tunnel_bridge``, ``tunnel_ports`` and ``remote_ips`` (a VXLAN/GRE/Geneve
network: ``segmentation_id`` is its VNI, ``egress_flow`` the br-tun flow
turning the local VLAN into the VNI (the flood flow), ``ingress_flow`` the one
turning it back, ``tunnel_unicast_flows`` br-tun's unicast ones to a known MAC,
l2pop's or learned) and ``duplicate_flows`` (other flows of the same table and priority
translating into that local VLAN: problem ``duplicate-vlan-translation``).

Added since: ``checks``, one entry per kind of problem looked for:
``{"kind", "status": "ran" | "partial" | "not run", "why", "missing_sources"}``.
``problems`` is a verdict only for checks whose status is ``ran`` (and, for
``partial``, for the part of the node that was read); a source that was not
read is in ``sources`` with status ``error`` (never read) or ``stale``.
On an OVN chassis ``checks`` also has its own kinds; their ``missing_sources``
may name ``ovn-sb`` (the southbound DB, which names the localnet ports).
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
        "owner": pv.owner,
        # more than one: an OVS bond, each member with its own link state
        "interfaces": [{"name": x.name, "type": x.type or "system",
                        "link_state": x.link_state if len(pv.port.interfaces) > 1
                        else pv.link_state}
                       for x in pv.port.interfaces],
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
        # ML2/OVN (null on an ML2/OVS node): the network's datapath and localnet port
        "datapath_key": v.datapath_key,
        "localnet": v.localnet,
        "network_name": v.network_name,
        "tunnel_bridge": v.tunnel_bridge,
        "tunnel_ports": list(v.tunnel_ports),
        "remote_ips": list(v.remote_ips),
        "tunnel_unicast_flows": [flow_brief(f) for f in v.tunnel_unicast_flows],
        "duplicate_flows": [flow_brief(f) for f in v.duplicate_flows],
    }


def ovn_dict(model: NodeModel) -> dict | None:
    """The chassis as its local OVSDB describes it; null on an ML2/OVS node."""
    if model.ovn is None:
        return None
    c = model.ovn.chassis
    sb = model.ovn.southbound
    return {"system_id": c.system_id, "remote": c.remote,
            "bridge_mappings": dict(c.bridge_mappings), "encap_type": c.encap_type,
            "encap_ip": c.encap_ip, "southbound_read": sb is not None,
            "egress_tables": list(model.ovn.egress_tables)}


def to_contract(model: NodeModel) -> dict:
    by_bridge: dict[str, list[PortView]] = {}
    for pv in model.ports:
        by_bridge.setdefault(pv.bridge, []).append(pv)
    return {
        "schema": SCHEMA,
        "node": {"hostname": model.hostname, "ovs_version": model.ovs_version,
                 "integration_bridge": model.integration_bridge,
                 "kind": "ml2/ovn" if model.ovn is not None else "ml2/ovs"},
        "ovn": ovn_dict(model),
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
                "logical_port": vv.logical_port,
                "datapath_key": vv.datapath_key,
                "chassis": vv.chassis,
                "ovn_installed": vv.ovn_installed,
                "addresses": list(vv.addresses),
                "tunnel_bridge": vv.tunnel_bridge,
                "fixed_ips": list(vv.fixed_ips),
                "fixed_ips_from": vv.fixed_ips_from or None,
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
        # Which checks ran: "problems" is only a verdict for those whose status is "ran".
        "checks": [{"kind": c.kind, "status": c.status, "why": c.why,
                    "missing_sources": list(c.missing)} for c in model.checks],
    }
