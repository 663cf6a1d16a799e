"""The raw dump and our refresh of the same node, measured in this process.

The raw dump is what any tool must pay: ``ovs-ofctl --read-only --names
dump-flows br-int > /dev/null``. Our refresh is ``NodeSession.refresh`` with
the real collectors (every bridge's flows and ports, libvirt, netlink, the
model), timed the way the TUI runs it: once cold, then once a second. CPU is
this process's (``time.process_time``, every thread) plus the children it
reaped (``RUSAGE_CHILDREN``: the ovs-ofctl runs).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time

from bench import compare
from bench.node import BenchNode
from node.once import opened
from node.session import NodeSession, Refresh


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raw_dump(node: BenchNode, bridge: str = "br-int") -> dict:
    """One ``dump-flows`` to /dev/null: wall and ovs-ofctl's CPU."""
    args = ["ovs-ofctl", "--read-only", "--names", "dump-flows", bridge]
    env = {**os.environ, "OVS_RUNDIR": str(node.lab.rundir)}
    children = _children_cpu()
    started = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, env=env, check=True, timeout=60)
    return {"wall_s": time.perf_counter() - started, "cpu_s": _children_cpu() - children}


def timed_refresh(session: NodeSession) -> tuple[dict, Refresh]:
    children, own = _children_cpu(), time.process_time()
    started = time.perf_counter()
    refresh = session.refresh()
    wall = time.perf_counter() - started
    own, children = time.process_time() - own, _children_cpu() - children
    delta = refresh.deltas.get("br-int")
    return {"wall_s": wall, "cpu_s": own + children, "self_cpu_s": own,
            "child_cpu_s": children, "moved_flows": len(delta.moved) if delta else 0}, refresh


def _median(runs: list[dict]) -> dict:
    out: dict = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    out["runs"] = len(runs)
    out["wall_max_s"] = max(r["wall_s"] for r in runs)
    return out


def measure(node: BenchNode, runs: int, interval: float = 1.0,
            trace_to: str = "172.16.0.1") -> dict:
    """The cold refresh, then ``runs`` pairs of (raw dump, refresh ``interval`` after the last).

    Pairs are interleaved so both see the same load on the machine.
    """
    with opened(node.endpoints(), ovsdb_timeout=10.0, prefetch=False) as session:
        cold, refresh = timed_refresh(session)
        ovsdb_state = next(s for s in refresh.model.sources if s.source == "ovsdb")
        if ovsdb_state.status != "live":
            raise RuntimeError(f"the bench node's OVSDB: {ovsdb_state.detail}")
        flows = len(refresh.model.flows["br-int"].flows)
        dumps, refreshes = [], []
        last = time.monotonic()
        for _ in range(runs):
            dumps.append(raw_dump(node))
            time.sleep(max(0.0, interval - (time.monotonic() - last)))
            last = time.monotonic()
            timed, refresh = timed_refresh(session)
            refreshes.append(timed)
        # The trace screen's work on the model the app holds (from instance01's first vNIC).
        try:
            trace = compare.trace_work(refresh.model, node.endpoints().ovs_rundir,
                                       node.instances[0].ports[0].tap, trace_to, runs)
        except Exception as e:  # a trace that cannot run is a figure not measured, said why
            trace = {"error": f"{type(e).__name__}: {e}"}
    raw, steady = _median(dumps), _median(refreshes)
    return {
        "flows": flows,
        "raw_dump": raw,
        "refresh_cold": cold,
        "refresh": steady,
        "trace": trace,
        "ratio": {
            "refresh_wall": steady["wall_s"] / raw["wall_s"],
            "refresh_cpu": steady["cpu_s"] / raw["cpu_s"] if raw["cpu_s"] else None,
            "cold_wall": cold["wall_s"] / raw["wall_s"],
            "cold_cpu": cold["cpu_s"] / raw["cpu_s"] if raw["cpu_s"] else None,
        },
    }
