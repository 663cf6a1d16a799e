"""What an operator drops into their monitoring is valid for the tools that
read it: the alert rules load in Prometheus and behave as their unit tests
say (promtool), the systemd unit is one systemd accepts, and the dashboard
is JSON whose every panel has a query (each query is run against a real
Prometheus in tests/integration/test_exporter.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRIB = Path(__file__).parents[2] / "contrib"
RULES = CONTRIB / "prometheus" / "ovsvlan.rules.yml"
promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                              reason="needs promtool (apt install prometheus)")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)


@promtool
def test_the_alert_rules_pass_promtool_check_rules():
    proc = run("promtool", "check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 4 rules found" in proc.stdout


@promtool
def test_the_alert_rules_pass_their_promtool_unit_tests():
    proc = run("promtool", "test", "rules", "ovsvlan.rules.test.yml", cwd=RULES.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_is_one_systemd_accepts(tmp_path):
    unit = (CONTRIB / "systemd" / "ovsvlan-exporter.service").read_text()
    assert "ExecStart=/usr/local/bin/ovsvlan-tui exporter " in unit
    # verify checks the command exists: point it at this installation's
    here = Path(sys.executable).parent / "ovsvlan-tui"
    copy = tmp_path / "ovsvlan-exporter.service"
    copy.write_text(unit.replace("/usr/local/bin/ovsvlan-tui", str(here)))
    proc = run("systemd-analyze", "verify", str(copy))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_the_dashboard_has_the_vlan_map_and_the_problem_table_and_a_query_in_every_panel():
    dashboard = json.loads((CONTRIB / "grafana" / "ovsvlan.json").read_text())
    titles = [p["title"] for p in dashboard["panels"]]
    assert "Problems" in titles
    assert any(t.startswith("VLAN map") for t in titles)
    for panel in dashboard["panels"]:
        assert panel["targets"] and all("ovsvlan_" in t["expr"] for t in panel["targets"]), \
            panel["title"]
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource", "instance"]
