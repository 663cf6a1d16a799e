"""Whole processes on the bench node, beside the raw dump and OVS's own viewer.

- ``snapshot --json`` from launch to exit, as a script runs it;
- ``ovsvlan-tui trace`` from launch to exit, and the trace screen's own work
  (one ``ofproto/trace`` and its reading on the model the app already has);
- ``ovs-flowviz -i DUMP openflow console`` (python-ovs's viewer, the
  ``ovs[flowviz]`` extra, installed for the bench only) on a saved dump of
  the same bridge, beside our cold path from nothing to all flows read: the
  ``snapshot --json`` process, which dumps the flows itself.

Wall from launch to exit, CPU (the process and the children it reaped) and
the process's own peak RSS (VmHWM, through bench/own_rss.py for both: ours
without ovs-ofctl's).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.node import BenchNode

FLOWVIZ = Path(sys.executable).parent / "ovs-flowviz"
OURS = Path(sys.executable).parent / "ovsvlan-tui"


def measured(script: Path, *args: str, env: dict | None = None, runs: int = 1,
             timeout: float = 600.0) -> dict:
    """``python SCRIPT ARGS`` with its own peak RSS (bench/own_rss.py); median of ``runs``."""
    results = []
    with tempfile.TemporaryDirectory(prefix="ovsvlan-bench-") as tmp:
        rss = Path(tmp) / "rss"
        for _ in range(runs):
            rss.unlink(missing_ok=True)
            results.append(run_process(
                [sys.executable, "-m", "bench.own_rss", str(rss), str(script), *args],
                env=env, rss_file=rss, timeout=timeout))
    return _median(results)


def run_process(argv: list[str], *, env: dict | None = None, rss_file: Path | None = None,
                timeout: float = 600.0) -> dict:
    """Wall, CPU and peak RSS of one process run to its end, its output thrown away."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    rss_kib = int(rss_file.read_text()) if rss_file is not None and rss_file.exists() else None
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": rss_kib / 1024 if rss_kib else None, "exit": proc.returncode,
            "stderr": err.strip().splitlines()[-1] if err.strip() else ""}


def _median(runs: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s")}
    rss = [r["peak_rss_mb"] for r in runs if r["peak_rss_mb"] is not None]
    out["peak_rss_mb"] = statistics.median(rss) if rss else None
    out.update(runs=len(runs), wall_max_s=max(r["wall_s"] for r in runs),
               exit=runs[-1]["exit"], stderr=runs[-1]["stderr"])
    return out


def own_command(node: BenchNode, *args: str, runs: int = 1) -> dict:
    """``ovsvlan-tui ARGS`` on the bench node; median of ``runs``."""
    return measured(OURS, *node.flags(), *args, runs=runs)


def snapshot_paired(node: BenchNode, runs: int) -> dict:
    """``snapshot --json``, each run right after a raw dump of br-int: the ratio is
    taken between runs a second apart, not against the dump timed minutes earlier
    (the machine's speed moved between the two by up to 30% here)."""
    from bench.collect import raw_dump

    raws, snaps = [], []
    for _ in range(runs):
        raws.append(raw_dump(node)["wall_s"])
        snaps.append(own_command(node, "snapshot", "--json"))
    out = _median(snaps)
    out["raw_dump_wall_s"] = statistics.median(raws)
    out["raw_dump_walls_s"] = raws
    out["walls_s"] = [r["wall_s"] for r in snaps]
    return out


def flowviz_available() -> bool:
    if not FLOWVIZ.exists():
        return False
    probe = subprocess.run([str(FLOWVIZ), "--help"], capture_output=True, timeout=60)
    return probe.returncode == 0


def flowviz(node: BenchNode, bridge: str = "br-int") -> dict:
    """ovs-flowviz's console view of a saved dump of ``bridge`` (saved first, not timed)."""
    if not flowviz_available():
        return {"skipped": f"{FLOWVIZ} not usable: pip install 'ovs[flowviz]' into the venv"}
    env = {**os.environ, "OVS_RUNDIR": str(node.lab.rundir)}
    with tempfile.TemporaryDirectory(prefix="ovsvlan-bench-") as tmp:
        dump = Path(tmp) / "dump-flows.txt"
        with dump.open("w") as out:
            subprocess.run(["ovs-ofctl", "--read-only", "--names", "dump-flows", "--", bridge],
                           stdout=out, env=env, check=True, timeout=120)
        # a wide terminal's worth of columns, as an operator's
        viz_env = {**os.environ, "COLUMNS": "200", "LINES": "50"}
        return measured(FLOWVIZ, "-i", str(dump), "openflow", "console", env=viz_env,
                        timeout=900)


def trace_work(model, rundir: str | None, port: str, to: str, runs: int = 5) -> dict:
    """What the trace screen does once asked: one ofproto/trace and its reading."""
    from collectors import appctl
    from model import trace as tracemod

    walls = []
    verdict = None
    for _ in range(runs):
        started = time.perf_counter()
        req = tracemod.request_for(model, port, to, "icmp")
        trace, dpif = appctl.trace(rundir, req.args())
        verdict = tracemod.interpret(model, req, trace, dpif).verdict
        walls.append(time.perf_counter() - started)
    return {"wall_s": statistics.median(walls), "wall_max_s": max(walls), "runs": runs,
            "verdict": verdict}


def first_frame_saved(argv: list[str], *, socket: str, ready: list[str]) -> dict:
    """``ovsvlan-tui --from DIR`` in a terminal: launch to the first frame with ``ready``."""
    from bench import terminal

    term = terminal.Terminal(socket)
    started = time.monotonic()
    pid = term.start(argv)
    try:
        seen = terminal.wait_for(
            term, lambda lines: all(any(r in line for line in lines) for r in ready),
            120.0, "the first frame of the saved node", poll=0.02)
        out = {"first_frame_s": seen - started}
        out["peak_rss_mb"] = terminal.memory_kib(pid)["VmHWM"] / 1024
    finally:
        terminal.quit_tui(term, pid)
    return out


def write_sos(node: BenchNode, out: Path) -> dict:
    """The bench node as a sosreport directory (lab/sos.py, with the bench's domains)."""
    from lab.sos import write_sos as write

    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    files = write(node.lab, out, libvirt_uri=node.libvirt)
    return {"files": len(files), "write_s": time.perf_counter() - started}
