"""``ovsvlan-tui trace``: one packet from a vNIC (or toward it), for scripts and tickets.

Reads the node once (as ``snapshot`` does) to know the port, its VLAN and
NIC, then asks ovs-vswitchd for one read-only ``ofproto/trace``.
Exit status: 0 the packet gets where it was sent, 1 it does not (or the node
could not be read), 2 bad input.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console

from collectors import appctl
from collectors.endpoints import Endpoints
from model import trace as tracemod
from node.once import collect_once
from widgets.trace_text import trace_text


def run_trace(endpoints: Endpoints, *, port: str, to: str, proto: str, from_wire: bool,
              src: str | None, to_mac: str | None, as_json: bool) -> int:
    model = collect_once(endpoints)
    try:
        req = tracemod.request_for(model, port, to, proto, from_wire=from_wire, src_ip=src,
                                   to_mac=to_mac)
    except tracemod.TraceInputError as e:
        print(f"ovsvlan-tui: trace: {e}", file=sys.stderr)
        return 2
    try:
        trace, dpif = appctl.trace(endpoints.ovs_rundir, req.args())
    except appctl.AppctlError as e:
        print(f"ovsvlan-tui: trace: {e}", file=sys.stderr)
        return 1
    result = tracemod.interpret(model, req, trace, dpif)
    if as_json:
        json.dump(tracemod.to_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        console = Console()
        console.print(trace_text(result, width=console.width if console.is_terminal else None),
                      soft_wrap=True)
    return 0 if result.verdict == "output" else 1
