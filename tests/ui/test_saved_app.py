"""The TUI on what a node left behind (`ovsvlan-tui --from PATH`), with the
real readers and the real SavedSources: it opens on a sosreport and on a saved
snapshot, every source says "saved <when>", the recorded counters are shown
without rates, the operator drills down as on a live node, and the files
that gave nothing are named in a notice."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from model.contract import to_contract
from tests.ui.test_drilldown_lab import cells, flow_text, flows_shown, on, text_of, until
from collectors.saved.read import open_saved
from node.saved import SavedNodeBackend
from tui.app import OvsVlanApp, saved_app
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.instance import InstanceScreen
from tui.screens.port import PortScreen
from tui.snapshot import saved_session
from collectors.saved.read import read_saved
from widgets.keyed_table import KeyedTable
from widgets.pane_table import PaneTable
from widgets.status import SourceBar

FIXTURES = Path(__file__).parents[1] / "fixtures"
OPENSTACK = FIXTURES / "sos" / "hotsos-openstack"
SUNBEAM = FIXTURES / "sos" / "hotsos-sunbeam"
SIZE = (160, 50)


async def opened(pilot) -> None:
    """The flow dumps read too (the first frame comes before them)."""
    await until(pilot, lambda: pilot.app.latest is not None and not pilot.app.latest.flows_pending,
                "the flow dumps read")
    await until(pilot, lambda: pilot.app.screen.query_one("#instances", PaneTable).row_count
                == len(pilot.app.latest.model.instances), "the instance rows")


async def test_a_sosreport_opens_with_every_source_saved_at_its_time_and_drills_down():
    app = saved_app(str(OPENSTACK))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        bar = " ".join(text_of(app.screen.query_one(SourceBar)).split())
        for source in ("ovsdb", "openflow", "libvirt", "netlink"):
            assert f"{source} saved Thu Feb 10 16:19:17 UTC 2022" in bar
        assert "compute4" in bar and "OVS 2.13.3" in bar
        instances = app.screen.query_one("#instances", PaneTable)
        (key,) = instances.rows.keys
        row = cells(instances, key)
        assert "tap0e778df8-ca" in row and "br-int:9" in row
        # the recorded packet counts, no rate: nothing was measured over time
        vlan2 = " ".join(cells(app.screen.query_one("#vlans", PaneTable), "2"))
        assert "(271)" in vlan2 and "/s" not in vlan2
        assert all(not r for r in (app.latest.port_rates, app.latest.link_rates, app.latest.vnic_rates))
        await pilot.press("enter")
        screen = await on(pilot, InstanceScreen)
        assert "instance-00000001" in text_of(screen.query_one("#facts"))
        await until(pilot, lambda: screen.query_one("#vnics", KeyedTable).row_count == 1, "its vNIC")
        await pilot.press("enter")
        port = await on(pilot, PortScreen)
        assert port.port_name == "tap0e778df8-ca"
        await until(pilot, lambda: "local VLAN 3" in text_of(port.query_one("#path")), "its path")
        await pilot.press("f")
        # the sosreport's flows name ports by number: the port's flows are found by its ofport
        flows = flow_text(await flows_shown(pilot))
        assert flows and any("in_port=9" in f for f in flows)
        await pilot.press("enter")
        detail = await on(pilot, FlowDetailScreen)
        assert "about ports: tap0e778df8-ca (ofport 9)" in text_of(detail.query_one("#text"))


async def test_a_sosreport_with_failed_commands_names_them_in_a_notice():
    app = saved_app(str(SUNBEAM))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        notes = [n.message for n in app._notifications]
        assert len(notes) == 1
        assert "openstack-hypervisor.ovs-ofctl_dump-flows_br-ex" in notes[0]
        bar = " ".join(text_of(app.screen.query_one(SourceBar)).split())
        assert "libvirt error" in bar and "no domain XML or virsh list was saved" in bar


async def test_a_saved_snapshot_opens_on_the_same_picture(tmp_path):
    model = saved_session(read_saved(OPENSTACK)).refresh().model
    path = tmp_path / "compute4.json"
    path.write_text(json.dumps(to_contract(model)))
    app = saved_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        bar = " ".join(text_of(app.screen.query_one(SourceBar)).split())
        assert "ovsdb saved" in bar and "compute4" in bar
        assert "netlink error" in bar  # a snapshot keeps no links
        again = app.latest.model
        assert [i.domain.name for i in again.instances] == ["instance-00000001"]
        assert [(v.local_vlan, v.physical_bridge) for v in again.vlans] == [
            (v.local_vlan, v.physical_bridge) for v in model.vlans]
        assert [(p.kind, p.subject) for p in again.problems] == [
            (p.kind, p.subject) for p in model.problems]


class HeldFlows(SavedNodeBackend):
    """The real backend, its flow dumps read only once the test lets it (a busy
    node's take seconds): what the operator sees in between."""

    def __init__(self, path: Path) -> None:
        super().__init__(open_saved(path))
        self.go = threading.Event()

    def _read_flows(self):
        self.go.wait(30)
        return super()._read_flows()


async def test_before_the_flow_dumps_are_read_the_vlan_map_says_reading_and_no_verdict():
    backend = HeldFlows(OPENSTACK)
    app = OvsVlanApp(backend, interval=5.0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.latest is not None, "the first frame")
        await until(pilot, lambda: app.screen.query_one("#vlans", PaneTable).row_count == 3,
                    "the VLAN rows")
        vlans = app.screen.query_one("#vlans", PaneTable)
        vlan2 = cells(vlans, "2")
        assert "reading" in vlan2 and "none" not in vlan2
        bar = " ".join(text_of(app.screen.query_one(SourceBar)).split())
        assert "openflow connecting" in bar and "checks could not run (openflow not read)" in bar
        instances = app.screen.query_one("#instances", PaneTable)
        (key,) = instances.rows.keys
        assert "tap0e778df8-ca" in cells(instances, key) and "br-int:9" in cells(instances, key)
        backend.go.set()
        await opened(pilot)
        await until(pilot, lambda: "(271)" in " ".join(cells(vlans, "2")), "VLAN 2's counts")
        bar = " ".join(text_of(app.screen.query_one(SourceBar)).split())
        assert "openflow saved" in bar and "no problems found" in bar
