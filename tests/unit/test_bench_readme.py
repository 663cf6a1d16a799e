"""The README's benchmark figures are those of the run it names: its tables are
printed by `python -m bench.report` from that run's JSON, never typed by hand,
so an operator reading a figure can find the run that measured it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_benchmark_tables_are_the_named_run_drawn_by_bench_report():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Benchmark\n", 1)[1]
    named = re.search(r"Measured on [^`]*`(bench/results/[^`]+\.json)`", section)
    assert named, "the Benchmark section names the run its tables come from"
    run = json.loads((ROOT / named.group(1)).read_text(encoding="utf-8"))
    run["targets"] = report.targets(run["sizes"])
    missing = [line for line in report.markdown(run).splitlines() if line not in section]
    assert not missing, f"not in the README (python -m bench.report {named.group(1)}): {missing}"


def test_each_kind_of_key_is_judged_on_its_own_p95():
    kinds = {t["target"].rsplit(": ", 1)[-1] for t in report.targets([])
             if t["target"].startswith("keypress-to-render p95") and ": " in t["target"]}
    assert kinds == {name for _, name in report.KEY_KINDS}
