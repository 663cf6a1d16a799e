"""The exporter's benchmark still runs end to end on the busy node and reports
every figure the README quotes, so it cannot rot between the runs that matter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import lab_possible, new_lab_name

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]


def test_a_short_run_at_1000_flows_reports_cpu_memory_latency_and_series(tmp_path):
    reason = lab_possible()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "exporter.json"
    lab = new_lab_name()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.exporter", "--flows", "1000", "--duration", "2",
         "--scrape-interval", "1", "--interval", "1", "--out", str(out), "--lab-name", lab],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not Path(f"/run/ovsvlan-tui/{lab}").exists()  # the lab was taken down

    result = json.loads(out.read_text())
    assert result["schema"] == "ovsvlan-tui/bench-exporter/1"
    assert 990 <= result["flows"] <= 1010
    assert result["cpu_percent"] > 0 and result["window_s"] >= 2
    assert result["peak_rss_mb"] >= result["rss_mb"] > 20
    assert result["scrapes"] == 3
    assert result["scrape_ms"]["max"] >= result["scrape_ms"]["p95"] >= result["scrape_ms"]["p50"] > 0
    series = result["series"]["by_family"]
    # the busy node: 200 bench vNICs and the lab's 2, each one instance_info series
    assert series["ovsvlan_instance_info"] == 202
    assert "ovsvlan_flow_packets_total" not in series  # no series per flow by default
    assert len(result["load_before"]) == 3
    assert "scrape latency p50" in proc.stdout
