"""OVSDB rows (from ``ovs-vsctl list`` text or a ``conf.db`` file) -> an OVSDB snapshot.

Rows are turned into the shapes python-ovs's IDL gives (optional columns as
lists of zero or one element, sets as lists, maps as dicts) so the live
collector's own record builders make the records: a saved node and a live
one go through the same code.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping

from collectors.ovsdb import optional, port_record
from model.records import OvsBridge, OvsdbSnapshot, frozen_map

# Columns the records read, by how the IDL shapes them.
_OPTIONAL = {
    "Interface": ("ofport", "error", "link_state", "admin_state", "mac_in_use"),
    "Port": ("tag", "vlan_mode"),
    "Bridge": ("fail_mode",),
    "Open_vSwitch": ("ovs_version",),
}
_SETS = {"Interface": (), "Port": ("trunks", "interfaces"), "Bridge": ("ports",),
         "Open_vSwitch": ("bridges",)}
_MAPS = {"Interface": ("external_ids", "options", "statistics"),
         "Port": ("other_config", "external_ids"), "Bridge": (), "Open_vSwitch": ("external_ids",)}
_SCALARS = {"Interface": {"name": "", "type": ""}, "Port": {"name": ""},
            "Bridge": {"name": "", "datapath_type": ""}, "Open_vSwitch": {}}

Tables = Mapping[str, Mapping[str, Mapping[str, Any]]]  # table -> uuid -> column -> value


def idl_row(table: str, uuid: str, columns: Mapping[str, Any]) -> SimpleNamespace:
    """One row shaped as python-ovs's IDL shapes it, for the columns the records use."""
    row = {"uuid": uuid}
    for col, default in _SCALARS[table].items():
        value = columns.get(col, default)
        row[col] = _text(value[0] if value else default) if isinstance(value, list) else _text(value)
    for col in _OPTIONAL[table]:
        value = columns.get(col, [])
        row[col] = value if isinstance(value, list) else [value]
    for col in _SETS[table]:
        value = columns.get(col, [])
        row[col] = sorted(value) if isinstance(value, list) else [value]
    for col in _MAPS[table]:
        value = columns.get(col, {})
        if not isinstance(value, dict):
            value = {}
        # a listing prints `tag=2` bare: the column is string-valued all the same
        row[col] = dict(value) if col == "statistics" else {k: _text(v) for k, v in value.items()}
    return SimpleNamespace(**row)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def snapshot_from_rows(tables: Tables) -> OvsdbSnapshot | None:
    """The snapshot the IDL would give for these rows; None without a Bridge table."""
    if not tables.get("Bridge"):
        return None
    rows = {t: {u: idl_row(t, u, cols) for u, cols in tables.get(t, {}).items()}
            for t in ("Open_vSwitch", "Bridge", "Port", "Interface")}
    root = next(iter(rows["Open_vSwitch"].values()), None)
    bridge_ids = root.bridges if root is not None and root.bridges else list(rows["Bridge"])
    bridges = []
    for bid in bridge_ids:
        b = rows["Bridge"].get(bid)
        if b is None:
            continue
        ports = []
        for pid in b.ports:
            p = rows["Port"].get(pid)
            if p is None:
                continue
            p.interfaces = [rows["Interface"][i] for i in p.interfaces if i in rows["Interface"]]
            ports.append(port_record(p, b.name))
        ports.sort(key=lambda p: p.name)
        bridges.append(OvsBridge(name=b.name, datapath_type=b.datapath_type,
                                 fail_mode=optional(b.fail_mode), ports=tuple(ports)))
    bridges.sort(key=lambda b: b.name)
    # Open_vSwitch external_ids: on an OVN chassis the bridge mappings and ovn-remote
    return OvsdbSnapshot(ovs_version=optional(root.ovs_version) if root is not None else None,
                         bridges=tuple(bridges),
                         external_ids=frozen_map(root.external_ids if root is not None else None))
