"""OVSDB read once, for ``snapshot``: ``get_schema`` and one ``monitor`` over a
unix socket, the answers decoded by the standard library's C JSON decoder.

python-ovs's IDL (``collectors.ovsdb``, which follows the database for the
TUI) parses JSON in pure Python and converts every value through its type
checks: on the bench node (200 ports) reading it once cost ~0.15-0.25 s of
CPU and ~0.1 s of imports out of a 50k-flow snapshot's ~1.7 s; this read
costs ~10 ms. It is as read-only as the IDL: it sends only ``get_schema``
and ``monitor`` (never ``transact``), takes the monitor's initial rows and
closes the connection. Rows are converted as python-ovs's
``Datum.to_python`` does (optional columns and sets as lists, maps as
dicts, references as rows) and copied by the same ``SnapshotCopier``.

Remotes other than one ``unix:`` socket (``tcp:``, ``ssl:``, lists) are read
through the IDL.
"""

from __future__ import annotations

import errno
import json
import socket
import time
from types import SimpleNamespace
from typing import Any

from collectors.ovsdb_rows import (
    COLUMNS,
    DATABASE,
    EOF,
    OvsdbError,
    SnapshotCopier,
    describe_connect_error,
)
from model.records import OvsdbSnapshot

MONITOR_ID = "ovsvlan-tui snapshot"
RECV_SIZE = 1 << 20
_DEFAULTS = {"integer": 0, "real": 0.0, "boolean": False, "string": ""}


def direct(remote: str) -> bool:
    """Whether read_once reads ``remote`` itself (one unix socket), not through the IDL."""
    return remote.startswith("unix:") and "," not in remote


def read_once(remote: str, timeout: float = 5.0) -> OvsdbSnapshot:
    """One snapshot, blocking; an unreadable database raises OvsdbError saying why."""
    if not direct(remote):
        from collectors.ovsdb import read_once_idl

        return read_once_idl(remote, timeout)
    rpc = _Connection(remote, time.monotonic() + timeout)
    try:
        error, schema = rpc.call("get_schema", [DATABASE])
        if error is not None:
            raise OvsdbError(f"{remote} has no {DATABASE} database: {error}")
        tables = schema["tables"]
        wanted = {}
        for table, columns in COLUMNS.items():
            have = [c for c in columns if c in tables.get(table, {}).get("columns", {})]
            if have:
                wanted[table] = {"columns": have}
        error, updates = rpc.call("monitor", [DATABASE, MONITOR_ID, wanted])
        if error is not None:
            raise OvsdbError(f"{remote} refused to list {DATABASE}'s rows: {error}")
    finally:
        rpc.close()
    rows = _rows(tables, updates or {})
    return SnapshotCopier().copy(rows.get("Open_vSwitch", {}).values(), set(), seqno=0)


class _Connection:
    """JSON-RPC over one unix socket: requests out, replies matched by id."""

    def __init__(self, remote: str, deadline: float) -> None:
        self.remote, self.deadline = remote, deadline
        self._buffer = b""
        self._next_id = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self._settimeout()
            self.sock.connect(remote[5:])
        except BaseException as e:
            self.sock.close()
            if isinstance(e, OSError):
                raise self._error(e) from None
            raise

    def close(self) -> None:
        self.sock.close()

    def _settimeout(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OvsdbError(describe_connect_error(self.remote, errno.ETIMEDOUT))
        self.sock.settimeout(left)

    def _error(self, e: OSError) -> OvsdbError:
        code = errno.ETIMEDOUT if isinstance(e, TimeoutError) else (e.errno or errno.EIO)
        return OvsdbError(describe_connect_error(self.remote, code))

    def _send(self, message: dict) -> None:
        try:
            self._settimeout()
            self.sock.sendall(json.dumps(message, separators=(",", ":")).encode())
        except OSError as e:
            raise self._error(e) from None

    def call(self, method: str, params: list) -> tuple[Any, Any]:
        """(error, result) of one request; echo requests met meanwhile are answered."""
        self._next_id += 1
        mine = self._next_id
        self._send({"method": method, "params": params, "id": mine})
        while True:
            message = self._receive()
            if not isinstance(message, dict):
                continue
            if message.get("method") == "echo" and "id" in message:
                # the server's keep-alive: unanswered, it drops us
                self._send({"result": message.get("params"), "error": None,
                            "id": message["id"]})
            elif "method" not in message and message.get("id") == mine:
                return message.get("error"), message.get("result")

    def _receive(self) -> Any:
        """The next whole JSON message (messages follow one another unseparated)."""
        decoder = json.JSONDecoder()
        while True:
            text = self._buffer.lstrip()
            # a message is an object: whole only when the text read ends a "}"
            if text.endswith(b"}"):
                try:
                    whole = text.decode("utf-8")
                    message, end = decoder.raw_decode(whole)
                except ValueError:
                    pass  # not whole yet ("}" inside a string, or an inner object)
                else:
                    self._buffer = whole[end:].encode("utf-8")
                    return message
            try:
                self._settimeout()
                chunk = self.sock.recv(RECV_SIZE)
            except OSError as e:
                raise self._error(e) from None
            if not chunk:
                raise OvsdbError(describe_connect_error(self.remote, EOF))
            self._buffer = text + chunk


# --------------------------------------------------------------------------
# The monitor's rows, as python-ovs's Datum.to_python gives them.


def _rows(tables: dict, updates: dict) -> dict[str, dict[str, SimpleNamespace]]:
    """{table: {uuid: row}}; a row's columns are attributes, its references rows."""
    rows = {t: {uuid: SimpleNamespace(uuid=uuid) for uuid in by_uuid}
            for t, by_uuid in updates.items()}
    for table, by_uuid in updates.items():
        columns = tables[table]["columns"]
        wanted = [c for c in COLUMNS.get(table, ()) if c in columns]
        for uuid, change in by_uuid.items():
            new = change.get("new") or {}
            row = rows[table][uuid]
            for column in wanted:
                setattr(row, column, _value(columns[column]["type"], new.get(column), rows))
    return rows


def _base(base: Any) -> tuple[str, str | None]:
    """(atomic type, referenced table or None) of a schema's base type."""
    if isinstance(base, str):
        return base, None
    return base["type"], base.get("refTable")


def _value(column_type: Any, datum: Any, rows: dict) -> Any:
    """One column's value: scalar, list (optional columns and sets) or dict (maps)."""
    if isinstance(column_type, str):
        column_type = {"key": column_type}
    key, key_ref = _base(column_type["key"])
    n_min, n_max = column_type.get("min", 1), column_type.get("max", 1)
    value_type = column_type.get("value")
    if isinstance(datum, list) and datum and datum[0] in ("set", "map"):
        elements = datum[1]
    elif datum is None:
        elements = []
    else:
        elements = [datum]
    if value_type is not None:
        value, value_ref = _base(value_type)
        out = {}
        for k, v in elements:
            k, v = _atom(k, key_ref, rows), _atom(v, value_ref, rows)
            if k is not None and v is not None:
                out[k] = v
        return out
    atoms = [a for a in (_atom(e, key_ref, rows) for e in elements) if a is not None]
    if n_min == 1 and n_max == 1:
        return atoms[0] if atoms else _DEFAULTS.get(key)
    return atoms if key_ref is not None else sorted(atoms)


def _atom(atom: Any, ref_table: str | None, rows: dict) -> Any:
    """A JSON atom as Python: ["uuid", U] is U, or its row when it is a reference
    (None for a row not read: python-ovs drops those)."""
    if isinstance(atom, list) and len(atom) == 2 and atom[0] in ("uuid", "named-uuid"):
        if ref_table is not None:
            return rows.get(ref_table, {}).get(atom[1])
        return atom[1]
    return atom
