"""One bridge's flows across refreshes: what changed, moved or went since the
last dump, read from the text or from the switch's flow statistics.

``update_stats`` and ``update_text`` only read what changed since the last
dump; a flow's full parse (detail.py) runs the first time it is asked for.
Which statistics entry is which flow is stats.py's business: this module
knows no byte offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from collectors.openflow import stats as wire
from collectors.openflow.detail import flow_detail
from collectors.openflow.lines import FLOW_REPLY_HEADERS, parse_flow_line
from collectors.openflow.stats import FlowStats
from model.records import EMPTY_MAP, Flow, FlowDetail, FlowDump, FlowKey, Layout, frozen_map


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


class TextReader:
    """One dump's text read as it comes (FlowTable.text_reader): whole lines fed in
    runs, then ``finish`` takes the dump into the table and says what changed."""

    def __init__(self, reading) -> None:
        self._reading = reading
        next(reading)

    def feed(self, lines: str) -> None:
        """Whole lines (the last one may lack its newline only in the last run)."""
        self._reading.send(lines)

    def finish(self, stats_before: FlowStats | wire.Scan | None = None) -> FlowDelta:
        self._reading.send(None)
        try:
            self._reading.send(stats_before)
        except StopIteration as done:
            return done.value
        raise RuntimeError("a dump's reading did not end")  # never: the generator returns


class FlowTable:
    """One bridge's flows across refreshes, with each flow's full parse cached.

    ``update_stats`` and ``update_text`` only read what changed since the
    last dump; a flow's ``flow_detail`` runs the first time it is asked for,
    is kept while the flow exists and is dropped when the flow goes.

    The flows are kept once, in ``dump``, with no index by FlowKey: at 200k
    flows the keys and the dict took 26 MB, and a refresh finds each flow at
    its place in the last dump (an index is built for a dump only when a
    flow is not near its place, and dropped after it).
    """

    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self.dump: FlowDump | None = None  # the last good dump
        self._details: dict[FlowKey, FlowDetail] = {}
        # The last dump's text, flow N being printed as heads[N], a duration,
        # mids[N], its match, " actions=", its actions (see _printed). Both
        # lists are empty when the text is not known (after update()).
        self._heads: list[str] = []
        self._mids: list[str] = []
        self._strings: dict[str, str] = {}  # one copy of each head and mid text
        self._repeated: dict = {}  # one copy of each actions text and cookie (parse_flow_line)
        # What the switch's flow statistics last said of flow N of the last
        # dump (stats.Said); None until statistics taken before and after a
        # text dump agreed with it (_line_up).
        self._said: wire.Said | None = None
        self._before: wire.Said | None = None  # statistics taken just before the last text dump
        self.stats_refused_at = float("-inf")  # when the bridge last refused statistics

    def _last(self) -> tuple[Flow, ...]:
        return self.dump.flows if self.dump is not None else ()

    def detail(self, key: FlowKey) -> FlowDetail | None:
        """The full parse of a flow of the last dump; None for a key it does not hold.
        O(flows): the model asks ``detail_of`` with the flow in hand."""
        flow = next((f for f in self._last() if f.key == key), None)
        return None if flow is None else self.detail_of(flow)

    def detail_of(self, flow: Flow) -> FlowDetail:
        """The full parse of a flow (the model asks for flows of the last dump),
        cached until the flow goes."""
        key = flow.key
        cached = self._details.get(key)
        if cached is not None:
            return cached
        detail = self._details[key] = flow_detail(flow)
        return detail

    def keys(self) -> frozenset[FlowKey]:
        """The flows of the last good dump."""
        return frozenset(f.key for f in self._last())

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
        last = {flow.key: flow for flow in self._last()}
        self._heads, self._mids, self._said = [], [], None  # text and statistics unknown
        self._before = None
        before = self._last()
        same = self.dump is not None and len(dump.flows) == len(before) and all(
            a.key == b.key and a.actions == b.actions for a, b in zip(dump.flows, before))
        dump = replace(dump, layout=self.dump.layout if same else Layout())
        return self._take(dump, [(last.get(key), flow) for key, flow in flows.items()],
                          last.keys() - flows.keys())

    def update_text(self, text: str, taken_at: float,
                    stats_before: FlowStats | wire.Scan | None = None) -> FlowDelta:
        """Take ``dump-flows`` output, reading only the lines that changed.

        The same as ``text_reader(taken_at)``, fed ``text``, then finished.

        ``stats_before``: flow statistics taken just before this dump (or a
        Scan that read them as they came); with
        the next statistics (taken after it) they tell which entry is which
        flow, so update_stats can take counters from statistics from then on.

        ovs-ofctl prints an unchanged table in the same order every time, so
        each line is first compared with the line at its place in the last
        dump: if they differ only in duration, the flow and its counters are
        the same and its Flow is kept (~0.4 us a line, where reading it costs
        ~5 us). Other lines are read and diffed by flow identity; an added or
        deleted flow shifts the places, and the comparison follows the shift.
        """
        reader = self.text_reader(taken_at)
        reader.feed(text)
        return reader.finish(stats_before)

    def text_reader(self, taken_at: float) -> TextReader:
        """Read a dump while ovs-ofctl prints it: ``feed`` whole lines as they come,
        then ``finish``. Nothing in the table changes before ``finish``."""
        return TextReader(self._read_text(taken_at))

    def _read_text(self, taken_at: float):
        """update_text's reading, as a generator sent runs of whole lines, then None;
        sent ``stats_before`` after that, it takes the dump and returns the delta."""
        last = self._last()
        previous = last if self._heads else ()  # flows whose text is known
        heads, mids, count, total = self._heads, self._mids, len(previous), len(last)
        strings, repeated = self._strings, self._repeated
        new_heads: list[str] = []
        new_mids: list[str] = []
        flows: list[Flow] = []
        unparsed: list[str] = []
        read: list[tuple[Flow | None, Flow]] = []  # (the flow in the last dump, now)
        where: dict[FlowKey, int] | None = None  # place in last, built when needed
        place = 0  # where the next line is expected in last
        seen = 0  # flows of the last dump met again
        in_place = True  # every flow read so far was where it was in the last dump
        while True:
            text = yield
            if text is None:
                break
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
                flow = parse_flow_line(self.bridge, line, taken_at, repeated)
                if flow is None:
                    if line.strip() and not line.startswith(FLOW_REPLY_HEADERS):
                        unparsed.append(line.rstrip("\r"))
                    continue
                # Counters moved, the flow is not where it was, or it is new.
                key = flow.key
                ahead = next((n for n in range(place, min(place + 8, total))
                              if last[n].key == key), None)
                if ahead is None and total:
                    if where is None:
                        where = {f.key: n for n, f in enumerate(last)}
                    ahead = where.get(key)
                if ahead != place or last[ahead].actions != flow.actions:
                    in_place = False  # moved, new, or modified: another layout
                if ahead is not None:
                    seen += 1
                    place = ahead + 1
                head, mid = _printed(line, flow)
                new_heads.append(strings.setdefault(head, head))
                new_mids.append(strings.setdefault(mid, mid))
                flows.append(flow)
                read.append((None if ahead is None else last[ahead], flow))
        stats_before = yield
        # A dump lists each flow once: meeting as many old flows as there were means none went.
        gone = set() if seen == total else \
            (where.keys() if where is not None else {f.key for f in last}) \
            - {f.key for f in flows}
        if len(strings) > 4 * len(flows) + 1000:
            self._strings = {s: s for s in new_heads + new_mids}
        if len(repeated) > 2 * len(flows) + 1000:
            self._repeated = {f.actions: f.actions for f in flows}
            self._repeated.update((f.cookie, f.cookie) for f in flows)
        self._heads, self._mids = new_heads, new_mids
        self._said = None  # until statistics before and after agree with this text
        # kept compact: the replies themselves are ~150 bytes a flow
        if isinstance(stats_before, wire.Scan):
            self._before = stats_before.as_said()
        elif stats_before is not None and stats_before.error is None:
            self._before = wire.scanned(stats_before, None, ()).as_said()
        else:
            self._before = None
        same = in_place and seen == total == len(flows) and self.dump is not None
        dump = FlowDump(self.bridge, tuple(flows), taken_at, tuple(unparsed),
                        layout=self.dump.layout if same else Layout())
        return self._take(dump, read, gone)

    @property
    def lined_up(self) -> bool:
        """Whether update_stats can read counters from the switch's flow statistics."""
        return self._said is not None

    def _compared_with(self) -> wire.Said | None:
        """What new statistics are read against: what the switch said of each
        flow once lined up; before that, the statistics taken just before
        the last text dump, if they name its flows.

        The switch answers each request in one go and lists flows in the
        same order every time, so when statistics taken before and after a
        text dump name the same flows, each entry's table, priority and
        cookie being those of the flow at its place, entry N is the dump's
        flow N.
        """
        if self.dump is None or self._said is not None:
            return self._said
        before, flows = self._before, self.dump.flows
        if before is None or len(self._heads) != len(flows) or len(before) != len(flows):
            return None
        for flow, table, priority, cookie in zip(flows, before.tables, before.priorities,
                                                 before.cookies):
            if flow.table != table or flow.priority != priority or flow.cookie != cookie:
                return None
        return before

    def stats_reader(self) -> wire.Scan:
        """Read flow statistics reply by reply as they come
        (``wire.flow_stats(on_reply=scan.feed)``), then ``take_stats``."""
        return wire.Scan(self._compared_with(), self.dump.flows if self.dump is not None else ())

    def update_stats(self, stats: FlowStats) -> FlowDelta | None:
        """``take_stats`` of statistics read whole."""
        if stats.error is not None:
            self._before = None
            return None
        return self.take_stats(wire.scanned(stats, self._compared_with(),
                                            self.dump.flows if self.dump is not None else ()),
                               stats.taken_at)

    def take_stats(self, scan: wire.Scan, taken_at: float) -> FlowDelta | None:
        """Take new counters from flow statistics; None (nothing taken) when the
        flows are not the ones of the last text dump any more (or nothing
        tells which entry is which flow yet).

        Only flows whose counters moved get a new Flow. ovs-ofctl alone
        spends ~5 us printing a flow.
        """
        self._before = None
        read = scan.result()
        if read is None or self.dump is None or scan.flows is not self.dump.flows:
            return None
        self._said = said = scan.said  # lined up, if it was not yet
        now = list(self.dump.flows)
        changed = []
        for n, entry, counted in read:
            said.entries[n] = entry
            if counted is None:
                continue
            packets, nbytes, duration = counted
            old = now[n]
            flow = Flow(old.bridge, old.table, old.priority, old.cookie, old.match, old.actions,
                        packets, nbytes, duration, taken_at)
            now[n] = flow
            self._mids[n] = _with_counters(self._mids[n], packets, nbytes)
            changed.append((old, flow))
        return self._take(FlowDump(self.bridge, tuple(now), taken_at, self.dump.unparsed,
                                   layout=self.dump.layout), changed, ())

    def _take(self, dump: FlowDump, changed: list[tuple[Flow | None, Flow]], gone) -> FlowDelta:
        """Diff the flows that may have changed (each with its flow in the last dump,
        None for a new one) against the last dump, then keep ``dump``."""
        then = self.dump.taken_at if self.dump is not None else dump.taken_at
        new = []
        moved: dict[FlowKey, tuple[int, int]] = {}
        reset = set()
        for old, flow in changed:
            key = flow.key
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
        details = self._details
        for key in gone:
            details.pop(key, None)
        if len(details) > len(dump.flows):  # asked for flows not in the table: keep it bounded
            held = {f.key for f in dump.flows}
            self._details = {k: d for k, d in details.items() if k in held}
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
