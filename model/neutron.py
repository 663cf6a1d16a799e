"""What the Neutron OVS agent's table numbers and registers mean.

Table numbers are neutron-lib's ``neutron_lib/plugins/ml2/ovs_constants.py``,
read at two openstack/neutron-lib commits: 0964b73b (59 = packet rate limit)
and ba77e765 (58 = packet rate limit, 59 = bandwidth rate limit). Each table
has one plain name, today's; where a table meant something else in another
release, TABLE_NOTES says so and the flow detail shows it. Older releases keep them in neutron's
``neutron/plugins/ml2/drivers/openvswitch/agent/common/constants.py`` (read at
openstack/neutron 0db57a6a: no tables 3, 4, 30, 31, 58, 59, 61, 62, 77, 78,
and table 2 is "DVR to src MAC (VLAN)"). Registers are the OVS firewall's
(``neutron/agent/linux/openvswitch_firewall/constants.py``: REG_PORT 5,
REG_NET 6, REG_REMOTE_GROUP 7).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Literal, Mapping

BridgeRole = Literal["int", "phys", "tun"]

# The agent's default tunnel bridge ([ovs] tunnel_bridge), and its ports' types.
TUNNEL_BRIDGE = "br-tun"
TUNNEL_PORT_TYPES = frozenset({"vxlan", "gre", "geneve"})
# The agent tags a port it cannot bind (or not yet) with this VLAN and drops its traffic.
DEAD_VLAN = 4095
# Network types whose local VLAN leaves through br-tun, not a physical bridge.
TUNNEL_NETWORKS = frozenset({"vxlan", "gre", "geneve"})

# The OVS firewall's base egress table: a port's anti-spoofing flows there
# match reg5=<its ofport> with the addresses it may send from (nw_src, arp_spa).
BASE_EGRESS_TABLE = 71


def physical_network(other_config: Mapping[str, str]) -> str | None:
    """A bound port's physnet: the agent writes ``str(physical_network)``,
    so a tunnel network's port says "None" (ovs_neutron_agent port_bound)."""
    value = other_config.get("physical_network")
    return None if value in (None, "", "None") else value


# br-int
TABLE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "local switching",
    1: "DVR to src MAC",
    2: "DVR to src MAC (physical)",
    3: "ARP DVR MAC to dst MAC",
    4: "ARP DVR MAC to dst MAC (physical)",
    23: "canary",
    24: "ARP spoofing",
    25: "MAC spoofing",
    30: "local egress",
    31: "local IP",
    58: "packet rate limit",
    59: "bandwidth rate limit",
    60: "transient",
    61: "local MAC direct",
    62: "transient egress",
    71: "base egress",
    72: "rules egress",
    73: "accept or ingress",
    77: "DHCP IPv4",
    78: "DHCP IPv6",
    81: "base ingress",
    82: "rules ingress",
    91: "accepted egress",
    92: "accepted ingress",
    93: "dropped",
    94: "accepted egress normal",
})

# Physical bridges (br-provider, br-ex, ...): VLAN translation sits in table 0,
# or in table 2 when DVR is enabled.
PHYSICAL_TABLE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "local switching",
    1: "DVR process",
    2: "local VLAN translation",
    3: "DVR not learn",
    80: "metadata egress NAT",
    87: "metadata egress output",
    90: "metadata IP ARP responder",
    91: "metadata ingress direct",
})

TUNNEL_TABLE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "local switching",
    1: "DVR process",
    2: "patch local VLAN to tunnel",
    3: "GRE tunnel to local VLAN",
    4: "VXLAN tunnel to local VLAN",
    6: "Geneve tunnel to local VLAN",
    9: "DVR not learn",
    10: "learn from tunnel",
    20: "unicast to tunnel",
    21: "ARP responder",
    22: "flood to tunnel",
})

_BY_ROLE: Mapping[str, Mapping[int, str]] = MappingProxyType({
    "int": TABLE_NAMES,
    "phys": PHYSICAL_TABLE_NAMES,
    "tun": TUNNEL_TABLE_NAMES,
})

# What the OVS firewall keeps in each register.
REGISTERS: Mapping[str, str] = MappingProxyType({
    "reg5": "VIF ofport",
    "reg6": "network / conntrack zone",
    "reg7": "remote group",
})


# br-int tables whose meaning depends on the Neutron release (see the docstring).
TABLE_NOTES: Mapping[int, str] = MappingProxyType({
    59: "before table 58 existed (neutron-lib before ba77e765), table 59 was the packet "
        "rate limit; since then it is the bandwidth rate limit",
    2: "in releases that keep the tables in neutron itself (before neutron-lib), table 2 "
       "is \"DVR to src MAC (VLAN)\"",
})


def table_note(bridge_role: BridgeRole | str, table: int) -> str:
    """How a table's meaning changed between Neutron releases, or ""."""
    return TABLE_NOTES.get(table, "") if bridge_role == "int" else ""


def bridge_role(bridge: str, integration_bridge: str | None,
                port_types: Iterable[str | None] = ()) -> BridgeRole:
    """Which of the agent's table layouts a bridge's flows follow: the
    integration bridge's, the tunnel bridge's (it has the tunnel ports, or
    the agent's default name before it has any), or a physical bridge's."""
    if bridge == integration_bridge:
        return "int"
    if bridge.startswith(TUNNEL_BRIDGE) or any(t in TUNNEL_PORT_TYPES for t in port_types):
        return "tun"
    return "phys"


def table_name(bridge_role: BridgeRole | str, table: int) -> str:
    """The agent's name for a table on a bridge of that role, or "" if it has none."""
    return _BY_ROLE.get(bridge_role, {}).get(table, "")


def describe_registers(regs: Mapping[str, int], meanings: Mapping[str, str] = REGISTERS) -> str:
    """'reg5=3 (VIF ofport), reg6=2 (network / conntrack zone)', in register order."""

    def number(name: str) -> int:
        digits = name[3:]
        return int(digits) if digits.isdigit() else 99

    parts = []
    for name in sorted(regs, key=number):
        meaning = meanings.get(name)
        value = regs[name]
        parts.append(f"{name}={value} ({meaning})" if meaning else f"{name}={value:#x}")
    return ", ".join(parts)
