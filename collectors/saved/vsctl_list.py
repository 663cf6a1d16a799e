"""A saved ``ovs-vsctl list <table>`` (or ``ovsdb-client -f list dump``):
records of ``column : value`` lines.

``list interface`` is what a sosreport has for external_ids, ofport and
link state; with ``list bridge`` and ``list port`` too the whole snapshot
can be rebuilt from the rows' UUIDs. Which table a listing is of is read
from its columns, since a pasted listing does not say.
"""

from __future__ import annotations

import re
from typing import Any

_FIELD = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*:\s?(.*)$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_INT = re.compile(r"^-?[0-9]{1,19}$")
# The scanner finds where an atom, a string's plain run or a run of spaces ends with a
# regex rather than a character at a time (a 200-port listing: ~0.2 s less).
_ATOM_END = re.compile(r"[,\]}=]")
_STRING_STOP = re.compile(r'["\\]')
_SPACES = re.compile(r" *")

# Columns that only one table has, to tell which table a listing shows.
_MARKS = (
    ("Interface", ("ofport", "mac_in_use", "ofport_request")),
    ("Port", ("interfaces", "bond_mode", "fake_bridge")),
    ("Bridge", ("datapath_type", "fail_mode", "ports")),
    ("Open_vSwitch", ("ovs_version", "db_version", "bridges")),
)


class _Scanner:
    """The value syntax ovs-vsctl prints: atoms, [sets] and {maps}."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def value(self) -> Any:
        self._space()
        if self._peek() == "[":
            return self._items("]", pairs=False)
        if self._peek() == "{":
            return self._items("}", pairs=True)
        return self.atom()

    def atom(self) -> Any:
        self._space()
        if self._peek() == '"':
            return self._string()
        start = self.pos
        end = _ATOM_END.search(self.text, start)
        self.pos = end.start() if end else len(self.text)
        word = self.text[start:self.pos].strip()
        if _INT.match(word):
            return int(word)
        if word in ("true", "false"):
            return word == "true"
        return word

    def _items(self, close: str, *, pairs: bool) -> Any:
        self.pos += 1
        out: Any = {} if pairs else []
        while True:
            self._space()
            if self._peek() in (close, ""):
                self.pos += 1
                return out
            start = self.pos
            key = self.atom()
            if pairs:
                self._space()
                if self._peek() == "=":
                    self.pos += 1
                out[str(key)] = self.atom()
            else:
                out.append(key)
            self._space()
            if self._peek() == "," or self.pos == start:  # a stray "=": never loop on it
                self.pos += 1

    def _string(self) -> str:
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            stop = _STRING_STOP.search(self.text, self.pos)  # runs of plain characters at once
            if stop is None:
                out.append(self.text[self.pos:])
                self.pos = len(self.text)
                break
            out.append(self.text[self.pos:stop.start()])
            c = stop.group()
            self.pos = stop.end()
            if c == '"':
                break
            if self.pos < len(self.text):  # a backslash: the escaped character
                nxt = self.text[self.pos]
                self.pos += 1
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            else:
                out.append(c)
        return "".join(out)

    def _space(self) -> None:
        self.pos = _SPACES.match(self.text, self.pos).end()

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""


def parse_value(text: str) -> Any:
    return _Scanner(text.strip()).value()


def parse_vsctl_list(text: str) -> list[dict[str, Any]]:
    """Each record as {column: value}; blank lines separate records."""
    records: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for raw in text.splitlines():
        m = _FIELD.match(raw)
        if not m:
            if not raw.strip() and current:
                records.append(current)
                current = {}
            continue
        column, value = m.groups()
        if column in current:  # a record without the blank line before it
            records.append(current)
            current = {}
        current[column] = parse_value(value)
    if current:
        records.append(current)
    return [r for r in records if "_uuid" in r or "name" in r]


def table_of(records: list[dict[str, Any]]) -> str | None:
    """Which OVSDB table a listing is of, from the columns its records have."""
    if not records:
        return None
    columns = set().union(*records)
    for table, marks in _MARKS:
        if any(m in columns for m in marks):
            return table
    return None


def rows_by_uuid(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{_uuid: columns} for records that carry their row UUID."""
    return {r["_uuid"]: r for r in records if isinstance(r.get("_uuid"), str)
            and _UUID.match(r["_uuid"])}


_TABLE_HEADING = re.compile(r"^\s*([A-Za-z_]+) table\s*$")


def parse_ovsdb_dump(text: str) -> dict[str, list[dict[str, Any]]]:
    """``ovsdb-client -f list dump`` (what sos saved before it copied conf.db):
    each "<Table> table" heading followed by that table's records."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        heading = _TABLE_HEADING.match(line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif current is not None:
            current.append(line)
    return {table: parse_vsctl_list("\n".join(lines)) for table, lines in sections.items()}
