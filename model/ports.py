"""How OpenFlow names a port, and which OVS interface types are what.

A flow dump names a port by its name cut to 15 bytes, quoted when it has odd
characters, or by its number; every join from a flow to a port goes through
``port_refers``.
"""

from __future__ import annotations

from model.views import PortView

# OVS interface types of tunnel ports and of physical NICs.
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve", "stt", "erspan", "ip6gre", "ip6erspan"})
NIC_TYPES = frozenset({"", "system", "dpdk", "afxdp", "afxdp-nonpmd"})


def unquote(name: str | None) -> str | None:
    if name and len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1]
    return name


def ofp_name(name: str) -> str:
    """A port name as OpenFlow (and so ovs-ofctl) knows it: at most 15 bytes."""
    return name.encode("utf-8")[:15].decode("utf-8", "ignore")


def port_refers(ref: str | None, port: PortView) -> bool:
    """True when a flow's port reference (name, quoted name or number) is this port."""
    ref = unquote(ref)
    if ref is None:
        return False
    return (ref == port.name or ref == ofp_name(port.name)
            or (port.ofport is not None and ref == str(port.ofport)))
