"""Where does my packet die? On a real lab with a ping running, each way an
instance loses its gateway is named by the trace, the path and the drops:
the egress translation deleted, ICMP taken out of the security group, the
gateway moved to another VLAN upstream, and the healthy node for contrast.

One lab for the module: each test breaks one thing and puts it back.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from collectors import appctl
from lab import node as labmod
from model import learning, path as pathmod
from tests.integration.live_app import LiveApp, all_live, ofctl, screen_text, until
from tui.cli import endpoint_flags
from tui.navigation import OpenPort, OpenVlan
from tui.screens.conntrack import ConntrackScreen
from tui.screens.path import PathScreen
from tui.screens.port import PortScreen
from tui.screens.trace import TraceScreen
from tui.screens.vlan import VlanScreen
from node.once import collect_once
from widgets.learning import fdb_text

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
VM = labmod.VMS[0]


def cli(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *endpoint_flags(lab.endpoints()),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def trace(lab: labmod.Lab, *extra: str) -> dict:
    out = cli(lab, "trace", "--port", VM.tap, "--to", labmod.GATEWAY, "--json", *extra)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@contextmanager
def pinging(args: list[str]):
    """A ping running in the background, stopped by its pid."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_healthy_the_trace_leaves_eth0_tagged_100(shared_lab):
    with pinging(labmod.ping_command(shared_lab, continuous=True)):
        t = trace(shared_lab)
    assert t["verdict"] == "output", t["summary"]
    assert t["egress"] == {"bridge": "br-provider", "port": "eth0", "vlan": 100}
    assert t["summary"] == "leaves eth0 tagged 100"
    assert t["drop"] is None
    tables = [(h["bridge"], h["table"]) for h in t["hops"]]
    # through the firewall's conntrack pass and into the physical bridge
    assert ("br-int", 71) in tables and ("br-int", 72) in tables
    assert tables[-1] == ("br-provider", 0)
    assert t["hops"][-1]["match"] == "in_port=phy-br-provider,dl_vlan=2"
    assert {"bridge", "table", "priority", "match", "actions"} <= set(t["hops"][0])
    back = trace(shared_lab, "--from-wire")
    assert back["verdict"] == "output" and back["egress"]["port"] == VM.tap


def test_egress_translation_deleted_the_trace_names_the_priority_2_drop(shared_lab):
    ofctl(shared_lab, "--strict", "del-flows", "br-provider",
          "table=0,priority=4,in_port=phy-br-provider,dl_vlan=2")
    try:
        with pinging(labmod.ping_command(shared_lab, continuous=True)):
            t = trace(shared_lab)
    finally:
        labmod.install_flows(shared_lab)
    assert t["verdict"] == "drop"
    assert t["egress"] is None
    assert {k: t["drop"][k] for k in ("bridge", "table", "priority", "match", "actions")} == {
        "bridge": "br-provider", "table": 0, "priority": 2, "match": "in_port=phy-br-provider",
        "actions": "drop"}
    assert t["summary"] == ("dropped on br-provider, table 0 (local switching), priority 2 "
                            "`in_port=phy-br-provider` (no translation for local VLAN 2)")


def fast_ping(lab: labmod.Lab) -> list[str]:
    """instance01 pings its gateway five times a second (the lab's own ping, faster)."""
    return ["ip", "netns", "exec", lab.vm_ns(VM), "ping", "-n", "-i", "0.2", labmod.GATEWAY]


def path_now(lab: labmod.Lab, seconds: float = 3.0) -> pathmod.PacketPath:
    """The path as `snapshot --rates` reads it: the node twice, seconds apart."""
    then, started = collect_once(lab.endpoints()), time.monotonic()
    time.sleep(seconds)
    now = collect_once(lab.endpoints())
    return pathmod.path_between(then, now, VM.tap, time.monotonic() - started)


def hop(path: pathmod.PacketPath, key: str) -> pathmod.Hop:
    return next(h for h in path.hops if h.spec.key == key)


def test_healthy_every_hop_of_the_path_moves_at_the_pings_rate(shared_lab):
    with pinging(fast_ping(shared_lab)):
        subprocess.run(labmod.ping_command(shared_lab, count=1), capture_output=True)
        path = path_now(shared_lab)
    assert [h.spec.key for h in path.hops] == [
        "vnic", "tap", "port", "firewall", "patch", "translation", "nic", "wire"]
    assert path.stops == ()
    for h in path.hops:
        if h.spec.key in ("vnic", "wire"):
            continue  # libvirt's test driver makes its counters up; the wire has none
        # 5 pings a second each way, give or take the window's edges (and an ARP);
        # a shared hop (the patch ports, the NIC) also counts the lab's other
        # packets (the VM's IPv6 start-up, the other instance's)
        most = 10.0 if h.spec.shared else 7.5
        assert 3.5 <= h.out_pps <= most, (h.spec.label, h.out_pps)
        assert 3.5 <= h.in_pps <= most, (h.spec.label, h.in_pps)
        # none of the ping's packets is dropped; the VM's own IPv6 start-up
        # (what the security group refuses, table 93) may be, slowly
        assert all(rate < 1.0 for _flow, rate in h.drops), (h.spec.label, h.drops)


def test_egress_translation_deleted_the_path_marks_br_provider(shared_lab):
    ofctl(shared_lab, "--strict", "del-flows", "br-provider",
          "table=0,priority=4,in_port=phy-br-provider,dl_vlan=2")
    try:
        with pinging(fast_ping(shared_lab)):
            path = path_now(shared_lab)
    finally:
        labmod.install_flows(shared_lab)
    [stop] = path.stops
    marked = path.hops[stop.hop]
    assert (stop.direction, marked.spec.key) == ("out", "translation")
    assert marked.spec.label == "br-provider, VLAN 2 -> provider VLAN 100"
    assert (stop.flow.bridge, stop.flow.table, stop.flow.priority, stop.flow.actions) == (
        "br-provider", 0, 2, "drop")
    assert "priority 2 in_port=phy-br-provider actions=drop" in stop.evidence.replace('"', "")
    # the hops before it still move: the packets do reach br-provider
    assert hop(path, "firewall").out_pps > 1 and hop(path, "tap").out_pps > 1


async def test_the_path_and_trace_screens_show_it_live(shared_lab):
    """P from the port screen draws the path with moving counters; t traces from it."""
    app = LiveApp(shared_lab.endpoints(), interval=0.5)
    with pinging(fast_ping(shared_lab)):
        async with app.run_test(size=(160, 48)) as pilot:
            await all_live(pilot)
            app.post_message(OpenVlan(VM.local_vlan))  # its MAC learning: the gateway via eth0
            gw = gateway_mac(shared_lab)
            await until(pilot, lambda: isinstance(app.screen, VlanScreen)
                        and any(gw in line for line in screen_text(app).splitlines()
                                if "via eth0:" in line),
                        "the gateway's MAC learned via eth0 on the VLAN screen")
            assert "MAC learning on br-provider VLAN 100" in screen_text(app)
            app.post_message(OpenPort(VM.tap))
            await until(pilot, lambda: isinstance(app.screen, PortScreen), "the port screen")
            await pilot.press("P")
            await until(pilot, lambda: isinstance(app.screen, PathScreen)
                        and app.screen.path is not None and app.screen.path.seconds >= 2
                        and hop(app.screen.path, "nic").out_pps, "the path with rates")
            assert app.screen.path.stops == ()
            await pilot.press("c")  # its conntrack zone: the ping is an entry there
            await until(pilot, lambda: isinstance(app.screen, ConntrackScreen)
                        and any(e.proto == "icmp" and e.orig.dst == labmod.GATEWAY
                                for e in app.screen.entries), "the ping's conntrack entry")
            assert app.screen.zone == 2
            await pilot.press(*"udp")  # the filter: no UDP conversation runs
            assert learning.ct_filter(app.screen.entries, app.screen.text) == []
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, PathScreen), "back on the path")
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace screen")
            await pilot.press(*labmod.GATEWAY, "enter")
            await until(pilot, lambda: app.screen.result is not None, "a trace result")
            assert app.screen.result.summary == "leaves eth0 tagged 100"
            await pilot.press("up", "f")
            await until(pilot, lambda: type(app.screen).__name__ == "FlowDetailScreen",
                        "the last hop's flow opened")
    assert app.errors() == []


def drops_now(lab: labmod.Lab, seconds: str = "2") -> list[dict]:
    out = cli(lab, "snapshot", "--json", "--rates", seconds)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["drops"]


def conntrack(lab: labmod.Lab, zone: int) -> list:
    return list(appctl.parse_conntrack(appctl.run(str(lab.rundir), "dpctl/dump-conntrack",
                                                  f"zone={zone}")))


def test_egress_translation_deleted_the_drops_have_that_flow_on_top_and_moving(shared_lab):
    ofctl(shared_lab, "--strict", "del-flows", "br-provider",
          "table=0,priority=4,in_port=phy-br-provider,dl_vlan=2")
    try:
        with pinging(fast_ping(shared_lab)):
            top = drops_now(shared_lab)[0]
    finally:
        labmod.install_flows(shared_lab)
    assert top["source"] == "flow" and top["rate"] > 3
    assert {k: top["flow"][k] for k in ("bridge", "table", "priority", "actions")} == {
        "bridge": "br-provider", "table": 0, "priority": 2, "actions": "drop"}
    assert top["subject"] == "phy-br-provider"


def test_icmp_removed_from_the_security_group_the_firewall_drops_it(shared_lab):
    """The gateway pings instance01; the instance's ingress ICMP rules are gone."""
    ofctl(shared_lab, "del-flows", "br-int", "table=82,icmp")
    from_gateway = ["ip", "netns", "exec", shared_lab.tor_ns, "ping", "-n", "-i", "0.2",
                    VM.address.split("/")[0]]
    try:
        with pinging(from_gateway):
            t = trace(shared_lab, "--from-wire")
            top = drops_now(shared_lab)[0]
            entries = conntrack(shared_lab, 2)
    finally:
        labmod.install_flows(shared_lab)
    assert t["verdict"] == "drop"
    assert (t["drop"]["bridge"], t["drop"]["table"], t["drop"]["table_name"]) == (
        "br-int", 82, "rules ingress")
    assert t["summary"].startswith("dropped by the security group: table 82 (rules ingress)")
    assert top["rate"] > 3 and (top["flow"]["bridge"], top["flow"]["table"]) == ("br-int", 82)
    assert [e for e in entries if e.proto == "icmp" and e.orig.src == labmod.GATEWAY] == []
    # with the rules back, the same ping is let in and conntrack keeps it
    with pinging(from_gateway):
        back = trace(shared_lab, "--from-wire")
        time.sleep(1)
        entries = conntrack(shared_lab, 2)
    assert back["verdict"] == "output"
    assert [e for e in entries if e.proto == "icmp" and e.orig.src == labmod.GATEWAY]


async def screens_say_no_mac_learned_via_eth0(lab: labmod.Lab, gw_mac: str) -> None:
    """The VLAN screen and eth0's port screen say it in words, the gateway's MAC absent."""
    app = LiveApp(lab.endpoints(), interval=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await all_live(pilot)
        for screen, opened in ((VlanScreen, OpenVlan(VM.local_vlan)),
                               (PortScreen, OpenPort("eth0"))):
            app.post_message(opened)
            await until(pilot, lambda: isinstance(app.screen, screen) and
                        "no MAC learned on VLAN 100 via eth0" in screen_text(app),
                        f"{screen.__name__} saying no MAC was learned via eth0")
            assert gw_mac not in screen_text(app)
    assert app.errors() == []


def gateway_mac(lab: labmod.Lab) -> str:
    return json.loads(subprocess.run(
        ["ip", "-n", lab.tor_ns, "-j", "link", "show", "gw100"],
        capture_output=True, text=True, check=True).stdout)[0]["address"]


def test_gateway_moved_to_another_vlan_the_path_marks_the_nics_ingress(shared_lab):
    tor = ["ovs-vsctl", f"--db=unix:{shared_lab.dir / 'tor'}/db.sock", "--timeout=10"]
    gw_mac = gateway_mac(shared_lab)
    subprocess.run([*tor, "set", "Port", "gw100", "tag=200"], check=True)
    # the test's own doing: forget what was learned before the move (the gateway's
    # neighbours too, or it may still be probing instance01 from a previous test)
    subprocess.run(["ip", "-n", shared_lab.tor_ns, "neigh", "flush", "dev", "gw100"], check=True)
    time.sleep(1)
    subprocess.run(["ovs-appctl", "-t", str(shared_lab.rundir / "ovs-vswitchd.ctl"), "--",
                    "fdb/flush", "br-provider"], check=True, capture_output=True)
    try:
        with pinging(fast_ping(shared_lab)):
            t = trace(shared_lab)
            path = path_now(shared_lab)
            model = collect_once(shared_lab.endpoints())
            fdb = appctl.parse_fdb("br-provider", appctl.run(str(shared_lab.rundir), "fdb/show",
                                                             "br-provider"))
            asyncio.run(screens_say_no_mac_learned_via_eth0(shared_lab, gw_mac))
    finally:
        subprocess.run([*tor, "set", "Port", "gw100", "tag=100"], check=True)
    assert t["verdict"] == "output" and t["egress"] == {
        "bridge": "br-provider", "port": "eth0", "vlan": 100}
    assert hop(path, "nic").out_pps > 0.5  # the pings (their ARPs) leave eth0 ...
    [stop] = path.stops  # ... and nothing comes back
    assert (stop.direction, path.hops[stop.hop].spec.key) == ("in", "nic")
    assert "nothing comes back" in stop.evidence and "eth0" in stop.evidence
    assert gw_mac not in {e.mac for e in learning.learned_on(fdb, model, "br-provider", 100,
                                                             "eth0")}
    assert "no MAC learned on VLAN 100 via eth0" in str(
        fdb_text(model, fdb, "br-provider", 100, ("eth0",)))
