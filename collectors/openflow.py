"""OpenFlow flows and port counters of one bridge, read-only.

A busy br-int holds tens of thousands of flows and is read every second, so
a refresh only touches what changed. ``refresh_table`` keeps a ``FlowTable``
up to date:

- Counters come from the switch's flow statistics (OpenFlow 1.4/1.3 over
  the bridge's management socket, as ovs-ofctl itself talks), matched entry
  for entry with the flows of the last text dump; only flows whose counters
  moved get a new ``Flow``.
- When the flows are not those any more (added, deleted, modified), or the
  bridge speaks neither OpenFlow 1.3 nor 1.4, ``ovs-ofctl dump-flows`` prints
  them, and only lines that differ from the last dump are read
  (``parse_flow_line``); statistics taken before that dump and at the next
  refresh line them up again.
- The full parse with python-ovs's ``OFPFlow`` (``flow_detail``) runs at most
  once per flow, the first time someone asks for it.

Measured on the dev box (2 cores, Python 3.11, OVS 3.1), br-int with 50k
firewall flows (``python -m bench.run``): ``ovs-ofctl dump-flows`` to
/dev/null takes 0.3-0.5 s wall and 0.25 s of its own CPU; reading the same
flows' statistics takes 0.07 s wall (the switch's time) and ~0.03 s of ours
(0.6 us a flow). A line read in full costs ~5 us (``parse_flow_line``, of
which 1.5 us is the frozen ``Flow`` constructor), a line compared with the
last dump ~1 us, ``flow_detail`` 50-140 us with OFPFlow and ~15 us in its
regex fallback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Mapping


from model.records import (
    EMPTY_MAP,
    Flow,
    FlowDetail,
    FlowDump,
    FlowKey,
    PortCounters,
    frozen_map,
)

log = logging.getLogger(__name__)

OFCTL = "ovs-ofctl"
DEFAULT_RUNDIR = "/var/run/openvswitch"
DEFAULT_PRIORITY = 32768  # OpenFlow's; ovs-ofctl omits "priority=" for it

# The statistics ovs-ofctl prints before the match (lib/ofp-flow.c,
# ofputil_flow_stats_format): fixed fields, then optional "key=N, " fields
# and space-separated flow flags. Digit counts are bounded so int() never
# meets a number wider than 64 bits (or Python's 4300-digit limit).
_STATS = re.compile(
    r" *cookie=0x([0-9a-f]{1,16}), duration=([0-9]{1,12}(?:\.[0-9]{1,9})?)s,"
    r" table=([0-9]{1,3}), n_packets=([0-9]{1,20}), n_bytes=([0-9]{1,20}), "
    r"(?:(?:idle_timeout|hard_timeout|importance|idle_age|hard_age)=[0-9]{1,10}, "
    r"|(?:send_flow_rem|check_overlap|reset_counts|no_packet_counts|no_byte_counts|emerg) )*",
    re.ASCII,
)
_FLOW_REPLY_HEADERS = ("NXST_FLOW reply", "OFPST_FLOW reply")

# A port name as ovs-ofctl --names prints it: double-quoted, with JSON-style
# backslash escapes (seen on OVS 3.1: "q\"x", "b\\q", "a b,c", "ü(x)=y").
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _unquote(text: str) -> str:
    """A printed port name without its quotes and escapes."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    return text


def _match_end(rest: str) -> int:
    """Where the match ends: the first space outside a quoted name, or -1."""
    pos = 0
    while True:
        space = rest.find(" ", pos)
        quote = rest.find('"', pos)
        if quote < 0 or (0 <= space < quote):
            return space
        closing = _QUOTED.match(rest, quote)
        if closing is None:
            return -1
        pos = closing.end()


def parse_flow_line(bridge: str, line: str, seen_at: float | None = None) -> Flow | None:
    """Split one ``dump-flows`` line into key and counters, or None if it is not one.

    ``seen_at`` is when the dump was taken (the time its duration is as of).
    """
    stats = _STATS.match(line)
    if stats is None:
        return None
    rest = line[stats.end():]
    if rest.startswith("actions="):
        match, actions = "", rest[8:]
    else:
        match, sep, actions = rest.partition(" actions=")
        if not sep:
            return None
        if " " in match or ('"' in match and ("\\" in match or match.count('"') % 2)):
            # A quoted port name holds a space, an escape or " actions=":
            # find the match's end the slow way.
            end = _match_end(rest)
            if end < 0 or not rest.startswith(" actions=", end):
                return None
            match, actions = rest[:end], rest[end + 9:]
    cookie, duration, table, n_packets, n_bytes = stats.groups()
    priority = DEFAULT_PRIORITY
    if match.startswith("priority="):
        value, _, match = match[9:].partition(",")
        if not (value.isdigit() and value.isascii() and len(value) <= 5):
            return None
        priority = int(value)
    return Flow(
        bridge, int(table), priority, int(cookie, 16), match, actions.rstrip(),
        int(n_packets), int(n_bytes), float(duration), seen_at,
    )


def parse_dump(bridge: str, text: str, taken_at: float) -> FlowDump:
    """All flows of one ``dump-flows`` output; lines that are not flows are kept raw."""
    flows = []
    unparsed = []
    for line in text.split("\n"):
        flow = parse_flow_line(bridge, line, taken_at)
        if flow is not None:
            flows.append(flow)
        elif line.strip() and not line.startswith(_FLOW_REPLY_HEADERS):
            unparsed.append(line.rstrip("\r"))
    return FlowDump(bridge, tuple(flows), taken_at, tuple(unparsed))


# --------------------------------------------------------------------------
# Full parse, once per flow.

_RESERVED_PORTS = frozenset(
    {"IN_PORT", "LOCAL", "CONTROLLER", "NORMAL", "FLOOD", "ALL", "TABLE", "NONE", "ANY"}
)
_REG_MATCH = re.compile(r"reg([0-9]|1[0-5])", re.ASCII)
_REG_NXM = re.compile(r"NXM_NX_REG([0-9]|1[0-5])", re.ASCII)
_VLAN_PRESENT = 0x1000  # OF1.2+ vlan_vid: bit 12 says "a VLAN header is present"
_PLACEHOLDER = re.compile(r'"?#([0-9]+)"?')


def flow_detail(flow: Flow) -> FlowDetail:
    """What the model needs from one flow; never raises.

    python-ovs's ``OFPFlow`` does the parse. When it refuses a flow (a field
    or action it does not know), a few regexes read the VLAN-related basics
    and the result says ``partial=True``.
    """
    try:
        return _detail_from_ofpflow(flow)
    except Exception as exc:  # python-ovs raises ParseError, ValueError, KeyError...
        log.debug("OFPFlow could not parse %r: %s", flow.key, exc)
    try:
        return _detail_from_regexes(flow)
    except Exception as exc:  # the promise is "never raises", even if a regex is wrong
        log.warning("could not read flow %r: %s", flow.key, exc)
        return FlowDetail(partial=True)


def _detail_from_ofpflow(flow: Flow) -> FlowDetail:
    # OFPFlow splits on spaces, commas and "actions=", so port names (which
    # may hold any of them) go in as "#N" placeholders and come back after.
    names: list[str] = []

    def hide(m: re.Match) -> str:
        names.append(_unquote(m.group()))
        return f'"#{len(names) - 1}"'

    match = _QUOTED.sub(hide, flow.match)
    actions = _QUOTED.sub(hide, flow.actions)
    if not (match + actions).isprintable():
        # python-ovs 3.1's KVParser loops forever on a tab or carriage return
        # and stops at a newline; ovs-ofctl never prints them outside quotes.
        raise ValueError("control character outside a quoted name")

    def port(value: object) -> str:
        text = str(value)
        hidden = _PLACEHOLDER.fullmatch(text)
        if hidden and int(hidden.group(1)) < len(names):
            return names[int(hidden.group(1))]
        upper = text.upper()
        return upper if upper in _RESERVED_PORTS else _unquote(text)

    # Priority always goes in, so the match section is never empty (OFPFlow
    # cannot split an empty match from the info section).
    sep = "," if match else ""
    from ovs.flow.ofp import OFPFlow  # here, not at the top: 55 ms off the TUI's start

    parsed = OFPFlow(f"table={flow.table} priority={flow.priority}{sep}{match} actions={actions}")

    detail: dict = {}
    regs: dict[str, int] = {}
    for kv in parsed.match_kv:
        key, value = kv.key, kv.value
        if key == "in_port":
            detail["in_port"] = port(kv.meta.vstring)
        elif key == "dl_vlan":
            detail["dl_vlan"] = int(value)
        elif key in ("vlan_tci", "vlan_vid"):
            if value.mask & _VLAN_PRESENT and not value.value & _VLAN_PRESENT:
                detail["untagged"] = True
            elif value.value & _VLAN_PRESENT and value.mask & 0xFFF == 0xFFF:
                detail["dl_vlan"] = value.value & 0xFFF
        elif key in ("dl_src", "eth_src"):
            detail["dl_src"] = kv.meta.vstring
        elif key in ("dl_dst", "eth_dst"):
            detail["dl_dst"] = kv.meta.vstring
        elif _REG_MATCH.fullmatch(key):
            regs[key] = value.value
        elif key == "metadata":
            detail["metadata"] = value.value

    outputs: list[str] = []
    resubmits: list[int] = []
    loads: dict[str, int] = {}
    for kv in parsed.actions_kv:
        key, value = kv.key.lower(), kv.value
        if key == "output":
            target = port(value["port"])
            if target == "NORMAL":
                detail["normal"] = True
            else:
                outputs.append(target)
        elif key == "controller":
            outputs.append("CONTROLLER")
        elif key == "drop":
            detail["drop"] = True
        elif key in ("strip_vlan", "pop_vlan"):
            detail["strip_vlan"] = True
        elif key == "push_vlan":
            detail["push_vlan"] = True
        elif key in ("mod_vlan_vid", "set_vlan_vid"):
            detail["set_vlan"] = int(value)
        elif key == "set_field":
            dst = value["dst"]["field"]
            (written,) = value["value"].values()
            number = written.value if hasattr(written, "value") else int(written)
            if dst == "vlan_vid":
                detail["set_vlan"] = number & 0xFFF  # drops the "present" bit
            elif dst == "dl_vlan":
                detail["set_vlan"] = number
            elif _REG_MATCH.fullmatch(dst):
                loads[dst] = number
            elif dst == "metadata":
                detail["load_metadata"] = number
        elif key == "load" and "value" in value:
            dst = value["dst"]
            reg = _REG_NXM.fullmatch(dst["field"])
            start = dst.get("start", 0)
            if reg and start < 32:  # registers are 32 bits wide
                name = f"reg{reg.group(1)}"
                loads[name] = loads.get(name, 0) | value["value"] << start
            elif dst["field"] in ("OXM_OF_VLAN_VID", "NXM_OF_VLAN_TCI") and not dst.get("start"):
                detail["set_vlan"] = value["value"] & 0xFFF
            elif dst["field"] == "OXM_OF_METADATA" and not dst.get("start"):
                detail["load_metadata"] = value["value"]
        elif key == "resubmit" and isinstance(value.get("table"), int):
            resubmits.append(value["table"])
        elif key == "goto_table":
            resubmits.append(int(value))
        elif key == "ct" and isinstance(value, dict) and isinstance(value.get("table"), int):
            # ct(table=N) carries on in table N once conntrack has run.
            resubmits.append(value["table"])
    if not parsed.actions_kv:
        detail["drop"] = True
    return FlowDetail(
        regs=frozen_map(regs), loads=frozen_map(loads), outputs=tuple(outputs),
        resubmits=tuple(resubmits), **detail,
    )


# The regex fallback: just what VLAN translation and the firewall's port
# registers need, read straight from the printed text.
_NAME = r'("(?:[^"\\]|\\.)*"|[^,\s]+)'
_RX_IN_PORT = re.compile(r"(?:^|,)in_port=" + _NAME)
_RX_DL_VLAN = re.compile(r"(?:^|,)dl_vlan=([0-9]{1,4})(?:,|$)")
_RX_UNTAGGED = re.compile(r"(?:^|,)vlan_tci=0x0000(?:/0x1fff|/0x1000)?(?:,|$)")
_RX_DL_SRC = re.compile(r"(?:^|,)dl_src=([0-9a-f:/]+)")
_RX_DL_DST = re.compile(r"(?:^|,)dl_dst=([0-9a-f:/]+)")
_RX_REG = re.compile(r"(?:^|,)reg([0-9]|1[0-5])=(0x[0-9a-f]{1,8}|[0-9]{1,10})")
_RX_SET_VLAN = re.compile(
    r"(?:mod_vlan_vid|set_vlan_vid):([0-9]{1,4})|set_field:(0x[0-9a-f]{1,4}|[0-9]{1,5})->vlan_vid"
)
_RX_OUTPUT = re.compile(r"(?:^|,)output:" + _NAME)
_RX_TABLE = re.compile(r"resubmit\([^,()]*,([0-9]{1,3})|goto_table:([0-9]{1,3})")
_RX_LOAD = re.compile(
    r"load:(0x[0-9a-f]{1,8}|[0-9]{1,10})->NXM_NX_REG([0-9]|1[0-5])\[\]"
    r"|set_field:(0x[0-9a-f]{1,8}|[0-9]{1,10})->reg([0-9]|1[0-5])(?:,|$)"
)
_RX_METADATA = re.compile(r"(?:^|,)metadata=(0x[0-9a-f]{1,16}|[0-9]{1,20})(?:,|$)")
_RX_LOAD_METADATA = re.compile(
    r"load:(0x[0-9a-f]{1,16}|[0-9]{1,20})->OXM_OF_METADATA\[\]"
    r"|set_field:(0x[0-9a-f]{1,16}|[0-9]{1,20})->metadata(?:,|$)")
_RX_WORD = re.compile(r"(?:^|,)(drop|NORMAL|strip_vlan|pop_vlan|push_vlan)(?:[:,]|$)")


def _number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def _detail_from_regexes(flow: Flow) -> FlowDetail:
    m, a = flow.match, flow.actions
    in_port = _RX_IN_PORT.search(m)
    dl_vlan = _RX_DL_VLAN.search(m)
    dl_src = _RX_DL_SRC.search(m)
    dl_dst = _RX_DL_DST.search(m)
    set_vlan = None
    for found in _RX_SET_VLAN.finditer(a):
        set_vlan = int(found.group(1)) if found.group(1) else _number(found.group(2)) & 0xFFF
    loads = {}
    for found in _RX_LOAD.finditer(a):
        value, reg = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
        loads[f"reg{reg}"] = _number(value)
    words = {found.group(1) for found in _RX_WORD.finditer(a)}
    metadata = _RX_METADATA.search(m)
    load_metadata = None
    for found in _RX_LOAD_METADATA.finditer(a):
        load_metadata = _number(found.group(1) or found.group(2))
    outputs = [_unquote(o) for o in _RX_OUTPUT.findall(a)]
    return FlowDetail(
        in_port=_unquote(in_port.group(1)) if in_port else None,
        dl_vlan=int(dl_vlan.group(1)) if dl_vlan else None,
        untagged=_RX_UNTAGGED.search(m) is not None,
        dl_src=dl_src.group(1) if dl_src else None,
        dl_dst=dl_dst.group(1) if dl_dst else None,
        regs=frozen_map({f"reg{r}": _number(v) for r, v in _RX_REG.findall(m)}),
        set_vlan=set_vlan,
        strip_vlan=bool(words & {"strip_vlan", "pop_vlan"}),
        push_vlan="push_vlan" in words,
        outputs=tuple(o for o in outputs if o != "NORMAL"),
        resubmits=tuple(int(r or g) for r, g in _RX_TABLE.findall(a)),
        loads=frozen_map(loads),
        metadata=_number(metadata.group(1)) if metadata else None,
        load_metadata=load_metadata,
        drop="drop" in words or not a,
        normal="NORMAL" in words or "NORMAL" in outputs,
        partial=True,
    )


# --------------------------------------------------------------------------
# Counters across refreshes.


@dataclass(frozen=True, slots=True)
class FlowDelta:
    """What changed on one bridge between two dumps, for pps/bps and highlights."""

    bridge: str
    interval: float  # seconds between the two dumps; 0.0 for the first one
    new: frozenset[FlowKey] = frozenset()
    gone: frozenset[FlowKey] = frozenset()
    reset: frozenset[FlowKey] = frozenset()  # re-added (or counters reset): deltas count from 0
    moved: Mapping[FlowKey, tuple[int, int]] = field(default_factory=lambda: EMPTY_MAP)

    def rate(self, key: FlowKey) -> tuple[float, float] | None:
        """(packets/s, bytes/s) of a flow present in both dumps; None when unknown."""
        if self.interval <= 0 or key in self.new or key in self.gone:
            return None
        packets, nbytes = self.moved.get(key, (0, 0))
        return packets / self.interval, nbytes / self.interval


class FlowTable:
    """One bridge's flows across refreshes, with each flow's full parse cached.

    ``update_stats`` and ``update_text`` only read what changed since the
    last dump; a flow's ``flow_detail`` runs the first time it is asked for,
    is kept while the flow exists and is dropped when the flow goes.
    """

    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self.dump: FlowDump | None = None  # the last good dump
        self._flows: dict[FlowKey, Flow] = {}
        self._details: dict[FlowKey, FlowDetail] = {}
        # The last dump's text, flow N being printed as heads[N], a duration,
        # mids[N], its match, " actions=", its actions (see _printed). Both
        # lists are empty when the text is not known (after update()).
        self._heads: list[str] = []
        self._mids: list[str] = []
        self._strings: dict[str, str] = {}  # one copy of each head and mid text
        # What the switch's flow statistics last said of flow N of the last
        # dump, from byte _SAID of its entry (all but table and duration), and
        # the flows' tables; None until statistics taken before and after a
        # text dump agreed with it (_line_up).
        self._said: list[bytes] | None = None
        self._tables = b""
        self._before: FlowStats | None = None  # taken just before the last text dump
        self.stats_refused_at = float("-inf")  # when the bridge last refused statistics

    def detail(self, key: FlowKey) -> FlowDetail | None:
        """The full parse of a flow of the last dump; None for a key it does not hold."""
        flow = self._flows.get(key)
        return None if flow is None else self.detail_of(flow)

    def detail_of(self, flow: Flow) -> FlowDetail:
        """The full parse of a flow, cached while the flow is in the last dump."""
        cached = self._details.get(flow.key)
        if cached is not None:
            return cached
        detail = flow_detail(flow)
        if flow.key in self._flows:
            self._details[flow.key] = detail
        return detail

    def keys(self) -> frozenset[FlowKey]:
        """The flows of the last good dump."""
        return frozenset(self._flows)

    def details(self) -> Mapping[FlowKey, FlowDetail]:
        """The parses made so far, as a frozen copy safe to hand to another thread."""
        return frozen_map(self._details)

    def update(self, dump: FlowDump) -> FlowDelta:
        """Take a parsed dump; a failed dump changes nothing (flows are not "gone")."""
        if dump.bridge != self.bridge:
            raise ValueError(f"dump of {dump.bridge!r} given to the table of {self.bridge!r}")
        if dump.error is not None:
            return FlowDelta(self.bridge, 0.0)
        flows = {flow.key: flow for flow in dump.flows}
        self._heads, self._mids, self._said = [], [], None  # text and statistics unknown
        self._before = None
        return self._take(dump, list(flows.items()), self._flows.keys() - flows.keys())

    def update_text(self, text: str, taken_at: float,
                    stats_before: FlowStats | None = None) -> FlowDelta:
        """Take ``dump-flows`` output, reading only the lines that changed.

        ``stats_before``: flow statistics taken just before this dump; with
        the next statistics (taken after it) they tell which entry is which
        flow, so update_stats can take counters from statistics from then on.

        ovs-ofctl prints an unchanged table in the same order every time, so
        each line is first compared with the line at its place in the last
        dump: if they differ only in duration, the flow and its counters are
        the same and its Flow is kept (~0.4 us a line, where reading it costs
        ~5 us). Other lines are read and diffed by flow identity; an added or
        deleted flow shifts the places, and the comparison follows the shift.
        """
        previous = self.dump.flows if self._heads and self.dump is not None else ()
        heads, mids, count = self._heads, self._mids, len(previous)
        old = self._flows
        strings = self._strings
        new_heads: list[str] = []
        new_mids: list[str] = []
        flows: list[Flow] = []
        unparsed: list[str] = []
        read: list[tuple[FlowKey, Flow]] = []
        where: dict[FlowKey, int] | None = None  # place in previous, built when needed
        place = 0  # where the next line is expected in previous
        seen = 0  # flows of the last dump met again
        at, size = 0, len(text)
        while at < size:  # line by line, not split(): 100k lines at once take 25 MB
            newline = text.find("\n", at)
            if newline < 0:
                newline = size
            line = text[at:newline]
            at = newline + 1
            if place < count:
                flow, head, mid = previous[place], heads[place], mids[place]
                actions, match = flow.actions, flow.match
                end = len(line) - len(actions) - 9  # where " actions=" is
                start = end - len(match) - len(mid)  # where mid is
                if 0 < start - len(head) <= _DURATION_DIGITS and line.endswith(actions) \
                        and line.startswith(" actions=", end) \
                        and line.startswith(match, end - len(match)) \
                        and line.startswith(mid, start) and line.startswith(head):
                    new_heads.append(head)
                    new_mids.append(mid)
                    flows.append(flow)
                    place += 1
                    seen += 1
                    continue
            flow = parse_flow_line(self.bridge, line, taken_at)
            if flow is None:
                if line.strip() and not line.startswith(_FLOW_REPLY_HEADERS):
                    unparsed.append(line.rstrip("\r"))
                continue
            key = flow.key
            if key in old:  # counters moved, or the flow is not where it was
                seen += 1
                ahead = next((n for n in range(place, min(place + 8, count))
                              if previous[n].key == key), None)
                if ahead is None:
                    if where is None:
                        where = {f.key: n for n, f in enumerate(previous)}
                    ahead = where.get(key, place - 1)
                place = ahead + 1
            head, mid = _printed(line, flow)
            new_heads.append(strings.setdefault(head, head))
            new_mids.append(strings.setdefault(mid, mid))
            flows.append(flow)
            read.append((key, flow))
        # A dump lists each flow once: meeting as many old flows as there were means none went.
        gone = set() if seen == len(old) else old.keys() - {f.key for f in flows}
        if len(strings) > 4 * len(flows) + 1000:
            self._strings = {s: s for s in new_heads + new_mids}
        self._heads, self._mids = new_heads, new_mids
        self._said = None  # until statistics before and after agree with this text
        self._before = stats_before if stats_before and stats_before.error is None else None
        dump = FlowDump(self.bridge, tuple(flows), taken_at, tuple(unparsed))
        return self._take(dump, read, gone)

    @property
    def lined_up(self) -> bool:
        """Whether update_stats can read counters from the switch's flow statistics."""
        return self._said is not None

    def _line_up(self, before: FlowStats, after: FlowStats) -> bool:
        """Remember which statistics entry is which flow of the last text dump.

        ``before`` and ``after`` are statistics taken before and after that
        dump. The switch answers each request in one go and lists flows in
        the same order every time, so when the two name the same flows, and
        each entry's table, priority and cookie are those of the flow at its
        place, entry N is the dump's flow N.
        """
        if before.error is not None or after.error is not None or self.dump is None \
                or len(self._heads) != len(self.dump.flows):
            return False
        flows = self.dump.flows
        said: list[bytes] = []
        tables = bytearray()
        for n, (table, priority, cookie, entry) in enumerate(_entries(before.replies)):
            if n >= len(flows) or (table, priority, cookie) != (
                    flows[n].table, flows[n].priority, flows[n].cookie):
                return False
            said.append(entry)
            tables.append(table)
        if len(said) != len(flows) or self._read(after, said, bytes(tables)) is None:
            return False
        self._said, self._tables = said, bytes(tables)
        return True

    def update_stats(self, stats: FlowStats) -> FlowDelta | None:
        """Take new counters from flow statistics; None (nothing taken) when the
        flows are not the ones of the last text dump any more (or nothing
        tells which entry is which flow yet).

        An entry the switch words as last time (its duration aside) costs one
        bytes comparison, ~0.3 us; only flows whose counters moved get a new
        Flow. ovs-ofctl alone spends ~5 us printing a flow.
        """
        before, self._before = self._before, None
        if self._said is None and before is not None:
            self._line_up(before, stats)
        if self._said is None or self.dump is None:
            return None
        read = self._read(stats, self._said, self._tables)
        if read is None:
            return None
        now = list(self.dump.flows)
        changed = []
        for n, entry, counted in read:
            self._said[n] = entry
            if counted is None:
                continue
            packets, nbytes, duration = counted
            old = now[n]
            flow = Flow(old.bridge, old.table, old.priority, old.cookie, old.match, old.actions,
                        packets, nbytes, duration, stats.taken_at)
            now[n] = flow
            self._mids[n] = _with_counters(self._mids[n], packets, nbytes)
            changed.append((flow.key, flow))
        return self._take(FlowDump(self.bridge, tuple(now), stats.taken_at, self.dump.unparsed),
                          changed, ())

    def _read(self, stats: FlowStats, said: list[bytes], tables: bytes
              ) -> list[tuple[int, bytes, tuple[int, int, float] | None]] | None:
        """What differs in ``stats`` from what the switch ``said`` of each flow:
        (place, the entry now, (packets, bytes, duration) if the counters are
        not the flow's). None when an entry is not the flow at its place."""
        if stats.error is not None:
            return None
        flows = self.dump.flows
        out = []
        n, count = 0, len(said)
        for reply in stats.replies:
            at, end = _MULTIPART_HEADER, len(reply)
            while at + _ENTRY <= end:
                length = reply[at] << 8 | reply[at + 1]
                if n >= count or length < _ENTRY:
                    return None
                last = said[n]
                if length - _SAID != len(last) or reply[at + 2] != tables[n] \
                        or not reply.startswith(last, at + _SAID):
                    # Its counters moved, or it is another flow.
                    _, table, seconds, nanoseconds, priority, cookie, packets, nbytes = \
                        _ENTRY_HEAD.unpack_from(reply, at)
                    flow = flows[n]
                    if table != flow.table or priority != flow.priority \
                            or cookie != flow.cookie \
                            or reply[at + _ENTRY:at + length] != last[_ENTRY - _SAID:]:
                        return None
                    counted = None
                    if packets != flow.n_packets or nbytes != flow.n_bytes:
                        counted = (packets, nbytes, seconds + nanoseconds / 1e9)
                    out.append((n, reply[at + _SAID:at + length], counted))
                at += length
                n += 1
        return out if n == count else None

    def _take(self, dump: FlowDump, changed: list[tuple[FlowKey, Flow]], gone) -> FlowDelta:
        """Diff the flows that may have changed against the last dump, then keep ``dump``."""
        then = self.dump.taken_at if self.dump is not None else dump.taken_at
        flows = self._flows
        new = []
        moved: dict[FlowKey, tuple[int, int]] = {}
        reset = set()
        for key, flow in changed:
            old = flows.get(key)
            flows[key] = flow
            if old is None:
                new.append(key)
                continue
            if (
                flow.duration < old.age(then)  # its age at the last dump
                or flow.n_packets < old.n_packets
                or flow.n_bytes < old.n_bytes
            ):
                # Re-added (or modified with reset_counts) since the last dump:
                # everything it counted happened within this interval.
                reset.add(key)
                delta = (flow.n_packets, flow.n_bytes)
            else:
                delta = (flow.n_packets - old.n_packets, flow.n_bytes - old.n_bytes)
            if delta != (0, 0):
                moved[key] = delta
        for key in gone:
            flows.pop(key, None)
            self._details.pop(key, None)
        self.dump = dump
        return FlowDelta(
            self.bridge, dump.taken_at - then, frozenset(new),
            frozenset(gone), frozenset(reset), frozen_map(moved),
        )


_DURATION = ", duration="
_DURATION_DIGITS = 22  # "duration=" takes up to 12 digits, a dot and 9 more


def _printed(line: str, flow: Flow) -> tuple[str, str]:
    """How ovs-ofctl printed ``flow`` on ``line``, less what Flow holds: (the text up
    to "duration=", the text from the "s" after its value up to the match)."""
    start = line.index(_DURATION) + len(_DURATION)
    end = len(line) - len(flow.actions) - 9 - len(flow.match)
    return line[:start], line[line.index("s,", start):end]


def _with_counters(mid: str, packets: int, nbytes: int) -> str:
    """A line's middle ("s, table=0, n_packets=1, n_bytes=2, priority=...") with other counters."""
    start = mid.index(", n_packets=")
    end = mid.index(", ", mid.index(", n_bytes=", start) + 10)
    return f"{mid[:start]}, n_packets={packets}, n_bytes={nbytes}{mid[end:]}"


# --------------------------------------------------------------------------
# Flow statistics over the management socket.
#
# ovs-ofctl spends ~5 us of CPU printing each flow (0.27 s for 50k flows, a
# quarter of a core at one refresh a second) where the switch sends the
# same statistics in 0.07 s. No maintained Python library reads OpenFlow 1.3
# (python-ovs has none; os-ken pulls in a controller framework), and this
# needs three messages: HELLO, a flow statistics request, its replies. The
# text dump stays the source of every flow's text; the statistics only give
# counters, entry N being the flow N of the last text dump (_line_up).

_VERSIONS = (4, 5)  # OpenFlow 1.3 and 1.4: the same flow statistics layout
_HELLO, _ERROR, _ECHO_REQUEST, _ECHO_REPLY = 0, 1, 2, 3
_MULTIPART_REQUEST, _MULTIPART_REPLY = 18, 19
_MULTIPART_FLOW = 1
_MULTIPART_HEADER = 16  # ofp_header, type, flags, pad: where the entries start
_ENTRY = 48  # ofp_flow_stats up to its match
_OFP_HEADER = struct.Struct("!BBHI")
# ofp_flow_stats up to its match: length, table, duration (s, ns), priority,
# (timeouts, flags), cookie, packets, bytes
_ENTRY_HEAD = struct.Struct("!HBxIIH10xQQQ")
_SAID = 12  # from here on an entry changes only when its counters or the flow do
_XID = 0x0F5D0001


@dataclass(frozen=True, slots=True)
class FlowStats:
    """One bridge's flow statistics replies, as the switch sent them."""

    bridge: str
    replies: tuple[bytes, ...]
    taken_at: float  # time.monotonic() when the last reply came
    error: str | None = None


def _entries(replies: tuple[bytes, ...]):
    """(table, priority, cookie, the entry from byte _SAID) of each entry."""
    for reply in replies:
        at, end = _MULTIPART_HEADER, len(reply)
        while at + _ENTRY <= end:
            length, table, _, _, priority, cookie, _, _ = _ENTRY_HEAD.unpack_from(reply, at)
            if length < _ENTRY:
                return
            yield table, priority, cookie, reply[at + _SAID:at + length]
            at += length


def _message(version: int, kind: int, body: bytes = b"", xid: int = _XID) -> bytes:
    return _OFP_HEADER.pack(version, kind, 8 + len(body), xid) + body


async def _read_message(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    """(version, type, xid, the whole message)."""
    header = await reader.readexactly(8)
    version, kind, length, xid = _OFP_HEADER.unpack(header)
    if length < 8:
        raise ValueError(f"OpenFlow message of length {length}")
    return version, kind, xid, header + await reader.readexactly(length - 8)


def _negotiate(hello: bytes, offered: int) -> int | None:
    """The version both sides speak, from the switch's HELLO (and its version bitmap)."""
    version = hello[0]
    at = 8
    while at + 4 <= len(hello):
        kind, length = struct.unpack_from("!HH", hello, at)
        if length < 4:
            break
        if kind == 1 and length >= 8:  # OFPHET_VERSIONBITMAP
            bitmap = int.from_bytes(hello[at + 4:at + 8], "big")
            common = [v for v in _VERSIONS if bitmap >> v & 1]
            return max(common) if common else None
        at += (length + 7) // 8 * 8
    version = min(version, offered)
    return version if version in _VERSIONS else None


def _flow_stats_request(version: int) -> bytes:
    # every table (0xff), any out_port and out_group, any cookie, an empty OXM match
    body = (struct.pack("!HH4x", _MULTIPART_FLOW, 0)
            + struct.pack("!B3xII4xQQ", 0xFF, 0xFFFFFFFF, 0xFFFFFFFF, 0, 0)
            + struct.pack("!HH4x", 1, 4))
    return _message(version, _MULTIPART_REQUEST, body)


async def flow_stats(bridge: str, *, rundir: str | None = None,
                     timeout: float = 5.0) -> FlowStats:
    """The bridge's flow statistics now, read-only (a request and its replies)."""
    path = os.path.join(rundir or os.environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR,
                        f"{bridge}.mgmt")
    replies: list[bytes] = []
    if "/" in bridge or bridge in ("", ".", ".."):  # a name, never a way to another socket
        return FlowStats(bridge, (), time.monotonic(), error=f"no socket for bridge {bridge!r}")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(path)
            try:
                bitmap = sum(1 << v for v in _VERSIONS)
                writer.write(_message(max(_VERSIONS), _HELLO, struct.pack("!HHI", 1, 8, bitmap)))
                version, kind, _, hello = await _read_message(reader)
                if kind != _HELLO:
                    raise ValueError(f"the switch answered HELLO with message type {kind}")
                version = _negotiate(hello, max(_VERSIONS))
                if version is None:
                    raise ValueError("the bridge allows neither OpenFlow 1.3 nor 1.4")
                writer.write(_flow_stats_request(version))
                while True:
                    _, kind, xid, message = await _read_message(reader)
                    if kind == _ECHO_REQUEST:
                        writer.write(_message(version, _ECHO_REPLY, message[8:], xid))
                    elif kind == _ERROR and xid == _XID:
                        raise ValueError("the switch refused the flow statistics request")
                    elif kind == _MULTIPART_REPLY and xid == _XID:
                        replies.append(message)
                        if not message[11] & 1:  # no OFPMPF_REPLY_MORE: the last one
                            break
            finally:
                writer.close()
    except (OSError, EOFError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
        return FlowStats(bridge, (), time.monotonic(), error=f"{path}: {exc or type(exc).__name__}")
    return FlowStats(bridge, tuple(replies), time.monotonic())


# --------------------------------------------------------------------------
# Port counters and port numbers.

_PORT_LINE = re.compile(r'\s*port\s+("(?:[^"\\]|\\.)*"|[^\s:]+):\s*rx\s+(.*)$')
_TX_LINE = re.compile(r"\s*tx\s+(.*)$")
_COUNTER = re.compile(r"([a-z]+)=([0-9]+|\?)", re.ASCII)
_SHOW_PORT = re.compile(r"\s*([0-9]{1,10}|LOCAL)\((.*)\): addr:", re.ASCII)


def _counters(text: str) -> dict[str, int | None]:
    """'pkts=1, bytes=?' -> {'pkts': 1, 'bytes': None}; '?' means the port cannot count it."""
    return {
        name: int(value) if value != "?" and len(value) <= 20 else None
        for name, value in _COUNTER.findall(text)
    }


def parse_dump_ports(bridge: str, text: str) -> tuple[PortCounters, ...]:
    """Every port of one ``dump-ports`` output; lines it does not know are skipped."""
    ports = []
    rx: dict[str, int | None] | None = None
    name = ""
    for line in text.split("\n"):
        port = _PORT_LINE.match(line)
        if port is not None:
            if rx is not None:
                ports.append(_port_counters(bridge, name, rx, {}))
            name, rx = _unquote(port.group(1)), _counters(port.group(2))
            continue
        tx = _TX_LINE.match(line)
        if tx is not None and rx is not None:
            ports.append(_port_counters(bridge, name, rx, _counters(tx.group(1))))
            rx = None
    if rx is not None:
        ports.append(_port_counters(bridge, name, rx, {}))
    return tuple(ports)


def _port_counters(bridge: str, port: str, rx: dict, tx: dict) -> PortCounters:
    return PortCounters(
        bridge=bridge,
        port=port,
        rx_packets=rx.get("pkts"),
        rx_bytes=rx.get("bytes"),
        rx_dropped=rx.get("drop"),
        rx_errors=rx.get("errs"),
        tx_packets=tx.get("pkts"),
        tx_bytes=tx.get("bytes"),
        tx_dropped=tx.get("drop"),
        tx_errors=tx.get("errs"),
    )


def parse_ofctl_show(text: str) -> dict[int | str, str]:
    """Port numbers to names from ``ovs-ofctl show`` (for dumps made with --no-names).

    OVS 3.1 prints an empty name for a port whose name is not ASCII
    ("7()"); such ports are left out rather than mapped to "".
    """
    ports: dict[int | str, str] = {}
    for line in text.split("\n"):
        found = _SHOW_PORT.match(line)
        if found and found.group(2):
            number = found.group(1)
            ports[number if number == "LOCAL" else int(number)] = found.group(2)
    return ports


# --------------------------------------------------------------------------
# Running ovs-ofctl.


async def _ofctl(
    command: str, bridge: str, rundir: str | None, timeout: float
) -> tuple[str | None, str | None]:
    """(stdout, None) or (None, what went wrong and what to do).

    The output goes to a memory file, not a pipe: for a 100k-flow dump
    (18 MB) reading a pipe through asyncio cost us 0.11-0.17 s of CPU and
    ovs-ofctl 0.47-0.79 s (small writes, one wake-up each); into a memfd
    it costs us 0.02 s and ovs-ofctl 0.47 s, as much as writing to /dev/null.
    """
    # "--": a bridge named like an option (--log-file=...) stays a bridge name
    args = [OFCTL, "--read-only", "--names", "--", command, bridge]
    env = None if rundir is None else {**os.environ, "OVS_RUNDIR": str(rundir)}
    where = rundir or os.environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR
    out = os.memfd_create(f"{OFCTL} {command}", os.MFD_CLOEXEC)
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError:
            return None, (
                f"{OFCTL} was not found: install Open vSwitch (package openvswitch-switch) "
                f"or put {OFCTL} on PATH."
            )
        except OSError as exc:
            return None, (
                f"{OFCTL} could not be started ({exc.strerror}): "
                f"check that it is installed and executable."
            )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            return None, (
                f"{OFCTL} {command} {bridge} gave no answer within {timeout:g} s: "
                f"check that ovs-vswitchd is running and not overloaded."
            )
        finally:
            if proc.returncode is None:  # timed out or cancelled: never leave it behind
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            return None, (
                f"{OFCTL} {command} {bridge} failed ({why}): check that ovs-vswitchd is "
                f"running, that bridge {bridge} exists and that its run directory is {where} "
                f"(set OVS_RUNDIR or the rundir option otherwise)."
            )
        return os.pread(out, os.fstat(out).st_size, 0).decode("utf-8", "replace"), None
    finally:
        os.close(out)


@dataclass(frozen=True, slots=True)
class DumpText:
    """One bridge's ``dump-flows`` output, unread (``FlowTable.update_text`` reads it)."""

    bridge: str
    text: str
    taken_at: float  # time.monotonic() when the dump was complete
    error: str | None = None  # what went wrong and what to do; text is "" then


async def dump_flows_text(bridge: str, *, rundir: str | None = None,
                          timeout: float = 5.0) -> DumpText:
    """The bridge's flows now, as ovs-ofctl printed them; a failure is ``error``."""
    text, error = await _ofctl("dump-flows", bridge, rundir, timeout)
    return DumpText(bridge, text or "", time.monotonic(), error)


async def dump_flows(bridge: str, *, rundir: str | None = None, timeout: float = 5.0) -> FlowDump:
    """The bridge's flows now; a failure comes back as ``FlowDump.error``, never raised."""
    raw = await dump_flows_text(bridge, rundir=rundir, timeout=timeout)
    if raw.error is not None:
        return FlowDump(bridge, (), raw.taken_at, error=raw.error)
    return parse_dump(bridge, raw.text, raw.taken_at)


async def dump_ports(
    bridge: str, *, rundir: str | None = None, timeout: float = 5.0
) -> tuple[PortCounters, ...] | str:
    """The bridge's port counters now, or a sentence saying what went wrong."""
    text, error = await _ofctl("dump-ports", bridge, rundir, timeout)
    if error is not None:
        return error
    return parse_dump_ports(bridge, text)


STATS_RETRY = 60.0  # seconds before trying flow statistics again on a bridge that refused


async def refresh_table(table: FlowTable, *, rundir: str | None = None,
                        timeout: float = 5.0) -> tuple[FlowDelta, str | None]:
    """Bring ``table`` up to date with its bridge: (what changed, what went wrong or None).

    Counters come from flow statistics while the flows are those of the last
    text dump; otherwise (first time, a flow added, deleted or modified, or a
    bridge that speaks no OpenFlow 1.3/1.4) ovs-ofctl dumps the text and only
    changed lines are read. The statistics taken before that dump and those
    of the next refresh tell which entry is which flow again.
    """
    bridge = table.bridge
    stats = None
    if time.monotonic() - table.stats_refused_at >= STATS_RETRY:
        stats = await flow_stats(bridge, rundir=rundir, timeout=timeout)
        if stats.error is not None:
            log.debug("flow statistics of %s: %s", bridge, stats.error)
            table.stats_refused_at = time.monotonic()
            stats = None
        else:
            delta = table.update_stats(stats)
            if delta is not None:
                return delta, None
    raw = await dump_flows_text(bridge, rundir=rundir, timeout=timeout)
    if raw.error is not None:
        return table.update(FlowDump(bridge, (), raw.taken_at, error=raw.error)), raw.error
    return table.update_text(raw.text, raw.taken_at, stats_before=stats), None
