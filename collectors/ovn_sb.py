"""Names from the OVN southbound DB: read-only, one ``ovn-sbctl list`` run.

What the local node cannot say: the Neutron network a datapath is
(Datapath_Binding ``external_ids:name2``, copied by ovn-northd from the
logical switch's ``neutron:network_name``), each logical port's addresses,
type and chassis binding, and which physnet a localnet port needs. Only
``list`` commands are run (argument lists, ``--no-leader-only`` so any
cluster member answers); the tool never writes to the southbound DB, and
everything else works without it.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from collectors.ovn_pki import SbTls
from model.records import OvnSouthbound, SbPort, frozen_map

# (table, columns) in the order ovn-sbctl prints them, one JSON object each
QUERIES = (
    ("Datapath_Binding", ("_uuid", "tunnel_key", "external_ids")),
    ("Port_Binding", ("logical_port", "type", "datapath", "tunnel_key", "chassis", "mac",
                      "options", "tag")),
    ("Chassis", ("_uuid", "name")),
    ("SB_Global", ("options",)),
)


class OvnSbError(Exception):
    """The southbound DB could not be read; the message says why."""


def sbctl_args(remote: str, timeout: float, tls: SbTls | None = None) -> list[str]:
    args = ["ovn-sbctl", f"--db={remote}", "--no-leader-only", f"--timeout={max(1, int(timeout))}",
            "--format=json", *(tls.sbctl_flags() if tls else ())]
    for n, (table, columns) in enumerate(QUERIES):
        if n:
            args.append("--")
        args += [f"--columns={','.join(columns)}", "list", table]
    return args


def is_ssl(remote: str) -> bool:
    return any(r.strip().startswith("ssl:") for r in remote.split(","))


def read_southbound(remote: str, *, tls: SbTls | None = None,
                    timeout: float = 5.0) -> OvnSouthbound:
    """One read of the southbound DB at ``remote`` (Open_vSwitch external_ids:ovn-remote);
    an ``ssl:`` one with the chassis' own certificates (collectors/ovn_pki.py)."""
    if is_ssl(remote) and tls is None:
        raise OvnSbError(f"{remote} is SSL and no certificate was found for it (neither "
                         "ovn-controller's -p/-c/-C nor the local OVSDB's SSL table, "
                         "ovs-vsctl get-ssl): names come from the local node only")
    try:
        proc = subprocess.run(sbctl_args(remote, timeout, tls), capture_output=True, text=True,
                              timeout=timeout + 2)
    except FileNotFoundError:
        raise OvnSbError("ovn-sbctl is not installed (package ovn-common): names come from "
                         "the local node only") from None
    except subprocess.TimeoutExpired:
        raise OvnSbError(f"no answer from the southbound DB {remote} in {timeout:.0f} s") from None
    if proc.returncode != 0:
        with_tls = f" (with the certificates of {tls.source})" if tls else ""
        # its last line says why; the lines before are its log (retries, warnings)
        why = (proc.stderr.strip().splitlines() or ["failed"])[-1].removeprefix("ovn-sbctl: ")
        raise OvnSbError(f"ovn-sbctl on {remote}{with_tls}: {why}")
    return parse_southbound(proc.stdout)


def _value(v: Any) -> Any:
    """OVSDB JSON -> Python: ["uuid", u] -> u, ["set", [...]] -> list, ["map", ...] -> dict."""
    if isinstance(v, list) and len(v) == 2 and v[0] in ("uuid", "named-uuid"):
        return v[1]
    if isinstance(v, list) and len(v) == 2 and v[0] == "set":
        return [_value(x) for x in v[1]]
    if isinstance(v, list) and len(v) == 2 and v[0] == "map":
        return {_value(k): _value(x) for k, x in v[1]}
    return v


def _one(v: Any) -> Any:
    """An optional column: [] -> None, [x] -> x, x -> x."""
    if isinstance(v, list):
        return v[0] if v else None
    return v


def parse_southbound(text: str) -> OvnSouthbound:
    """The JSON objects ``sbctl_args`` makes ovn-sbctl print, in QUERIES order."""
    decoder, pos, tables = json.JSONDecoder(), 0, []
    text = text.strip()
    while pos < len(text):
        obj, pos = decoder.raw_decode(text, pos)
        tables.append([dict(zip(obj["headings"], (_value(c) for c in row))) for row in obj["data"]])
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if len(tables) != len(QUERIES):
        raise OvnSbError(f"ovn-sbctl printed {len(tables)} tables, {len(QUERIES)} were asked for")
    datapaths, ports, chassis, sb_global = tables
    key_of = {d["_uuid"]: d["tunnel_key"] for d in datapaths}
    chassis_name = {c["_uuid"]: c["name"] for c in chassis}
    networks = {d["tunnel_key"]: (d["external_ids"].get("name2") or d["external_ids"].get("name"))
                for d in datapaths if d["external_ids"].get("name2") or d["external_ids"].get("name")}
    out = {}
    for p in ports:
        mac = p["mac"] if isinstance(p["mac"], list) else [p["mac"]]
        out[p["logical_port"]] = SbPort(
            logical_port=p["logical_port"], type=p["type"],
            datapath_key=key_of.get(p["datapath"]), tunnel_key=p["tunnel_key"],
            chassis=chassis_name.get(_one(p["chassis"])), mac=tuple(mac),
            network_name=p["options"].get("network_name"), tag=_one(p["tag"]))
    version = None
    if sb_global:
        internal = sb_global[0]["options"].get("northd_internal_version", "")
        version = internal.split("-", 1)[0] or None  # "23.03.1-20.27.0-70.6" -> "23.03.1"
    return OvnSouthbound(networks=frozen_map(networks), ports=frozen_map(out), version=version)
