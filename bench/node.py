"""A busy compute node for the benchmark, built on top of a lab.

The lab (``lab``) gives a real ovsdb-server and ovs-vswitchd in a
namespace with the seed's topology. This adds what makes a node busy: 100
instances with two vNICs each (200 ports on br-int, internal ports created by
ovs-vswitchd inside the lab's node namespace, carrying the Neutron agent's
external_ids and other_config), their VLAN translation flows, a libvirt
test-driver node file whose domains own those ports, and as many flows of the
openvswitch firewall's shape on br-int as asked for.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from collectors.endpoints import Endpoints
from lab import node as labmod
from lab.agent_flows import egress_translation, ingress_translation
from lab.domain_xml import domain_xml, lab_domains, node_file
from tui.cli import endpoint_flags

NETWORKS = 10  # VLAN networks the bench instances are spread over
FIRST_LOCAL_VLAN = 3  # the lab's own instances use local VLANs 1 and 2
FIRST_SEGMENTATION_ID = 101  # the lab's VLAN network is provider VLAN 100
FIRST_OFPORT = 10  # the lab's ports are 1-3
COOKIE = labmod.INT_COOKIE


@dataclass(frozen=True)
class BenchPort:
    """One vNIC's OVS port, as Nova and the Neutron agent leave it."""

    tap: str
    ofport: int
    mac: str
    ip: str
    port_id: str
    network: str
    local_vlan: int
    segmentation_id: int


@dataclass(frozen=True)
class BenchInstance:
    domain: str
    uuid: str
    nova_name: str
    ports: tuple[BenchPort, ...]


def _uuid(kind: str, n: int) -> str:
    """Deterministic, so two runs build the same node."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ovsvlan-bench/{kind}/{n}"))


def plan(instances: int = 100, vnics: int = 2) -> tuple[BenchInstance, ...]:
    out = []
    n = 0
    for i in range(instances):
        ports = []
        for _ in range(vnics):
            port_id = _uuid("port", n)
            net = n % NETWORKS
            ports.append(BenchPort(
                tap="tap" + port_id[:11], ofport=FIRST_OFPORT + n,
                mac=f"fa:16:3e:{n >> 16 & 0xff:02x}:{n >> 8 & 0xff:02x}:{n & 0xff:02x}",
                ip=f"172.16.{n // 250}.{n % 250 + 2}", port_id=port_id,
                network=_uuid("network", net), local_vlan=FIRST_LOCAL_VLAN + net,
                segmentation_id=FIRST_SEGMENTATION_ID + net,
            ))
            n += 1
        out.append(BenchInstance(domain=f"instance-{0x1000 + i:08x}", uuid=_uuid("instance", i),
                                 nova_name=f"bench-vm-{i:03d}", ports=tuple(ports)))
    return tuple(out)


def ports_of(instances: tuple[BenchInstance, ...]) -> list[BenchPort]:
    return [p for inst in instances for p in inst.ports]


# --------------------------------------------------------------------------
# OVSDB ports and translation flows


def add_ports(lab: labmod.Lab, instances: tuple[BenchInstance, ...]) -> None:
    """All ports in one ovs-vsctl transaction (200 separate calls take ~20 s)."""
    args: list[str] = []
    for inst, p in ((i, p) for i in instances for p in i.ports):
        args += [
            "--", "--may-exist", "add-port", "br-int", p.tap,
            "--", "set", "Port", p.tap, f"tag={p.local_vlan}",
            f"other_config:net_uuid={p.network}", "other_config:network_type=vlan",
            "other_config:physical_network=provider", f"other_config:tag={p.local_vlan}",
            f"other_config:segmentation_id={p.segmentation_id}",
            "--", "set", "Interface", p.tap, "type=internal", f"ofport_request={p.ofport}",
            f"external_ids:iface-id={p.port_id}", f"external_ids:attached-mac={p.mac}",
            "external_ids:iface-status=active", f"external_ids:vm-uuid={inst.uuid}",
        ]
    _run(["ovs-vsctl", f"--db={lab.db}", "--timeout=60", *args[1:]], lab)
    # ovs-vswitchd creates the devices (in the node namespace) a moment later.
    taps = {p.tap for p in ports_of(instances)}
    deadline = time.monotonic() + 30
    while True:
        shown = _run(["ip", "-n", lab.node_ns, "-o", "link", "show"], lab)
        missing = taps - {line.split(":")[1].strip().split("@")[0] for line in shown.splitlines()}
        if not missing:
            break
        if time.monotonic() > deadline:
            raise labmod.LabError(f"{len(missing)} bench ports did not appear in {lab.node_ns}")
        time.sleep(0.1)
    _run(["ip", "-n", lab.node_ns, "-batch", "-"], lab,
         stdin="".join(f"link set {tap} up\n" for tap in sorted(taps)))


def translation_flows(instances: tuple[BenchInstance, ...]) -> dict[str, str]:
    """The agent's VLAN translation for each bench network, on both bridges."""
    nets = sorted({(p.local_vlan, p.segmentation_id) for p in ports_of(instances)})
    provider = [egress_translation(local, segid) for local, segid in nets]
    integration = [ingress_translation(local, segid) for local, segid in nets]
    return {"br-provider": "\n".join(provider) + "\n", "br-int": "\n".join(integration) + "\n"}


# --------------------------------------------------------------------------
# Firewall-shaped flows


def _port_flows(p: BenchPort, index: int) -> Iterator[str]:
    """Flows of one port, most typical first; after the fixed ones, rules forever.

    The fixed ones follow the seed's tables 60-82 for tap2d1670a4-8e; the
    rules are what security group rules and remote-group members add: tcp
    ports in tables 72/82 and conjunction members (one per remote address).
    """
    o, z, m, ip = p.ofport, p.local_vlan, p.mac, p.ip
    r5, r6 = f"reg5={o:#x}", f"reg6={z:#x}"
    load = f"load:{o:#x}->NXM_NX_REG5[],load:{z:#x}->NXM_NX_REG6[]"
    ct72 = "ct(table=72,zone=NXM_NX_REG6[0..15])"
    ct82 = "ct(table=82,zone=NXM_NX_REG6[0..15])"
    commit = "ct(commit,zone=NXM_NX_REG6[0..15])"
    conj = 16 + 4 * index  # conj_ids of this port: conj .. conj+3
    yield from (
        f"table=60,priority=100,in_port={o} actions={load},resubmit(,71)",
        f"table=71,priority=65,ip,{r5},in_port={o},dl_src={m},nw_src={ip} actions={ct72}",
        f"table=82,priority=70,conj_id={conj},ct_state=+est-rel-rpl,ip,{r5} "
        f"actions=load:{conj:#x}->NXM_NX_REG7[],output:{o}",
        f"table=82,priority=70,ct_state=+est-rel-rpl,ip,{r5} actions=conjunction({conj},2/2)",
        f"table=81,priority=90,ct_state=-trk,ip,{r5} actions={ct82}",
        f"table=72,priority=74,ct_state=+new-est,ip,{r5} actions=resubmit(,73)",
        f"table=73,priority=100,{r6},dl_dst={m} actions=load:{o:#x}->NXM_NX_REG5[],resubmit(,81)",
        f"table=60,priority=90,dl_vlan={z},dl_dst={m} actions={load},strip_vlan,resubmit(,81)",
        f"table=71,priority=95,arp,{r5},in_port={o},dl_src={m},arp_spa={ip} actions=resubmit(,94)",
        f"table=71,priority=80,udp,{r5},in_port={o},dl_src={m},nw_src={ip},tp_src=68,tp_dst=67 "
        f"actions=resubmit(,73)",
        f"table=71,priority=70,udp,{r5},in_port={o},tp_src=67,tp_dst=68 actions=resubmit(,93)",
        f"table=71,priority=65,ipv6,{r5},in_port={o},dl_src={m} actions={ct72}",
        f"table=71,priority=10,{r5},in_port={o} actions=ct_clear,resubmit(,93)",
        f"table=72,priority=74,ct_state=+est-rel-rpl,ip,{r5} actions=resubmit(,73)",
        f"table=72,priority=50,ct_state=+est-rel+rpl,ct_zone={z},ct_mark=0,{r5} "
        f"actions=resubmit(,94)",
        f"table=72,priority=40,ct_state=-est,{r5} actions=resubmit(,93)",
        f"table=73,priority=90,ct_state=+new-est,ip,{r5} actions={commit},resubmit(,91)",
        f"table=73,priority=80,{r5} actions=resubmit(,94)",
        f"table=81,priority=100,arp,{r5} actions=output:{o}",
        f"table=81,priority=95,udp,{r5},tp_src=67,tp_dst=68 actions=output:{o}",
        f"table=81,priority=90,ct_state=-trk,ipv6,{r5} actions={ct82}",
        f"table=81,priority=80,ct_state=+trk,{r5} actions=resubmit(,82)",
        f"table=82,priority=77,ct_state=+new-est,tcp,{r5},tp_dst=22 "
        f"actions={commit},output:{o},resubmit(,92)",
        f"table=82,priority=75,ct_state=+new-est,icmp,{r5} actions={commit},output:{o},resubmit(,92)",
        f"table=82,priority=70,conj_id={conj + 1},ct_state=+new-est,ip,{r5} "
        f"actions=load:{conj + 1:#x}->NXM_NX_REG7[],{commit},output:{o},resubmit(,92)",
        f"table=82,priority=70,ct_state=+new-est,ip,{r5} actions=conjunction({conj + 1},2/2)",
        f"table=82,priority=50,ct_state=+est-rel+rpl,ct_zone={z},ct_mark=0,{r5} actions=output:{o}",
    )
    for k in itertools.count():
        member = 1 + index * 4096 + k  # a remote group's address, unique node-wide
        remote = f"10.{member >> 16 & 0xff}.{member >> 8 & 0xff}.{member & 0xff}"
        port = 1024 + k
        yield from (
            f"table=72,priority=77,ct_state=+new-est,tcp,{r5},tp_dst={port} actions=resubmit(,73)",
            f"table=82,priority=70,ct_state=+est-rel-rpl,ip,{r6},nw_src={remote} "
            f"actions=conjunction({conj},1/2)",
            f"table=82,priority=77,ct_state=+new-est,tcp,{r5},tp_dst={port} "
            f"actions={commit},output:{o},resubmit(,92)",
            f"table=82,priority=70,ct_state=+new-est,ip,{r6},nw_src={remote} "
            f"actions=conjunction({conj + 1},1/2)",
        )


def firewall_flows(instances: tuple[BenchInstance, ...]) -> Iterator[str]:
    """An endless, deterministic stream of distinct firewall flows, the ports
    taking turns (so any prefix spreads over all 200 ports)."""
    streams = [_port_flows(p, n) for n, p in enumerate(ports_of(instances))]
    for lines in zip(*streams):
        for line in lines:
            yield f"cookie={COOKIE},{line}"


# --------------------------------------------------------------------------
# Loading


def _run(args: list[str], lab: labmod.Lab, stdin: str | None = None) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OVS_RUNDIR": str(lab.rundir)})
    if proc.returncode != 0:
        raise labmod.LabError(f"{args[0]} {args[1]} ... failed: {proc.stderr.strip()}")
    return proc.stdout


def ofctl(lab: labmod.Lab, *args: str, stdin: str | None = None) -> str:
    return _run(["ovs-ofctl", *args], lab, stdin)


def flow_count(lab: labmod.Lab, bridge: str = "br-int") -> int:
    text = ofctl(lab, "--read-only", "dump-aggregate", bridge)
    return int(text.split("flow_count=")[1].split()[0])


class FlowLoader:
    """Grows br-int to a total number of flows, adding only what is missing."""

    def __init__(self, lab: labmod.Lab, instances: tuple[BenchInstance, ...]) -> None:
        self.lab = lab
        self._stream = firewall_flows(instances)

    def grow_to(self, total: int) -> int:
        """Add flows until br-int holds ``total``; returns how many it holds."""
        have = flow_count(self.lab)
        if total > have:
            lines = list(itertools.islice(self._stream, total - have))
            ofctl(self.lab, "add-flows", "br-int", "-", stdin="\n".join(lines) + "\n")
        return flow_count(self.lab)


# --------------------------------------------------------------------------
# libvirt


def write_node_xml(path: Path, instances: tuple[BenchInstance, ...]) -> str:
    """The lab's two instances plus the bench's; returns the libvirt URI."""
    domains = lab_domains() + [domain_xml(i.domain, i.uuid, i.nova_name,
                                          [(p.mac, p.tap) for p in i.ports])
                               for i in instances]
    path.write_text(node_file(domains))
    return f"test://{path}"


@dataclass(frozen=True)
class BenchNode:
    """Where the tool finds the bench node (the flags of ``ovsvlan-tui``)."""

    lab: labmod.Lab
    instances: tuple[BenchInstance, ...]
    libvirt: str

    def endpoints(self) -> Endpoints:
        return dataclasses.replace(self.lab.endpoints(), libvirt=self.libvirt)

    def flags(self) -> list[str]:
        return endpoint_flags(self.endpoints())


def build(lab: labmod.Lab, instances: int = 100) -> BenchNode:
    """Bring the lab up and make it busy (no firewall flows yet: see FlowLoader)."""
    labmod.up(lab)
    bench = plan(instances)
    add_ports(lab, bench)
    for bridge, flows in translation_flows(bench).items():
        ofctl(lab, "add-flows", bridge, "-", stdin=flows)
    uri = write_node_xml(lab.dir / "bench-node.xml", bench)
    return BenchNode(lab, bench, uri)
