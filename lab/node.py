"""A real compute node on this machine: the seed's topology in namespaces.

``ovsvlan-tui lab up`` starts a real ovsdb-server and ovs-vswitchd on the
userspace datapath inside a private network namespace and builds the seed's
node there (br-int and br-provider joined by patch ports, two VM taps on
local VLANs 1 and 2, the Neutron OVS agent's external_ids, other_config and
flows), plus an upstream "top of rack" switch (a second OVS in its own
namespace) holding the gateways, and a libvirt ``test:///`` node file with
the two instances. Nothing here ever touches the host's namespace: every
``ip`` command names a lab namespace and every lab interface is created
inside one, so a lab ``eth0`` can never be the host's ``eth0``.

What the lab holds is in lab/topology.py, the agent's flows in
lab/agent_flows.py, the libvirt node file in lab/domain_xml.py and the
commands it runs in lab/run.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from collectors.endpoints import Endpoints
from lab import run as cmd
from lab.agent_flows import agent_flows
from lab.domain_xml import node_xml
from lab.run import DAEMONS, LabError, check_name
from lab.topology import (  # noqa: F401  (re-exported: callers use lab.node.X)
    AGENT_COOKIE,
    FLAT_GATEWAY,
    GATEWAY,
    INT_COOKIE,
    NOVA_NS,
    PROJECT_ID,
    STALE_COOKIE,
    VMS,
    LabVm,
)

__all__ = [
    "AGENT_COOKIE", "FLAT_GATEWAY", "GATEWAY", "INT_COOKIE", "NOVA_NS", "PROJECT_ID",
    "STALE_COOKIE", "VMS", "LabVm", "LabError", "Lab", "LAB_ROOT", "NEEDED_BINARIES",
    "check_name", "require_root", "is_up", "up", "down", "status", "ping_command",
    "start_daemon", "stop_daemon", "install_flows", "node_xml",
]

LAB_ROOT = Path("/run/ovsvlan-tui")
# (node NIC, its link on the upstream switch); the grown lab bonds the first two
TOR_PORTS = (("eth0", "swp1"), ("eth1", "swp2"))
BOND = "bond0"
NEEDED_BINARIES = ("ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ping")


@dataclass(frozen=True)
class Lab:
    """Names and paths of one lab; several can coexist under different names."""

    name: str = "lab"

    def __post_init__(self) -> None:
        check_name(self.name)

    @property
    def dir(self) -> Path:
        return LAB_ROOT / self.name

    @property
    def node_ns(self) -> str:
        return f"ovsvlan-{self.name}-node"

    @property
    def tor_ns(self) -> str:
        return f"ovsvlan-{self.name}-tor"

    def vm_ns(self, vm: LabVm) -> str:
        return f"ovsvlan-{self.name}-{vm.key}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.node_ns, self.tor_ns, *(self.vm_ns(vm) for vm in VMS))

    @property
    def rundir(self) -> Path:
        """The node's OVS run directory: db.sock and the bridges' .mgmt sockets."""
        return self.dir / "node"

    @property
    def db(self) -> str:
        return f"unix:{self.rundir}/db.sock"

    @property
    def node_xml(self) -> Path:
        return self.dir / "node.xml"

    @property
    def libvirt_uri(self) -> str:
        return f"test://{self.node_xml}"

    def endpoints(self) -> Endpoints:
        """Where the tool reads this lab's sources (what ``--lab`` points it at)."""
        return Endpoints(db=self.db, ovs_rundir=str(self.rundir), libvirt=self.libvirt_uri,
                         netns=self.node_ns)


def stop_daemon(lab: Lab, daemon: str) -> None:
    """Stop the node's ovsdb-server or ovs-vswitchd, as a crash or an upgrade would."""
    if daemon not in DAEMONS:
        raise ValueError(f"not a lab daemon: {daemon!r}")
    cmd.stop_daemon(lab.rundir, daemon)


def start_daemon(lab: Lab, daemon: str) -> None:
    """Start a stopped node daemon again, exactly as `up` started it."""
    cmd.start_daemon(lab.rundir, lab.node_ns, daemon)


# --------------------------------------------------------------------------
# The topology


def _build_node(lab: Lab, *, bond: bool = False) -> None:
    """The seed's node; with ``bond`` its NIC is an OVS bond of eth0 and eth1."""
    rd, ns = lab.rundir, lab.node_ns
    cmd.vsctl(rd,
           "--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
           "datapath_type=netdev", "fail_mode=secure",
           "--", "--may-exist", "add-br", "br-provider", "--", "set", "Bridge", "br-provider",
           "datapath_type=netdev", "fail_mode=secure",
           "--", "--may-exist", "add-port", "br-int", "int-br-provider",
           "--", "set", "Interface", "int-br-provider", "type=patch",
           "options:peer=phy-br-provider", "ofport_request=1",
           "--", "--may-exist", "add-port", "br-provider", "phy-br-provider",
           "--", "set", "Interface", "phy-br-provider", "type=patch",
           "options:peer=int-br-provider", "ofport_request=2")

    # The physical NIC: a veth named eth0 inside the node namespace, trunked
    # to the upstream switch's swp1 in the tor namespace (and eth1 to swp2
    # for a bond).
    nics = TOR_PORTS[:2] if bond else TOR_PORTS[:1]
    for nic, swp in nics:
        cmd.run(["ip", "-n", ns, "link", "add", nic, "type", "veth",
              "peer", "name", swp, "netns", lab.tor_ns])
        cmd.run(["ip", "-n", ns, "link", "set", nic, "up"])
        cmd.run(["ip", "-n", lab.tor_ns, "link", "set", swp, "up"])
    if bond:
        cmd.vsctl(rd, "--may-exist", "add-bond", "br-provider", BOND, *(n for n, _ in nics),
                  "bond_mode=active-backup", "other_config:bond-detect-mode=carrier")
    else:
        cmd.vsctl(rd, "--may-exist", "add-port", "br-provider", "eth0",
               "--", "set", "Interface", "eth0", "ofport_request=1")

    for vm in VMS:
        plug_vm(lab, vm)
        add_vif(rd, vm, "provider")

    install_flows(lab)


def bound_port(network: str, network_type: str, physical_network: str | None,
               local_vlan: int, segmentation_id: int | None) -> list[str]:
    """What the OVS agent writes on a Port it binds (ovs_neutron_agent port_bound):
    the local VLAN tag and other_config, physical_network "None" on a tunnel network."""
    other = [f"tag={local_vlan}", f"other_config:net_uuid={network}",
             f"other_config:network_type={network_type}",
             f"other_config:physical_network={physical_network}",
             f"other_config:tag={local_vlan}"]
    if segmentation_id is not None:
        other.append(f"other_config:segmentation_id={segmentation_id}")
    return other


def add_vif(rundir: Path, vm: LabVm, physical_network: str | None) -> None:
    """The instance's tap on br-int, as os-vif plugs it and the agent binds it."""
    cmd.vsctl(rundir, "--may-exist", "add-port", "br-int", vm.tap,
              "--", "set", "Port", vm.tap,
              *bound_port(vm.network, vm.network_type, physical_network, vm.local_vlan,
                          vm.segmentation_id),
              "--", "set", "Interface", vm.tap, f"ofport_request={vm.ofport}",
              f"external_ids:iface-id={vm.port_id}", f"external_ids:attached-mac={vm.mac}",
              "external_ids:iface-status=active", f"external_ids:vm-uuid={vm.uuid}")


def plug_vm(lab: Lab, vm: LabVm, node_ns: str | None = None) -> None:
    """The "VM": a namespace holding the guest end of a veth named like the tap."""
    ns, vm_ns = node_ns or lab.node_ns, lab.vm_ns(vm)
    cmd.run(["ip", "-n", ns, "link", "add", vm.tap, "address", "fe" + vm.mac[2:],
             "type", "veth", "peer", "name", "eth0", "netns", vm_ns])
    cmd.run(["ip", "-n", ns, "link", "set", vm.tap, "up"])
    cmd.run(["ip", "-n", vm_ns, "link", "set", "eth0", "address", vm.mac])
    cmd.run(["ip", "-n", vm_ns, "addr", "add", vm.address, "dev", "eth0"])
    cmd.run(["ip", "-n", vm_ns, "link", "set", "eth0", "up"])
    cmd.run(["ip", "-n", vm_ns, "route", "add", "default", "via", vm.gateway])


def install_flows(lab: Lab) -> None:
    """The agent's flows, as it installs them at start and after ovs-vswitchd
    restarts (which keeps no flows; the bridges are fail_mode secure, so they
    start empty)."""
    for bridge, flows in agent_flows().items():
        cmd.ofctl(lab.rundir, "del-flows", bridge)
        cmd.ofctl(lab.rundir, "add-flows", bridge, "-", stdin=flows)


def _build_tor(lab: Lab, *, bond: bool = False) -> None:
    """The upstream switch: swp1 (and swp2, the bond's second link) trunks
    every VLAN, untagged frames are VLAN 1.

    Gateways are internal ports: 192.168.100.1 on VLAN 100 (instance01's
    network) and 203.0.113.1 untagged (the flat network).
    """
    rd = lab.dir / "tor"
    trunks = []
    for _nic, swp in TOR_PORTS[:2] if bond else TOR_PORTS[:1]:
        trunks += ["--", "--may-exist", "add-port", "br-tor", swp,
                   "--", "set", "Port", swp, "vlan_mode=native-untagged", "tag=1"]
    cmd.vsctl(rd, "--may-exist", "add-br", "br-tor", "--", "set", "Bridge", "br-tor",
           "datapath_type=netdev", *trunks,
           "--", "--may-exist", "add-port", "br-tor", "gw100", "tag=100",
           "--", "set", "Interface", "gw100", "type=internal",
           "--", "--may-exist", "add-port", "br-tor", "gwflat", "tag=1",
           "--", "set", "Interface", "gwflat", "type=internal")
    for dev, addr in (("gw100", GATEWAY + "/24"), ("gwflat", FLAT_GATEWAY + "/24")):
        _wait_for_link(lab.tor_ns, dev)
        cmd.run(["ip", "-n", lab.tor_ns, "addr", "replace", addr, "dev", dev])
        cmd.run(["ip", "-n", lab.tor_ns, "link", "set", dev, "up"])


def _wait_for_link(ns: str, dev: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cmd.run(["ip", "-n", ns, "link", "show", dev], check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise LabError(f"interface {dev} did not appear in namespace {ns}")


# --------------------------------------------------------------------------
# Commands


def require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise LabError(f"`lab {action}` needs root (it creates network namespaces and "
                       "starts ovsdb-server/ovs-vswitchd): run it with sudo")
    missing = [b for b in NEEDED_BINARIES if shutil.which(b) is None]
    if missing:
        raise LabError(f"missing {', '.join(missing)}: install the Debian packages "
                       "openvswitch-switch, iproute2 and iputils-ping")


def command(lab: Lab, action: str) -> str:
    """An ``ovsvlan-tui lab`` command line for this lab, as the operator pastes it:
    every hint the lab prints repeats the lab's name, so following one never
    starts another lab."""
    name = [] if lab.name == Lab.name else ["--lab-name", lab.name]
    return shlex.join(["ovsvlan-tui", "lab", *action.split(), *name])


def damage(lab: Lab) -> list[str]:
    """What is missing from a lab that was built ([] for one up, or never built)."""
    if not lab.dir.exists():
        return []
    out = [f"{p} of the {where} namespace was not running" for where in ("node", "tor")
           for p in ("ovsdb-server", "ovs-vswitchd")
           if not cmd.pid_alive(lab.dir / where / f"{p}.pid")]
    gone = sorted(set(lab.namespaces) - cmd.namespaces())
    if gone:
        out.append(f"namespace{'s' if len(gone) > 1 else ''} {', '.join(gone)} gone")
    if not lab.node_xml.exists():
        out.append(f"libvirt node file {lab.node_xml} gone")
    return out


def is_up(lab: Lab) -> bool:
    return lab.dir.exists() and not damage(lab)


def generation(lab: Lab) -> str | None:
    """A token each build writes anew: a changed one means the lab was rebuilt."""
    try:
        return (lab.dir / "generation").read_text().strip() or None
    except OSError:
        return None


def start_namespaces(lab: Lab) -> None:
    start_namespaces_named(lab.namespaces)


def start_namespaces_named(names) -> None:
    for ns in names:
        cmd.run(["ip", "netns", "add", ns])
        cmd.run(["ip", "-n", ns, "link", "set", "lo", "up"])


def build(lab: Lab, node: Callable[[Lab], None], *, teardown: Callable[[Lab], None],
          ready: Callable[[Lab], None] = lambda lab: None, bond: bool = False,
          vms: tuple[LabVm, ...] = VMS, **info: str) -> None:
    """From scratch: the namespaces, the node's and the upstream switch's OVS,
    ``node(lab)`` on the node's, the upstream switch (two links for a
    ``bond``), the libvirt node file with ``vms``, ``ready(lab)``, then
    lab.json (the endpoints plus ``info``). Whatever fails, ``teardown(lab)``
    leaves nothing behind."""
    teardown(lab)
    lab.dir.mkdir(parents=True, exist_ok=True)
    try:
        start_namespaces(lab)
        cmd.start_ovs(lab.dir / "tor", lab.tor_ns)
        cmd.start_ovs(lab.rundir, lab.node_ns)
        node(lab)
        _build_tor(lab, bond=bond)
        lab.node_xml.write_text(node_xml(vms))
        ready(lab)
        (lab.dir / "generation").write_text(secrets.token_hex(8) + "\n")
        settings = {**dataclasses.asdict(lab.endpoints()), **info}
        (lab.dir / "lab.json").write_text(json.dumps(settings, indent=2) + "\n")
    except BaseException:
        teardown(lab)
        raise


def up(lab: Lab) -> list[str]:
    """Build the lab; if it is already up, leave it; if damaged, rebuild it and
    return what was wrong (the caller says so: a silent rebuild misleads)."""
    require_root("up")
    if is_up(lab):
        return []
    repaired = damage(lab)
    build(lab, _build_node, teardown=down)
    return repaired


def going(lab: Lab) -> None:
    """The first step of every teardown: the build's token goes before anything is
    stopped, so a `lab ping --continuous` whose ping a teardown kills sees its lab
    going (and waits for the rebuild), not a ping that ended on a lab unchanged."""
    (lab.dir / "generation").unlink(missing_ok=True)


def down(lab: Lab) -> None:
    """Stop the lab's daemons by pid, delete its namespaces and files."""
    require_root("down")
    going(lab)
    for sub in ("node", "tor"):
        cmd.stop_ovs(lab.dir / sub)
    remove_namespaces(lab.namespaces)
    shutil.rmtree(lab.dir, ignore_errors=True)
    try:
        LAB_ROOT.rmdir()  # only if no other lab lives there
    except OSError:
        pass


def remove_namespaces(names) -> None:
    """Delete those lab namespaces that exist, after killing what runs in them."""
    present = cmd.namespaces()
    for ns in names:
        if ns not in present:
            continue
        # Anything still running in a lab namespace was started for the lab
        # (a `lab ping`, say); it would keep the namespace's devices alive.
        pids = cmd.run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        cmd.run(["ip", "netns", "del", ns], check=False)


def status(lab: Lab) -> str:
    if not lab.dir.exists():
        return f"lab {lab.name!r} is down (start it with: {command(lab, 'up')})"
    wrong = damage(lab)
    if wrong:
        return (f"lab {lab.name!r} is damaged ({'; '.join(wrong)}): "
                f"{command(lab, 'up')} rebuilds it")
    e = lab.endpoints()
    return "\n".join([
        f"lab {lab.name!r} is up; the TUI on it (either line):",
        "  " + shlex.join(["ovsvlan-tui", *e.flags()]),
        "  " + shlex.join(["ovsvlan-tui", "--lab", *(["--lab-name", lab.name]
                                                    if lab.name != Lab.name else [])]),
        f"instance01 namespace: {lab.vm_ns(VMS[0])}; ping {GATEWAY} with: "
        f"{command(lab, 'ping --continuous')}",
        "its flows, read-only: " + shlex.join(["env", f"OVS_RUNDIR={e.ovs_rundir}", "ovs-ofctl",
                                               "--read-only", "dump-flows", "br-int"]),
        f"remove it with: {command(lab, 'down')}",
    ])


def ping_command(lab: Lab, *, continuous: bool = False, count: int = 3,
                 vm: LabVm = VMS[0], to: str = GATEWAY) -> list[str]:
    """ping from instance01 to its gateway, crossing VLAN 2 -> 100 and back
    (or from ``vm`` to ``to``)."""
    args = ["ip", "netns", "exec", lab.vm_ns(vm), "ping", "-n"]
    if not continuous:
        args += ["-c", str(count), "-W", "2"]
    return [*args, to]
