"""The exporter on a real lab, scraped by a real Prometheus server (1 s
scrapes) and asked with PromQL over its HTTP API, as a fleet's monitoring
would: the translation counters follow a ping, a port retagged to 4095 is a
dead-vlan problem (and its alert pends), an OVSDB restart is a source down
and never a failed scrape, and every query of the dashboard runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from lab import node as labmod
from tests.integration.prometheus_server import PROMETHEUS, PrometheusServer, free_port
from tui.cli import endpoint_flags

ROOT = Path(__file__).parents[2]
CONTRIB = ROOT / "contrib"
TAP = labmod.VMS[0].tap  # instance01's, local VLAN 2 <-> provider VLAN 100
EGRESS_2 = 'ovsvlan_vlan_translation_packets_total{direction="egress",local_vlan="2"}'
INGRESS_2 = 'ovsvlan_vlan_translation_packets_total{direction="ingress",local_vlan="2"}'

pytestmark = pytest.mark.skipif(not Path(PROMETHEUS).exists(),
                                reason="needs Debian's prometheus package")


def until(check, what: str, timeout: float = 30.0, every: float = 0.5):
    """Poll ``check`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")
        time.sleep(every)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


# what contrib/systemd/ovsvlan-exporter.service leaves root: its uid, no capability
NO_CAPABILITIES = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all",
                   "--no-new-privs"]


class Exporter:
    """``ovsvlan-tui exporter`` as an operator starts it, stopped by its pid."""

    def __init__(self, lab: labmod.Lab, *, wrapper: tuple[str, ...] = (),
                 extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.log = Path(tempfile.mkstemp(prefix="ovsvlan-exporter-", suffix=".log")[1])
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [*wrapper, sys.executable, "-m", "tui.cli", "exporter",
                 *endpoint_flags(lab.endpoints()),
                 "--listen", f"127.0.0.1:{self.port}", "--interval", "1", *extra],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        until(lambda: "serving http://" in self.log.read_text() or self.proc.poll() is not None,
              "the exporter to listen")
        assert self.proc.poll() is None, self.log.read_text()

    def scrape(self) -> tuple[int, str]:
        with urllib.request.urlopen(self.url, timeout=10) as r:
            return r.status, r.read().decode()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def exporter(shared_lab):
    e = Exporter(shared_lab, extra=("--top-flows", "5"))
    try:
        yield e
    finally:
        status = e.stop()
        output = e.log.read_text()
        e.log.unlink()
        assert status == 0, output
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def prometheus(exporter):
    server = PrometheusServer(f"127.0.0.1:{exporter.port}",
                              rule_files=(CONTRIB / "prometheus" / "ovsvlan.rules.yml",))
    try:
        server.start()
        until(lambda: server.value('up{job="ovsvlan"}') == 1, "the first scrape")
        yield server
    finally:
        server.stop()


def vsctl(lab: labmod.Lab, *args: str) -> None:
    subprocess.run(["ovs-vsctl", f"--db={lab.db}", "--timeout=10", *args],
                   capture_output=True, text=True, check=True, timeout=30)


def test_the_translation_counters_rate_follows_a_ping(shared_lab, prometheus):
    until(lambda: prometheus.value(EGRESS_2) is not None, "VLAN 2's egress translation series")
    labels = prometheus.query(EGRESS_2)[0][0]
    assert (labels["bridge"], labels["segmentation_id"], labels["network_type"],
            labels["physical_network"]) == ("br-provider", "100", "vlan", "provider")
    ping = subprocess.Popen(labmod.ping_command(shared_lab, continuous=True),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # one echo request a second leaves through VLAN 2 -> 100, one reply comes back
        for expr in (EGRESS_2, INGRESS_2):
            def moving():
                rate = prometheus.value(f"rate({expr}[10s])")
                return rate if rate and rate > 0.5 else None
            rate = until(moving, f"{expr} moving")
            assert rate <= 2.0, (expr, rate)
        # --top-flows 5: the flows the ping moves, five at most, never one per flow
        top = until(lambda: prometheus.query("rate(ovsvlan_flow_packets_total[10s]) > 0"),
                    "the busiest flows moving")
        assert len(prometheus.query("ovsvlan_flow_packets_total")) <= 5
        assert {m["bridge"] for m, _ in top} <= {"br-int", "br-provider"}
    finally:
        ping.terminate()
        ping.wait()
    until(lambda: prometheus.value(f"rate({EGRESS_2}[5s])") == 0, "the rate back to 0",
          timeout=30)


def test_a_port_retagged_to_4095_raises_a_dead_vlan_problem_and_its_alert_pends(
        shared_lab, prometheus):
    problem = f'ovsvlan_problem{{kind="dead-vlan",subject="{TAP}"}}'
    assert prometheus.value(problem) is None
    vsctl(shared_lab, "set", "Port", TAP, "tag=4095")
    try:
        until(lambda: prometheus.value(problem) == 1, "the dead-vlan problem")
        assert prometheus.value('ovsvlan_problems{kind="dead-vlan"}') == 1

        def pending():
            alerts = prometheus.api("alerts")["alerts"]
            return [a["state"] for a in alerts if a["labels"].get("alertname") == "OvsvlanProblem"
                    and a["labels"].get("subject") == TAP]
        assert until(pending, "the OvsvlanProblem alert") == ["pending"]  # for: 5m
    finally:
        vsctl(shared_lab, "set", "Port", TAP, "tag=2")
    until(lambda: prometheus.value(problem) is None, "the problem gone once repaired")
    assert prometheus.value('ovsvlan_problems{kind="dead-vlan"}') == 0


def test_every_alert_rule_evaluates_without_error_on_real_metrics(prometheus):
    def rules():
        groups = prometheus.api("rules")["groups"]
        got = {r["name"]: r["health"] for g in groups for r in g["rules"]}
        return got if got and "unknown" not in got.values() else None
    assert until(rules, "the rules evaluated") == {
        "OvsvlanProblem": "ok", "OvsvlanVlanTranslationStill": "ok", "OvsvlanSourceDown": "ok",
        "OvsvlanExporterStuck": "ok"}


def test_every_dashboard_query_runs_and_the_vlan_map_shows_the_labs_vlans(prometheus):
    dashboard = json.loads((CONTRIB / "grafana" / "ovsvlan.json").read_text())
    results = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$instance", ".*").replace("$__rate_interval", "10s")
            results[panel["title"]] = prometheus.query(expr)  # raises unless "success"
    (vlan_map,) = [v for k, v in results.items() if k.startswith("VLAN map")]
    # an empty label (no segmentation id: flat) is no label in Prometheus
    assert {(m["local_vlan"], m.get("segmentation_id", ""), m["network_type"], m["direction"])
            for m, _ in vlan_map} >= {("2", "100", "vlan", "egress"), ("2", "100", "vlan", "ingress"),
                                      ("1", "", "flat", "egress")}
    assert {m["source"] for m, _ in results["Sources read live (1) or not (0)"]} == {
        "ovsdb", "openflow", "libvirt", "netlink"}


def test_a_second_exporter_on_the_same_port_says_so_and_the_first_keeps_serving(
        shared_lab, exporter):
    result = cli("exporter", "--lab", "--lab-name", shared_lab.name,
                 "--listen", f"127.0.0.1:{exporter.port}")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Address already in use" in result.stderr
    assert exporter.scrape()[0] == 200


def test_root_without_any_capability_reads_ovsdb_openflow_and_libvirt(shared_lab):
    """The systemd unit's claim: the OVS sockets ask for root's uid, nothing more.
    Only entering the lab's namespace (--netns, never used on a real node)
    needs a capability (CAP_SYS_ADMIN), so netlink is the one source down."""
    capless = Exporter(shared_lab, wrapper=tuple(NO_CAPABILITIES))
    try:
        def sources():
            text = capless.scrape()[1]
            up = {s: f'ovsvlan_source_up{{source="{s}"}} 1.0' in text
                  for s in ("ovsdb", "openflow", "libvirt")}
            return text if all(up.values()) else None
        text = until(sources, "ovsdb, openflow and libvirt live")
        assert 'ovsvlan_source_up{source="netlink"} 0.0' in text
        assert 'direction="egress",local_vlan="2"' in text
    finally:
        assert capless.stop() == 0
        capless.log.unlink()


def test_scrapes_during_an_ovsdb_restart_are_200_with_ovsdb_down_and_the_last_picture(
        shared_lab, exporter, prometheus):
    ovsdb_up = 'ovsvlan_source_up{source="ovsdb"}'
    until(lambda: prometheus.value(ovsdb_up) == 1, "OVSDB live")
    seen = []
    labmod.stop_daemon(shared_lab, "ovsdb-server")
    try:
        def down():
            status, text = exporter.scrape()
            seen.append((status, text))
            return f"{ovsdb_up} 0.0" in text
        until(down, "ovsdb_source_up 0 in a scrape", every=0.2)
        # stale, not empty: the last OVSDB picture and its VLAN map are still served
        status, text = exporter.scrape()
        assert 'ovsvlan_vlan_translation_packets_total{bridge="br-provider",direction="egress",' \
               'local_vlan="2"' in text
        assert f'ovsvlan_port_info{{bridge="br-int",local_vlan="2",port="{TAP}"}} 1.0' in text
        until(lambda: prometheus.value(f"min_over_time({ovsdb_up}[1m])") == 0,
              "Prometheus recording OVSDB down")
    finally:
        labmod.start_daemon(shared_lab, "ovsdb-server")
    until(lambda: prometheus.value(ovsdb_up) == 1, "OVSDB live again", timeout=60)
    assert {status for status, _ in seen} == {200}
    assert not any("Traceback" in text for _, text in seen)
    # no scrape Prometheus made in the meantime failed either
    assert prometheus.value('min_over_time(up{job="ovsvlan"}[2m])') == 1
