"""On a node carrying traffic, during an incident, the TUI never dies and never
lies: whatever breaks under it, each pane says which source is stale and why,
keeps showing what it last saw, and comes back on its own.

Every test runs the real app (LiveBackend, the CLI's own wiring) on a real
lab under Pilot and breaks the lab the way incidents do. Leaving
``run_test`` re-raises anything that escaped the app, and ``errors()``
lists every error notification (a refresh that raised), so "nothing
crashed" is checked by every test.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import pytest

from collectors import ovsdb
from collectors.endpoints import Endpoints
from model.records import (
    OvsBridge,
    OvsdbSnapshot,
    OvsInterface,
    OvsPort,
    SourceState,
    frozen_map,
)
from model.scopes import Scope, scope_filter
from node.session import NodeSession
from node.ui_first import UiFirst
from node.saved import SavedBackend
from node.sources import LiveSources
from tests.integration.live_app import (
    LiveApp,
    all_live,
    flow_count,
    ip,
    lab_endpoints,
    model_ports,
    ofctl,
    screen_text,
    source_bar,
    status,
    until,
    vsctl,
)
from lab import node as labmod
from tui.app import OvsVlanApp
from tui.navigation import OpenFlowDetail, OpenFlows, OpenInstance, OpenPort, OpenVlan
from tui.cli import endpoint_flags
from tui.screens.overview import PANE_SOURCES

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def nothing_written_over_the_screen(capfd):
    """The TUI draws on the terminal through fd 2; anything else written there
    (a C library's warning, a stray traceback) would land on the operator's
    screen. Nothing may be."""
    yield
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------
# Daemons restarted under the app


async def test_ovsdb_server_restart_shows_stale_with_the_reason_then_recovers(fresh_lab):
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        ports = model_ports(app)

        labmod.stop_daemon(fresh_lab, "ovsdb-server")
        await until(pilot, lambda: status(app, "ovsdb") == "stale", "ovsdb stale")
        await until(pilot, lambda: "ovsdb stale" in source_bar(app), "the bar saying so")
        bar = source_bar(app)
        assert "showing the last snapshot while reconnecting" in bar
        assert "is ovsdb-server running?" in bar
        assert model_ports(app) == ports  # the last snapshot stays on screen

        labmod.start_daemon(fresh_lab, "ovsdb-server")
        await all_live(pilot, timeout=40)
        await until(pilot, lambda: "stale" not in source_bar(app), "the bar clean again")
        assert model_ports(app) == ports
    assert app.errors() == []


async def test_vswitchd_restart_shows_openflow_stale_then_the_flows_it_lost(fresh_lab):
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        flows = flow_count(app, "br-int")
        assert flows and not app.latest.model.problems

        labmod.stop_daemon(fresh_lab, "ovs-vswitchd")
        await until(pilot, lambda: status(app, "openflow") == "stale", "openflow stale")
        await until(pilot, lambda: "openflow stale" in source_bar(app), "the bar saying so")
        assert "check that ovs-vswitchd is running" in source_bar(app)
        assert flow_count(app, "br-int") == flows  # the last good dump stays on screen

        labmod.start_daemon(fresh_lab, "ovs-vswitchd")
        await until(pilot, lambda: status(app, "openflow") == "live", "openflow live", 30)
        # ovs-vswitchd keeps no flows across a restart: the app shows the
        # translation missing until the agent puts its flows back.
        await until(pilot, lambda: flow_count(app, "br-int") == 0, "br-int empty")
        kinds = {p.kind for p in app.latest.model.problems}
        assert kinds == {"missing-vlan-translation"}

        labmod.install_flows(fresh_lab)
        await until(pilot, lambda: flow_count(app, "br-int") == flows, "the agent's flows back")
        await until(pilot, lambda: not app.latest.model.problems, "no problems left")
    assert app.errors() == []


# --------------------------------------------------------------------------
# Churn while running


def add_tap_port(lab: labmod.Lab, name: str, tag: int) -> None:
    """A VM's tap appearing: the device first, then the agent plugging it."""
    ip(lab, "link", "add", name, "type", "veth", "peer", "name", f"p{name[3:]}")
    ip(lab, "link", "set", name, "up")
    vsctl(lab, "add-port", "br-int", name, f"tag={tag}",
          "--", "set", "Interface", name, f"external_ids:iface-id=port-{name}",
          f"external_ids:attached-mac=fa:16:3e:00:00:{tag:02x}")


async def test_bridges_ports_and_taps_come_and_go_while_screens_are_open(fresh_lab):
    app = LiveApp(lab_endpoints(fresh_lab), interval=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        base = model_ports(app)
        add_tap_port(fresh_lab, "tapchurn0", 10)
        await until(pilot, lambda: "tapchurn0" in model_ports(app), "the new tap")
        app.post_message(OpenPort("tapchurn0"))
        await pilot.pause(0.3)

        for n in range(1, 6):
            vsctl(fresh_lab, "add-br", f"br-churn{n}", "--", "set", "Bridge", f"br-churn{n}",
                  "datapath_type=netdev",
                  *[a for p in range(3) for a in ("--", "add-port", f"br-churn{n}", f"c{n}p{p}",
                                                   f"tag={p + 1}", "--", "set", "Interface",
                                                   f"c{n}p{p}", "type=internal")])
            add_tap_port(fresh_lab, f"tapchurn{n}", 10 + n)
            await pilot.pause(0.2)
            vsctl(fresh_lab, "del-br", f"br-churn{n - 1}") if n > 1 else None
            vsctl(fresh_lab, "del-port", "br-int", f"tapchurn{n - 1}")
            ip(fresh_lab, "link", "del", f"tapchurn{n - 1}")
            await pilot.pause(0.2)

        # The port screen opened on a port that was then deleted says so.
        await until(pilot, lambda: "tapchurn0 is no longer in OVSDB" in screen_text(app),
                    "the port screen saying its port is gone")
        expected = base | {"tapchurn5", "br-churn5", "c5p0", "c5p1", "c5p2"}
        await until(pilot, lambda: model_ports(app) == expected, f"exactly {sorted(expected)}")
        await until(pilot, lambda: set(app.latest.model.flows) == {"br-int", "br-provider",
                                                                    "br-churn5"},
                    "flows of exactly the bridges that exist")
        # netlink found the tap that stayed, so its link state is the kernel's
        await until(pilot, lambda: app.latest.model.port("tapchurn5").link is not None,
                    "the kernel's view of tapchurn5")
    assert app.errors() == []


async def test_flows_added_and_deleted_by_the_thousand_are_counted_exactly(fresh_lab):
    app = LiveApp(lab_endpoints(fresh_lab), interval=0.3)
    batch = "".join(f"cookie=0xc0ffee,table=40,priority={n % 500 + 1},ip,"
                    f"nw_src=10.9.{n // 256}.{n % 256} actions=resubmit(,41)\n"
                    for n in range(5000))
    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        base = flow_count(app, "br-int")
        app.post_message(OpenFlows(Scope("all")))
        for _ in range(3):
            ofctl(fresh_lab, "add-flows", "br-int", "-", stdin=batch)
            await until(pilot, lambda: flow_count(app, "br-int") == base + 5000, "+5000 flows")
            ofctl(fresh_lab, "del-flows", "br-int", "cookie=0xc0ffee/-1")
            await until(pilot, lambda: flow_count(app, "br-int") == base, "back to the agent's")
        assert status(app, "openflow") == "live"
    assert app.errors() == []


async def test_a_bridge_deleted_in_the_middle_of_its_flow_dump(fresh_lab, monkeypatch):
    vsctl(fresh_lab, "add-br", "br-big", "--", "set", "Bridge", "br-big",
          "datapath_type=netdev", "fail_mode=secure")
    ofctl(fresh_lab, "add-flows", "br-big", "-",
          stdin="".join(f"table=1,priority={n % 1000 + 1},ip,nw_src=10.{n // 65536}."
                        f"{n // 256 % 256}.{n % 256} actions=drop\n" for n in range(50000)))
    real_exec = asyncio.create_subprocess_exec
    cut: list[bool] = []  # was the dump still running when its bridge went?

    async def delete_under(proc) -> None:
        await asyncio.sleep(0.03)  # a 50k-flow dump takes ~170 ms here
        cut.append(proc.returncode is None)
        deleting = await real_exec("ovs-vsctl", f"--db={fresh_lab.db}", "del-br", "br-big")
        await deleting.wait()

    async def exec_and_maybe_delete(*args, **kwargs):
        proc = await real_exec(*args, **kwargs)
        if "dump-flows" in args and "br-big" in args and not cut:
            asyncio.ensure_future(delete_under(proc))
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", exec_and_maybe_delete)
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: cut, "a dump of br-big with the bridge deleted under it")
        assert cut == [True]
        await until(pilot, lambda: app.latest and "br-big" not in app.latest.model.flows,
                    "br-big gone")
        await all_live(pilot)
        assert flow_count(app, "br-int") > 0
    assert app.errors() == []


# --------------------------------------------------------------------------
# Instances started and stopped (libvirt events)

SHARED = "test:///default"  # one node per process: a second connection changes it


def domain_xml(name: str, tap: str, mac: str, metadata: str = "") -> str:
    return (f"<domain type='test'><name>{name}</name><memory>1024</memory>"
            f"<os><type>hvm</type></os><metadata>{metadata}</metadata>"
            f"<devices><interface type='ethernet'><mac address='{mac}'/>"
            f"<target dev='{tap}'/></interface></devices></domain>")


@pytest.fixture
def writable_node():
    """A writable connection to the shared test node; what a test defines there
    is undefined again afterwards."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(SHARED)
    before = {d.UUIDString() for d in conn.listAllDomains()}
    try:
        yield conn
    finally:
        for d in conn.listAllDomains():
            if d.UUIDString() not in before:
                if d.isActive():
                    d.destroy()
                d.undefine()
        conn.close()


async def test_instances_started_and_stopped_show_up_by_event(fresh_lab, writable_node):
    app = LiveApp(lab_endpoints(fresh_lab, libvirt=SHARED), interval=0.5)
    # A domain whose metadata comment mentions a DTD: shown with its reason,
    # and the others still read.
    odd = writable_node.defineXML(domain_xml(
        "odd-metadata", "tapodd", "fa:16:3e:00:00:99",
        '<x:e xmlns:x="http://example.com/x"><!-- <!DOCTYPE x [<!ENTITY a "b">]> --></x:e>'))

    def state_of(name: str) -> str | None:
        model = app.latest.model if app.latest else None
        return next((i.domain.state for i in model.instances if i.domain.name == name), None) \
            if model else None

    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        assert state_of("odd-metadata") == "shutoff"
        doms = []
        for n in range(4):
            add_tap_port(fresh_lab, f"tapvm{n}", 20 + n)
            doms.append(writable_node.defineXML(
                domain_xml(f"churn-vm{n}", f"tapvm{n}", f"fa:16:3e:00:00:{20 + n:02x}")))
        for round_ in range(3):
            for d in doms:
                d.create()
            started = time.monotonic()
            await until(pilot, lambda: all(state_of(d.name()) == "running" for d in doms),
                        "every instance running")
            # Events, not the 10 s re-list, brought the change.
            assert time.monotonic() - started < 5
            for d in doms[:2]:
                d.destroy()
            await until(pilot, lambda: [state_of(d.name()) for d in doms] ==
                        ["shutoff", "shutoff", "running", "running"], "two stopped", 5)
            for d in doms[2:]:
                d.destroy()
        doms[0].undefine()
        await until(pilot, lambda: state_of("churn-vm0") is None, "an undefined instance gone")
        inst = app.latest.model.instance(doms[1].UUIDString())
        assert [v.port.name for v in inst.vnics if v.port] == ["tapvm1"]
        assert status(app, "libvirt") == "live"
    assert app.errors() == []
    assert odd.UUIDString()  # still defined until the fixture undefines it


# --------------------------------------------------------------------------
# A source missing from the start: the rest works, its pane says why


@pytest.mark.parametrize("override, source, reason", [
    ({"libvirt": "test:///nonexistent/node.xml"}, "libvirt", "cannot open libvirt"),
    ({"db": "unix:/nonexistent/db.sock"}, "ovsdb", "is ovsdb-server running?"),
    ({"db": "tcp:127.0.0.1:1"}, "ovsdb", "is ovsdb-server running?"),
    ({"ovs_rundir": "/nonexistent"}, "openflow", "its run directory is /nonexistent"),
    ({"netns": "ovsvlan-no-such-ns"}, "netlink", "does not exist"),
], ids=["no-libvirt", "no-ovsdb", "tcp-refused", "wrong-rundir", "wrong-netns"])
async def test_a_source_missing_from_the_start_says_why_and_the_rest_works(
        shared_lab, override, source, reason):
    app = LiveApp(lab_endpoints(shared_lab, **override))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: status(app, source) in ("error", "stale")
                    and reason in source_bar(app), f"{source} failing with {reason!r}")
        others = {"ovsdb", "openflow", "libvirt", "netlink"} - {source}
        if source == "ovsdb":
            others.discard("openflow")  # no bridge names, nothing to dump
        await until(pilot, lambda: all(status(app, s) == "live" for s in others),
                    f"{sorted(others)} live")
        if source != "ovsdb":
            assert {"br-int", "br-provider"} <= {b.name for b in app.latest.model.bridges}
        # the panes drawn from the failing source say so on their border, the others do not
        notes = {pane: str(app.screen.query_one(pane).border_subtitle or "")
                 for pane in PANE_SOURCES}
        for pane, names in PANE_SOURCES.items():
            if source in names:
                assert f"{source} " in notes[pane] and reason in notes[pane], (pane, notes)
            else:
                assert notes[pane] == "", (pane, notes)
        app.post_message(OpenFlows(Scope("all")))
        await pilot.pause(0.3)
        await pilot.press("escape", "question_mark", "escape", "exclamation_mark", "escape")
    assert app.errors() == []


async def test_no_ovs_at_all(tmp_path):
    """A node without Open vSwitch: every OVS source says so and the app stays up."""
    app = LiveApp(Endpoints(db=f"unix:{tmp_path}/db.sock", ovs_rundir=str(tmp_path),
                            libvirt="test:///default", netns=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: status(app, "ovsdb") == "error"
                    and "is ovsdb-server running?" in source_bar(app), "ovsdb error")
        await until(pilot, lambda: status(app, "libvirt") == "live", "libvirt live")
        assert status(app, "openflow") != "live"
        assert app.latest.model.bridges == ()
        await pilot.press("f", "escape", "exclamation_mark", "escape")
    assert app.errors() == []


async def test_a_socket_that_is_not_ovsdb(shared_lab):
    """--db pointing at another JSON-RPC server (ovs-vswitchd's control socket)."""
    app = LiveApp(lab_endpoints(shared_lab, db=f"unix:{shared_lab.rundir}/ovs-vswitchd.ctl"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: status(app, "ovsdb") == "error"
                    and "ovsdb:" in source_bar(app), "ovsdb error")
        await until(pilot, lambda: status(app, "libvirt") == "live", "libvirt live")
    assert app.errors() == []


# --------------------------------------------------------------------------
# Small terminals, long names, many VLANs, many flows

# What an operator may name a port: quotes, commas, brackets, unicode, shell
# characters, and far more than a screen's width.
LONG = 'patch "quoted", [bracketed] (ünï) 名前 x;y=z ' + "a" * 120
LONG_PEER = LONG.replace("patch", "peer", 1)


def patch_pair(name: str, peer: str) -> list[str]:
    """ovs-vsctl arguments joining br-int's port ``name`` to br-provider's ``peer``."""
    return ["add-port", "br-int", name, "--", "set", "Interface", name, "type=patch",
            f"options:peer={json.dumps(peer)}",
            "--", "add-port", "br-provider", peer, "--", "set", "Interface", peer,
            "type=patch", f"options:peer={json.dumps(name)}"]
SIZES = ((200, 60), (80, 24), (40, 12), (80, 24))


def hundreds_of_vlans(lab: labmod.Lab, first: int, last: int) -> None:
    """One port per local VLAN, each bound by the agent to provider VLAN 1000+N."""
    args: list[str] = []
    for vid in range(first, last + 1):
        name = f"vlanport{vid}"
        args += ["--", "add-port", "br-int", name, f"tag={vid}",
                 "--", "set", "Interface", name, "type=internal",
                 "--", "set", "Port", name, f"other_config:segmentation_id={1000 + vid}",
                 "other_config:network_type=vlan", "other_config:physical_network=provider",
                 f"other_config:tag={vid}", f"other_config:net_uuid=net-{vid}"]
    vsctl(lab, *args)


async def visit_at_every_size(pilot, open_screen) -> None:
    """Open a screen, shrink and grow the terminal under it, go back."""
    app = pilot.app
    depth = len(app.screen_stack)
    open_screen()
    await until(pilot, lambda: len(app.screen_stack) == depth + 1, "the screen open")
    for width, height in SIZES:
        await pilot.resize_terminal(width, height)
        await pilot.pause(0.1)
    app.export_screenshot()  # one full render, back at 80x24
    await pilot.press("escape")
    await until(pilot, lambda: len(app.screen_stack) == depth, "back where we were")


async def test_80x24_and_back_with_long_names_and_hundreds_of_vlans(fresh_lab):
    hundreds_of_vlans(fresh_lab, 3, 302)
    vsctl(fresh_lab, *patch_pair(LONG, LONG_PEER), "--", "set", "Port", LONG, "tag=7",
          # values the agent would never write, as a broken or hostile one might
          "other_config:segmentation_id=abc", "other_config:network_type=\"{[\"")
    ofport = int(vsctl(fresh_lab, "get", "Interface", LONG, "ofport"))
    ofctl(fresh_lab, "add-flow", "br-int",
          f"table=0,priority=3,in_port={ofport},dl_vlan=1007,actions=mod_vlan_vid:7,output:{ofport}")
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(80, 24)) as pilot:
        await all_live(pilot)
        await until(pilot, lambda: len(app.latest.model.vlans) >= 302, "302 local VLANs")
        flows_of_long = [f for f in app.latest.model.flows["br-int"].flows
                         if "dl_vlan=1007" in f.match]
        assert len(flows_of_long) == 1
        for open_screen in (
            lambda: app.post_message(OpenPort(LONG)),
            lambda: app.post_message(OpenVlan(302)),
            lambda: app.post_message(OpenFlows(Scope("port", LONG))),
            lambda: app.post_message(OpenFlowDetail(flows_of_long[0])),
            lambda: app.post_message(OpenInstance(labmod.VMS[0].uuid)),
            lambda: app.action_problems(),
        ):
            await visit_at_every_size(pilot, open_screen)
        app.post_message(OpenPort(LONG))
        await until(pilot, lambda: LONG in screen_text(app), "the whole long name shown")
        await pilot.press("escape")
    assert app.errors() == []


class RecordsBackend(SavedBackend):
    """The real session over an OVSDB snapshot built by the test: nothing else
    is reachable (every other source fails as on a broken node)."""

    def __init__(self, snapshot: OvsdbSnapshot, rundir: Path) -> None:
        sources = LiveSources(Endpoints(db=f"unix:{rundir}/db.sock", ovs_rundir=str(rundir),
                                        libvirt=f"test://{rundir}/none.xml",
                                        netns="ovsvlan-no-such-ns"))
        sources.set_ovsdb(snapshot)
        sources.set_state(SourceState("ovsdb", "live", "records from the test"))
        self.ui_first = UiFirst()
        self.session = NodeSession(sources, pause=self.ui_first.pause)


def every_vlan_snapshot() -> OvsdbSnapshot:
    """br-int with one VIF port on each of the 4094 local VLANs, plus a dead one."""
    ports = []
    for vid in range(1, 4096):
        name = f"tap{vid:04d}-{'f' * 9}"
        ports.append(OvsPort(
            name=name, bridge="br-int", tag=vid,
            other_config=frozen_map({"net_uuid": f"net-{vid}", "network_type": "vlan",
                                     "physical_network": "provider", "tag": str(vid),
                                     "segmentation_id": str(vid)}),
            interfaces=(OvsInterface(
                name=name, type="", ofport=vid + 10, peer=None,
                external_ids=frozen_map({"iface-id": f"port-{vid}", "vm-uuid": f"vm-{vid}",
                                         "attached-mac": f"fa:16:3e:00:{vid >> 8:02x}:"
                                                         f"{vid & 255:02x}"})),)))
    ports.append(OvsPort("int-br-provider", "br-int", None, interfaces=(
        OvsInterface("int-br-provider", "patch", 1, "phy-br-provider"),)))
    provider = OvsBridge("br-provider", "netdev", "secure", (
        OvsPort("phy-br-provider", "br-provider", None, interfaces=(
            OvsInterface("phy-br-provider", "patch", 1, "int-br-provider"),)),
        OvsPort("eth0", "br-provider", None, interfaces=(OvsInterface("eth0", "", 2, None),))))
    return OvsdbSnapshot("3.1.0", (OvsBridge("br-int", "netdev", "secure", tuple(ports)),
                                   provider), 1)


async def test_all_4094_local_vlans_at_80x24(tmp_path):
    app = OvsVlanApp(RecordsBackend(every_vlan_snapshot(), tmp_path), interval=1.0)
    notices: list[str] = []
    app.notify = lambda message, **kw: notices.append(kw.get("severity", "information"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.latest is not None, "a first refresh")
        model = app.latest.model
        assert [v.local_vlan for v in model.vlans] == list(range(1, 4095))
        assert [p.subject for p in model.problems if p.kind == "dead-vlan"] == ["tap4095-fffffffff"]
        # (each way back to the overview re-shows its 4094 rows: ~2.5 s here)
        for open_screen in (lambda: app.post_message(OpenVlan(4094)), lambda: app.action_problems()):
            await visit_at_every_size(pilot, open_screen)
    assert "error" not in notices


async def test_100k_flows_at_80x24(fresh_lab):
    ofctl(fresh_lab, "add-flows", "br-int", "-", stdin="".join(
        f"cookie=0xbeef,table=40,priority={n % 1000 + 1},ip,nw_src=10.{n >> 16}.{n >> 8 & 255}."
        f"{n & 255} actions=resubmit(,41)\n" for n in range(100_000)))
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (flow_count(app, "br-int") or 0) > 100_000, "100k flows", 60)
        app.post_message(OpenFlows(Scope("all")))
        await until(pilot, lambda: len(app.screen_stack) == 2, "the flows screen")
        await pilot.press("slash", *"10.1.134.160", "enter")
        for width, height in SIZES:
            await pilot.resize_terminal(width, height)
            await pilot.pause(0.3)
        assert status(app, "openflow") == "live"
        # A slow refresh stretches the cycle rather than piling refreshes up.
        assert app.effective_interval >= app.latest.took
        print(f"100k flows: refresh {app.latest.took:.2f}s, interval {app.effective_interval}s")
    assert app.errors() == []


def test_flows_of_ports_with_long_or_quoted_names_are_theirs(fresh_lab):
    quoted = 'q"u,o[t]e;d'
    for name, peer in ((LONG, LONG_PEER), (quoted, "quoted-peer")):
        vsctl(fresh_lab, *patch_pair(name, peer))
        ofport = int(vsctl(fresh_lab, "get", "Interface", name, "ofport"))
        ofctl(fresh_lab, "add-flow", "br-int",
              f"table=7,priority=9,in_port={ofport},actions=output:{ofport}")
    sources = LiveSources(lab_endpoints(fresh_lab))
    sources.set_ovsdb(ovsdb.read_once(fresh_lab.db))
    model = NodeSession(sources).refresh().model
    for name in (LONG, quoted):
        mine = [f for f in model.flows["br-int"].flows
                if scope_filter(model, Scope("port", name))(f)]
        assert [f.table for f in mine] == [7], name


# --------------------------------------------------------------------------
# The real terminal


class Tmux:
    """A private tmux server (its own socket name) running one command in an
    80x24 window, recording every byte the command writes to the terminal."""

    def __init__(self, tmp_path: Path) -> None:
        self.server = ["tmux", "-L", f"ovsvlan-test-{secrets.token_hex(4)}", "-f", "/dev/null"]
        self.log = tmp_path / "terminal.log"

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.server, *args], capture_output=True, text=True,
                              check=True).stdout

    def start(self, argv: list[str], cwd: Path) -> None:
        # With more than one argument tmux runs the command itself, no shell.
        # The exit status is written to a file: tmux 3.3 marks a pane dead when
        # the terminal closes, and at times never fills in the status after.
        self.status = self.log.with_name("status")
        record = ("import subprocess, sys; status = subprocess.call(sys.argv[2:]); "
                  "open(sys.argv[1], 'w').write(str(status)); sys.exit(status)")
        self("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", "-c", str(cwd),
             sys.executable, "-c", record, str(self.status), *argv)
        self("set-option", "-t", "app", "remain-on-exit", "on")
        self("pipe-pane", "-t", "app", "-o", f"cat >> {shlex.quote(str(self.log))}")

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def exit_status(self) -> str | None:
        """The command's exit status once it ended ("-11": killed by signal 11)."""
        return self.status.read_text() if self.status.exists() else None

    def kill(self) -> None:
        """Stop this tmux server and remove its socket (kill-server leaves it behind)."""
        found = subprocess.run([*self.server, "display-message", "-p", "#{socket_path}"],
                               capture_output=True, text=True).stdout.strip()
        subprocess.run([*self.server, "kill-server"], capture_output=True)
        if found:
            Path(found).unlink(missing_ok=True)


def ovs_live(screen: str) -> bool:
    """The source bar says OVSDB and OpenFlow are live (each by name, or all sources)."""
    return "all sources live" in screen or ("ovsdb live" in screen
                                            and "openflow live" in screen)


def wait_for(check, what, timeout: float = 30.0) -> None:
    """``what`` says what was awaited (a callable: computed only on failure)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout:g}s: "
                                 f"{what() if callable(what) else what}")
        time.sleep(0.2)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_in_a_real_terminal_nothing_but_the_ui_ever_reaches_the_screen(fresh_lab, tmp_path):
    argv = [sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
            "--interval", "0.5"]
    tmux = Tmux(tmp_path)
    try:
        tmux.start(argv, Path(__file__).parents[2])
        wait_for(lambda: ovs_live(tmux.screen()),
                 "the source bar with ovsdb and openflow live")
        for daemon in ("ovsdb-server", "ovs-vswitchd"):
            labmod.stop_daemon(fresh_lab, daemon)
            wait_for(lambda: "stale" in tmux.screen(), f"a stale source after {daemon} stopped")
            labmod.start_daemon(fresh_lab, daemon)
        labmod.install_flows(fresh_lab)
        for width, height in ((200, 50), (80, 24), (40, 10), (80, 24)):
            tmux("resize-window", "-t", "app", "-x", str(width), "-y", str(height))
            time.sleep(0.3)
        for key in ("f", "Escape", "?", "Escape", "!", "Escape"):
            tmux("send-keys", "-t", "app", key)
            time.sleep(0.3)
        wait_for(lambda: ovs_live(tmux.screen()),
                 "every source live again", 40)
        tmux("send-keys", "-t", "app", "q")
        wait_for(lambda: tmux.exit_status() is not None,
                 lambda: "the app to quit; the screen:\n" + tmux.screen())
        assert tmux.exit_status() == "0", tmux.screen()
        written = tmux.log.read_bytes().decode("utf-8", "replace")
        assert "Traceback" not in written and "warning" not in written.lower()
    finally:
        tmux.kill()



async def test_an_unexpected_ovsdb_failure_is_shown_and_followed_by_a_fresh_start(
        fresh_lab, monkeypatch):
    """A failure nobody planned for (here: copying one snapshot raises) must not
    leave a dead follower behind a pane that still says "live"."""
    real_copy = ovsdb.copy_snapshot
    failures: list[str] = []

    def copy_once_broken(idl, copier):
        if not failures and any(r.name == "tapnew" for r in idl.tables["Port"].rows.values()):
            failures.append("raised")
            raise RuntimeError("simulated bug")
        return real_copy(idl, copier)

    monkeypatch.setattr(ovsdb, "copy_snapshot", copy_once_broken)
    # What the OVSDB pane is told, every state (the error may last less than
    # one refresh interval before the fresh start replaces it).
    seen: list[str] = []
    real_set_state = LiveSources.set_state

    def recording_set_state(self, state):
        if state.source == "ovsdb" and state.status == "error":
            seen.append(state.detail)
        real_set_state(self, state)

    monkeypatch.setattr(LiveSources, "set_state", recording_set_state)
    app = LiveApp(lab_endpoints(fresh_lab))
    async with app.run_test(size=(120, 40)) as pilot:
        await all_live(pilot)
        vsctl(fresh_lab, "add-port", "br-int", "tapnew", "--", "set", "Interface", "tapnew",
              "type=internal")
        await until(pilot, lambda: "tapnew" in model_ports(app),
                    "the new port, after the follower started over")
        assert failures == ["raised"]
        assert any("simulated bug" in d and "starting over" in d for d in seen), seen
        await all_live(pilot)
    assert app.errors() == []
