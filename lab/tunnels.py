"""``ovsvlan-tui lab up --tunnels``: the lab grown to what real compute nodes also have.

On top of the seed's node (whose NIC becomes an OVS bond of eth0 and eth1,
active-backup, to the upstream switch's swp1 and swp2):

- a second node, its own namespace ``ovsvlan-<lab>-node2`` with its own
  ovsdb-server and ovs-vswitchd (userspace datapath, run directory
  ``/run/ovsvlan-tui/<lab>/node2``), joined to the first by VXLAN over a
  veth pair between the two node namespaces (TEST-NET-2 addresses);
- on each node br-tun with the agent's ``vxlan-<hex remote IP>`` port and
  tunnel flows, patched to br-int (patch-tun / patch-int);
- a VXLAN tenant network (VNI 1001) with instance02 on node 1 (local VLAN 3,
  Nova metadata 1.0) and instance03 on node 2 (local VLAN 1), which ping
  each other through both br-tuns;
- the L3 agent's router ports (``qr-`` on the tenant network, ``qg-`` on
  provider VLAN 100) in ``ovsvlan-<lab>-qrouter-<router>`` and the DHCP
  agent's port (``tap...``) in ``ovsvlan-<lab>-qdhcp-<network>``: OVS internal
  ports with an iface-id and no vm-uuid, as neutron's OVSInterfaceDriver
  plugs them.

The userspace datapath's VXLAN finds its way out by routing the remote IP
in ovs-vswitchd's own namespace to a device that is an OVS bridge. Tried
here (OVS 3.1): with the underlay address on the veth itself, ovs-vswitchd
learns the route (``ovs/route/show``: ``198.51.100.0/24 dev eth2``) but
``ofproto/trace`` ends in "native tunnel routing failed" and the ping is
lost; with the address on the internal port of a bridge ``br-phy`` holding
the veth (as in OVS's userspace-tunneling howto) it crosses. So each node
has br-phy (standalone, NORMAL) with the underlay address on its internal
port and the underlay veth ``eth2`` as its port.
"""

from __future__ import annotations

import json

from lab import node as labnode
from lab import ovn as labovn
from lab import run as cmd
from lab.agent_flows import plain_integration_flows, tunnel_flows
from lab.domain_xml import node_xml
from lab.node import VMS, Lab, LabError
from lab.topology import (AGENT_PORTS, ROUTER, TENANT_NET, TENANT_VNI, TUNNEL_VMS, UNDERLAY,
                          AgentPort, tunnel_port_name)

KIND = "tunnels"
VM3, VM4 = TUNNEL_VMS  # instance02 on node 1, instance03 on node 2
UNDERLAY_NIC = "eth2"  # each node's end of the underlay veth pair, on its br-phy
UNDERLAY_BRIDGE = "br-phy"


def node2_ns(lab: Lab) -> str:
    return f"ovsvlan-{lab.name}-node2"


def node2_rundir(lab: Lab):
    return lab.dir / "node2"


def node2_xml(lab: Lab):
    return lab.dir / "node2.xml"


def agent_ns(lab: Lab, port: AgentPort) -> str:
    """The L3 agent's qrouter-<router> or the DHCP agent's qdhcp-<network>, lab-named."""
    return (f"ovsvlan-{lab.name}-qdhcp-{port.network}" if port.kind == "dhcp"
            else f"ovsvlan-{lab.name}-qrouter-{ROUTER}")


def namespaces(lab: Lab) -> tuple[str, ...]:
    """The namespaces the grown lab adds to the seed's."""
    return tuple(dict.fromkeys([node2_ns(lab), *(lab.vm_ns(vm) for vm in TUNNEL_VMS),
                                *(agent_ns(lab, p) for p in AGENT_PORTS)]))


def _tunnel_side(rundir, ns: str, local_ip: str, remote_ip: str) -> str:
    """br-tun patched to br-int, its VXLAN port to ``remote_ip``, and br-phy
    holding the underlay address; the tunnel port's name."""
    port = tunnel_port_name(remote_ip)
    cmd.vsctl(rundir,
              "--may-exist", "add-br", "br-tun", "--", "set", "Bridge", "br-tun",
              "datapath_type=netdev", "fail_mode=secure",
              "--", "--may-exist", "add-port", "br-int", "patch-tun",
              "--", "set", "Interface", "patch-tun", "type=patch", "options:peer=patch-int",
              "--", "--may-exist", "add-port", "br-tun", "patch-int",
              "--", "set", "Interface", "patch-int", "type=patch", "options:peer=patch-tun",
              # ovs_lib.add_tunnel_port's options
              "--", "--may-exist", "add-port", "br-tun", port,
              "--", "set", "Interface", port, "type=vxlan", "options:df_default=true",
              f"options:remote_ip={remote_ip}", f"options:local_ip={local_ip}",
              "options:in_key=flow", "options:out_key=flow", "options:egress_pkt_mark=0",
              "--", "--may-exist", "add-br", UNDERLAY_BRIDGE,
              "--", "set", "Bridge", UNDERLAY_BRIDGE, "datapath_type=netdev",
              "--", "--may-exist", "add-port", UNDERLAY_BRIDGE, UNDERLAY_NIC)
    labnode._wait_for_link(ns, UNDERLAY_BRIDGE)
    cmd.run(["ip", "-n", ns, "addr", "replace", local_ip + "/24", "dev", UNDERLAY_BRIDGE])
    cmd.run(["ip", "-n", ns, "link", "set", UNDERLAY_BRIDGE, "up"])
    return port


def _install(rundir, bridge: str, flows: str) -> None:
    cmd.ofctl(rundir, "del-flows", bridge)
    cmd.ofctl(rundir, "add-flows", bridge, "-", stdin=flows)


def _agent_port(lab: Lab, port: AgentPort) -> None:
    """An internal port on br-int with the agent's external_ids, moved into
    its agent's namespace and given its address there."""
    ns = agent_ns(lab, port)
    cmd.vsctl(lab.rundir, "--may-exist", "add-port", "br-int", port.name,
              "--", "set", "Port", port.name,
              *labnode.bound_port(port.network, port.network_type, port.physical_network,
                                  port.local_vlan, port.segmentation_id),
              "--", "set", "Interface", port.name, "type=internal",
              f"external_ids:iface-id={port.port_id}", f"external_ids:attached-mac={port.mac}",
              "external_ids:iface-status=active")
    labnode._wait_for_link(lab.node_ns, port.name)
    cmd.run(["ip", "-n", lab.node_ns, "link", "set", port.name, "netns", ns])
    cmd.run(["ip", "-n", ns, "link", "set", port.name, "address", port.mac])
    cmd.run(["ip", "-n", ns, "addr", "add", port.address, "dev", port.name])
    cmd.run(["ip", "-n", ns, "link", "set", port.name, "up"])


def _grow(lab: Lab) -> None:
    """The seed's node with a bonded NIC, then everything the grown lab adds."""
    labnode._build_node(lab, bond=True)
    labnode.start_namespaces_named(namespaces(lab))
    ns1, ns2, rd1, rd2 = lab.node_ns, node2_ns(lab), lab.rundir, node2_rundir(lab)
    cmd.start_ovs(rd2, ns2)
    cmd.vsctl(rd2, "--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
              "datapath_type=netdev", "fail_mode=secure")
    # the underlay: a veth pair between the two node namespaces
    cmd.run(["ip", "-n", ns1, "link", "add", UNDERLAY_NIC, "type", "veth",
             "peer", "name", UNDERLAY_NIC, "netns", ns2])
    for ns in (ns1, ns2):
        cmd.run(["ip", "-n", ns, "link", "set", UNDERLAY_NIC, "up"])
    port1 = _tunnel_side(rd1, ns1, UNDERLAY[0], UNDERLAY[1])
    port2 = _tunnel_side(rd2, ns2, UNDERLAY[1], UNDERLAY[0])
    labnode.plug_vm(lab, VM3)
    labnode.add_vif(rd1, VM3, None)
    labnode.plug_vm(lab, VM4, ns2)
    labnode.add_vif(rd2, VM4, None)
    for port in AGENT_PORTS:
        _agent_port(lab, port)
    _install(rd1, "br-tun", tunnel_flows(port1, VM3.local_vlan, TENANT_VNI))
    _install(rd2, "br-tun", tunnel_flows(port2, VM4.local_vlan, TENANT_VNI))
    _install(rd2, "br-int", plain_integration_flows())
    node2_xml(lab).write_text(node_xml((VM4,)))


def is_grown(lab: Lab) -> bool:
    """Whether the lab of that name was built with --tunnels."""
    try:
        return json.loads((lab.dir / "lab.json").read_text()).get("kind") == KIND
    except (OSError, ValueError):
        return False


def damage(lab: Lab) -> list[str]:
    """What the grown lab is missing beyond the seed's ([] for one up, or never built)."""
    if not lab.dir.exists():
        return []
    d = node2_rundir(lab)
    out = [f"{p} of node 2 was not running" for p in cmd.DAEMONS
           if not cmd.pid_alive(d / f"{p}.pid")]
    gone = sorted(set(namespaces(lab)) - cmd.namespaces())
    if gone:
        out.append(f"namespace{'s' if len(gone) > 1 else ''} {', '.join(gone)} gone")
    return out


def is_up(lab: Lab) -> bool:
    return labnode.is_up(lab) and is_grown(lab) and not damage(lab)


def up(lab: Lab) -> list[str]:
    """Build the grown lab; if it is already up, leave it; otherwise (re)build
    it, returning what was wrong with the lab it rebuilt (as lab.node.up)."""
    labnode.require_root("up --tunnels")
    if is_up(lab):
        return []
    repaired = labnode.damage(lab) + (damage(lab) if is_grown(lab) else [])
    labnode.build(lab, _grow, teardown=down, bond=True, vms=(*VMS, VM3), kind=KIND)
    return repaired


def down(lab: Lab) -> None:
    """Whatever the lab was built as: the second node and the agents'
    namespaces, then everything the OVN and the seed's lab remove."""
    labnode.require_root("down")
    labnode.going(lab)
    cmd.stop_ovs(node2_rundir(lab))
    labnode.remove_namespaces(namespaces(lab))
    labovn.down(lab)


def ping_command(lab: Lab, *, continuous: bool = False, count: int = 3) -> list[str]:
    """instance02 (node 1) pings instance03 (node 2) across VXLAN VNI 1001."""
    return labnode.ping_command(lab, continuous=continuous, count=count, vm=VM3,
                                to=VM4.address.split("/")[0])


def status(lab: Lab) -> str:
    if not is_up(lab):
        return labovn.status(lab)
    ns2, rd2 = node2_ns(lab), node2_rundir(lab)
    return labnode.status(lab).replace(
        f"lab {lab.name!r} is up", f"lab {lab.name!r} is up (with --tunnels)", 1) + "\n" + "\n".join([
        f"  VXLAN network {TENANT_NET} (VNI {TENANT_VNI}): instance02 in {lab.vm_ns(VM3)} "
        f"pings instance03 on node 2 with: {labnode.command(lab, 'ping --vxlan')}",
        f"  underlay {UNDERLAY[0]} (node 1 {UNDERLAY_BRIDGE}) <-> {UNDERLAY[1]} (node 2)",
        f"  node 2: --db unix:{rd2}/db.sock --ovs-rundir {rd2} "
        f"--libvirt test://{node2_xml(lab)} --netns {ns2}",
        f"  router ports in {agent_ns(lab, AGENT_PORTS[0])}, DHCP port in "
        f"{agent_ns(lab, AGENT_PORTS[2])}; br-provider's NIC is bond {labnode.BOND} "
        f"(eth0, eth1)",
    ])
