"""Frozen records passed between collectors, the model and the UI.

Collectors build these from their source and never hand out live library
objects (OVSDB rows, libvirt domains, netlink messages), so the UI can keep
any record for as long as it likes without racing a collector thread.
Mappings are read-only views (``frozen_map``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Literal, Mapping, TypeVar

T = TypeVar("T")

EMPTY_MAP: Mapping[str, str] = MappingProxyType({})


def _empty_map() -> Mapping:
    return EMPTY_MAP


def frozen_map(d: Mapping | None) -> Mapping:
    """A read-only copy, so a record's maps cannot change under a reader."""
    if not d:
        return EMPTY_MAP
    return MappingProxyType(dict(d))


# --------------------------------------------------------------------------
# Source health, shown in every pane's header.

SourceStatus = Literal["connecting", "live", "stale", "error", "saved"]  # saved: from records saved earlier


@dataclass(frozen=True, slots=True)
class SourceState:
    """How one source is doing; ``detail`` says why and what to do."""

    source: str  # "ovsdb", "openflow", "libvirt", "netlink"
    status: SourceStatus
    detail: str = ""
    last_ok: float | None = None  # time.time() of the last good read


# --------------------------------------------------------------------------
# OVSDB


@dataclass(frozen=True, slots=True)
class OvsInterface:
    name: str
    type: str  # "" (system), "internal", "patch", "tap", ...
    ofport: int | None  # None: not assigned yet; -1: the interface failed
    peer: str | None  # options:peer of a patch interface
    external_ids: Mapping[str, str] = field(default_factory=_empty_map)
    options: Mapping[str, str] = field(default_factory=_empty_map)
    error: str | None = None
    link_state: str | None = None
    admin_state: str | None = None
    mac_in_use: str | None = None

    @property
    def iface_id(self) -> str | None:
        return self.external_ids.get("iface-id")

    @property
    def attached_mac(self) -> str | None:
        return self.external_ids.get("attached-mac")

    @property
    def vm_uuid(self) -> str | None:
        # os-vif writes vm-uuid; libvirt plugging the port writes vm-id.
        return self.external_ids.get("vm-uuid") or self.external_ids.get("vm-id")


@dataclass(frozen=True, slots=True)
class OvsPort:
    name: str
    bridge: str
    tag: int | None
    trunks: tuple[int, ...] = ()
    vlan_mode: str | None = None
    other_config: Mapping[str, str] = field(default_factory=_empty_map)
    external_ids: Mapping[str, str] = field(default_factory=_empty_map)
    interfaces: tuple[OvsInterface, ...] = ()

    @property
    def interface(self) -> OvsInterface | None:
        """The interface of a non-bonded port (nearly all of them)."""
        return self.interfaces[0] if self.interfaces else None


@dataclass(frozen=True, slots=True)
class OvsBridge:
    name: str
    datapath_type: str
    fail_mode: str | None
    ports: tuple[OvsPort, ...] = ()


@dataclass(frozen=True, slots=True)
class OvsdbSnapshot:
    ovs_version: str | None
    bridges: tuple[OvsBridge, ...]
    seqno: int = 0  # the IDL change_seqno this was copied at
    # Open_vSwitch.external_ids: system-id, and on an OVN chassis ovn-remote,
    # ovn-bridge-mappings, ovn-encap-type/-ip (see model/ovn.py)
    external_ids: Mapping[str, str] = field(default_factory=_empty_map)
    # the SSL table's (private_key, certificate, ca_cert): what ovn-controller
    # uses for an ssl: ovn-remote when its command line gives none
    ssl: tuple[str, str, str] | None = None


# --------------------------------------------------------------------------
# OpenFlow

# (bridge, table, priority, match, cookie): what stays the same for one flow
# across dumps, so counters can be diffed without re-parsing the flow.
FlowKey = tuple[str, int, int, str, int]


@dataclass(frozen=True, slots=True)
class Flow:
    bridge: str
    table: int
    priority: int
    cookie: int
    match: str  # as printed, without priority (e.g. 'in_port="tap1",dl_vlan=2')
    actions: str
    n_packets: int
    n_bytes: int
    duration: float  # seconds since the flow was installed, as of seen_at
    # time.monotonic() of the dump duration was read from. A refresh keeps the
    # Flow of a flow whose counters did not move (making 50k new ones a second
    # costs too much), so its duration can be older than the last dump: use age().
    seen_at: float | None = None

    @property
    def key(self) -> FlowKey:
        return (self.bridge, self.table, self.priority, self.match, self.cookie)

    def age(self, now: float) -> float:
        """Seconds since the flow was installed, at ``now`` (a time.monotonic())."""
        if self.seen_at is None:
            return self.duration
        return self.duration + max(now - self.seen_at, 0.0)


@dataclass(frozen=True, slots=True)
class FlowDetail:
    """What the model needs from a flow's full parse (done once per flow)."""

    in_port: str | None = None  # name or number as printed
    dl_vlan: int | None = None  # matched VLAN id
    untagged: bool = False  # matches vlan_tci=0x0000/0x1fff (no VLAN)
    dl_dst: str | None = None
    dl_src: str | None = None
    regs: Mapping[str, int] = field(default_factory=_empty_map)  # {"reg5": 3, "reg6": 2}
    set_vlan: int | None = None  # mod_vlan_vid:N or set_field:0x1000|N->vlan_vid
    strip_vlan: bool = False
    push_vlan: bool = False
    outputs: tuple[str, ...] = ()  # output:port targets as printed
    resubmits: tuple[int, ...] = ()  # tables resubmitted / goto'd to
    loads: Mapping[str, int] = field(default_factory=_empty_map)  # {"reg5": 3} from load:/set_field
    metadata: int | None = None  # matched metadata (OVN: the datapath's tunnel key)
    load_metadata: int | None = None  # metadata written (OVN's table 0: the datapath of in_port)
    drop: bool = False
    normal: bool = False
    partial: bool = False  # the full parser failed; only the basics above were read


@dataclass(frozen=True, slots=True)
class PortCounters:
    """One line of ``ovs-ofctl dump-ports``."""

    bridge: str
    port: str  # name ("LOCAL" for the bridge port) or number as printed
    rx_packets: int | None = None
    rx_bytes: int | None = None
    rx_dropped: int | None = None
    rx_errors: int | None = None
    tx_packets: int | None = None
    tx_bytes: int | None = None
    tx_dropped: int | None = None
    tx_errors: int | None = None


class Layout:
    """The identity of a bridge's flows and their order, across the dumps that
    only moved counters (FlowDump.layout), with what was worked out from the
    flows' text alone: at 200k flows, scanning every flow each refresh for the
    VLAN translations, OVN's table 0 and the anti-spoofing addresses was
    ~30 ms of a refresh, once a second, for an answer that had not changed."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[str, object] = {}

    def found(self, what: str, work_out: Callable[[], T]) -> T:
        if what not in self._found:
            self._found[what] = work_out()
        return self._found[what]  # type: ignore[return-value]


def from_text(dump: FlowDump | None, what: str, work_out: Callable[[], T]) -> T:
    """``work_out()``, once per layout of ``dump`` where its layout is tracked."""
    if dump is None or dump.layout is None:
        return work_out()
    return dump.layout.found(what, work_out)


@dataclass(frozen=True, slots=True)
class FlowDump:
    """One bridge's flows at one instant."""

    bridge: str
    flows: tuple[Flow, ...]
    taken_at: float  # time.monotonic()
    unparsed: tuple[str, ...] = ()  # lines we could not read, shown raw
    error: str | None = None
    # The same object in consecutive dumps of a bridge that hold the same flows
    # in the same order (only counters moved); None where nobody tracks it. What
    # is derived from the flows' identities and order (the flows screen's sorted
    # choice and row keys) is kept while it stays the same.
    layout: Layout | None = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------
# libvirt


@dataclass(frozen=True, slots=True)
class Vnic:
    mac: str | None
    target: str | None  # host device, e.g. tap2d1670a4-8e
    type: str | None = None  # ethernet, bridge, ...
    source_bridge: str | None = None  # <source bridge=...> (qbr for hybrid)
    model: str | None = None
    virtualport: str | None = None  # <virtualport type=...>
    iface_id: str | None = None  # virtualport parameters interfaceid


@dataclass(frozen=True, slots=True)
class NovaPort:
    """One ``<nova:port>`` of Nova's metadata (1.1): a Neutron port and its fixed IPs."""

    uuid: str
    fixed_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Domain:
    name: str  # libvirt name, e.g. instance-00000027
    uuid: str
    state: str  # running, shutoff, paused, ...
    id: int | None = None
    nova_name: str | None = None
    flavor: str | None = None
    project: str | None = None
    project_id: str | None = None
    vnics: tuple[Vnic, ...] = ()
    error: str | None = None  # why its XML could not be read (then it has no vnics)
    nova_ports: tuple[NovaPort, ...] = ()  # from <nova:ports> (Nova metadata 1.1)


@dataclass(frozen=True, slots=True)
class VnicStats:
    domain_uuid: str
    target: str
    rx_packets: int
    rx_bytes: int
    tx_packets: int
    tx_bytes: int
    rx_drop: int = 0
    tx_drop: int = 0
    synthetic: bool = False  # libvirt's test driver: counted from the clock, not traffic


# --------------------------------------------------------------------------
# netlink


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    ifname: str
    operstate: str  # UP, DOWN, UNKNOWN, ...
    master: str | None = None  # name of the master device (ovs-system, qbr...)
    kind: str | None = None  # veth, tun, bridge, openvswitch, ...
    mtu: int | None = None
    mac: str | None = None
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0


# --------------------------------------------------------------------------
# OVN southbound (optional: names for an OVN chassis, see model/ovn.py)


@dataclass(frozen=True, slots=True)
class SbPort:
    """A southbound Port_Binding, as far as this tool shows it."""

    logical_port: str
    type: str  # "" (VIF), localnet, localport, patch, ...
    datapath_key: int | None
    tunnel_key: int | None
    chassis: str | None  # name of the chassis it is bound to
    mac: tuple[str, ...] = ()  # "fa:16:3e:.. 10.0.0.5" entries
    network_name: str | None = None  # options:network_name of a localnet port
    tag: int | None = None


@dataclass(frozen=True, slots=True)
class OvnSouthbound:
    """Names from the southbound DB (read-only, optional)."""

    networks: Mapping[int, str]  # datapath tunnel key -> Neutron network name
    ports: Mapping[str, SbPort]  # logical port name -> binding
    # ovn-northd's release (SB_Global options:northd_internal_version): the
    # chassis' own where ovn-controller runs the same release, as it usually must
    version: str | None = None


# --------------------------------------------------------------------------
# Everything one refresh saw; the model joins it.


@dataclass(frozen=True)
class Observation:
    hostname: str
    ovsdb: OvsdbSnapshot | None = None
    flows: Mapping[str, FlowDump] = field(default_factory=_empty_map)  # by bridge
    port_counters: tuple[PortCounters, ...] = ()
    domains: tuple[Domain, ...] | None = None  # None: libvirt not read
    vnic_stats: tuple[VnicStats, ...] = ()
    links: tuple[Link, ...] | None = None  # None: netlink not read
    sources: tuple[SourceState, ...] = field(default=())
    ovn_sb: OvnSouthbound | None = None  # None: no southbound DB read
    # seconds since the session first saw each interface (None: unknown, e.g. one snapshot)
    port_ages: Mapping[str, float] | None = None
