"""One refresh of a node as Prometheus metric families (pure: no I/O, no clock).

Cardinality is bounded by the node's shape, never by its traffic: series per
VLAN, per port, per vNIC, per problem and per bridge, none per flow unless
``top_flows`` asks for the N busiest. Label values are names and numbers that
identify a thing (a VLAN id, a port name), never a counter or a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from model.ports import counters_of
from model.problems import KINDS
from model.views import NodeModel
from model.records import Flow
from node.session import Refresh
from node.sources import SOURCES

# seconds; a steady refresh is ~0.15 s at 50k flows, a cold one ~1.5 s
REFRESH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# every kind the model reports (model/problems.py, and model/ovn.py on an OVN
# chassis), exported at 0 too, so "no problem" is a value and not a missing series --
# but not for a check that could not run (model.checks): no series, never a 0
PROBLEM_KINDS = KINDS + ("unbound-port", "missing-bridge-mapping", "missing-localnet-patch")


@dataclass(frozen=True)
class RefreshTimes:
    """How long refreshes took, as a histogram's cumulative buckets."""

    counts: tuple[int, ...] = (0,) * len(REFRESH_BUCKETS)  # observations <= each bound
    count: int = 0
    total: float = 0.0

    def observe(self, seconds: float) -> "RefreshTimes":
        return RefreshTimes(
            counts=tuple(c + (seconds <= bound) for c, bound in zip(self.counts, REFRESH_BUCKETS)),
            count=self.count + 1, total=self.total + seconds)


@dataclass(frozen=True)
class ExporterState:
    """What a scrape serves: the last refresh and the exporter's own record."""

    refresh: Refresh | None  # None until the first refresh has finished
    times: RefreshTimes = RefreshTimes()
    failures: int = 0  # refreshes that raised (a bug of ours: the last good one is served)
    finished_at: float | None = None  # time.time() the last refresh finished


def families(state: ExporterState, *, top_flows: int = 0) -> list[Metric]:
    """Every family, built once per refresh so a scrape only formats them."""
    out: list[Metric] = []
    refresh = state.refresh
    model = refresh.model if refresh else None
    out += _sources(model)
    out += _refresh_record(state)
    if model is None:
        return out
    out += _translations(model)
    out += _ports(model)
    out += _problems(model)
    out += _flow_counts(model)
    out += _instances(model)
    if top_flows > 0:
        out += _top_flows(refresh, top_flows)
    return out


def _sources(model: NodeModel | None) -> Iterator[Metric]:
    up = GaugeMetricFamily("ovsvlan_source_up",
                           "1 when the source was read live at the last refresh, 0 when it is "
                           "stale, in error or still connecting", labels=["source"])
    last = GaugeMetricFamily("ovsvlan_source_last_ok_timestamp_seconds",
                             "When the source was last read successfully (Unix time)",
                             labels=["source"])
    states = {s.source: s for s in (model.sources if model else ())}
    for name in SOURCES:
        s = states.get(name)
        up.add_metric([name], 1.0 if s is not None and s.status == "live" else 0.0)
        if s is not None and s.last_ok is not None:
            last.add_metric([name], s.last_ok)
    yield up
    yield last


def _refresh_record(state: ExporterState) -> Iterator[Metric]:
    t = state.times
    buckets = [(_bound(b), float(c)) for b, c in zip(REFRESH_BUCKETS, t.counts)]
    buckets.append(("+Inf", float(t.count)))
    yield HistogramMetricFamily("ovsvlan_refresh_seconds",
                                "Time one refresh of every source took", buckets=buckets,
                                sum_value=t.total)
    failures = CounterMetricFamily("ovsvlan_refresh_failures_total",
                                   "Refreshes that failed unexpectedly (the previous one is "
                                   "served; the exporter's log says why)")
    failures.add_metric([], float(state.failures))
    yield failures
    if state.finished_at is not None:
        yield GaugeMetricFamily("ovsvlan_last_refresh_timestamp_seconds",
                                "When the refresh being served finished (Unix time)",
                                value=state.finished_at)


def _bound(value: float) -> str:
    return repr(float(value))


def _label(value) -> str:
    return "" if value is None else str(value)


def _translations(model: NodeModel) -> Iterator[Metric]:
    labels = ["bridge", "direction", "local_vlan", "segmentation_id", "network_type",
              "physical_network"]
    packets = CounterMetricFamily(
        "ovsvlan_vlan_translation_packets_total",
        "Packets counted by a VLAN translation flow: egress on the physical bridge "
        "(local VLAN -> provider), ingress on the integration bridge (provider -> local)",
        labels=labels)
    nbytes = CounterMetricFamily("ovsvlan_vlan_translation_bytes_total",
                                 "Bytes counted by a VLAN translation flow", labels=labels)
    for v in model.vlans:
        for direction, flow in (("egress", v.egress_flow), ("ingress", v.ingress_flow)):
            if flow is None:
                continue
            values = [flow.bridge, direction, _label(v.local_vlan), _label(v.segmentation_id),
                      _label(v.network_type), _label(v.physical_network)]
            packets.add_metric(values, float(flow.n_packets))
            nbytes.add_metric(values, float(flow.n_bytes))
    yield packets
    yield nbytes


def _ports(model: NodeModel) -> Iterator[Metric]:
    """dump-ports counters of every OVS port but each bridge's own (LOCAL) one;
    rx is what the switch received from the port (what a VM sent)."""
    labels = ["bridge", "port", "direction"]
    packets = CounterMetricFamily("ovsvlan_port_packets_total",
                                  "Packets through an OVS port (ovs-ofctl dump-ports)",
                                  labels=labels)
    dropped = CounterMetricFamily("ovsvlan_port_dropped_total",
                                  "Packets an OVS port dropped (ovs-ofctl dump-ports)",
                                  labels=labels)
    errors = CounterMetricFamily("ovsvlan_port_errors_total",
                                 "Errors on an OVS port (ovs-ofctl dump-ports)", labels=labels)
    info = GaugeMetricFamily("ovsvlan_port_info",
                             "1 per OVS port, with its local VLAN (for joins with the "
                             "translation counters)", labels=["bridge", "port", "local_vlan"])
    for pv in model.ports:
        if pv.name == pv.bridge:
            continue
        info.add_metric([pv.bridge, pv.name, _label(pv.port.tag)], 1.0)
        c = counters_of(model.port_counters, pv)
        if c is None:
            continue
        for family, rx, tx in ((packets, c.rx_packets, c.tx_packets),
                               (dropped, c.rx_dropped, c.tx_dropped),
                               (errors, c.rx_errors, c.tx_errors)):
            for direction, value in (("rx", rx), ("tx", tx)):
                if value is not None:  # dump-ports prints "?" for a counter it lacks
                    family.add_metric([pv.bridge, pv.name, direction], float(value))
    yield from (packets, dropped, errors, info)


def _problems(model: NodeModel) -> Iterator[Metric]:
    not_run = {c.kind for c in model.checks if c.status == "not run"}
    counts = {kind: 0 for kind in PROBLEM_KINDS if kind not in not_run}
    present: set[tuple[str, str]] = set()
    for p in model.problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
        present.add((p.kind, p.subject))
    total = GaugeMetricFamily("ovsvlan_problems", "Problems of each kind found on the node",
                              labels=["kind"])
    for kind, n in counts.items():
        total.add_metric([kind], float(n))
    one = GaugeMetricFamily("ovsvlan_problem",
                            "1 for each problem present (kind, and the port, tap or VLAN "
                            "concerned)", labels=["kind", "subject"])
    for kind, subject in sorted(present):
        one.add_metric([kind, subject], 1.0)
    yield total
    yield one
    check = GaugeMetricFamily("ovsvlan_check",
                              "1 per kind of problem looked for, with whether its check ran "
                              "(ran, partial: part of the node unread, not run)",
                              labels=["kind", "status"])
    for c in model.checks:
        check.add_metric([c.kind, c.status], 1.0)
    yield check


def _flow_counts(model: NodeModel) -> Iterator[Metric]:
    """Only bridges whose flows were read: an unread table is no series, not 0."""
    g = GaugeMetricFamily("ovsvlan_flows", "OpenFlow flows on a bridge", labels=["bridge"])
    for bridge, dump in sorted(model.flows.items()):
        if dump.error is None:
            g.add_metric([bridge], float(len(dump.flows)))
    yield g


def _instances(model: NodeModel) -> Iterator[Metric]:
    g = GaugeMetricFamily("ovsvlan_instance_info",
                          "1 per vNIC of a libvirt domain, with its Nova name, project, tap and "
                          "VLANs", labels=["domain", "name", "project", "tap", "local_vlan",
                                           "segmentation_id"])
    seen = set()
    for inst in model.instances:
        d = inst.domain
        for vv in inst.vnics:
            values = (d.name, _label(d.nova_name), _label(d.project), _label(vv.vnic.target),
                      _label(vv.local_vlan), _label(vv.segmentation_id))
            if values not in seen:  # two vNICs of a stopped domain can look alike
                seen.add(values)
                g.add_metric(list(values), 1.0)
    yield g


def busiest(refresh: Refresh, n: int) -> list[tuple[Flow, float]]:
    """The n flows that moved most packets per second over the last refresh
    interval (ties: more packets in all), with that rate."""
    moved = {k: p / d.interval for d in refresh.deltas.values() if d.interval > 0
             for k, (p, _b) in d.moved.items() if p > 0}
    if not moved:
        return []
    flows = [f for f in _flows_among(refresh.model.all_flows(), moved)]
    flows.sort(key=lambda f: (-moved[f.key], -f.n_packets, f.key))
    return [(f, moved[f.key]) for f in flows[:n]]


def _flows_among(flows: Iterable[Flow], keys) -> Iterator[Flow]:
    for f in flows:
        if f.key in keys:
            yield f


def _top_flows(refresh: Refresh, n: int) -> Iterator[Metric]:
    labels = ["bridge", "table", "priority", "cookie", "match"]
    packets = CounterMetricFamily("ovsvlan_flow_packets_total",
                                  f"Packets of the {n} busiest flows (--top-flows)", labels=labels)
    nbytes = CounterMetricFamily("ovsvlan_flow_bytes_total",
                                 f"Bytes of the {n} busiest flows (--top-flows)", labels=labels)
    for f, _rate in busiest(refresh, n):
        values = [f.bridge, str(f.table), str(f.priority), f"{f.cookie:#x}", f.match]
        packets.add_metric(values, float(f.n_packets))
        nbytes.add_metric(values, float(f.n_bytes))
    yield packets
    yield nbytes
