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

Memory (the bench's 200k firewall flows, tracemalloc): ~290 bytes a flow,
kept once in the table's last dump (the Flow, its match text, its duration;
actions texts and cookies shared), plus ~27 bytes of what the statistics
said of it (hashes in arrays). Statistics replies are read as they come and
not kept; a dump's text is read in runs of at most 1 MiB.

One job per module: lines.py (the fast line split), detail.py (the full
parse, the one call of OFPFlow), table.py (FlowTable/FlowDelta), stats.py
(the OpenFlow 1.3/1.4 statistics client, the only one that knows byte
offsets), ports.py (dump-ports and show), ofctl.py (running ovs-ofctl),
refresh.py (refresh_table). The names below are the package's public ones.
"""

from collectors.openflow.detail import flow_detail, flow_fields
from collectors.openflow.lines import DEFAULT_PRIORITY, parse_dump, parse_flow_line
from collectors.openflow.ofctl import (
    DEFAULT_RUNDIR,
    OFCTL,
    DumpText,
    dump_flows,
    dump_flows_text,
    dump_ports,
    mgmt_bridges,
)
from collectors.openflow.ports import parse_dump_ports, parse_ofctl_show
from collectors.openflow.refresh import STATS_RETRY, refresh_table
from collectors.openflow.stats import FlowStats, flow_stats
from collectors.openflow.table import FlowDelta, FlowTable

__all__ = [
    "DEFAULT_PRIORITY", "DEFAULT_RUNDIR", "OFCTL", "STATS_RETRY", "DumpText", "FlowDelta",
    "FlowStats", "FlowTable", "dump_flows", "dump_flows_text", "dump_ports", "flow_detail",
    "flow_fields", "flow_stats", "mgmt_bridges", "parse_dump", "parse_dump_ports", "parse_flow_line",
    "parse_ofctl_show", "refresh_table",
]
