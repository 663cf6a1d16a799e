"""OpenFlow flows and port counters of one bridge, read with ``ovs-ofctl``.

A refresh only splits each ``dump-flows`` line into its key and counters
(``parse_flow_line``: one regex and a few str methods); the full parse with
python-ovs's ``OFPFlow`` (``flow_detail``) runs at most once per flow, the
first time someone asks ``FlowTable`` for it. Measured with timeit on the dev
box (2 cores, Python 3.11, ``sum(range(100))`` takes 0.8 us) over the seed's
44 lines plus 50,000 generated from them: ``parse_flow_line`` 3.9 us/flow, of
which 1.3 us is the frozen ``Flow`` constructor; ``parse_dump`` 4.5 us/flow
(0.23 s for 50k lines); ``FlowTable.update`` 1.1-1.7 us/flow; ``flow_detail``
66 us/flow with OFPFlow, 15 us/flow in its regex fallback. A 50k-flow refresh
thus costs ~0.3 s, where fully parsing every flow would cost ~3.3 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Mapping

from ovs.flow.ofp import OFPFlow

from collectors.records import (
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


def parse_flow_line(bridge: str, line: str) -> Flow | None:
    """Split one ``dump-flows`` line into key and counters, or None if it is not one."""
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
        int(n_packets), int(n_bytes), float(duration),
    )


def parse_dump(bridge: str, text: str, taken_at: float) -> FlowDump:
    """All flows of one ``dump-flows`` output; lines that are not flows are kept raw."""
    flows = []
    unparsed = []
    for line in text.split("\n"):
        flow = parse_flow_line(bridge, line)
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
        elif key == "load" and "value" in value:
            dst = value["dst"]
            reg = _REG_NXM.fullmatch(dst["field"])
            start = dst.get("start", 0)
            if reg and start < 32:  # registers are 32 bits wide
                name = f"reg{reg.group(1)}"
                loads[name] = loads.get(name, 0) | value["value"] << start
            elif dst["field"] in ("OXM_OF_VLAN_VID", "NXM_OF_VLAN_TCI") and not dst.get("start"):
                detail["set_vlan"] = value["value"] & 0xFFF
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
_RX_UNTAGGED = re.compile(r"(?:^|,)vlan_tci=0x0000(?:/0x1fff)?(?:,|$)")
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

    ``update`` costs one dict lookup per flow and parses nothing; a flow's
    ``flow_detail`` runs the first time it is asked for, is kept while the
    flow exists and is dropped when the flow goes.
    """

    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self.dump: FlowDump | None = None  # the last good dump
        self._flows: dict[FlowKey, Flow] = {}
        self._details: dict[FlowKey, FlowDetail] = {}

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
        """Take a new dump; a failed dump changes nothing (flows are not "gone")."""
        if dump.bridge != self.bridge:
            raise ValueError(f"dump of {dump.bridge!r} given to the table of {self.bridge!r}")
        if dump.error is not None:
            return FlowDelta(self.bridge, 0.0)
        interval = dump.taken_at - self.dump.taken_at if self.dump is not None else 0.0
        previous = self._flows
        flows = {flow.key: flow for flow in dump.flows}
        moved: dict[FlowKey, tuple[int, int]] = {}
        reset = set()
        for key, flow in flows.items():
            old = previous.get(key)
            if old is None:
                continue
            if (
                flow.duration < old.duration
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
        new = flows.keys() - previous.keys()
        gone = previous.keys() - flows.keys()
        for key in gone:
            self._details.pop(key, None)
        self._flows = flows
        self.dump = dump
        return FlowDelta(
            self.bridge, interval, frozenset(new), frozenset(gone), frozenset(reset),
            frozen_map(moved),
        )


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
    """(stdout, None) or (None, what went wrong and what to do)."""
    args = [OFCTL, "--read-only", "--names", command, bridge]
    env = None if rundir is None else {**os.environ, "OVS_RUNDIR": str(rundir)}
    where = rundir or os.environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
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
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
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
            f"{OFCTL} {command} {bridge} failed ({why}): check that ovs-vswitchd is running, "
            f"that bridge {bridge} exists and that its run directory is {where} "
            f"(set OVS_RUNDIR or the rundir option otherwise)."
        )
    return out.decode("utf-8", "replace"), None


async def dump_flows(bridge: str, *, rundir: str | None = None, timeout: float = 5.0) -> FlowDump:
    """The bridge's flows now; a failure comes back as ``FlowDump.error``, never raised."""
    text, error = await _ofctl("dump-flows", bridge, rundir, timeout)
    taken_at = time.monotonic()
    if error is not None:
        return FlowDump(bridge, (), taken_at, error=error)
    return parse_dump(bridge, text, taken_at)


async def dump_ports(
    bridge: str, *, rundir: str | None = None, timeout: float = 5.0
) -> tuple[PortCounters, ...] | str:
    """The bridge's port counters now, or a sentence saying what went wrong."""
    text, error = await _ofctl("dump-ports", bridge, rundir, timeout)
    if error is not None:
        return error
    return parse_dump_ports(bridge, text)
