"""A saved ``snapshot --json`` (schema ovsvlan-tui/snapshot/1) back into records.

The model is built again from them, so problems and paths are the ones this
version finds. The contract keeps what the joins need (ports with their
Neutron ids, tags and other_config, instances with their vNICs, every
flow); it has no netlink links or dump-ports counters, so those stay unread.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType

from collectors.saved.result import SavedFile, SavedNode
from model.records import (
    Domain, Flow, FlowDump, Observation, OvsBridge, OvsdbSnapshot, OvsInterface, OvsPort,
    SourceState, Vnic, frozen_map,
)

SOURCES = ("ovsdb", "openflow", "libvirt", "netlink")
READ = ("live", "stale", "saved")


def _port(bridge: str, p: dict) -> OvsPort:
    ids = {k: p[f] for k, f in (("iface-id", "iface_id"), ("attached-mac", "attached_mac"),
                                ("vm-uuid", "vm_uuid")) if p.get(f)}
    kind = "" if p.get("type") in (None, "system") else p["type"]
    error = p.get("error")
    iface = OvsInterface(
        name=p["name"], type=kind, ofport=p.get("ofport"),
        peer=p.get("peer") if kind == "patch" else None, external_ids=frozen_map(ids),
        options=frozen_map({"peer": p["peer"]} if p.get("peer") else {}),
        error=None if error and error.startswith("ofport -1") else error,
        link_state=p.get("link_state"), admin_state=p.get("admin_state"))
    return OvsPort(name=p["name"], bridge=bridge, tag=p.get("tag"), trunks=tuple(p.get("trunks") or ()),
                   vlan_mode=p.get("vlan_mode"), other_config=frozen_map(p.get("other_config") or {}),
                   interfaces=(iface,))


def _flow(f: dict) -> Flow:
    return Flow(f["bridge"], int(f["table"]), int(f["priority"]), int(str(f["cookie"]), 16),
                f["match"], f["actions"], int(f["n_packets"]), int(f["n_bytes"]),
                float(f.get("duration") or 0.0), None)


def read_snapshot(path: Path, data: bytes) -> SavedNode:
    doc = json.loads(data)
    if doc.get("schema") != "ovsvlan-tui/snapshot/1":
        raise ValueError(f"schema {doc.get('schema')!r}: this version reads ovsvlan-tui/snapshot/1")
    taken = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC") + " (file time)"
    states = {s["source"]: s for s in doc.get("sources", ())}
    read = {s: states.get(s, {}).get("status") in READ for s in SOURCES}
    bridges = tuple(OvsBridge(b["name"], b.get("datapath_type") or "", b.get("fail_mode"),
                              tuple(_port(b["name"], p) for p in b.get("ports", ())))
                    for b in doc.get("bridges", ()))
    node = doc.get("node", {})
    ovsdb = OvsdbSnapshot(node.get("ovs_version"), bridges) if read["ovsdb"] or bridges else None
    flows: dict[str, list[Flow]] = {b.name: [] for b in bridges} if read["openflow"] else {}
    for f in doc.get("flows", ()):
        flows.setdefault(f["bridge"], []).append(_flow(f))
    dumps = {b: FlowDump(b, tuple(fs), 0.0) for b, fs in sorted(flows.items())}
    instances = doc.get("instances", ())
    domains = tuple(Domain(
        name=i["domain"], uuid=i["uuid"], state=i["state"], nova_name=i.get("name"),
        flavor=i.get("flavor"), project=i.get("project"), project_id=i.get("project_id"),
        vnics=tuple(Vnic(mac=v.get("mac"), target=v.get("tap")) for v in i.get("interfaces", ())))
        for i in instances) if read["libvirt"] or instances else None
    sources = []
    for s in SOURCES:
        saved = states.get(s, {})
        if s == "netlink":
            sources.append(SourceState(s, "error", "a snapshot keeps no netlink links: not shown"))
        elif read[s]:
            # a snapshot of a saved node keeps the time that node was saved
            when = saved.get("detail") if saved.get("status") == "saved" and saved.get("detail") \
                else taken
            sources.append(SourceState(s, "saved", when))
        else:
            sources.append(SourceState(s, "error", "not read when the snapshot was taken: "
                                       + (saved.get("detail") or "no detail")))
    obs = Observation(hostname=node.get("hostname") or path.stem, ovsdb=ovsdb,
                      flows=MappingProxyType(dumps), domains=domains, sources=tuple(sources))
    note = (f"{len(bridges)} bridges, {len(instances)} instances, "
            f"{sum(len(f) for f in flows.values())} flows")
    return SavedNode(str(path), "snapshot", taken, obs,
                     (SavedFile(path.name, "ovsvlan-tui snapshot --json", note),))
