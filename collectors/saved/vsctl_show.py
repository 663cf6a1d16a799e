"""A saved ``ovs-vsctl show`` read into an OVSDB snapshot.

Flow dumps, ``ovs-ofctl show``, ``virsh dumpxml`` and ``ip -d link`` have
their parsers in the collector of their source, since the live collectors
read the same text or XML.
"""

from __future__ import annotations

import re

from model.records import OvsBridge, OvsdbSnapshot, OvsInterface, OvsPort, frozen_map

_LINE = re.compile(r"^( *)(\S.*)$")
_UUID_LINE = re.compile(r"^( *)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*$")
_BRIDGE_LINE = re.compile(r"^( *)Bridge ")


def _vsctl_string(text: str) -> str:
    """A value as `ovs-vsctl show` prints it, without the quotes and escapes it adds."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _map(text: str) -> dict[str, str]:
    """'{peer=int-br-provider, key="a b"}' -> {'peer': 'int-br-provider', 'key': 'a b'}"""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out = {}
    for item in re.findall(r'(?:[^,"]|"(?:\\.|[^"\\])*")+', body):
        if "=" in item:
            k, v = item.split("=", 1)
            out[_vsctl_string(k)] = _vsctl_string(v)
    return out


def _ints(text: str) -> tuple[int, ...]:
    return tuple(sorted(int(x) for x in re.findall(r"\d+", text)))


def parse_vsctl_show(text: str) -> OvsdbSnapshot:
    """``ovs-vsctl show`` -> the OVSDB snapshot it describes.

    It lacks external_ids, other_config and ofport, so what depends on them
    stays empty; the indentation says what belongs to what.
    """
    bridges: list[dict] = []
    version = None
    port = iface = None
    base = _base_indent(text)
    for raw in text.splitlines():
        m = _LINE.match(raw.expandtabs(8))
        if not m:
            continue
        indent, body = len(m.group(1)) - base, m.group(2)
        key, _, value = body.partition(" ") if not body.split(" ", 1)[0].endswith(":") \
            else body.partition(": ")
        key = key.rstrip(":")
        if indent == 4 and key == "Bridge":
            bridges.append({"name": _vsctl_string(value), "datapath_type": "", "fail_mode": None,
                            "ports": []})
            port = iface = None
        elif indent == 4 and key == "ovs_version":
            version = _vsctl_string(value)
        elif not bridges:
            continue
        elif indent == 8 and key == "Port":
            port = {"name": _vsctl_string(value), "tag": None, "trunks": (), "vlan_mode": None,
                    "interfaces": []}
            bridges[-1]["ports"].append(port)
            iface = None
        elif indent == 8 and key in ("fail_mode", "datapath_type"):
            bridges[-1][key] = value.strip()
        elif indent == 12 and port is not None:
            if key == "Interface":
                iface = {"name": _vsctl_string(value), "type": "", "options": {}, "error": None}
                port["interfaces"].append(iface)
            elif key == "tag":
                port["tag"] = int(value)
            elif key == "trunks":
                port["trunks"] = _ints(value)
            elif key == "vlan_mode":
                port["vlan_mode"] = value.strip()
        elif indent == 16 and iface is not None:
            if key == "type":
                iface["type"] = "" if value.strip() == "system" else value.strip()
            elif key == "options":
                iface["options"] = _map(value)
            elif key == "error":
                iface["error"] = _vsctl_string(value)

    def make_iface(i: dict) -> OvsInterface:
        return OvsInterface(name=i["name"], type=i["type"], ofport=None,
                            peer=i["options"].get("peer"), options=frozen_map(i["options"]),
                            error=i["error"])

    return OvsdbSnapshot(
        ovs_version=version,
        bridges=tuple(
            OvsBridge(name=b["name"], datapath_type=b["datapath_type"], fail_mode=b["fail_mode"],
                      ports=tuple(OvsPort(name=p["name"], bridge=b["name"], tag=p["tag"],
                                          trunks=p["trunks"], vlan_mode=p["vlan_mode"],
                                          interfaces=tuple(make_iface(i) for i in p["interfaces"]))
                                  for p in b["ports"]))
            for b in bridges),
    )


def _base_indent(text: str) -> int:
    """How far a pasted copy is indented: the database UUID line is at column 0."""
    for raw in text.splitlines():
        m = _UUID_LINE.match(raw.expandtabs(8))
        if m:
            return len(m.group(1))
    indents = [len(m.group(1)) for m in map(_BRIDGE_LINE.match, text.expandtabs(8).splitlines()) if m]
    return min(indents) - 4 if indents and min(indents) >= 4 else 0


def with_ofports(snapshot: OvsdbSnapshot, ofports: dict[str, dict[str, int]]) -> OvsdbSnapshot:
    """Fill interfaces' ofport from ``ovs-ofctl show`` ({bridge: {name: ofport}})."""
    from dataclasses import replace

    return replace(snapshot, bridges=tuple(
        replace(b, ports=tuple(
            replace(p, interfaces=tuple(
                replace(i, ofport=ofports.get(b.name, {}).get(i.name, i.ofport))
                for i in p.interfaces))
            for p in b.ports))
        for b in snapshot.bridges))
