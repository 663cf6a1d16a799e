"""The mark: every counter the tool shows, as it was when the operator pressed ``m``.

One baseline, taken by the session in the refresh that follows the request,
for flows, ``dump-ports``, netlink and libvirt alike, so "since mark" means
the same on every screen however late a screen is opened. A counter born
after the mark (a flow added or re-added, a device re-created) counts in
whole: everything it holds happened since the mark.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Iterable, Mapping

from model.records import Flow, FlowKey, Link, PortCounters, VnicStats

# (label on screen, attribute of the record): one list per source, shared by
# the value column and the since-mark column so they can never disagree.
PORT_FIELDS = (("rx packets", "rx_packets"), ("tx packets", "tx_packets"),
               ("rx bytes", "rx_bytes"), ("tx bytes", "tx_bytes"),
               ("rx dropped", "rx_dropped"), ("tx dropped", "tx_dropped"),
               ("rx errors", "rx_errors"), ("tx errors", "tx_errors"))
LINK_FIELDS = PORT_FIELDS
VNIC_FIELDS = (("rx packets", "rx_packets"), ("tx packets", "tx_packets"),
               ("rx bytes", "rx_bytes"), ("tx bytes", "tx_bytes"),
               ("rx dropped", "rx_drop"), ("tx dropped", "tx_drop"))

Fields = tuple[tuple[str, str], ...]


def values(record: object | None, fields: Fields) -> dict[str, int | None]:
    """A record's counters by label ({} for no record)."""
    if record is None:
        return {}
    return {label: getattr(record, attr) for label, attr in fields}


def _since(now: int | None, then: int | None, born_after: bool) -> int | None:
    if now is None:
        return None
    if born_after:
        return now
    if then is None:
        return None
    return now if now < then else now - then  # lower: the counter restarted after the mark


@dataclass(frozen=True)
class Mark:
    """Counters at the mark; a source not read then has None (no since-mark for it)."""

    at: float  # time.time() of the refresh that took it
    flows: Mapping[FlowKey, tuple[int, int]]
    flow_bridges: frozenset[str]  # bridges whose flows were read at the mark
    ports: Mapping[tuple[str, str], PortCounters] | None  # by (bridge, port)
    port_bridges: frozenset[str]  # bridges whose dump-ports answered at the mark
    links: Mapping[str, Link] | None  # by ifname
    vnics: Mapping[str, VnicStats] | None  # by tap

    @classmethod
    def take(cls, at: float, flows: Iterable[Flow], flow_bridges: Iterable[str],
             ports: Iterable[PortCounters], port_bridges: Iterable[str],
             links: Iterable[Link] | None, vnics: Iterable[VnicStats] | None) -> "Mark":
        return cls(
            at=at,
            flows=MappingProxyType({f.key: (f.n_packets, f.n_bytes) for f in flows}),
            flow_bridges=frozenset(flow_bridges),
            ports=MappingProxyType({(c.bridge, c.port): c for c in ports}),
            port_bridges=frozenset(port_bridges),
            links=None if links is None else MappingProxyType({l.ifname: l for l in links}),
            vnics=None if vnics is None else MappingProxyType({v.target: v for v in vnics}),
        )

    def reborn(self, keys: Iterable[FlowKey]) -> "Mark":
        """The mark once these flows were added again after it: they count in whole."""
        gone = [k for k in keys if k in self.flows]
        if not gone:
            return self
        flows = dict(self.flows)
        for key in gone:
            del flows[key]
        return replace(self, flows=MappingProxyType(flows))

    def flow(self, flow: Flow) -> tuple[int, int] | None:
        """(packets, bytes) since the mark; None when the bridge was not read then."""
        if flow.bridge not in self.flow_bridges:
            return None
        base = self.flows.get(flow.key)
        if base is None:  # added after the mark
            return flow.n_packets, flow.n_bytes
        if flow.n_packets < base[0] or flow.n_bytes < base[1]:  # re-added, counters reset
            return flow.n_packets, flow.n_bytes
        return flow.n_packets - base[0], flow.n_bytes - base[1]

    def port(self, current: PortCounters) -> dict[str, int | None]:
        known = self.ports is not None and current.bridge in self.port_bridges
        base = self.ports.get((current.bridge, current.port)) if known else None
        return self._fields(current, base, PORT_FIELDS, known)

    def link(self, current: Link) -> dict[str, int | None]:
        base = self.links.get(current.ifname) if self.links is not None else None
        if base is not None and base.index != current.index:
            base = None  # the device was deleted and made again since the mark
        return self._fields(current, base, LINK_FIELDS, self.links is not None)

    def vnic(self, current: VnicStats) -> dict[str, int | None]:
        base = self.vnics.get(current.target) if self.vnics is not None else None
        if base is not None and base.domain_uuid != current.domain_uuid:
            base = None  # another domain's tap of the same name
        return self._fields(current, base, VNIC_FIELDS, self.vnics is not None)

    @staticmethod
    def _fields(current, base, fields: Fields, known: bool) -> dict[str, int | None]:
        if not known:  # the source was not read at the mark: no honest baseline
            return {label: None for label, _ in fields}
        return {label: _since(getattr(current, attr),
                              getattr(base, attr) if base is not None else None, base is None)
                for label, attr in fields}
