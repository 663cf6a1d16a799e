"""A bridge's ``FlowTable`` brought up to date at each refresh, as cheaply as
the switch allows: statistics while the flows are unchanged, the text otherwise."""

from __future__ import annotations

import logging
import time
from typing import Callable

from collectors.openflow import ofctl
from collectors.openflow.lines import DumpReader
from collectors.openflow import stats as wire
from collectors.openflow.table import FlowDelta, FlowTable
from model.records import FlowDump

log = logging.getLogger(__name__)

STATS_RETRY = 60.0  # seconds before trying flow statistics again on a bridge that refused


async def refresh_table(table: FlowTable, *, rundir: str | None = None,
                        timeout: float = 5.0, once: bool = False, stats: bool = True,
                        pause: Callable[[], None] | None = None
                        ) -> tuple[FlowDelta, str | None]:
    """Bring ``table`` up to date with its bridge: (what changed, what went wrong or None).

    Counters come from flow statistics while the flows are those of the last
    text dump; otherwise (first time, a flow added, deleted or modified, or a
    bridge that speaks no OpenFlow 1.3/1.4) ovs-ofctl dumps the text and only
    changed lines are read. The statistics taken before that dump and those
    of the next refresh tell which entry is which flow again.

    ``once``: a reading no refresh follows (``snapshot``): the text dump alone,
    read without what the next one is compared with (lines.DumpReader); the
    statistics taken before it would only serve the next one too (at 50k flows
    they cost ~0.2 s of CPU and delay the dump by their wall time).

    ``stats=False``: a first dump wanted soonest (the TUI's first frame with
    counters): the text alone, without statistics before it; the refresh
    after it dumps the text again with them, to line them up.

    ``pause``: called before each statistics reply and each run of the text
    is read, where the caller may let another thread go first.
    """
    bridge = table.bridge
    scan = None
    if stats and not once and time.monotonic() - table.stats_refused_at >= STATS_RETRY:
        # read as they come: a busy bridge's replies are never all held (200k flows: 25 MB)
        scan = table.stats_reader()
        feed = scan.feed if pause is None else (lambda reply: (pause(), scan.feed(reply)))
        stats = await wire.flow_stats(bridge, rundir=rundir, timeout=timeout, on_reply=feed)
        if stats.error is not None:
            log.debug("flow statistics of %s: %s", bridge, stats.error)
            table.stats_refused_at = time.monotonic()
            scan = None
        else:
            delta = table.take_stats(scan, stats.taken_at)
            if delta is not None:
                return delta, None
    # The dump is read while ovs-ofctl prints it; its lines' time is when the
    # first of them came (the switch had answered by then).
    reader = None

    new_reader = (lambda at: DumpReader(bridge, at)) if once else table.text_reader

    def read(lines: str) -> None:
        nonlocal reader
        if pause is not None:
            pause()
        if reader is None:
            reader = new_reader(time.monotonic())
        reader.feed(lines)

    raw = await ofctl.dump_flows_text(bridge, rundir=rundir, timeout=timeout, on_output=read)
    if raw.error is not None:  # what was read is dropped: the table is as it was
        return table.update(FlowDump(bridge, (), raw.taken_at, error=raw.error)), raw.error
    if reader is None:
        reader = new_reader(raw.taken_at)
    if once:
        return table.update(reader.finish()), None
    return reader.finish(stats_before=scan), None
