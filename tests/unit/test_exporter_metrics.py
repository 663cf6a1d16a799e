"""What the exporter serves for the seed's node (its real outputs, joined by the
real model): the VLAN map as translation counters, problems as series an
alert can hold on to, source health, and a number of series set by the
node's shape, never by its flows or traffic.

Port counters are not in the seed (it has no `dump-ports` output): the tests
that need them say which synthetic values they add.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from collectors import openflow
from exporter.metrics import (
    PROBLEM_KINDS,
    ExporterState,
    RefreshTimes,
    busiest,
    families,
)
from model.records import PortCounters, SourceState
from node.session import Refresh
from tests.unit.test_model_seed import edit_port, joined, seed_observation, seed_ovsdb

ROOT = Path(__file__).parents[2]
LIVE = tuple(SourceState(s, "live", "", 1713715200.0)
             for s in ("ovsdb", "openflow", "libvirt", "netlink"))


def refresh_of(obs=None, **changes) -> Refresh:
    obs = obs or seed_observation(sources=LIVE)
    return Refresh(model=joined(obs), deltas=MappingProxyType({}), history=MappingProxyType({}),
                   mark=None, took=0.05, **changes)


def scrape(state: ExporterState, **kwargs) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label pairs: value}, as Prometheus would store the scrape."""
    out: dict[str, dict[tuple, float]] = {}
    for family in families(state, **kwargs):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def text_of(state: ExporterState, **kwargs) -> str:
    class Served:
        def collect(self):
            return families(state, **kwargs)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Served())
    return generate_latest(registry).decode()


def test_the_vlan_map_is_the_translation_counters_of_both_directions():
    got = scrape(ExporterState(refresh_of()))["ovsvlan_vlan_translation_packets_total"]
    # the seed's flows: br-provider dl_vlan=2 -> mod_vlan_vid:100 counted 124
    # packets; br-int's dl_vlan=100 -> local 2, and the flat network's egress
    # (the seed's br-int has no ingress flow for it: no series, not a 0)
    egress_2 = (("bridge", "br-provider"), ("direction", "egress"), ("local_vlan", "2"),
                ("network_type", "vlan"), ("physical_network", ""), ("segmentation_id", "100"))
    assert got[egress_2] == 124
    assert {(dict(k)["direction"], dict(k)["local_vlan"], dict(k)["segmentation_id"])
            for k in got} == {("egress", "1", ""), ("egress", "2", "100"), ("ingress", "2", "100")}


def test_instances_are_one_info_series_per_vnic():
    got = scrape(ExporterState(refresh_of()))["ovsvlan_instance_info"]
    assert got == {(("domain", "instance-00000027"), ("local_vlan", "2"), ("name", "instance01"),
                    ("project", "demo"), ("segmentation_id", "100"),
                    ("tap", "tap2d1670a4-8e")): 1.0}


def test_a_dead_vlan_port_is_a_problem_series_and_every_kind_has_a_count():
    # the seed itself lacks br-int's ingress flow for the flat VLAN 1
    seed_own = {(("kind", "missing-vlan-translation"), ("subject", "vlan 1")): 1.0}
    ovsdb = edit_port(seed_ovsdb(), "tap2d1670a4-8e", lambda p: replace(p, tag=4095))
    got = scrape(ExporterState(refresh_of(seed_observation(ovsdb=ovsdb, sources=LIVE))))
    assert got["ovsvlan_problem"] == {
        **seed_own, (("kind", "dead-vlan"), ("subject", "tap2d1670a4-8e")): 1.0}
    counts = {dict(k)["kind"]: v for k, v in got["ovsvlan_problems"].items()}
    assert counts == {**dict.fromkeys(PROBLEM_KINDS, 0.0), "dead-vlan": 1.0,
                      "missing-vlan-translation": 1.0}
    repaired = scrape(ExporterState(refresh_of()))
    assert repaired["ovsvlan_problem"] == seed_own  # the dead-vlan series is gone: its alert ends
    assert {dict(k)["kind"]: v for k, v in repaired["ovsvlan_problems"].items()}["dead-vlan"] == 0


def test_every_problem_kind_the_model_can_report_is_counted():
    kinds = set()
    for path in (ROOT / "model").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                kinds.add(node.args[0].value)
    assert kinds and kinds <= set(PROBLEM_KINDS)


def test_a_source_not_live_is_0_and_before_the_first_refresh_every_source_is_0():
    stale = tuple(SourceState(s.source, "stale", "reconnecting", s.last_ok)
                  if s.source == "ovsdb" else s for s in LIVE)
    got = scrape(ExporterState(refresh_of(seed_observation(sources=stale))))
    assert {dict(k)["source"]: v for k, v in got["ovsvlan_source_up"].items()} == {
        "ovsdb": 0.0, "openflow": 1.0, "libvirt": 1.0, "netlink": 1.0}
    assert got["ovsvlan_source_last_ok_timestamp_seconds"][(("source", "ovsdb"),)] == 1713715200.0
    first = scrape(ExporterState(None))
    assert set(first["ovsvlan_source_up"].values()) == {0.0}
    assert "ovsvlan_vlan_translation_packets_total" not in first


def test_port_counters_per_direction_for_every_port_but_the_bridges_own():
    # synthetic dump-ports counters for two seed ports, and one for LOCAL
    counters = (PortCounters("br-int", "tap2d1670a4-8e", rx_packets=129, tx_packets=70,
                             rx_dropped=1, tx_dropped=2, rx_errors=0, tx_errors=0),
                PortCounters("br-provider", "phy-br-provider", rx_packets=5, tx_packets=6),
                PortCounters("br-int", "LOCAL", rx_packets=1, tx_packets=1))
    got = scrape(ExporterState(refresh_of(seed_observation(port_counters=counters,
                                                           sources=LIVE))))
    packets = {(dict(k)["port"], dict(k)["direction"]): v
               for k, v in got["ovsvlan_port_packets_total"].items()}
    assert packets == {("tap2d1670a4-8e", "rx"): 129, ("tap2d1670a4-8e", "tx"): 70,
                       ("phy-br-provider", "rx"): 5, ("phy-br-provider", "tx"): 6}
    dropped = {(dict(k)["port"], dict(k)["direction"]): v
               for k, v in got["ovsvlan_port_dropped_total"].items()}
    assert dropped == {("tap2d1670a4-8e", "rx"): 1, ("tap2d1670a4-8e", "tx"): 2}
    info = {dict(k)["port"]: dict(k)["local_vlan"] for k in got["ovsvlan_port_info"]}
    assert info["tap2d1670a4-8e"] == "2" and info["phy-br-provider"] == ""
    assert "br-int" not in info


def test_no_series_per_flow_unless_asked_and_then_only_the_n_busiest():
    refresh = refresh_of()
    flows = list(refresh.model.all_flows())
    assert len(flows) > 20
    # the seed's flows with packets, as if each moved by its own count in 1 s
    moved = {}
    for f in flows:
        if f.n_packets:
            moved.setdefault(f.bridge, {})[f.key] = (f.n_packets, f.n_bytes)
    deltas = {b: openflow.FlowDelta(b, 1.0, moved=MappingProxyType(m)) for b, m in moved.items()}
    refresh = replace(refresh, deltas=MappingProxyType(deltas))
    assert not any(name.startswith("ovsvlan_flow_") for name in scrape(ExporterState(refresh)))
    got = scrape(ExporterState(refresh), top_flows=3)["ovsvlan_flow_packets_total"]
    expected = sorted((f for f in flows if f.n_packets), key=lambda f: -f.n_packets)[:3]
    assert sorted(got.values(), reverse=True) == [float(f.n_packets) for f in expected]
    assert [f for f, _ in busiest(refresh, 3)] == expected


def test_flow_counts_only_for_bridges_whose_flows_were_read():
    obs = seed_observation(sources=LIVE)
    unread = replace(obs, flows=MappingProxyType({"br-int": obs.flows["br-int"]}))
    got = scrape(ExporterState(refresh_of(unread)))["ovsvlan_flows"]
    assert list(got) == [(("bridge", "br-int"),)]
    assert got[(("bridge", "br-int"),)] == len(obs.flows["br-int"].flows)


def test_refresh_times_are_a_histogram_of_what_each_refresh_took():
    times = RefreshTimes().observe(0.04).observe(0.3).observe(12.0)
    got = scrape(ExporterState(refresh_of(), times=times))
    buckets = {dict(k)["le"]: v for k, v in got["ovsvlan_refresh_seconds_bucket"].items()}
    assert (buckets["0.05"], buckets["0.5"], buckets["10.0"], buckets["+Inf"]) == (1, 2, 2, 3)
    assert got["ovsvlan_refresh_seconds_count"][()] == 3
    assert got["ovsvlan_refresh_seconds_sum"][()] == pytest.approx(12.34)


def test_label_sets_are_the_documented_ones():
    text = text_of(ExporterState(refresh_of(seed_observation(
        port_counters=(PortCounters("br-int", "tap2d1670a4-8e", rx_packets=1, tx_packets=1),),
        sources=LIVE))))
    labels = {}
    for family in families(ExporterState(refresh_of()), top_flows=1):
        for s in family.samples:
            labels.setdefault(s.name, set()).add(tuple(sorted(s.labels)))
    translation = {("bridge", "direction", "local_vlan", "network_type", "physical_network",
                    "segmentation_id")}
    assert labels["ovsvlan_vlan_translation_packets_total"] == translation
    assert labels["ovsvlan_vlan_translation_bytes_total"] == translation
    assert labels["ovsvlan_instance_info"] == {
        ("domain", "local_vlan", "name", "project", "segmentation_id", "tap")}
    assert labels["ovsvlan_source_up"] == {("source",)}
    assert labels["ovsvlan_problems"] == {("kind",)}
    assert 'ovsvlan_port_packets_total{bridge="br-int",direction="rx",port="tap2d1670a4-8e"} 1.0' \
        in text


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (apt install prometheus)")
def test_the_exposition_passes_promtools_lint():
    text = text_of(ExporterState(refresh_of(), times=RefreshTimes().observe(0.1)), top_flows=2)
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_check_that_could_not_run_exports_no_zero_problems():
    """With libvirt unread, orphan-port has no series (not a 0 that reads "healthy")."""
    obs = seed_observation(sources=LIVE)
    got = scrape(ExporterState(refresh_of(replace(obs, domains=None))))
    kinds = {dict(k)["kind"] for k in got["ovsvlan_problems"]}
    assert "orphan-port" not in kinds and "unplugged-vif" not in kinds
    assert "dead-vlan" in kinds
    checks = {dict(k)["kind"]: dict(k)["status"] for k in got["ovsvlan_check"]}
    assert checks["orphan-port"] == "not run" and checks["dead-vlan"] == "ran"
