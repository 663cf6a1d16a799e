"""The benchmark's tables and its verdict on the targets of issues 5 and 14."""

from __future__ import annotations


def _get(entry: dict, *path: str):
    """entry[path[0]][path[1]]..., None when a step is missing (a figure not measured)."""
    for key in path:
        if not isinstance(entry, dict) or entry.get(key) is None:
            return None
        entry = entry[key]
    return entry


def _ratio(a, b):
    return None if a is None or not b else a / b


def snapshot_ratio(e: dict):
    """The whole snapshot --json process / the raw dump timed just before each run
    (wall; medians), or the size's raw dump in a run that did not pair them."""
    raw = _get(e, "snapshot", "raw_dump_wall_s") or e["raw_dump"]["wall_s"]
    return _ratio(_get(e, "snapshot", "wall_s"), raw)


def flowviz_time_ratio(e: dict):
    """Our cold path (snapshot --json, dump included) / ovs-flowviz on the saved dump (wall)."""
    if _get(e, "flowviz", "exit") != 0:
        return None
    return _ratio(_get(e, "snapshot", "wall_s"), _get(e, "flowviz", "wall_s"))


def flowviz_rss_ratio(e: dict):
    if _get(e, "flowviz", "exit") != 0:
        return None
    return _ratio(_get(e, "snapshot", "peak_rss_mb"), _get(e, "flowviz", "peak_rss_mb"))


# The kinds of key the bench times (bench/terminal.py), as the tables name them.
KEY_KINDS = (("cursor", "cursor moves"), ("help", "the help"), ("flows", "all flows"),
             ("path", "the path"), ("port", "the port screen"), ("back", "Esc back"))

# (name, size it is judged at, how to read the value from a size's entry, limit, unit)
TARGETS = (
    ("refresh <= 1.5x the raw dump (wall)", 50000,
     lambda e: e["ratio"]["refresh_wall"], 1.5, "x"),
    ("steady TUI CPU <= 30% of a core, ovs-ofctl included", 50000,
     lambda e: e["tui"]["cpu_percent"], 30.0, "%"),
    ("first frame with data (instances, ports, VLANs) <= 2 s", 50000,
     lambda e: e["tui"]["first_frame_s"], 2.0, "s"),
    ("the same with the flows' counters <= 2 s", 50000,
     lambda e: e["tui"].get("flows_frame_s"), 2.0, "s"),
    ("peak RSS <= 250 MB", 100000, lambda e: e["tui"]["peak_rss_mb"], 250.0, "MB"),
    ("keypress-to-render p95 <= 100 ms during refresh, all keys", 50000,
     lambda e: e["tui"]["latency"]["p95_ms"], 100.0, "ms"),
    *((f"keypress-to-render p95 <= 100 ms during refresh: {name}", 50000,
       lambda e, kind=kind: _get(e, "tui", "latency", kind, "p95_ms"), 100.0, "ms")
      for kind, name in KEY_KINDS),
    ("snapshot --json process <= 3x the raw dump (wall)", 50000, snapshot_ratio, 3.0, "x"),
    ("trace result (the trace screen's work) <= 0.5 s", 50000,
     lambda e: _get(e, "trace", "wall_s"), 0.5, "s"),
    ("cold path >= 5x faster than ovs-flowviz (ours/theirs <= 0.2)", 50000,
     flowviz_time_ratio, 0.2, "x"),
    ("peak RSS <= half ovs-flowviz's (ours/theirs <= 0.5)", 50000, flowviz_rss_ratio, 0.5, "x"),
    ("--from a sosreport: first frame <= 3 s", 100000,
     lambda e: _get(e, "sos", "first_frame_s"), 3.0, "s"),
    ("refresh <= 0.5x the raw dump (wall)", 200000,
     lambda e: e["ratio"]["refresh_wall"], 0.5, "x"),
    ("steady TUI CPU <= 30% of a core", 200000, lambda e: e["tui"]["cpu_percent"], 30.0, "%"),
    ("peak RSS <= 300 MB", 200000, lambda e: e["tui"]["peak_rss_mb"], 300.0, "MB"),
)


def targets(sizes: list[dict]) -> list[dict]:
    by_size = {e["size"]: e for e in sizes}
    out = []
    for name, size, value_of, limit, unit in TARGETS:
        entry = by_size.get(size)
        value = value_of(entry) if entry is not None else None
        out.append({"target": name, "size": size, "limit": limit, "unit": unit,
                    "value": value, "met": None if value is None else value <= limit})
    return out


def _f(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = ("flows", "raw dump s", "refresh s", "x raw", "cold s", "x raw", "1st frame/flows s",
          "TUI CPU%", "every s", "peak RSS MB", "keys p50/p95 ms",
          "cursor/help/flows/path/port/back p95 ms",
          "load")


def row(entry: dict) -> tuple[str, ...]:
    raw, ref, cold, ratio, tui = (entry["raw_dump"], entry["refresh"], entry["refresh_cold"],
                                  entry["ratio"], entry["tui"])
    lat = tui["latency"]
    return (
        str(entry["flows"]),
        f"{_f(raw['wall_s'], 3)} ({_f(raw['cpu_s'], 3)})",
        f"{_f(ref['wall_s'], 3)} ({_f(ref['cpu_s'], 3)})",
        f"{_f(ratio['refresh_wall'])} ({_f(ratio['refresh_cpu'])})",
        _f(cold["wall_s"], 3),
        _f(ratio["cold_wall"]),
        f"{_f(tui['first_frame_s'])}/{_f(tui.get('flows_frame_s'))}",
        _f(tui["cpu_percent"], 1),
        _f(tui["interval_shown_s"], 1),
        _f(tui["peak_rss_mb"], 0),
        f"{_f(lat['p50_ms'], 0)}/{_f(lat['p95_ms'], 0)}",
        "/".join(_f(lat[k]["p95_ms"], 0) if k in lat else "-"
                 for k, _ in KEY_KINDS),
        f"{_f(entry['load_before'], 1)}-{_f(entry['load_after'], 1)}",
    )


def _render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


PROCESS_HEADER = ("flows", "snapshot s", "x raw", "RSS MB", "trace screen s", "trace cmd s",
                  "flowviz s", "flowviz RSS MB", "ours/flowviz time", "ours/flowviz RSS",
                  "--from sos 1st frame s")


def process_row(e: dict) -> tuple[str, ...]:
    return (
        str(e["flows"]),
        f"{_f(_get(e, 'snapshot', 'wall_s'))} ({_f(_get(e, 'snapshot', 'cpu_s'))})",
        _f(snapshot_ratio(e)),
        _f(_get(e, "snapshot", "peak_rss_mb"), 0),
        _f(_get(e, "trace", "wall_s"), 3),
        _f(_get(e, "trace_command", "wall_s")),
        _f(_get(e, "flowviz", "wall_s")),
        _f(_get(e, "flowviz", "peak_rss_mb"), 0),
        _f(flowviz_time_ratio(e), 3),
        _f(flowviz_rss_ratio(e)),
        _f(_get(e, "sos", "first_frame_s")),
    )


def row_text(entry: dict) -> str:
    text = _render([HEADER, row(entry)])
    if "snapshot" in entry:
        text += "\n" + _render([PROCESS_HEADER, process_row(entry)])
    return text


def table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"{m['cpu_model']}, {m['cores']} cores, {m['memory_mb']} MB, {m['os']}, "
        f"kernel {m['kernel']}, Python {m['python']}, {m['ovs']}, textual {m['textual']}, "
        f"commit {m['commit']}",
        f"{result['settings']['ports']} ports / {result['settings']['instances']} instances on "
        f"br-int, interval {result['settings']['interval_s']:g} s; times are medians; "
        "(cpu) is CPU seconds incl. ovs-ofctl; x raw = our refresh / the raw dump (wall (cpu)); "
        "load = the machine's 1-minute load average before-after",
        "",
        _render([HEADER] + [row(e) for e in result["sizes"]]),
        "",
        "whole processes: snapshot --json (cpu incl. ovs-ofctl, own peak RSS), the trace "
        "screen's work, the trace command, ovs-flowviz -i DUMP openflow console, "
        "--from a sosreport of the node",
        _render([PROCESS_HEADER] + [process_row(e) for e in result["sizes"] if "snapshot" in e]),
        "",
    ]
    for t in result["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"  {verdict:>12}  {t['target']} at {t['size']} flows: "
                     f"{_figure(t['value'], t['unit'])}")
    return "\n".join(lines)



def _n(value, digits: int = 2) -> str:
    """A figure for the README; thousands grouped like the flow counts."""
    return "-" if value is None else f"{value:,.{digits}f}"


def _figure(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return f"{value:.3f} s" if value < 0.1 else f"{value:.2f} s"
    return f"{value:.0f} {unit}"


def markdown(result: dict) -> str:
    """The README's three tables of one run, so that what it quotes is the run's own figures."""
    sizes = result["sizes"]
    out = ["| flows | raw dump s | refresh s | x raw (wall / CPU) | cold refresh s | "
           "first frame / with flows s | TUI CPU % | peak RSS MB | keys p50/p95 ms "
           "(p95: " + "/".join(k for k, _ in KEY_KINDS) + ") |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for e in sizes:
        tui, lat = e["tui"], e["tui"]["latency"]
        kinds = "/".join(_n(_get(lat, k, "p95_ms"), 0) for k, _ in KEY_KINDS)
        out.append(
            f"| {e['flows']:,} | {_n(e['raw_dump']['wall_s'], 3)} | {_n(e['refresh']['wall_s'], 3)} "
            f"| {_n(e['ratio']['refresh_wall'])} / {_n(e['ratio']['refresh_cpu'])} "
            f"| {_n(e['refresh_cold']['wall_s'], 3)} "
            f"| {_n(tui['first_frame_s'])} / {_n(tui.get('flows_frame_s'))} "
            f"| {_n(tui['cpu_percent'], 1)} | {_n(tui['peak_rss_mb'], 0)} "
            f"| {_n(lat['p50_ms'], 0)}/{_n(lat['p95_ms'], 0)} ({kinds}) |")
    out += ["", "| flows | `snapshot --json` s (x the raw dump run just before each) | its RSS MB "
            "| trace screen's work s | `trace` command s | ovs-flowviz s / RSS MB "
            "| ours / flowviz (time, RSS) | `--from` sosreport first frame s |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for e in (e for e in sizes if "snapshot" in e):
        raw = _get(e, "snapshot", "raw_dump_wall_s") or e["raw_dump"]["wall_s"]
        flowviz = ("-" if _get(e, "flowviz", "exit") != 0 else
                   f"{_n(_get(e, 'flowviz', 'wall_s'))} / {_n(_get(e, 'flowviz', 'peak_rss_mb'), 0)}")
        ours = ("-" if flowviz_time_ratio(e) is None else
                f"{_n(flowviz_time_ratio(e), 3)}, {_n(flowviz_rss_ratio(e))}")
        out.append(
            f"| {e['flows']:,} | {_n(_get(e, 'snapshot', 'wall_s'))} "
            f"({_n(snapshot_ratio(e))}; raw {_n(raw, 3)}) "
            f"| {_n(_get(e, 'snapshot', 'peak_rss_mb'), 0)} | {_n(_get(e, 'trace', 'wall_s'), 3)} "
            f"| {_n(_get(e, 'trace_command', 'wall_s'))} | {flowviz} | {ours} "
            f"| {_n(_get(e, 'sos', 'first_frame_s'))} |")
    out += ["", "| target | at | figure | met? |", "| --- | ---: | ---: | --- |"]
    for t in result["targets"]:
        verdict = {True: "met", False: "missed", None: "not measured"}[t["met"]]
        out.append(f"| {t['target']} | {t['size'] // 1000}k | {_figure(t['value'], t['unit'])} | {verdict} |")
    return "\n".join(out)


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.report bench/results/RUN.json   (prints the README's tables)")
    with open(sys.argv[1], encoding="utf-8") as f:
        run = json.load(f)
    run["targets"] = targets(run["sizes"])
    print(markdown(run))
