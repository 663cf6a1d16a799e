"""``python -m bench.exporter``: what the Prometheus exporter costs on a busy node.

Builds the benchmark's busy compute node (bench/node.py: 100 instances, 200
ports on br-int, a ping moving instance01's flows) with N firewall flows on
br-int, starts ``ovsvlan-tui exporter`` on it as an operator would, and
scrapes ``/metrics`` every 15 s (a common scrape interval) for a while:

- CPU: the exporter's utime+stime plus the ovs-ofctl children it reaped
  (/proc/<pid>/stat), over the scraping window, as % of one core;
- memory: RSS at the end and the peak (VmHWM);
- scrape latency: request to last byte, p50/p95/max;
- series: how many a scrape holds (the node's shape sets it, not its flows).

Prints the figures and writes them as JSON with the machine and the load
average: other work on the machine shows in every figure. The lab is taken
down at the end whatever happens.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import node
from bench.run import RESULTS, machine
from exporter.server import DEFAULT_INTERVAL
from lab import node as labmod
from lab.run import stop

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.exporter", description=__doc__.split("\n")[0])
    p.add_argument("--flows", type=int, default=50000, help="flows on br-int (default: 50000)")
    p.add_argument("--duration", type=float, default=300.0,
                   help="seconds of scraping measured (default: 300)")
    p.add_argument("--scrape-interval", type=float, default=15.0,
                   help="seconds between scrapes (default: 15)")
    p.add_argument("--interval", type=float, default=None,
                   help="the exporter's refresh interval (default: the exporter's own)")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file (default: bench/results/exporter-<date>.json)")
    p.add_argument("--lab-name", default=f"bexp{os.getpid() % 100000}",
                   help="name of the lab to build (default: unique to this run)")
    args = p.parse_args(argv)
    if args.flows < 100 or args.duration <= 0 or args.scrape_interval <= 0:
        p.error("--flows must be 100 or more, --duration and --scrape-interval positive")
    args.out = args.out or RESULTS / f"exporter-{datetime.date.today().isoformat()}.json"
    return args


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime: the process and the children it reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def memory_mb(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return {k: int(status[v].split()[0]) / 1024 for k, v in (("rss_mb", "VmRSS"),
                                                           ("peak_rss_mb", "VmHWM"))}


def scrape(url: str) -> tuple[float, str]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
        if r.status != 200:
            raise RuntimeError(f"scrape returned {r.status}")
    return time.perf_counter() - started, text


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _exporter_argv(bench: node.BenchNode, port: int, interval: float | None) -> list[str]:
    script = Path(sys.executable).parent / "ovsvlan-tui"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]
    extra = ["--interval", f"{interval:g}"] if interval else []
    return [*command, "exporter", *bench.flags(), "--listen", f"127.0.0.1:{port}", *extra]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_flows(url: str, flows: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until a scrape shows br-int's flows: the cold refresh is not measured."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise labmod.LabError(f"the exporter exited with status {proc.returncode}")
        try:
            if samples(scrape(url)[1]).get('ovsvlan_flows{bridge="br-int"}', 0) >= flows:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise labmod.LabError(f"no scrape showed {flows} flows on br-int within {timeout:.0f} s")


def run(args: argparse.Namespace) -> dict:
    labmod.require_root("up")
    lab = labmod.Lab(args.lab_name)
    traffic = exporter = None
    result: dict = {"schema": "ovsvlan-tui/bench-exporter/1",
                    "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "machine": machine(),
                    "settings": {"flows": args.flows, "duration_s": args.duration,
                                 "scrape_interval_s": args.scrape_interval,
                                 "refresh_interval_s": args.interval or DEFAULT_INTERVAL,
                                 "ports": 200}}
    try:
        print(f"building the node (lab {lab.name}) with {args.flows} flows ...", flush=True)
        bench = node.build(lab)
        traffic = subprocess.Popen(labmod.ping_command(lab, continuous=True),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result["flows"] = node.FlowLoader(lab, bench.instances).grow_to(args.flows)
        port = _free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        exporter = subprocess.Popen(_exporter_argv(bench, port, args.interval),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("waiting for the first refresh with the flows ...", flush=True)
        _wait_for_flows(url, result["flows"], exporter)
        result["load_before"] = os.getloadavg()
        cpu0, t0 = cpu_seconds(exporter.pid), time.monotonic()
        first = samples(scrape(url)[1])  # the refreshes so far, the cold one among them
        latencies, text = [], ""
        print(f"scraping every {args.scrape_interval:g} s for {args.duration:g} s ...", flush=True)
        while True:
            latency, text = scrape(url)
            latencies.append(latency)
            next_at = t0 + len(latencies) * args.scrape_interval
            if next_at - t0 > args.duration:
                break
            time.sleep(max(next_at - time.monotonic(), 0))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(exporter.pid) - cpu0
        last = samples(text)
        ours = [k for k in last if k.startswith("ovsvlan_")]
        result.update({
            "load_after": os.getloadavg(),
            "cpu_percent": 100 * cpu / wall,
            "window_s": wall,
            **memory_mb(exporter.pid),
            "scrapes": len(latencies),
            "scrape_ms": {"p50": 1000 * statistics.median(latencies),
                          "p95": 1000 * percentile(latencies, 0.95),
                          "max": 1000 * max(latencies)},
            "scrape_bytes": len(text.encode()),
            "series": {"ovsvlan": len(ours), "all": len(last),
                       "by_family": _by_family(ours)},
            # the window's refreshes only (the cold first one is before it)
            "refreshes": last["ovsvlan_refresh_seconds_count"]
            - first["ovsvlan_refresh_seconds_count"],
            "refresh_mean_s": (last["ovsvlan_refresh_seconds_sum"]
                               - first["ovsvlan_refresh_seconds_sum"])
            / max(last["ovsvlan_refresh_seconds_count"]
                  - first["ovsvlan_refresh_seconds_count"], 1),
        })
    finally:
        for proc in (exporter, traffic):
            if proc is not None:
                stop(proc, timeout=30)
        print(f"taking lab {lab.name} down ...", flush=True)
        labmod.down(lab)
    return result


def _by_family(names: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        family = name.split("{")[0]
        for suffix in ("_bucket", "_count", "_sum"):
            if family.startswith("ovsvlan_refresh_seconds") and family.endswith(suffix):
                family = family.removesuffix(suffix)
        out[family] = out.get(family, 0) + 1
    return dict(sorted(out.items()))


def report(r: dict) -> str:
    s = r["scrape_ms"]
    return "\n".join([
        f"{r['flows']} flows, 200 bench ports, refresh every "
        f"{r['settings']['refresh_interval_s']:g} s, a scrape every "
        f"{r['settings']['scrape_interval_s']:g} s for {r['window_s']:.0f} s",
        f"  CPU {r['cpu_percent']:.1f}% of a core (ovs-ofctl included); RSS {r['rss_mb']:.0f} MB, "
        f"peak {r['peak_rss_mb']:.0f} MB; mean refresh {r['refresh_mean_s']:.3f} s "
        f"({r['refreshes']:.0f} refreshes)",
        f"  scrape latency p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms "
        f"over {r['scrapes']} scrapes ({r['scrape_bytes'] / 1024:.0f} KiB each)",
        f"  series: {r['series']['ovsvlan']} ovsvlan_*, {r['series']['all']} with process_*",
        f"  load average {r['load_before'][0]:.2f} before, {r['load_after'][0]:.2f} after",
    ])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except labmod.LabError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(report(result))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
