"""How OpenFlow names a port, and which OVS interface types are what.

A flow dump names a port by its name cut to 15 bytes, quoted when it has odd
characters, or by its number; every join from a flow to a port goes through
``port_refers``.
"""

from __future__ import annotations

from typing import Mapping

from model.records import OvsInterface, OvsPort, PortCounters
from model.views import PortView

# OVS interface types of tunnel ports and of physical NICs.
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve", "stt", "erspan", "ip6gre", "ip6erspan"})
NIC_TYPES = frozenset({"", "system", "dpdk", "afxdp", "afxdp-nonpmd"})


def strip_quotes(name: str | None) -> str | None:
    """'"tap1"' -> 'tap1': a port reference as a flow may still carry it (no escapes)."""
    if name and len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1]
    return name


def ofp_name(name: str) -> str:
    """A port name as OpenFlow (and so ovs-ofctl) knows it: at most 15 bytes."""
    return name.encode("utf-8")[:15].decode("utf-8", "ignore")


def port_refers(ref: str | None, port: PortView) -> bool:
    """True when a flow's port reference (name, quoted name or number) is this port."""
    ref = strip_quotes(ref)
    if ref is None:
        return False
    return (ref == port.name or ref == ofp_name(port.name)
            or (port.ofport is not None and ref == str(port.ofport)))


def counters_of(counters: Mapping[tuple[str, str], PortCounters],
                pv: PortView) -> PortCounters | None:
    """A port's ``dump-ports`` line: ovs-ofctl names it LOCAL (the bridge's own
    port), by its name, by its 15-byte name, or by its number when two 15-byte
    names clash (OVN's patch-br-int-to-<localnet> ports, two networks or more)."""
    if pv.name == pv.bridge:
        return counters.get((pv.bridge, "LOCAL"))
    refs = [pv.name, ofp_name(pv.name)] + ([str(pv.ofport)] if pv.ofport is not None else [])
    return next((counters[(pv.bridge, r)] for r in refs if (pv.bridge, r) in counters), None)


# Ports the Neutron agents plug (neutron/agent/l3 and linux/interface.py
# prefixes): they carry an iface-id but belong to no VM.
ROUTER_PREFIXES = ("qr-", "sg-", "ha-")  # router interface, DVR SNAT, HA network
GATEWAY_PREFIXES = ("qg-", "fg-")  # router gateway, DVR floating-IP gateway
# Old agents joined br-int to a physical bridge with a veth pair named like the patch ports.
VETH_PAIR_PREFIXES = ("int-", "phy-")

Owner = str  # instance, router, gateway, dhcp, patch, tunnel, nic, bridge-internal, unknown
OWNERS = ("instance", "router", "gateway", "dhcp", "patch", "tunnel", "nic",
          "bridge-internal", "unknown")


def port_owner(port: OvsPort, bridge: str, *, integration_bridge: str | None,
               domain_uuid: str | None) -> Owner:
    """Who a port belongs to, from what OVSDB and libvirt say about it.

    A DHCP port is the DHCP agent's ``tap...`` of type internal (it lives in
    a ``qdhcp-`` namespace); a VM's tap is never internal. A port of two or
    more interfaces is a bond: a NIC.
    """
    i = port.interface
    kind = i.type if i else ""
    if domain_uuid:
        return "instance"
    if port.name == bridge:
        return "bridge-internal"
    if kind == "patch" or port.name.startswith(VETH_PAIR_PREFIXES) and kind in NIC_TYPES:
        return "patch"
    if kind in TUNNEL_TYPES:
        return "tunnel"
    if port.name.startswith(ROUTER_PREFIXES):
        return "router"
    if port.name.startswith(GATEWAY_PREFIXES):
        return "gateway"
    device_owner = i.external_ids.get("device_owner") if i else None
    if device_owner == "network:dhcp" or (port.name.startswith("tap") and kind == "internal"):
        return "dhcp"
    if len(port.interfaces) > 1:
        return "nic"
    if bridge != integration_bridge and kind in NIC_TYPES and not (i and i.iface_id):
        return "nic"
    return "unknown"


def is_veth_pair(int_port: str, phys_port: str, phys_bridge: str) -> bool:
    """int-br-X on br-int and phy-br-X on br-X: an old agent's veth pair."""
    return int_port == f"int-{phys_bridge}" and phys_port == f"phy-{phys_bridge}"


def remote_ip(iface: OvsInterface) -> str | None:
    """A tunnel's far end: options:remote_ip, else (an output that hides the
    options) the agent's name for an IPv4 end (vxlan-0a000072 = 10.0.0.114).
    With remote_ip=flow the far end is chosen per packet: none is named."""
    ip = strip_quotes(iface.options.get("remote_ip"))
    if ip is not None:
        return None if ip == "flow" else ip
    head, _, tail = iface.name.rpartition("-")
    if head and len(tail) == 8:
        try:
            return ".".join(str(b) for b in bytes.fromhex(tail))
        except ValueError:
            return None
    return None
