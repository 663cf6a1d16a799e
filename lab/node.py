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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LAB_ROOT = Path("/run/ovsvlan-tui")
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
NEEDED_BINARIES = ("ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ping")

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
PROJECT_ID = "f2aeffb34ff34ffb8959f1cd813655c6"
VLAN_NET = "fab2345c-5de9-4fda-8342-f0430a9239ea"  # the seed's provider-100
FLAT_NET = "0c6a3b4e-7d21-4f5a-9b8c-3e2d1f0a9b87"
GATEWAY = "192.168.100.1"
FLAT_GATEWAY = "203.0.113.1"


@dataclass(frozen=True)
class LabVm:
    """One instance of the lab: a libvirt domain whose vNIC is a tap on br-int."""

    key: str  # namespace suffix
    domain: str
    uuid: str
    nova_name: str
    tap: str
    ofport: int
    mac: str
    address: str  # CIDR inside the VM namespace
    gateway: str
    port_id: str  # Neutron port UUID (the tap is "tap" + its first 11 chars)
    network: str
    network_type: str
    segmentation_id: int | None
    local_vlan: int
    state: str  # libvirt state in the node file


VMS = (
    LabVm(
        key="vm1", domain="instance-00000027", uuid="45ee5234-e888-4ab8-91d1-d8d646a382ae",
        nova_name="instance01", tap="tap2d1670a4-8e", ofport=3, mac="fa:16:3e:bc:78:a8",
        address="192.168.100.30/24", gateway=GATEWAY,
        port_id="2d1670a4-8e0b-4c34-9a57-0f2a61c3d9e1", network=VLAN_NET,
        network_type="vlan", segmentation_id=100, local_vlan=2, state="running",
    ),
    LabVm(
        key="vm2", domain="instance-00000026", uuid="8c0f5a52-3b7e-4a51-b1d6-6f7c2e9a4d10",
        nova_name="instance00", tap="tap60ad2c85-f3", ofport=2, mac="fa:16:3e:e9:6a:38",
        address="203.0.113.10/24", gateway=FLAT_GATEWAY,
        port_id="60ad2c85-f3d4-4e1a-8b2c-9d7e6f5a4b3c", network=FLAT_NET,
        network_type="flat", segmentation_id=None, local_vlan=1, state="running",
    ),
)

AGENT_COOKIE = "0x5cba03097712b897"  # br-provider, from the seed
INT_COOKIE = "0xcd5d17f4f72cc4b6"  # br-int, from the seed
STALE_COOKIE = "0x1d8e74efef4967c4"  # an older agent's cookie still on br-int in the seed


class LabError(Exception):
    """A lab command could not do its job; the message says what to do."""


# A lab's name becomes a directory under LAB_ROOT (which `down` deletes) and
# part of namespace names, so it may not hold "/", ".." or anything odd.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", re.ASCII)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise LabError(f"bad lab name {name!r}: use 1-32 letters, digits, '-' or '_', "
                       "starting with a letter or digit")
    return name


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

    def settings(self) -> dict[str, str]:
        """The connection flags that point the tool at this lab."""
        return {
            "db": self.db,
            "ovs_rundir": str(self.rundir),
            "libvirt": self.libvirt_uri,
            "netns": self.node_ns,
        }


# --------------------------------------------------------------------------
# Running commands: argument lists only, always inside a lab namespace.


def _run(args: list[str], *, ns: str | None = None, env: dict | None = None,
         check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    if ns is not None:
        args = ["ip", "netns", "exec", ns, *args]
    full_env = None
    if env:
        full_env = {**os.environ, **env}
    proc = subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _ovs_env(rundir: Path) -> dict[str, str]:
    return {
        "OVS_RUNDIR": str(rundir),
        "OVS_DBDIR": str(rundir),
        "OVS_LOGDIR": str(rundir),
        "OVS_SYSCONFDIR": str(rundir),
    }


def _vsctl(rundir: Path, *args: str) -> str:
    return _run(["ovs-vsctl", f"--db=unix:{rundir}/db.sock", "--timeout=10", *args],
                env=_ovs_env(rundir)).stdout


def _ofctl(rundir: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["ovs-ofctl", *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **_ovs_env(rundir)}, timeout=30)
    if proc.returncode != 0:
        raise LabError(f"ovs-ofctl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _pid_alive(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process runs (a zombie does not count:
    in a container whose init does not reap, a daemon we killed stays one)."""
    try:
        pid = int(pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return None if state in ("Z", "X") else pid


def _namespaces() -> set[str]:
    out = _run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


# --------------------------------------------------------------------------
# OVS instances (the node's and the upstream switch's)


DAEMONS = ("ovsdb-server", "ovs-vswitchd")


def _start_daemon(rundir: Path, ns: str, daemon: str) -> None:
    """One daemon of a lab OVS, with its own files, in ``ns``."""
    env = _ovs_env(rundir)
    common = [f"--pidfile={rundir}/{daemon}.pid", f"--unixctl={rundir}/{daemon}.ctl",
              f"--log-file={rundir}/{daemon}.log", "--no-chdir", "--detach", "-vconsole:off"]
    if daemon == "ovsdb-server":
        _run(["ovsdb-server", str(rundir / "conf.db"), f"--remote=punix:{rundir}/db.sock",
              *common], ns=ns, env=env)
    elif daemon == "ovs-vswitchd":
        _run(["ovs-vswitchd", f"unix:{rundir}/db.sock", "--disable-system", *common],
             ns=ns, env=env)
    else:
        raise ValueError(f"not a lab daemon: {daemon!r}")


def _stop_daemon(rundir: Path, daemon: str) -> None:
    """Stop one daemon of a lab OVS by its pid file, and only it."""
    pidfile = rundir / f"{daemon}.pid"
    pid = _pid_alive(pidfile)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if _pid_alive(pidfile) is None:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _start_ovs(rundir: Path, ns: str) -> None:
    """ovsdb-server + ovs-vswitchd (userspace datapath) with their own files, in ``ns``."""
    rundir.mkdir(parents=True, exist_ok=True)
    db = rundir / "conf.db"
    if not db.exists():
        _run(["ovsdb-tool", "create", str(db), str(SCHEMA)], env=_ovs_env(rundir))
    _start_daemon(rundir, ns, "ovsdb-server")
    version = _run(["ovs-vswitchd", "--version"]).stdout.split()[-1]
    _vsctl(rundir, "--no-wait", "init", "--", "set", "Open_vSwitch", ".",
           f"ovs_version={version}", "external_ids:hostname=" + ns)
    _start_daemon(rundir, ns, "ovs-vswitchd")


def _stop_ovs(rundir: Path) -> None:
    for daemon in reversed(DAEMONS):
        _stop_daemon(rundir, daemon)


def stop_daemon(lab: Lab, daemon: str) -> None:
    """Stop the node's ovsdb-server or ovs-vswitchd, as a crash or an upgrade would."""
    if daemon not in DAEMONS:
        raise ValueError(f"not a lab daemon: {daemon!r}")
    _stop_daemon(lab.rundir, daemon)


def start_daemon(lab: Lab, daemon: str) -> None:
    """Start a stopped node daemon again, exactly as `up` started it."""
    _start_daemon(lab.rundir, lab.node_ns, daemon)


# --------------------------------------------------------------------------
# The topology


def _node_flows_provider() -> str:
    c = AGENT_COOKIE
    return "\n".join([
        f"cookie={c},table=0,priority=4,in_port=phy-br-provider,dl_vlan=1 actions=strip_vlan,NORMAL",
        f"cookie={c},table=0,priority=4,in_port=phy-br-provider,dl_vlan=2 actions=mod_vlan_vid:100,NORMAL",
        f"cookie={c},table=0,priority=2,in_port=phy-br-provider actions=drop",
        f"cookie={c},table=0,priority=0 actions=NORMAL",
    ]) + "\n"


def _node_flows_int() -> str:
    """br-int as the Neutron OVS agent with the openvswitch firewall leaves it.

    The per-port flows of tap2d1670a4-8e are the seed's (tables 60-82); the
    pipeline around them (table 0 switching, 23/24 defaults, 59, 72-94) is
    the agent's usual one, so a ping from instance01 crosses it for real.
    """
    c, s = INT_COOKIE, STALE_COOKIE
    tap, mac, ip = "tap2d1670a4-8e", "fa:16:3e:bc:78:a8", "192.168.100.30"
    lla = "fe80::f816:3eff:febc:78a8"
    flows = [
        # table 0: local switching and the VLAN translation (provider -> local)
        "table=0,priority=65535,vlan_tci=0x0fff/0x1fff actions=drop",
        "table=0,priority=3,in_port=int-br-provider,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:1,resubmit(,59)",
        "table=0,priority=3,in_port=int-br-provider,dl_vlan=100 actions=mod_vlan_vid:2,resubmit(,59)",
        "table=0,priority=2,in_port=int-br-provider actions=drop",
        "table=0,priority=0 actions=resubmit(,59)",
        "table=23,priority=0 actions=drop",
        "table=24,priority=0 actions=drop",
        "table=59,priority=0 actions=resubmit(,60)",
        "table=60,priority=3 actions=NORMAL",
        # the seed's firewall flows for tap2d1670a4-8e (ofport 3, zone 2)
        f"table=60,priority=100,in_port={tap} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],resubmit(,71)",
        f"table=60,priority=90,dl_vlan=100,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],strip_vlan,resubmit(,81)",
        f"table=60,priority=90,dl_vlan=2,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],strip_vlan,resubmit(,81)",
        f"table=71,priority=95,arp,reg5=0x3,in_port={tap},dl_src={mac},arp_spa={ip} actions=resubmit(,94)",
        f"table=71,priority=65,ip,reg5=0x3,in_port={tap},dl_src={mac},nw_src={ip} actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=130 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=133 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=135 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},icmp_type=136,nd_target={lla} actions=resubmit(,94)",
        f"table=71,priority=80,udp,reg5=0x3,in_port={tap},dl_src={mac},nw_src={ip},tp_src=68,tp_dst=67 actions=resubmit(,73)",
        f"table=71,priority=80,udp,reg5=0x3,in_port={tap},dl_src={mac},nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=resubmit(,73)",
        f"table=71,priority=80,udp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},tp_src=546,tp_dst=547 actions=resubmit(,73)",
        f"table=71,priority=70,udp,reg5=0x3,in_port={tap},tp_src=67,tp_dst=68 actions=resubmit(,93)",
        f"table=71,priority=70,udp6,reg5=0x3,in_port={tap},tp_src=547,tp_dst=546 actions=resubmit(,93)",
        f"table=71,priority=70,icmp6,reg5=0x3,in_port={tap},icmp_type=134 actions=resubmit(,93)",
        f"table=71,priority=65,ipv6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla} actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
        f"table=71,priority=10,reg5=0x3,in_port={tap} actions=ct_clear,resubmit(,93)",
        # egress rules of the default security group: allow all egress
        "table=72,priority=74,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+new-est,ip,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+new-est,ipv6,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=50,ct_state=+inv+trk actions=resubmit(,93)",
        "table=72,priority=50,ct_state=+est-rel+rpl,ct_zone=2,ct_mark=0,reg5=0x3 actions=resubmit(,94)",
        "table=72,priority=50,ct_state=-new-est+rel-inv,ct_zone=2,ct_mark=0,reg5=0x3 actions=resubmit(,94)",
        "table=72,priority=40,ct_state=-est,reg5=0x3 actions=resubmit(,93)",
        "table=72,priority=0 actions=drop",
        f"table=73,priority=100,reg6=0x2,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],resubmit(,81)",
        "table=73,priority=90,ct_state=+new-est,ip,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
        "table=73,priority=90,ct_state=+new-est,ipv6,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
        "table=73,priority=80,reg5=0x3 actions=resubmit(,94)",
        "table=73,priority=0 actions=drop",
        # ingress
        f"table=81,priority=100,arp,reg5=0x3 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=130 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=135 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=136 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=134 actions=output:{tap}",
        f"table=81,priority=95,udp,reg5=0x3,tp_src=67,tp_dst=68 actions=output:{tap}",
        f"table=81,priority=95,udp6,reg5=0x3,tp_src=547,tp_dst=546 actions=output:{tap}",
        "table=81,priority=90,ct_state=-trk,ip,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])",
        "table=81,priority=90,ct_state=-trk,ipv6,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])",
        "table=81,priority=80,ct_state=+trk,reg5=0x3 actions=resubmit(,82)",
        "table=81,priority=0 actions=drop",
        f"table=82,priority=77,ct_state=+est-rel-rpl,tcp,reg5=0x3,tp_dst=22 actions=output:{tap}",
        f"table=82,priority=77,ct_state=+new-est,tcp,reg5=0x3,tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=75,ct_state=+est-rel-rpl,icmp,reg5=0x3 actions=output:{tap}",
        f"table=82,priority=75,ct_state=+new-est,icmp,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=70,conj_id=16,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=load:0x10->NXM_NX_REG7[],output:{tap}",
        f"table=82,priority=70,conj_id=24,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=load:0x18->NXM_NX_REG7[],output:{tap}",
        f"table=82,priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=load:0x11->NXM_NX_REG7[],ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=70,conj_id=25,ct_state=+new-est,ipv6,reg5=0x3 actions=load:0x19->NXM_NX_REG7[],ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"cookie={s},table=82,priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src={ip} actions=conjunction(16,1/2)",
        f"table=82,priority=70,ct_state=+est-rel-rpl,ip,reg6=0x2,nw_src={ip} actions=conjunction(16,1/2)",
        f"cookie={s},table=82,priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src={ip} actions=conjunction(17,1/2)",
        f"table=82,priority=70,ct_state=+new-est,ip,reg6=0x2,nw_src={ip} actions=conjunction(17,1/2)",
        f"table=82,priority=50,ct_state=+est-rel+rpl,ct_zone=2,ct_mark=0,reg5=0x3 actions=output:{tap}",
        f"table=82,priority=50,ct_state=-new-est+rel-inv,ct_zone=2,ct_mark=0,reg5=0x3 actions=output:{tap}",
        "table=82,priority=0 actions=drop",
        # accepted / dropped
        "table=91,priority=1 actions=resubmit(,94)",
        "table=92,priority=0 actions=drop",
        "table=93,priority=0 actions=drop",
        "table=94,priority=1 actions=NORMAL",
    ]
    return "\n".join(f if f.startswith("cookie=") else f"cookie={c},{f}" for f in flows) + "\n"


def _build_node(lab: Lab) -> None:
    rd, ns = lab.rundir, lab.node_ns
    _vsctl(rd,
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
    # to the upstream switch's swp1 in the tor namespace.
    _run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth",
          "peer", "name", "swp1", "netns", lab.tor_ns])
    _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    _run(["ip", "-n", lab.tor_ns, "link", "set", "swp1", "up"])
    _vsctl(rd, "--may-exist", "add-port", "br-provider", "eth0",
           "--", "set", "Interface", "eth0", "ofport_request=1")

    for vm in VMS:
        vm_ns = lab.vm_ns(vm)
        _run(["ip", "-n", ns, "link", "add", vm.tap, "address", "fe" + vm.mac[2:],
              "type", "veth", "peer", "name", "eth0", "netns", vm_ns])
        _run(["ip", "-n", ns, "link", "set", vm.tap, "up"])
        _run(["ip", "-n", vm_ns, "link", "set", "eth0", "address", vm.mac])
        _run(["ip", "-n", vm_ns, "addr", "add", vm.address, "dev", "eth0"])
        _run(["ip", "-n", vm_ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", vm_ns, "route", "add", "default", "via", vm.gateway])
        other = [f"other_config:net_uuid={vm.network}", f"other_config:network_type={vm.network_type}",
                 "other_config:physical_network=provider", f"other_config:tag={vm.local_vlan}"]
        if vm.segmentation_id is not None:
            other.append(f"other_config:segmentation_id={vm.segmentation_id}")
        _vsctl(rd, "--may-exist", "add-port", "br-int", vm.tap,
               "--", "set", "Port", vm.tap, f"tag={vm.local_vlan}", *other,
               "--", "set", "Interface", vm.tap, f"ofport_request={vm.ofport}",
               f"external_ids:iface-id={vm.port_id}", f"external_ids:attached-mac={vm.mac}",
               "external_ids:iface-status=active", f"external_ids:vm-uuid={vm.uuid}")

    install_flows(lab)


def install_flows(lab: Lab) -> None:
    """The agent's flows, as it installs them at start and after ovs-vswitchd
    restarts (which keeps no flows; the bridges are fail_mode secure, so they
    start empty)."""
    for bridge, flows in (("br-provider", _node_flows_provider()), ("br-int", _node_flows_int())):
        _ofctl(lab.rundir, "del-flows", bridge)
        _ofctl(lab.rundir, "add-flows", bridge, "-", stdin=flows)


def _build_tor(lab: Lab) -> None:
    """The upstream switch: swp1 trunks every VLAN, untagged frames are VLAN 1.

    Gateways are internal ports: 192.168.100.1 on VLAN 100 (instance01's
    network) and 203.0.113.1 untagged (the flat network).
    """
    rd = lab.dir / "tor"
    _vsctl(rd, "--may-exist", "add-br", "br-tor", "--", "set", "Bridge", "br-tor",
           "datapath_type=netdev",
           "--", "--may-exist", "add-port", "br-tor", "swp1",
           "--", "set", "Port", "swp1", "vlan_mode=native-untagged", "tag=1",
           "--", "--may-exist", "add-port", "br-tor", "gw100", "tag=100",
           "--", "set", "Interface", "gw100", "type=internal",
           "--", "--may-exist", "add-port", "br-tor", "gwflat", "tag=1",
           "--", "set", "Interface", "gwflat", "type=internal")
    for dev, addr in (("gw100", GATEWAY + "/24"), ("gwflat", FLAT_GATEWAY + "/24")):
        _wait_for_link(lab.tor_ns, dev)
        _run(["ip", "-n", lab.tor_ns, "addr", "replace", addr, "dev", dev])
        _run(["ip", "-n", lab.tor_ns, "link", "set", dev, "up"])


def _wait_for_link(ns: str, dev: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _run(["ip", "-n", ns, "link", "show", dev], check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise LabError(f"interface {dev} did not appear in namespace {ns}")


def node_xml(vms=VMS) -> str:
    """The libvirt test driver's node file: one <domain> per lab instance."""
    domains = []
    for vm in vms:
        domains.append(f"""  <domain type='test'>
    <name>{vm.domain}</name>
    <uuid>{vm.uuid}</uuid>
    <metadata>
      <nova:instance xmlns:nova="{NOVA_NS}">
        <nova:package version="27.1.0"/>
        <nova:name>{vm.nova_name}</nova:name>
        <nova:creationTime>2024-04-21 15:56:20</nova:creationTime>
        <nova:flavor name="m1.nano">
          <nova:memory>128</nova:memory>
          <nova:disk>1</nova:disk>
          <nova:swap>0</nova:swap>
          <nova:ephemeral>0</nova:ephemeral>
          <nova:vcpus>1</nova:vcpus>
        </nova:flavor>
        <nova:owner>
          <nova:user uuid="71b5948c75f24c0f841dbf1c4eb4c4a7">demo</nova:user>
          <nova:project uuid="{PROJECT_ID}">demo</nova:project>
        </nova:owner>
      </nova:instance>
    </metadata>
    <memory unit='KiB'>131072</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <on_poweroff>destroy</on_poweroff>
    <devices>
      <interface type='ethernet'>
        <mac address='{vm.mac}'/>
        <target dev='{vm.tap}'/>
        <model type='virtio'/>
        <mtu size='1500'/>
      </interface>
    </devices>
  </domain>""")
    return ("<node>\n  <cpu><mhz>2000</mhz><model>i686</model><active>2</active>"
            "<total>2</total><nodes>1</nodes><sockets>1</sockets><cores>2</cores>"
            "<threads>1</threads></cpu>\n  <memory>8388608</memory>\n"
            + "\n".join(domains) + "\n</node>\n")


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


def is_up(lab: Lab) -> bool:
    if not lab.dir.exists():
        return False
    pidfiles = [lab.dir / d / f"{p}.pid" for d in ("node", "tor")
                for p in ("ovsdb-server", "ovs-vswitchd")]
    return (all(_pid_alive(p) for p in pidfiles)
            and set(lab.namespaces) <= _namespaces()
            and lab.node_xml.exists())


def up(lab: Lab) -> None:
    """Build the lab; if it is already up, leave it; if half built, rebuild it."""
    require_root("up")
    if is_up(lab):
        return
    down(lab)
    lab.dir.mkdir(parents=True, exist_ok=True)
    try:
        for ns in lab.namespaces:
            _run(["ip", "netns", "add", ns])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _start_ovs(lab.dir / "tor", lab.tor_ns)
        _start_ovs(lab.rundir, lab.node_ns)
        _build_node(lab)
        _build_tor(lab)
        lab.node_xml.write_text(node_xml())
        (lab.dir / "lab.json").write_text(json.dumps(lab.settings(), indent=2) + "\n")
    except BaseException:
        down(lab)
        raise


def down(lab: Lab) -> None:
    """Stop the lab's daemons by pid, delete its namespaces and files."""
    require_root("down")
    for sub in ("node", "tor"):
        _stop_ovs(lab.dir / sub)
    present = _namespaces()
    for ns in lab.namespaces:
        if ns not in present:
            continue
        # Anything still running in a lab namespace was started for the lab
        # (a `lab ping`, say); it would keep the namespace's devices alive.
        pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _run(["ip", "netns", "del", ns], check=False)
    shutil.rmtree(lab.dir, ignore_errors=True)
    try:
        LAB_ROOT.rmdir()  # only if no other lab lives there
    except OSError:
        pass


def status(lab: Lab) -> str:
    if not is_up(lab):
        return f"lab {lab.name!r} is down (start it with: ovsvlan-tui lab up)"
    s = lab.settings()
    return "\n".join([
        f"lab {lab.name!r} is up",
        f"  --db {s['db']}",
        f"  --libvirt {s['libvirt']}",
        f"  --netns {s['netns']}",
        f"  OVS_RUNDIR={s['ovs_rundir']}",
        f"  instance01 namespace: {lab.vm_ns(VMS[0])} (ping {GATEWAY} with: ovsvlan-tui lab ping)",
        f"  try: OVS_RUNDIR={s['ovs_rundir']} ovs-ofctl dump-flows br-int",
    ])


def ping_command(lab: Lab, *, continuous: bool = False, count: int = 3) -> list[str]:
    """ping from instance01 to its gateway, crossing VLAN 2 -> 100 and back."""
    args = ["ip", "netns", "exec", lab.vm_ns(VMS[0]), "ping", "-n"]
    if not continuous:
        args += ["-c", str(count), "-W", "2"]
    return [*args, GATEWAY]
