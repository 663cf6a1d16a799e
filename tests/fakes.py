"""A FAKE backend, for widget and snapshot tests only: never use it to test
what the tool tells an operator about a real node (the lab tests do that).

It serves the seed's saved outputs (``ovs-vsctl show``, ``ovs-ofctl show``
and ``dump-flows`` of both bridges, ``virsh dumpxml``, ``ip -d link show``)
joined by the real model, with fixed rates, history, counters and mark, at a
fixed time on a fixed host, so every refresh is the same and an SVG snapshot
of any screen is the same on every run.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from collectors import openflow
from collectors.domains import parse_domain_xml
from model.join import NodeModel, build_model
from node.ui_first import UiFirst
from collectors.netlink import parse_ip_link_detail
from model.records import (
    FlowKey,
    Observation,
    PortCounters,
    SourceState,
    VnicStats,
)
from collectors.saved.vsctl_show import parse_vsctl_show, with_ofports
from model.scopes import Scope, scope_filter
from node.mark import Mark
from node.rates import FlowRates
from node.session import Refresh

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed"
HOSTNAME = "compute01"
AT = 1713715200.0  # 2024-04-21 16:00:00 UTC, shortly after the seed's instance was created
TAKEN_AT = 1000.0  # monotonic time of the saved dumps
MARK_AGE = 12.0  # seconds between the mark and AT
OFPP_LOCAL = 65534  # the ofport OVSDB reports for a bridge's own port
BRIDGES = ("br-int", "br-provider")
PORT = "tap2d1670a4-8e"  # instance01's tap: the flows that move are its ping's
INSTANCE_UUID = "45ee5234-e888-4ab8-91d1-d8d646a382ae"

# What the seed's ping moves every second: one ICMP packet each way, 98 bytes.
PPS = 1.0
PACKET_BYTES = 98
# dump-ports has no saved output in the seed: counters that agree with its
# flows (129 packets into br-int from the tap in table 60, 70 back out of it).
PORT_COUNTERS = (
    PortCounters("br-int", PORT, rx_packets=129, rx_bytes=11142, rx_dropped=0, rx_errors=0,
                 tx_packets=70, tx_bytes=8597, tx_dropped=0, tx_errors=0),
    PortCounters("br-int", "int-br-provider", rx_packets=70, rx_bytes=8597, rx_dropped=0,
                 rx_errors=0, tx_packets=124, tx_bytes=10604, tx_dropped=0, tx_errors=0),
    PortCounters("br-provider", "eth0", rx_packets=70, rx_bytes=8877, rx_dropped=0,
                 rx_errors=0, tx_packets=124, tx_bytes=11100, tx_dropped=0, tx_errors=0),
)
VNIC_STATS = (  # the VM's view: what it sent is what OVS received
    VnicStats(INSTANCE_UUID, PORT, rx_packets=70, rx_bytes=8597, tx_packets=129,
              tx_bytes=11142),
)


def _read(name: str) -> str:
    return (SEED / name).read_text()


def seed_observation() -> tuple[Observation, dict[str, openflow.FlowTable]]:
    """The seed node as one observation, and the flow tables that parsed its dumps."""
    ofports = {}
    for bridge in BRIDGES:
        shown = openflow.parse_ofctl_show(_read(f"ovs-ofctl-show-{bridge}.txt"))
        ofports[bridge] = {name: (OFPP_LOCAL if number == "LOCAL" else number)
                           for number, name in shown.items()}
    ovsdb = with_ofports(parse_vsctl_show(_read("ovs-vsctl-show.txt")), ofports)
    tables = {}
    for bridge in BRIDGES:
        tables[bridge] = openflow.FlowTable(bridge)
        tables[bridge].update(openflow.parse_dump(bridge, _read(f"dump-flows-{bridge}.txt"),
                                                  TAKEN_AT))
    domain = parse_domain_xml((FIXTURES / "libvirt" / "instance-00000027.xml").read_text(),
                              state="running", id=2)
    obs = Observation(
        hostname=HOSTNAME,
        ovsdb=ovsdb,
        flows=MappingProxyType({b: t.dump for b, t in tables.items()}),
        port_counters=PORT_COUNTERS,
        domains=(domain,),
        vnic_stats=VNIC_STATS,
        links=parse_ip_link_detail(_read("ip-d-link-show.txt")),
        sources=tuple(SourceState(s, "live", "", AT)
                      for s in ("ovsdb", "openflow", "libvirt", "netlink")),
    )
    return obs, tables


def _moving(model: NodeModel) -> set[FlowKey]:
    """The flows a ping from instance01 moves: its port's flows that counted
    anything, and both translations of its VLAN."""
    of_port = scope_filter(model, Scope("port", PORT))
    keys = {f.key for f in model.all_flows() if of_port(f) and f.n_packets}
    vlan = model.vlan(model.port(PORT).port.tag)
    keys |= {f.key for f in (vlan.egress_flow, vlan.ingress_flow) if f is not None}
    return keys


def _earlier(counters, packets: int):
    """The same counters ``packets`` packets (of the ping's size) each way ago."""
    return replace(counters, rx_packets=counters.rx_packets - packets,
                   tx_packets=counters.tx_packets - packets,
                   rx_bytes=counters.rx_bytes - packets * PACKET_BYTES,
                   tx_bytes=counters.tx_bytes - packets * PACKET_BYTES)


def seed_refresh(*, marked: bool = False) -> Refresh:
    obs, tables = seed_observation()

    def detail_of(flow):
        return tables[flow.bridge].detail_of(flow)

    model = build_model(obs, detail_of)
    moving = _moving(model)
    deltas = {}
    for bridge in BRIDGES:
        moved = {k: (int(PPS), PACKET_BYTES) for k in moving if k[0] == bridge}
        deltas[bridge] = openflow.FlowDelta(bridge, 1.0, moved=MappingProxyType(moved))
    # 30 samples, one a second: steady, with the dip a lost reply makes
    history = tuple(0.0 if n == 20 else PPS for n in range(30))
    per_second = (PPS, PPS, float(PACKET_BYTES), float(PACKET_BYTES))
    mark = None
    if marked:
        flows = [replace(f, n_packets=max(f.n_packets - int(MARK_AGE * PPS), 0),
                         n_bytes=max(f.n_bytes - int(MARK_AGE * PACKET_BYTES), 0))
                 if f.key in moving else f for f in model.all_flows()]
        ago = int(MARK_AGE * PPS)
        mark = Mark.take(AT - MARK_AGE, flows, BRIDGES,
                         [_earlier(c, ago) for c in PORT_COUNTERS], BRIDGES, (),
                         [_earlier(v, ago) for v in VNIC_STATS])
    return Refresh(
        model=model,
        deltas=MappingProxyType(deltas),
        history=MappingProxyType({k: history for k in moving}),
        mark=mark,
        flow_rates=MappingProxyType({
            bridge: FlowRates(bridge, 1.0, delta.moved, MappingProxyType({}))
            for bridge, delta in deltas.items()}),
        took=0.05,
        link_rates=MappingProxyType({}),  # the seed's `ip -d link` has no counters
        port_rates=MappingProxyType({(c.bridge, c.port): per_second for c in PORT_COUNTERS}),
        vnic_rates=MappingProxyType({PORT: per_second}),
        at=AT,
        clock=TAKEN_AT,
    )


class FakeBackend:
    """A fake ``Backend`` for widget and snapshot tests only: every refresh
    returns the same seed ``Refresh`` (with a mark once one is asked for)."""

    def __init__(self, *, marked: bool = False, refresh: Refresh | None = None) -> None:
        """``refresh``: serve this one instead of the seed's (e.g. unread_refresh())."""
        self.refreshes = 0
        self.ui_first = UiFirst()  # held by keys; nothing here pauses for it
        self._plain = refresh or seed_refresh()
        self._marked = refresh or seed_refresh(marked=True)
        self.marked = marked

    def start(self, loop: asyncio.AbstractEventLoop, changed: Callable[[str], None]) -> None:
        pass  # nothing is pushed: the seed never changes

    def refresh(self) -> Refresh:
        self.refreshes += 1
        return self._marked if self.marked else self._plain

    async def stop(self) -> None:
        pass

    def request_mark(self) -> None:
        self.marked = True

    def clear_mark(self) -> None:
        self.marked = False


def unread_refresh() -> Refresh:
    """A node none of whose sources could be read (every one in error)."""
    why = {"ovsdb": "cannot connect to unix:/nonexistent (pass --db or set OVS_RUNDIR)",
           "openflow": "not read: bridges unknown while OVSDB is unavailable",
           "libvirt": "cannot open qemu:///nonexistent read-only",
           "netlink": "cannot read links"}
    obs = Observation(hostname=HOSTNAME,
                      sources=tuple(SourceState(s, "error", d) for s, d in why.items()))
    return Refresh(model=build_model(obs, openflow.flow_detail), deltas=MappingProxyType({}),
                   history=MappingProxyType({}), mark=None, took=0.01, at=AT, clock=TAKEN_AT)
