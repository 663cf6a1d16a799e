"""The lab as an ML2/OVN compute node: real OVN daemons in the lab's namespaces.

``ovsvlan-tui lab up --ovn`` builds the same two instances, taps, NIC and
upstream switch as the ML2/OVS lab, but br-int is ovn-controller's: a real
OVN northbound and southbound ovsdb-server, ovn-northd and ovn-controller run
inside the node's namespace with their files under the lab's run directory
(never the distribution's services; stopped by their pid files). The logical
topology is made with ovn-nbctl the way Neutron's OVN driver makes it: a
logical switch per network named ``neutron-<network>``, a localnet port
``provnet-<segment>`` (VLAN 100 on one, flat on the other) mapped to
br-provider by ``ovn-bridge-mappings``, one port per vNIC named after its
Neutron port, and the metadata port (``tap<network[:10]>0``, type localport).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lab import node as labnode
from lab import run as cmd
from lab.node import VMS, Lab, LabError
from lab.topology import FLAT_NET, VLAN_NET

NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")
OVN_BINARIES = ("ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl")
CHASSIS = "ovsvlan-lab-chassis"
PHYSNET = "provider"
PROVIDER_BRIDGE = "br-provider"
VLAN_TAG = 100
OVN_DAEMONS = ("ovn-controller", "ovn-northd", "ovnsb-server", "ovnnb-server")


@dataclass(frozen=True)
class OvnNetwork:
    """A Neutron network as the OVN driver writes it to the northbound DB."""

    uuid: str
    name: str  # Neutron's network name (external_ids neutron:network_name)
    segment: str  # Neutron segment UUID: the localnet port is provnet-<segment>
    tag: int | None  # provider VLAN; None for flat
    metadata_port: str  # Neutron port UUID of the network's metadata port

    @property
    def switch(self) -> str:
        return f"neutron-{self.uuid}"

    @property
    def localnet(self) -> str:
        return f"provnet-{self.segment}"

    @property
    def metadata_tap(self) -> str:
        # neutron's OVN metadata agent: tap + 10 chars of the network + 0 (1 in ovnmeta-)
        return f"tap{self.uuid[:10]}0"


NETWORKS = (
    OvnNetwork(uuid=VLAN_NET, name="provider-100", segment="5e1c0a2d-7b39-4e68-9d0f-1a2b3c4d5e6f",
               tag=VLAN_TAG, metadata_port="a3c1e7b2-9f04-4d6e-8a51-2b7c9d0e1f34"),
    OvnNetwork(uuid=FLAT_NET, name="public-flat", segment="9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
               tag=None, metadata_port="c7d2f8a9-1b3e-4c5d-9e6f-7a8b9c0d1e2f"),
)


def ovn_dir(lab: Lab) -> Path:
    """NB/SB databases, their sockets, and the OVN daemons' pid, log and ctl files."""
    return lab.dir / "ovn"


def nb_remote(lab: Lab) -> str:
    return f"unix:{ovn_dir(lab)}/ovnnb_db.sock"


def sb_remote(lab: Lab) -> str:
    return f"unix:{ovn_dir(lab)}/ovnsb_db.sock"


def _ovn_env(lab: Lab) -> dict[str, str]:
    d = str(ovn_dir(lab))
    return {"OVN_RUNDIR": d, "OVN_DBDIR": d, "OVN_LOGDIR": d, "OVN_SYSCONFDIR": d}


def _files(lab: Lab, daemon: str) -> list[str]:
    d = ovn_dir(lab)
    # ovn-controller has no --unixctl: its socket is $OVN_RUNDIR/ovn-controller.<pid>.ctl
    ctl = [] if daemon == "ovn-controller" else [f"--unixctl={d}/{daemon}.ctl"]
    return [f"--pidfile={d}/{daemon}.pid", *ctl,
            f"--log-file={d}/{daemon}.log", "--no-chdir", "--detach", "-vconsole:off"]


def _start_db(lab: Lab, daemon: str, schema: Path, db: str) -> None:
    d = ovn_dir(lab)
    if not (d / db).exists():
        cmd.run(["ovsdb-tool", "create", str(d / db), str(schema)])
    sock = db.replace(".db", ".sock")
    cmd.run(["ovsdb-server", str(d / db), f"--remote=punix:{d}/{sock}",
                  *_files(lab, daemon)], ns=lab.node_ns, env=_ovn_env(lab))


def _nbctl(lab: Lab, *args: str) -> str:
    return cmd.run(["ovn-nbctl", f"--db={nb_remote(lab)}", "--timeout=10", *args],
                        env=_ovn_env(lab)).stdout


def _start_central(lab: Lab) -> None:
    ovn_dir(lab).mkdir(parents=True, exist_ok=True)
    _start_db(lab, "ovnnb-server", NB_SCHEMA, "ovnnb_db.db")
    _start_db(lab, "ovnsb-server", SB_SCHEMA, "ovnsb_db.db")
    _nbctl(lab, "--no-wait", "init")
    cmd.run(["ovn-northd", f"--ovnnb-db={nb_remote(lab)}", f"--ovnsb-db={sb_remote(lab)}",
                  *_files(lab, "ovn-northd")], ns=lab.node_ns, env=_ovn_env(lab))


def _logical_topology(lab: Lab) -> None:
    """What Neutron's OVN driver writes for the two networks and their ports."""
    for net in NETWORKS:
        args = ["--may-exist", "ls-add", net.switch,
                "--", "set", "Logical_Switch", net.switch,
                f'external_ids:"neutron:network_name"={net.name}',
                "--", "--may-exist", "lsp-add", net.switch, net.localnet,
                "--", "lsp-set-type", net.localnet, "localnet",
                "--", "lsp-set-addresses", net.localnet, "unknown",
                "--", "lsp-set-options", net.localnet, f"network_name={PHYSNET}",
                "--", "--may-exist", "lsp-add", net.switch, net.metadata_port,
                "--", "lsp-set-type", net.metadata_port, "localport",
                "--", "set", "Logical_Switch_Port", net.metadata_port,
                'external_ids:"neutron:device_owner"=network:distributed']
        if net.tag is not None:
            args += ["--", "set", "Logical_Switch_Port", net.localnet, f"tag={net.tag}"]
        _nbctl(lab, *args)
    for vm in VMS:
        net = next(n for n in NETWORKS if n.uuid == vm.network)
        ip = vm.address.split("/")[0]
        _nbctl(lab, "--may-exist", "lsp-add", net.switch, vm.port_id,
               "--", "lsp-set-addresses", vm.port_id, f"{vm.mac} {ip}",
               "--", "set", "Logical_Switch_Port", vm.port_id,
               f'external_ids:"neutron:device_id"={vm.uuid}',
               'external_ids:"neutron:device_owner"=compute:nova')


def _build_chassis(lab: Lab) -> None:
    """br-int and br-provider for ovn-controller, the taps, then ovn-controller."""
    rd, ns = lab.rundir, lab.node_ns
    cmd.vsctl(
        rd, "set", "Open_vSwitch", ".",
        f"external_ids:system-id={CHASSIS}", f"external_ids:ovn-remote={sb_remote(lab)}",
        "external_ids:ovn-encap-type=geneve", "external_ids:ovn-encap-ip=127.0.0.1",
        f"external_ids:ovn-bridge-mappings={PHYSNET}:{PROVIDER_BRIDGE}",
        "external_ids:ovn-bridge-datapath-type=netdev",
        "--", "--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
        "datapath_type=netdev", "fail_mode=secure", "other_config:disable-in-band=true",
        "--", "--may-exist", "add-br", PROVIDER_BRIDGE, "--", "set", "Bridge", PROVIDER_BRIDGE,
        "datapath_type=netdev", "fail_mode=standalone")
    # the NIC, a veth to the upstream switch (exactly the ML2/OVS lab's)
    cmd.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth",
                  "peer", "name", "swp1", "netns", lab.tor_ns])
    cmd.run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    cmd.run(["ip", "-n", lab.tor_ns, "link", "set", "swp1", "up"])
    cmd.vsctl(rd, "--may-exist", "add-port", PROVIDER_BRIDGE, "eth0")
    for vm in VMS:
        labnode.plug_vm(lab, vm)
        cmd.vsctl(rd, "--may-exist", "add-port", "br-int", vm.tap,
                       "--", "set", "Interface", vm.tap, f"ofport_request={vm.ofport}",
                       f"external_ids:iface-id={vm.port_id}", f"external_ids:attached-mac={vm.mac}",
                       "external_ids:iface-status=active", f"external_ids:vm-uuid={vm.uuid}")
    # the metadata port of the VLAN network: its other end stays in the node
    # namespace here (in ovnmeta-<network> on a real node)
    net = NETWORKS[0]
    cmd.run(["ip", "-n", ns, "link", "add", net.metadata_tap, "type", "veth",
                  "peer", "name", net.metadata_tap[:-1] + "1"])
    cmd.run(["ip", "-n", ns, "link", "set", net.metadata_tap, "up"])
    cmd.run(["ip", "-n", ns, "link", "set", net.metadata_tap[:-1] + "1", "up"])
    cmd.vsctl(rd, "--may-exist", "add-port", "br-int", net.metadata_tap,
                   "--", "set", "Interface", net.metadata_tap,
                   f"external_ids:iface-id={net.metadata_port}")
    env = {**cmd.ovs_env(rd), **_ovn_env(lab)}
    cmd.run(["ovn-controller", f"unix:{rd}/db.sock", *_files(lab, "ovn-controller")],
                 ns=ns, env=env)


def wait_bound(lab: Lab, timeout: float = 30) -> None:
    """Until ovn-controller has installed every instance's port (ovn-installed)."""
    deadline = time.monotonic() + timeout
    taps = [vm.tap for vm in VMS]
    while time.monotonic() < deadline:
        done = all('ovn-installed="true"' in cmd.vsctl(lab.rundir, "list", "Interface", tap)
                   for tap in taps)
        if done and "patch-br-int-to" in cmd.vsctl(lab.rundir, "show"):
            return
        time.sleep(0.2)
    raise LabError(f"ovn-controller did not bind the lab's ports in {timeout:.0f} s: "
                   f"see {ovn_dir(lab)}/ovn-controller.log")


def require_root(action: str) -> None:
    labnode.require_root(action)
    missing = [b for b in OVN_BINARIES if shutil.which(b) is None]
    if missing:
        raise LabError(f"missing {', '.join(missing)}: install the Debian packages "
                       "ovn-central and ovn-host")


def is_ovn(lab: Lab) -> bool:
    """Whether the lab of that name was built as an OVN chassis."""
    try:
        return json.loads((lab.dir / "lab.json").read_text()).get("kind") == "ovn"
    except (OSError, ValueError):
        return False


def is_up(lab: Lab) -> bool:
    d = ovn_dir(lab)
    return (labnode.is_up(lab) and is_ovn(lab)
            and all(cmd.pid_alive(d / f"{p}.pid") for p in OVN_DAEMONS))


def up(lab: Lab) -> list[str]:
    """Build the OVN lab; if it is already up, leave it; otherwise (re)build it,
    returning what was wrong with the lab it rebuilt (as lab.node.up)."""
    require_root("up --ovn")
    if is_up(lab):
        return []
    repaired = labnode.damage(lab) + [f"{p} not running" for p in OVN_DAEMONS
                                      if labnode.is_up(lab) and is_ovn(lab)
                                      and not cmd.pid_alive(ovn_dir(lab) / f"{p}.pid")]
    labnode.build(lab, _chassis, teardown=down, ready=wait_bound,
                  kind="ovn", ovn_sb=sb_remote(lab), ovn_nb=nb_remote(lab))
    return repaired


def _chassis(lab: Lab) -> None:
    """OVN's central daemons, the logical topology, and the node as a chassis."""
    _start_central(lab)
    _logical_topology(lab)
    _build_chassis(lab)


def stop_ovn(lab: Lab) -> None:
    """The OVN daemons, by their pid files, controller first."""
    for daemon in OVN_DAEMONS:
        cmd.stop_daemon(ovn_dir(lab), daemon)


def down(lab: Lab) -> None:
    """Stop the OVN daemons, then everything the ML2/OVS lab's `down` removes."""
    labnode.require_root("down")
    labnode.going(lab)
    stop_ovn(lab)
    labnode.down(lab)


def status(lab: Lab) -> str:
    if not is_up(lab):
        return labnode.status(lab)
    return labnode.status(lab).replace(f"lab {lab.name!r} is up",
                                       f"lab {lab.name!r} is up (ML2/OVN chassis)", 1) + (
        f"\n  OVN southbound: {sb_remote(lab)}  northbound: {nb_remote(lab)}"
        f"\n  try: ovn-nbctl --db={nb_remote(lab)} show")
