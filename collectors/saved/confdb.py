"""A copied ``conf.db`` read in place, without writing or running anything.

It is the only saved source of Port ``other_config`` (where the OVS agent
writes a port's network type, physnet and segmentation id). The standalone
file format is a log (ovsdb/file.c, ovsdb/log.c): a header line
``OVSDB JSON <length> <sha1>`` before each JSON record; the first record is
the schema, every later one a transaction {table: {row uuid: columns or
null}}. With ``"_is_diff": true`` (OVS 2.15 and later) a set or map column
holds only what changed: an element or key absent before is added, one
present with the same value removed, a key with another value updated.
Reading it here needs no OVS tools and cannot touch the file.
"""

from __future__ import annotations

import json
from typing import Any

from collectors.saved.ovsdb_rows import snapshot_from_rows
from model.records import OvsdbSnapshot

TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface")
MAX_RECORD = 256 * 1024 * 1024


class ConfDbError(ValueError):
    """The file is not a standalone OVSDB database this can read."""


def _records(data: bytes):
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break
        header = data[pos:end].split()
        if len(header) != 4 or header[0] != b"OVSDB" or not header[2].isdigit():
            if pos == 0 and header[:2] == [b"OVSDB", b"CLUSTER"]:
                raise ConfDbError("a clustered database (OVSDB CLUSTER): not an Open_vSwitch conf.db")
            if pos == 0:
                raise ConfDbError("not an OVSDB database file (no 'OVSDB JSON' header)")
            break  # a torn last record, as after a crash: what came before stands
        length = int(header[2])
        if length > MAX_RECORD:
            raise ConfDbError(f"record of {length} bytes is too large")
        body = data[end + 1:end + 1 + length]
        if len(body) < length:
            break
        yield json.loads(body)
        pos = end + 1 + length
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1


def _decode(value: Any) -> Any:
    """OVSDB JSON -> Python: ["set", [...]] -> list, ["map", [...]] -> dict, ["uuid", u] -> u."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, body = value
        if kind == "set":
            return [_decode(v) for v in body]
        if kind == "map":
            return {_decode(k): _decode(v) for k, v in body}
        if kind in ("uuid", "named-uuid"):
            return body
    return value


def _composite(column: dict) -> bool:
    t = column["type"]
    if not isinstance(t, dict):
        return False
    n_max = t.get("max", 1)
    return "value" in t or n_max == "unlimited" or n_max > 1


def _apply_diff(old: Any, diff: Any, column: dict) -> Any:
    if not _composite(column):
        return diff
    if isinstance(diff, dict) or isinstance(old, dict):
        out = dict(old) if isinstance(old, dict) else {}
        for k, v in (diff or {}).items() if isinstance(diff, dict) else ():
            if k in out and out[k] == v:
                del out[k]
            else:
                out[k] = v
        return out
    old_set = old if isinstance(old, list) else [old]
    new = list(old_set)
    for v in diff if isinstance(diff, list) else [diff]:
        if v in new:
            new.remove(v)
        else:
            new.append(v)
    return new


def read_tables(data: bytes) -> dict[str, dict[str, dict[str, Any]]]:
    """The rows of the tables the records need, as of the file's last transaction."""
    records = _records(data)
    try:
        schema = next(records)
    except StopIteration:
        raise ConfDbError("empty database file") from None
    if schema.get("name") != "Open_vSwitch":
        raise ConfDbError(f"database {schema.get('name')!r}, not Open_vSwitch")
    columns = {t: schema["tables"][t]["columns"] for t in TABLES if t in schema.get("tables", {})}
    tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TABLES}
    for txn in records:
        if not isinstance(txn, dict):
            continue
        diff = txn.get("_is_diff") is True
        for table in TABLES:
            for uuid, row in (txn.get(table) or {}).items():
                if row is None:
                    tables[table].pop(uuid, None)
                    continue
                current = tables[table].setdefault(uuid, {})
                for col, value in row.items():
                    value = _decode(value)
                    if diff and col in columns.get(table, {}) and col in current:
                        value = _apply_diff(current[col], value, columns[table][col])
                    current[col] = value
    return tables


def read_confdb(data: bytes) -> OvsdbSnapshot | None:
    return snapshot_from_rows(read_tables(data))
