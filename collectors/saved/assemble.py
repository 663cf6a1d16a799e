"""Saved files, one at a time, into one node's records.

Each file is parsed by its kind as it comes; what needs several files (the
OVSDB snapshot from conf.db, listings and ``show``; a flow dump's bridge;
domains' states) is put together at the end, in ``node()``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

from collectors import netlink, openflow
from collectors.domains import DomainXmlError
from collectors.saved import kinds, libvirt_saved, vsctl_list
from collectors.saved.confdb import ConfDbError, read_confdb
from collectors.saved.ovsdb_rows import idl_row, snapshot_from_rows
from collectors.saved.result import FlowFile, SavedFile, SavedNode
from collectors.saved.vsctl_show import parse_vsctl_show
from collectors.ovsdb import interface_record, optional
from model.join import ofp_name
from model.records import Domain, Observation, OvsdbSnapshot, SourceState, frozen_map

_SAME_FORMAT = {kinds.OFCTL_SHOW, kinds.PORTS_DESC}  # over OpenFlow 1.3+ `show` prints a port desc
OFPP_LOCAL = 65534  # the bridge's own port, printed LOCAL by ovs-ofctl
_LOCAL = re.compile(r"^\s*LOCAL\((.+)\): addr:", re.M)
_COMMAND = re.compile(r"ovs-ofctl\s(?:.*\s)?dump-flows\s+(?:--\s+)?(\S+)")
_REFS = re.compile(r'(?:in_port=|output:)("(?:[^"\\]|\\.)*"|[^,\s()]+)')
# dump-flows of one bridge in order of preference: the live tool's (OVS's default protocol), then
# the newer ones a bridge limited to OpenFlow 1.3+ answers.
UNKNOWN_TIME = "(time unknown)"
READING = "being read: flows of "  # a chosen flow dump's note until read_flows reads it
PROTOCOLS = (None, "OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15", "OpenFlow11", "OpenFlow12")


def _first_line(text: str) -> str:
    line = next((l.strip() for l in text.splitlines() if l.strip()), "")
    return line[:120] + ("..." if len(line) > 120 else "") if line else "(empty)"


class Assembler:
    """Collects parsed files; ``node()`` joins them into a SavedNode."""

    def __init__(self, path: str, kind: str) -> None:
        self.path, self.kind = path, kind
        self.files: list[SavedFile] = []
        self.hostname: str | None = None
        self.confdb: OvsdbSnapshot | None = None
        self.show: OvsdbSnapshot | None = None
        self.lists: dict[str, list[dict]] = {}
        self.ofports: dict[str, dict[str, int]] = {}
        self.flow_texts: list[tuple[str, str, str | None, str | None]] = []  # name, text, bridge, proto
        self.port_texts: list[tuple[str, str, str | None, str | None]] = []  # name, text, bridge, proto
        self.domains: dict[str, tuple[Domain, bool]] = {}  # uuid -> (domain, from a status file)
        self.interfaces: list[tuple[str, tuple]] = []  # name, vnics of a pasted <interface>
        self.listed: dict[str, tuple[int | None, str]] = {}
        self.status_dir = False  # run/libvirt/qemu was saved: a domain without a status file is off
        self.links = None
        self.used: dict[str, list[str]] = {}  # source -> files read for it

    # -- one file ---------------------------------------------------------

    def skip(self, name: str, why: str = "") -> None:
        self.files.append(SavedFile(name, None, why))

    def warn(self, name: str, kind: str, why: str) -> None:
        self.files.append(SavedFile(name, kind, why, warning=True))

    def add(self, name: str, data: bytes, kind: str | None = None, *, bridge: str | None = None,
            protocol: str | None = None) -> None:
        """``kind`` and ``bridge`` when the file's name says them (a sosreport)."""
        decoded = kinds.decoded(data)  # once: a flow dump is 20 MB
        found = kinds.recognise(data, decoded)
        if kind is None and found is None:
            self.skip(name, "not an output this tool reads")
            return
        if kind is not None and found is not None and found != kind \
                and {kind, found} != _SAME_FORMAT:
            self.warn(name, kind, f"named like {kind} but holds {found}: not read")
            return
        kind = kind or found
        text = "" if kind == kinds.CONF_DB else kinds.dedent(
            decoded if decoded is not None else data.decode("utf-8", "replace"))
        try:
            note = self._parse(name, kind, data, text, bridge, protocol)
        except (ValueError, DomainXmlError, ConfDbError) as e:
            self.warn(name, kind, f"could not be read: {e}")
            return
        if note is None:
            self.warn(name, kind, f"yields nothing; it holds: {_first_line(text)}")
        elif note is not False:  # False: kept for later, logged then
            self.files.append(SavedFile(name, kind, note))

    def _use(self, source: str, name: str) -> None:
        self.used.setdefault(source, []).append(name)

    def _parse(self, name, kind, data, text, bridge, protocol):
        if kind == kinds.HOSTNAME:
            self.hostname = text.strip() or None
            return self.hostname
        if kind == kinds.CONF_DB:
            self.confdb = read_confdb(data)
            if self.confdb is None:
                return None
            self._use("ovsdb", name)
            ports = sum(len(b.ports) for b in self.confdb.bridges)
            return f"{len(self.confdb.bridges)} bridges, {ports} ports (with other_config)"
        if kind == kinds.VSCTL_SHOW:
            self.show = parse_vsctl_show(text)
            if not self.show.bridges:
                return None
            self._use("ovsdb", name)
            return f"{len(self.show.bridges)} bridges"
        if kind == kinds.VSCTL_LIST:
            records = vsctl_list.parse_vsctl_list(text)
            table = vsctl_list.table_of(records)
            if table is None:
                return None
            self.lists.setdefault(table, []).extend(records)
            self._use("ovsdb", name)
            return f"{len(records)} {table} rows"
        if kind == kinds.OVSDB_DUMP:
            tables = {t: r for t, r in vsctl_list.parse_ovsdb_dump(text).items()
                      if t in ("Open_vSwitch", "Bridge", "Port", "Interface") and r}
            if "Bridge" not in tables:
                return None
            for table, records in tables.items():
                self.lists.setdefault(table, []).extend(records)
            self._use("ovsdb", name)
            return ", ".join(f"{len(r)} {t} rows" for t, r in sorted(tables.items()))
        if kind in (kinds.OFCTL_SHOW, kinds.PORTS_DESC):
            numbers = openflow.parse_ofctl_show(text)
            local = _LOCAL.search(text)
            bridge = bridge or (local.group(1) if local else None)
            if not numbers:
                return None
            if bridge is None:
                return "no LOCAL port names its bridge: port numbers not used"
            ports = self.ofports.setdefault(bridge, {})
            for number, port in numbers.items():
                ports.setdefault(port, OFPP_LOCAL if number == "LOCAL" else number)
            return f"{len(numbers)} ports of {bridge}"
        if kind == kinds.DUMP_FLOWS:
            if not _has_flow(text):
                if not re.search(r"(NXST|OFPST)_FLOW reply", text):
                    return None
            self.flow_texts.append((name, text, bridge, protocol))
            return False
        if kind == kinds.DUMP_PORTS:
            if not openflow.parse_dump_ports("", text):
                return None
            self.port_texts.append((name, text, bridge, protocol))
            return False
        if kind == kinds.DOMAIN_XML:
            status = "<domstatus" in text
            self.status_dir = self.status_dir or status
            d = libvirt_saved.parse_saved_domain(text)
            old = self.domains.get(d.uuid)
            if old is None or (status and not old[1]):
                self.domains[d.uuid] = (d, status)
            self._use("libvirt", name)
            return f"{d.name} ({'status' if status else 'definition'}, {len(d.vnics)} vNICs)"
        if kind == kinds.INTERFACE_XML:
            vnics = libvirt_saved.parse_interfaces(text)
            if not vnics:
                return None
            self.interfaces.append((name, vnics))
            self._use("libvirt", name)
            return f"{len(vnics)} vNICs of a domain it does not name"
        if kind == kinds.VIRSH_LIST:
            listed = libvirt_saved.parse_virsh_list(text)
            self.listed.update(listed)
            self._use("libvirt", name)
            return f"{len(listed)} domains" if listed else "no domains"
        if kind == kinds.IP_LINK:
            links = netlink.parse_ip_link_detail(text)
            if not links:
                return None
            self.links = (self.links or ()) + links
            self._use("netlink", name)
            return f"{len(links)} links"
        raise ValueError(f"no reader for {kind}")

    # -- the node ---------------------------------------------------------

    def _ovsdb(self) -> OvsdbSnapshot | None:
        tables = {t: vsctl_list.rows_by_uuid(r) for t, r in self.lists.items()}
        snap = self.confdb or (snapshot_from_rows(tables) if tables.get("Port") else None) \
            or self.show
        if snap is None and tables.get("Bridge"):
            snap = snapshot_from_rows(tables)
        if snap is None:
            return None
        by_name = {r.get("name"): r for r in self.lists.get("Interface", ())}
        bridges_by_name = {r.get("name"): r for r in self.lists.get("Bridge", ())}
        root = next(iter(self.lists.get("Open_vSwitch", ())), None)

        def iface(i, bridge):
            row = by_name.get(i.name)
            if row is not None:  # the listing has the ephemeral columns conf.db lacks
                i = interface_record(idl_row("Interface", "", {**_columns(i), **row}))
            port = self.ofports.get(bridge, {}).get(ofp_name(i.name))
            return replace(i, ofport=port) if i.ofport is None and port is not None else i

        bridges = []
        for b in snap.bridges:
            row = bridges_by_name.get(b.name, {})
            b = replace(b, datapath_type=b.datapath_type or str(row.get("datapath_type") or ""),
                        fail_mode=b.fail_mode or optional(_list(row.get("fail_mode"))),
                        ports=tuple(sorted((replace(p, interfaces=tuple(iface(i, b.name)
                                                                        for i in p.interfaces))
                                            for p in b.ports), key=lambda p: p.name)))
            bridges.append(b)
        bridges.sort(key=lambda b: b.name)  # as the live collector orders them
        version = snap.ovs_version or (optional(_list(root.get("ovs_version"))) if root else None)
        ids = root.get("external_ids") if root else None
        ids = {k: str(v) for k, v in ids.items()} if isinstance(ids, dict) else {}
        if not self.hostname:
            self.hostname = ids.get("hostname")
        # a `show` has no Open_vSwitch external_ids (an OVN chassis's bridge mappings)
        return replace(snap, bridges=tuple(bridges), ovs_version=version,
                       external_ids=snap.external_ids or frozen_map(ids))

    def _choose_flows(self, ovsdb: OvsdbSnapshot | None) -> list[FlowFile]:
        """Each bridge's flow dump, chosen before any is parsed (sos saves two of
        br-int, each of 100k lines on a busy node: only the one used is read)."""
        known = [b.name for b in ovsdb.bridges] if ovsdb else []
        chosen: dict[str, tuple[int, FlowFile]] = {}
        unused: list[FlowFile] = []
        for name, text, bridge, protocol in self.flow_texts:
            how = "its file name"
            if bridge is None:
                bridge, how = _bridge_of(name, text, ovsdb, known)
            if bridge is None:
                self.warn(name, kinds.DUMP_FLOWS, how)
                continue
            rank = PROTOCOLS.index(protocol) if protocol in PROTOCOLS else len(PROTOCOLS)
            old = chosen.get(bridge)
            if old is None or rank < old[0]:
                if old is not None:
                    unused.append(old[1])
                chosen[bridge] = (rank, FlowFile(name, bridge, how, text))
            else:
                unused.append(FlowFile(name, bridge, how, text))
        for f in unused:
            self.files.append(SavedFile(f.name, None, f"flows of {f.bridge} (bridge from "
                                        f"{f.how}); not used: {chosen[f.bridge][1].name} is read"))
        out = [f for _, (_, f) in sorted(chosen.items())]
        for f in out:
            self.files.append(SavedFile(f.name, kinds.DUMP_FLOWS, f"{READING}{f.bridge}"))
            self._use("openflow", f.name)
        return out

    def _port_counters(self, ovsdb) -> tuple:
        """One dump-ports per bridge (the protocol order of flows), its ports by name:
        sos's ovs-ofctl printed numbers, the live tool's --names prints names."""
        known = [b.name for b in ovsdb.bridges] if ovsdb else []
        names = {b.name: {i.ofport: i.name for p in b.ports for i in p.interfaces if i.ofport}
                 for b in ovsdb.bridges} if ovsdb else {}
        chosen: dict[str, tuple[int, str, tuple]] = {}
        for name, text, bridge, protocol in self.port_texts:
            bridge = bridge or _bridge_in_name(name, known)
            if bridge is None:
                self.warn(name, kinds.DUMP_PORTS, "its file name names no known bridge: not used")
                continue
            by_number = names.get(bridge, {})
            counters = tuple(replace(c, port=by_number.get(int(c.port), c.port)) if c.port.isdigit()
                             else c for c in openflow.parse_dump_ports(bridge, text))
            rank = PROTOCOLS.index(protocol) if protocol in PROTOCOLS else len(PROTOCOLS)
            old = chosen.get(bridge)
            note = f"{len(counters)} ports of {bridge}"
            if old is None or rank < old[0]:
                if old is not None:
                    self.files = [SavedFile(f.name, None, f"{f.note}; not used: {name} has the "
                                            "same bridge's counters") if f.name == old[1] else f
                                  for f in self.files]
                chosen[bridge] = (rank, name, counters)
                self.files.append(SavedFile(name, kinds.DUMP_PORTS, note))
            else:
                self.files.append(SavedFile(name, None, f"{note}; not used: {old[1]} is read"))
        return tuple(c for _, (_, _, counters) in sorted(chosen.items()) for c in counters)

    def _domains(self) -> tuple[Domain, ...] | None:
        found = [d for d, _ in self.domains.values()]
        with_status = {u for u, (_, s) in self.domains.items() if s}
        if self.status_dir:  # a defined domain without a status file was not running
            found = [d if d.uuid in with_status or d.name in self.listed
                     else replace(d, state="shutoff") for d in found]
        else:
            found = [d if d.id is not None or d.name in self.listed else replace(d, state="unknown")
                     for d in found]
        found = libvirt_saved.with_states(found, self.listed)
        for name, vnics in self.interfaces:
            names = [n for n in self.listed if n not in {d.name for d in found}]
            if len(names) == 1:
                number, state = self.listed[names[0]]
                found.append(Domain(name=names[0], uuid="", state=state, id=number, vnics=vnics))
                self._note(name, f"vNICs of {names[0]}, the one domain virsh list shows")
            else:
                found.append(Domain(name=f"(domain of {name})", uuid="", state="unknown", vnics=vnics))
        if not found and not self.listed:
            return None
        for n in self.listed:  # listed, but no XML saved: shown without vNICs
            if n not in {d.name for d in found}:
                number, state = self.listed[n]
                found.append(Domain(name=n, uuid="", state=state, id=number,
                                    error="no domain XML was saved"))
        return tuple(found)

    def _note(self, name: str, note: str) -> None:
        self.files = [SavedFile(f.name, f.read_as, note) if f.name == name else f for f in self.files]

    def node(self, taken: str | None, fallback_hostname: str) -> SavedNode:
        """Everything but the flow dumps' lines, which read_flows reads."""
        ovsdb = self._ovsdb()
        pending = self._choose_flows(ovsdb)
        ports = self._port_counters(ovsdb)
        domains = self._domains()
        when = taken or UNKNOWN_TIME
        missing = {"ovsdb": "no ovs-vsctl show, listing or conf.db was saved",
                   "openflow": "no ovs-ofctl dump-flows was saved",
                   "libvirt": "no domain XML or virsh list was saved",
                   "netlink": "no ip -d link was saved"}
        states = tuple(
            SourceState(s, "saved", when) if self.used.get(s)
            else SourceState(s, "error", f"{missing[s]}: not shown")
            for s in ("ovsdb", "openflow", "libvirt", "netlink"))
        if pending:  # as the live tool says of its first flow dumps
            states = _with_state(states, SourceState(
                "openflow", "connecting", "reading the saved flow dumps of "
                + ", ".join(f.bridge for f in pending)))
        obs = Observation(hostname=self.hostname or fallback_hostname, ovsdb=ovsdb,
                          flows=MappingProxyType({}), port_counters=ports, domains=domains,
                          links=self.links, sources=states)
        files = sorted(self.files, key=lambda f: (f.name[:1].isdigit(), f.name))
        return SavedNode(self.path, self.kind, taken, obs, tuple(files), tuple(pending))


def read_flows(saved: SavedNode) -> SavedNode:
    """The node with its pending flow dumps read: their bridges' flows, each file's
    count, and openflow "saved" at the node's time."""
    if not saved.pending:
        return saved
    flows = dict(saved.observation.flows)
    notes = {}
    for f in saved.pending:
        # no clock (seen_at None): a saved flow's age is the one recorded, nothing makes
        # it older; one replace of the dump, not of each of its flows (100k: ~1 s)
        dump = openflow.parse_dump(f.bridge, f.text, None)
        flows[f.bridge] = replace(dump, taken_at=0.0)
        notes[f.name] = f"{len(dump.flows)} flows of {f.bridge} (bridge from {f.how})"
    files = tuple(replace(x, note=notes[x.name]) if x.name in notes and x.read_as else x
                  for x in saved.files)
    obs = replace(saved.observation, flows=MappingProxyType(dict(sorted(flows.items()))),
                  sources=_with_state(saved.observation.sources, SourceState(
                      "openflow", "saved", saved.taken or UNKNOWN_TIME)))
    return replace(saved, observation=obs, files=files, pending=())


def _with_state(states: tuple[SourceState, ...], state: SourceState) -> tuple[SourceState, ...]:
    return tuple(state if s.source == state.source else s for s in states)


def _has_flow(text: str) -> bool:
    """Whether a line is a flow, looking no further than the first one (not 100k lines)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if openflow.parse_flow_line("", text[start:end]) is not None:
            return True
        start = end + 1
    return False


def _list(value):
    return value if isinstance(value, list) else [value] if value is not None else []


def _columns(i) -> dict:
    """An interface record back as listing columns, to lay a listing's over it."""
    return {"name": i.name, "type": i.type, "ofport": _list(i.ofport), "error": _list(i.error),
            "external_ids": dict(i.external_ids), "options": dict(i.options),
            "link_state": _list(i.link_state), "admin_state": _list(i.admin_state),
            "mac_in_use": _list(i.mac_in_use)}


def _bridge_in_name(name: str, known: list[str]) -> str | None:
    """The longest known bridge name standing alone in a file name."""
    hits = [b for b in known
            if re.search(rf"(?<![A-Za-z0-9]){re.escape(b)}(?![A-Za-z0-9])", name.rsplit("/", 1)[-1])]
    return max(hits, key=len) if hits else None


def _bridge_of(name: str, text: str, ovsdb, known: list[str]) -> tuple[str | None, str]:
    """A flow dump's bridge: from its file name, else from the port names its flows use."""
    bridge = _bridge_in_name(name, known)
    if bridge:
        return bridge, "its file name"
    said = _COMMAND.search(text)  # a paste that kept its command line: "$ ovs-ofctl dump-flows br-int"
    if said and said.group(1).strip('"') in known:
        return said.group(1).strip('"'), "the command line in it"
    if ovsdb is None:
        return None, "no bridge known to match it to (no ovs-vsctl output was saved): not used"
    refs = {r.strip('"') for r in _REFS.findall(text)} - {"LOCAL", "IN_PORT", "NORMAL"}
    scores = []
    for b in ovsdb.bridges:
        names = {ofp_name(i.name) for p in b.ports for i in p.interfaces} | {p.name for p in b.ports}
        scores.append((len(refs & names), b.name, sorted(refs & names)))
    scores.sort(reverse=True)
    if scores and scores[0][0] and (len(scores) == 1 or scores[1][0] < scores[0][0]):
        used = scores[0][2]
        return scores[0][1], "the ports its flows use: " + ", ".join(used[:4]) + (
            "..." if len(used) > 4 else "")
    return None, ("neither its file name nor the port names in its flows tell its bridge: "
                  "not used (name the file after the bridge)")
