"""OVSDB rows copied into frozen records, and OVSDB's errors in an operator's words.

No python-ovs here: ``collectors.ovsdb`` (the IDL that follows the database for
the TUI) and ``collectors.ovsdb_once`` (one read for ``snapshot``, without the
IDL) both copy rows with this, each from its own kind of row object.
"""

from __future__ import annotations

import errno
import grp
import os
from dataclasses import replace
from typing import Any, Iterable, Mapping

from model.records import OvsBridge, OvsdbSnapshot, OvsInterface, OvsPort, frozen_map

EOF = -1  # python-ovs's ovs.util.EOF: the peer closed the connection

DATABASE = "Open_vSwitch"

# Only these columns are replicated; every referenced table is listed too.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "Open_vSwitch": ("ovs_version", "bridges", "external_ids", "ssl"),
    "SSL": ("private_key", "certificate", "ca_cert"),
    "Bridge": ("name", "datapath_type", "fail_mode", "ports"),
    "Port": ("name", "tag", "trunks", "vlan_mode", "other_config", "external_ids", "interfaces"),
    "Interface": (
        "name", "type", "ofport", "options", "external_ids", "error",
        "link_state", "admin_state", "mac_in_use",
    ),  # not "statistics": nothing reads it, and ovs-vswitchd rewrites it every few seconds
}


class OvsdbError(Exception):
    """OVSDB could not be read; the message says why and what to do."""


# --------------------------------------------------------------------------
# OVSDB values -> Python values. IDL rows give optional columns as lists of
# zero or one element, sets as sorted lists and maps as dicts.


def optional(value: list) -> Any | None:
    """[] -> None, [x] -> x."""
    return value[0] if value else None


def int_set(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(values))


def interface_record(row: Any) -> OvsInterface:
    options = frozen_map(row.options)
    return OvsInterface(
        name=row.name,
        type=row.type,
        ofport=optional(row.ofport),
        peer=options.get("peer") if row.type == "patch" else None,
        external_ids=frozen_map(row.external_ids),
        options=options,
        error=optional(row.error),
        link_state=optional(row.link_state),
        admin_state=optional(row.admin_state),
        mac_in_use=optional(row.mac_in_use),
    )


def port_record(row: Any, bridge: str) -> OvsPort:
    return OvsPort(
        name=row.name,
        bridge=bridge,
        tag=optional(row.tag),
        trunks=int_set(row.trunks),
        vlan_mode=optional(row.vlan_mode),
        other_config=frozen_map(row.other_config),
        external_ids=frozen_map(row.external_ids),
        interfaces=interface_records(row.interfaces),
    )


def interface_records(rows: Iterable[Any]) -> tuple[OvsInterface, ...]:
    return tuple(sorted((interface_record(i) for i in rows), key=lambda i: i.name))


class SnapshotCopier:
    """Copies rows into records, reusing the records of rows that did not change.

    python-ovs decodes a column on every read, so a full copy costs ~140 us
    per port with its interface (70 ms for 500 ports here); re-reading only
    the changed rows brings one retagged port down to ~5 ms.
    """

    def __init__(self) -> None:
        # port row uuid -> (record, uuids of its interfaces)
        self._ports: dict[Any, tuple[OvsPort, frozenset]] = {}

    def forget(self) -> None:
        """Drop every kept record: the rows may have been reloaded unseen."""
        self._ports = {}

    def copy(self, open_vswitch_rows: Iterable[Any], changed: set, seqno: int) -> OvsdbSnapshot:
        """`changed`: uuids of rows changed since the previous copy."""
        root = next(iter(open_vswitch_rows), None)  # one row; none before `init`
        ports: dict[Any, tuple[OvsPort, frozenset]] = {}
        bridges = []
        for bridge in root.bridges if root is not None else ():
            records = []
            for row in bridge.ports:
                ports[row.uuid] = self._port(row, bridge.name, changed)
                records.append(ports[row.uuid][0])
            records.sort(key=lambda p: p.name)
            bridges.append(
                OvsBridge(
                    name=bridge.name,
                    datapath_type=bridge.datapath_type,
                    fail_mode=optional(bridge.fail_mode),
                    ports=tuple(records),
                )
            )
        self._ports = ports
        bridges.sort(key=lambda b: b.name)
        ovs_version = optional(root.ovs_version) if root is not None else None
        # rows made by hand (tests, saved outputs) may lack the column
        external_ids = frozen_map(getattr(root, "external_ids", None))
        ssl = optional(getattr(root, "ssl", None) or [])
        return OvsdbSnapshot(ovs_version=ovs_version, bridges=tuple(bridges), seqno=seqno,
                             external_ids=external_ids,
                             ssl=(ssl.private_key, ssl.certificate, ssl.ca_cert) if ssl else None)

    def _port(self, row: Any, bridge: str, changed: set) -> tuple[OvsPort, frozenset]:
        kept = self._ports.get(row.uuid)
        if kept is None or row.uuid in changed or kept[0].bridge != bridge:
            return port_record(row, bridge), frozenset(i.uuid for i in row.interfaces)
        record, interfaces = kept
        if changed.isdisjoint(interfaces):
            return kept
        return replace(record, interfaces=interface_records(row.interfaces)), interfaces


def describe_connect_error(remote: str, error: int) -> str:
    """One sentence an operator can act on, for an errno from connecting."""
    if error in (errno.EACCES, errno.EPERM):
        return (f"permission denied on {remote} — run as root or a member of the "
                f"{_socket_group(remote) or 'openvswitch'} group")
    if error in (errno.ENOENT, errno.ECONNREFUSED):
        return (
            f"cannot open {remote}: {os.strerror(error)} — is ovsdb-server running? "
            "pass --db or set OVS_RUNDIR"
        )
    if error == errno.ETIMEDOUT:
        return f"no answer from {remote} in time — is ovsdb-server overloaded, or is --db right?"
    if error == EOF:
        return f"ovsdb-server closed the connection on {remote} — is it shutting down?"
    return f"cannot connect to {remote}: {os.strerror(error)} — check the address passed with --db"


def _socket_group(remote: str) -> str | None:
    """The group owning a unix socket remote (distributions differ: root, openvswitch...)."""
    if not remote.startswith("unix:"):
        return None
    try:
        return grp.getgrgid(os.stat(remote[5:]).st_gid).gr_name
    except (OSError, KeyError):
        return None
