"""One ``dump-flows`` line split into a flow's key and counters, fast.

A refresh of a busy bridge reads thousands of these lines, so this is a few
string operations and one regex, not a parser (~5 us a line, of which 1.5 us
is the frozen ``Flow`` constructor). The full parse is detail.py's.
"""

from __future__ import annotations

import json
import re

from model.records import Flow, FlowDump

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
FLOW_REPLY_HEADERS = ("NXST_FLOW reply", "OFPST_FLOW reply")

# A port name as ovs-ofctl --names prints it: double-quoted, with JSON-style
# backslash escapes (seen on OVS 3.1: "q\"x", "b\\q", "a b,c", "ü(x)=y").
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def printed_name(text: str) -> str:
    """The port name behind its printed form: without the quotes and escapes."""
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
        closing = QUOTED.match(rest, quote)
        if closing is None:
            return -1
        pos = closing.end()


def parse_flow_line(bridge: str, line: str, seen_at: float | None = None,
                    repeated: dict | None = None) -> Flow | None:
    """Split one ``dump-flows`` line into key and counters, or None if it is not one.

    ``seen_at`` is when the dump was taken (the time its duration is as of).
    ``repeated``: one copy of each actions text and cookie, updated here (a
    firewall's 200k flows have ~2k different actions, 16 MB of copies, and
    a few cookies, 7 MB of copies).
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
    actions, cookie = actions.rstrip(), int(cookie, 16)
    if repeated is not None:
        actions, cookie = repeated.setdefault(actions, actions), repeated.setdefault(cookie, cookie)
    return Flow(
        bridge, int(table), priority, cookie, match, actions,
        int(n_packets), int(n_bytes), float(duration), seen_at,
    )


def parse_dump(bridge: str, text: str, taken_at: float) -> FlowDump:
    """All flows of one ``dump-flows`` output; lines that are not flows are kept raw."""
    reader = DumpReader(bridge, taken_at)
    reader.feed(text)
    return reader.finish()


class DumpReader:
    """parse_dump fed in runs of whole lines while ovs-ofctl prints them, for a
    reading no refresh follows (``refresh_table(once=True)``): a ``FlowTable``'s
    own reader also keeps what the next dump is compared with (at 50k flows
    ~0.14 s of CPU more than this)."""

    def __init__(self, bridge: str, taken_at: float) -> None:
        self.bridge, self.taken_at = bridge, taken_at
        self._flows: list[Flow] = []
        self._unparsed: list[str] = []
        self._actions: dict[str, str] = {}  # one copy of each actions text

    def feed(self, text: str) -> None:
        """Whole lines (the last one may lack its newline only in the last run)."""
        bridge, taken_at, actions = self.bridge, self.taken_at, self._actions
        flows, unparsed = self._flows, self._unparsed
        for line in text.split("\n"):
            flow = parse_flow_line(bridge, line, taken_at, actions)
            if flow is not None:
                flows.append(flow)
            elif line.strip() and not line.startswith(FLOW_REPLY_HEADERS):
                unparsed.append(line.rstrip("\r"))

    def finish(self) -> FlowDump:
        return FlowDump(self.bridge, tuple(self._flows), self.taken_at, tuple(self._unparsed))
