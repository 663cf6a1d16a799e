"""``python -m bench.run``: how fast and how cheap the tool is on a busy node.

Builds a busy compute node in a lab (root: real ovsdb-server and
ovs-vswitchd in namespaces; see bench/node.py), then for each size N of
br-int's flow table measures, in the same run and on the same node:

- ``ovs-ofctl dump-flows br-int`` to /dev/null (the raw dump, the floor);
- our refresh (bench/collect.py), as a ratio to that raw dump;
- the real TUI in a terminal (bench/terminal.py): first complete frame,
  steady CPU at a 1 s interval, peak RSS, keypress-to-render latency while
  a refresh runs;
- whole processes (bench/compare.py): ``snapshot --json``, ``trace``, the
  trace screen's work, ``ovs-flowviz`` on the same dump (up to 50k flows),
  and ``--from`` a sosreport of the node (up to 100k flows).

Prints a table and writes it as JSON with the machine it ran on. The lab is
always taken down, whatever happens.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench import collect, compare, node, report, terminal
from lab import node as labmod

RESULTS = Path(__file__).parent / "results"
SIZES = (1000, 10000, 50000, 100000, 200000)
FLOWVIZ_UP_TO = 50000  # ovs-flowviz takes ~12 s at 50k flows, minutes beyond
SOS_UP_TO = 100000


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}")
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError("sizes must be 100 flows or more")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="flows on br-int, comma-separated (default: 1000,10000,50000,100000,200000; "
                        "with --quick: 1000)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 samples, a 5 s CPU window, few keypresses")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file (default: bench/results/<date>.json)")
    p.add_argument("--lab-name", default=f"bench{os.getpid() % 100000}",
                   help="name of the lab to build (default: unique to this run)")
    args = p.parse_args(argv)
    args.sizes = args.sizes or ([1000] if args.quick else list(SIZES))
    args.out = args.out or RESULTS / f"{datetime.date.today().isoformat()}.json"
    return args


def _first_line(args: list[str]) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or None)
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    repo = Path(__file__).resolve().parent.parent
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_mb": int(meminfo[1]) // 1024,
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "ovs": _first_line(["ovs-vswitchd", "--version"]),
        "textual": importlib.metadata.version("textual"),
        "commit": _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]),
    }


def _tui_argv(bench: node.BenchNode, interval: float) -> list[str]:
    """The installed ``ovsvlan-tui`` next to this interpreter, as an operator runs it."""
    script = Path(sys.executable).parent / "ovsvlan-tui"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]
    return [*command, *bench.flags(), "--interval", f"{interval:g}"]


def _processes(bench: node.BenchNode, lab: labmod.Lab, size: int, runs: int) -> dict:
    """snapshot, trace, ovs-flowviz and --from a sosreport of the node as it is now."""
    port = bench.instances[0].ports[0].tap
    out: dict = {
        "snapshot": compare.snapshot_paired(bench, runs),
        "trace_command": compare.own_command(bench, "trace", "--port", port,
                                             "--to", "172.16.0.1", "--json"),
    }
    if size <= FLOWVIZ_UP_TO:
        out["flowviz"] = compare.flowviz(bench)
    if size <= SOS_UP_TO:
        sos = lab.dir / f"bench-sos-{size}"
        out["sos"] = compare.write_sos(bench, sos)
        script = Path(sys.executable).parent / "ovsvlan-tui"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]
        out["sos"].update(compare.first_frame_saved(
            [*command, "--from", str(sos)], socket=f"ovsvlan-{lab.name}-sos",
            ready=[bench.instances[0].nova_name, f"br-int:{bench.instances[0].ports[0].ofport}"]))
    return out


def run(args: argparse.Namespace) -> dict:
    labmod.require_root("up")
    quick = args.quick
    runs = 3 if quick else 5
    plan = terminal.LatencyPlan(cursor=4, help=1, flows=1, path=1, port=1) if quick \
        else terminal.LatencyPlan(cursor=20, help=8, flows=8, path=8, port=8)
    interval = 1.0
    result: dict = {
        "schema": "ovsvlan-tui/bench/1",
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"sizes": args.sizes, "quick": quick, "interval_s": interval,
                     "instances": 100, "ports": 200, "runs": runs,
                     "cpu_window_s": 5.0 if quick else 30.0, "latency_plan": vars(plan)},
        "sizes": [],
    }
    lab = labmod.Lab(args.lab_name)
    traffic = None
    try:
        print(f"building the node (lab {lab.name}) ...", flush=True)
        load = os.getloadavg()[0]
        if load > 0.5:
            print(f"note: load average {load:.1f} already: other work on this machine "
                  "will show in every figure", flush=True)
        bench = node.build(lab)
        # A ping through instance01 keeps the flows on its path moving.
        traffic = subprocess.Popen(labmod.ping_command(lab, continuous=True),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        loader = node.FlowLoader(lab, bench.instances)
        for size in args.sizes:
            print(f"N={size}: loading flows ...", flush=True)
            loader.grow_to(size)
            entry = {"size": size, "load_before": os.getloadavg()[0]}
            print(f"N={size}: raw dump and refresh ...", flush=True)
            entry.update(collect.measure(bench, runs, interval))
            print(f"N={size}: the TUI ...", flush=True)
            entry["tui"] = terminal.measure_tui(
                _tui_argv(bench, interval), socket=f"ovsvlan-{lab.name}",
                ready=[bench.instances[0].nova_name, f"br-int:{bench.instances[0].ports[0].ofport}"],
                cpu_window=result["settings"]["cpu_window_s"], warmup=3.0,
                plan=plan, refresh_wall=entry["refresh"]["wall_s"])
            print(f"N={size}: whole processes ...", flush=True)
            entry.update(_processes(bench, lab, size, runs=3 if quick else 5 if size <= 50000 else 1))
            entry["load_after"] = os.getloadavg()[0]
            result["sizes"].append(entry)
            print(report.row_text(entry), flush=True)
    finally:
        if traffic is not None:
            traffic.kill()
            traffic.wait()
        print(f"taking lab {lab.name} down ...", flush=True)
        labmod.down(lab)
    result["targets"] = report.targets(result["sizes"])
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except (labmod.LabError, terminal.TerminalError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(report.table(result))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
