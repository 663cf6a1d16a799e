"""The switch's flow statistics over the bridge's management socket, read-only:
OpenFlow 1.3/1.4 HELLO, one flow statistics request, its replies.

The only module that knows the messages' byte offsets. ovs-ofctl spends
~5 us of CPU printing each flow (0.27 s for 50k flows, a quarter of a core at
one refresh a second) where the switch sends the same statistics in 0.07 s.
No maintained Python library reads OpenFlow 1.3 (python-ovs has none; os-ken
pulls in a controller framework), and this needs three messages. The text
dump stays the source of every flow's text; the statistics only give
counters, entry N being flow N of the last text dump (``FlowTable``).
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from array import array
from dataclasses import dataclass
from typing import Callable, Sequence

from collectors.openflow.ofctl import run_dir
from model.records import Flow

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


class Said:
    """What the switch said of each flow of a text dump, compact: ~27 bytes a
    flow where the entries themselves took ~150 (30 MB at 200k flows).

    Entry N keeps its table, priority and cookie, a hash of its bytes from
    _SAID (they change only with its counters or the flow) and a hash of its
    bytes from _ENTRY (its match and instructions: the flow itself). Python's
    64-bit hash of bytes: an entry that changed and still hashes the same is
    a chance of 2^-64 per change. ``entries`` is updated in place
    (FlowTable.update_stats); the table owns it, it is never handed out.
    """

    __slots__ = ("tables", "priorities", "cookies", "entries", "flows")

    def __init__(self) -> None:
        self.tables = bytearray()
        self.priorities = array("H")
        self.cookies = array("Q")
        self.entries = array("q")
        self.flows = array("q")

    def __len__(self) -> int:
        return len(self.tables)


class Scan:
    """Flow statistics read reply by reply as they come, against what the switch
    ``said`` of each of ``flows`` (entry N is flow N): only what differs is
    kept, and from the first reply holding an entry that is not the flow at
    its place (with no ``said``, from the first), what they say in compact
    form (``as_said``). No reply is kept: a 200k-flow table's are 25 MB.

    An entry the switch words as last time (its duration aside) costs a
    slice and its hash, ~0.45 us (comparing it with a kept copy was ~0.35 us,
    for 5x the memory)."""

    def __init__(self, said: Said | None, flows: Sequence[Flow]) -> None:
        self.said, self.flows = said, flows
        self.read = 0  # entries read and found to be the flows at their places
        # (place, the hash of the entry now, (packets, bytes, duration) if the
        # counters are not the flow's) for each entry worded otherwise
        self.changes: list[tuple[int, int, tuple[int, int, float] | None]] = []
        # the first entry of the first reply not compared (one held an entry
        # that is not its flow); None while every entry was its flow
        self.kept_from: int | None = None if said is not None else 0
        self._said_now = Said()  # what the statistics said, once kept_from is set

    def feed(self, reply: bytes) -> None:
        if self.kept_from is None and not self._compare(reply):
            self.kept_from = self.read
            self._said_now = self._compared()
        if self.kept_from is not None:
            _add(self._said_now, reply)

    def _compare(self, reply: bytes) -> bool:
        """Take one reply's changes; False (nothing taken) when an entry is not its flow."""
        said, flows = self.said, self.flows
        entries, tables, count = said.entries, said.tables, len(said)
        out = []
        n = self.read
        at, end = _MULTIPART_HEADER, len(reply)
        while at + _ENTRY <= end:
            length = reply[at] << 8 | reply[at + 1]
            if n >= count or length < _ENTRY:
                return False
            now = hash(reply[at + _SAID:at + length])
            if now != entries[n] or reply[at + 2] != tables[n]:
                # Its counters moved, or it is another flow.
                _, table, seconds, nanoseconds, priority, cookie, packets, nbytes = \
                    _ENTRY_HEAD.unpack_from(reply, at)
                flow = flows[n]
                if table != flow.table or priority != flow.priority \
                        or cookie != flow.cookie \
                        or hash(reply[at + _ENTRY:at + length]) != said.flows[n]:
                    return False
                counted = None
                if packets != flow.n_packets or nbytes != flow.n_bytes:
                    counted = (packets, nbytes, seconds + nanoseconds / 1e9)
                out.append((n, now, counted))
            at += length
            n += 1
        self.changes += out
        self.read = n
        return True

    def result(self) -> list[tuple[int, int, tuple[int, int, float] | None]] | None:
        """The changes, when every entry was the flow at its place; else None."""
        if self.kept_from is not None or self.said is None or self.read != len(self.said):
            return None
        return self.changes

    def as_said(self) -> Said:
        """What these statistics said of each flow (to tell, with the next
        ones, which entry is which flow of a text dump taken just after)."""
        return self._compared() if self.kept_from is None else self._said_now

    def _compared(self) -> Said:
        """What the entries compared so far said: ``said`` with their changes."""
        out = Said()
        upto, old = self.read, self.said
        if old is not None and upto:
            out.tables, out.priorities = old.tables[:upto], old.priorities[:upto]
            out.cookies, out.entries, out.flows = old.cookies[:upto], old.entries[:upto], \
                old.flows[:upto]
            for n, now, _ in self.changes:
                out.entries[n] = now
        return out


def _add(out: Said, reply: bytes) -> None:
    at, end = _MULTIPART_HEADER, len(reply)
    while at + _ENTRY <= end:
        length, table, _, _, priority, cookie, _, _ = _ENTRY_HEAD.unpack_from(reply, at)
        if length < _ENTRY:
            return
        out.tables.append(table)
        out.priorities.append(priority)
        out.cookies.append(cookie)
        out.entries.append(hash(reply[at + _SAID:at + length]))
        out.flows.append(hash(reply[at + _ENTRY:at + length]))
        at += length


def scanned(stats: FlowStats, said: Said | None, flows: Sequence[Flow]) -> Scan:
    """``stats`` read whole (the replies were kept) by a Scan."""
    scan = Scan(said, flows)
    for reply in stats.replies:
        scan.feed(reply)
    return scan


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


async def flow_stats(bridge: str, *, rundir: str | None = None, timeout: float = 5.0,
                     on_reply: Callable[[bytes], None] | None = None) -> FlowStats:
    """The bridge's flow statistics now, read-only (a request and its replies).

    ``on_reply``: given each reply as it comes (a Scan's feed), which is then
    not kept: the record's replies are empty."""
    path = os.path.join(run_dir(rundir), f"{bridge}.mgmt")
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
                        if on_reply is None:
                            replies.append(message)
                        else:
                            on_reply(message)
                        if not message[11] & 1:  # no OFPMPF_REPLY_MORE: the last one
                            break
            finally:
                writer.close()
    except (OSError, EOFError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
        return FlowStats(bridge, (), time.monotonic(), error=f"{path}: {exc or type(exc).__name__}")
    return FlowStats(bridge, tuple(replies), time.monotonic())
