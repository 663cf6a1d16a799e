"""The tool only ever reads. After the TUI (refreshing, drilling everywhere,
marking, pausing; the path, trace and drops screens) and ``snapshot --json``,
``snapshot --rates`` and ``trace`` have run against a node, its OVS
database, its flows, its links and its libvirt domains are exactly as they
were; and every connection was opened read-only where the library allows:
``ovs-ofctl --read-only``, ``libvirt.openReadOnly``, an OVSDB IDL that never
starts a transaction.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import libvirt
import ovs.db.idl
import pytest

from collectors import appctl
from model.scopes import Scope
from tests.integration.live_app import LiveApp, all_live, lab_endpoints, ofctl, until
from tui.navigation import (OpenDrops, OpenFlowDetail, OpenFlows, OpenInstance, OpenPath,
                            OpenPort, OpenVlan)
from tui.screens.trace import TraceScreen
from lab import node as labmod
from tui.cli import endpoint_flags

pytestmark = pytest.mark.lab

REPO = Path(__file__).parents[2]
# What ovs-ofctl may be asked by a read-only tool.
READ_COMMANDS = {"dump-flows", "dump-ports", "show", "dump-tables", "dump-ports-desc"}


def ovsdb_state(lab: labmod.Lab) -> dict:
    """Every row of every table by uuid; ovs-vswitchd's statistics columns
    (refreshed every 5 s whoever watches) aside."""
    out = subprocess.run(["ovsdb-client", "dump", "--format=json", lab.db, "Open_vSwitch"],
                         capture_output=True, text=True, check=True).stdout
    tables = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        table = json.loads(line)
        heads = table["headings"]
        rows = {}
        for row in table["data"]:
            values = dict(zip(heads, row))
            rows[json.dumps(values.pop("_uuid"))] = {
                k: v for k, v in values.items() if k != "statistics"}
        tables[table["caption"]] = rows
    return tables


def node_state(lab: labmod.Lab) -> dict:
    bridges = subprocess.run(["ovs-vsctl", f"--db={lab.db}", "list-br"], capture_output=True,
                             text=True, check=True).stdout.split()
    flows = {b: sorted(ofctl(lab, "--read-only", "--names", "dump-flows", "--no-stats", b)
                       .splitlines()) for b in bridges}
    links = subprocess.run(["ip", "-n", lab.node_ns, "-o", "link", "show"],
                           capture_output=True, text=True, check=True).stdout
    conn = libvirt.openReadOnly(lab.libvirt_uri)
    try:
        domains = {d.UUIDString(): (d.state()[0], d.XMLDesc()) for d in conn.listAllDomains()}
    finally:
        conn.close()
    return {
        "ovsdb": ovsdb_state(lab),
        "flows": flows,
        "links": sorted(line.split(":")[1].strip() for line in links.splitlines()),
        "node.xml": lab.node_xml.read_bytes(),
        "domains": domains,
    }


class Spies:
    """Records every process started and every OVSDB transaction and libvirt
    connection opened while the app runs."""

    def __init__(self, monkeypatch) -> None:
        self.processes: list[tuple[object, bool]] = []
        self.transactions = 0
        self.opened: list[tuple[str, str]] = []
        popen_init = subprocess.Popen.__init__

        def popen(proc, args, *a, **kw):
            self.processes.append((args, bool(kw.get("shell"))))
            popen_init(proc, args, *a, **kw)

        txn_init = ovs.db.idl.Transaction.__init__

        def transaction(txn, *a, **kw):
            self.transactions += 1
            txn_init(txn, *a, **kw)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen)
        monkeypatch.setattr(ovs.db.idl.Transaction, "__init__", transaction)
        for name in ("open", "openAuth", "openReadOnly"):
            real = getattr(libvirt, name)
            monkeypatch.setattr(libvirt, name, self._opener(name, real))

    def _opener(self, name, real):
        def opener(uri=None, *a, **kw):
            self.opened.append((name, uri))
            return real(uri, *a, **kw)
        return opener


async def test_the_tui_and_snapshot_change_nothing_on_the_node(fresh_lab, monkeypatch):
    subprocess.run(labmod.ping_command(fresh_lab, count=2), capture_output=True)
    before = node_state(fresh_lab)

    spies = Spies(monkeypatch)
    app = LiveApp(lab_endpoints(fresh_lab), interval=0.3)
    vm = labmod.VMS[0]
    async with app.run_test(size=(160, 50)) as pilot:
        await all_live(pilot)
        refreshes = app.latest
        await pilot.press("enter")  # the first instance
        await pilot.press("enter")  # its vNIC's port
        for key in ("f", "escape", "v", "f", "escape", "escape", "escape", "escape"):
            await pilot.press(key)
            await pilot.pause(0.2)
        for open_screen in (lambda: app.post_message(OpenInstance(vm.uuid)),
                            lambda: app.post_message(OpenPort(vm.tap)),
                            lambda: app.post_message(OpenVlan(vm.local_vlan)),
                            lambda: app.post_message(OpenFlows(Scope("vlan",
                                                                     str(vm.local_vlan)))),
                            lambda: app.post_message(OpenFlowDetail(
                                app.latest.model.vlans[0].ingress_flow)),
                            lambda: app.post_message(OpenPath(vm.tap)),
                            lambda: app.post_message(OpenDrops()),
                            lambda: app.push_screen(TraceScreen(vm.tap, labmod.GATEWAY)),
                            app.action_problems, app.action_help):
            open_screen()
            await pilot.pause(0.3)
            if isinstance(app.screen, TraceScreen):  # its trace runs in a thread of its own
                await until(pilot, lambda: any("ofproto/trace" in args
                                               for args, _shell in spies.processes), "a trace")
            await pilot.press("m", "r", "p", "p")
            await pilot.pause(0.3)
            await pilot.press("escape")
        await until(pilot, lambda: app.latest is not refreshes, "more refreshes")
    assert app.errors() == []
    monkeypatch.undo()  # the spies saw the TUI; what follows is the test's own doing

    ofctl_calls = [args for args, _shell in spies.processes if "ovs-ofctl" in str(args[0])]
    assert ofctl_calls, "the app dumped no flows at all"
    for args in ofctl_calls:
        assert "--read-only" in args
        assert READ_COMMANDS & set(args), args
    appctl_calls = [args for args, _shell in spies.processes if "ovs-appctl" in str(args[0])]
    assert appctl_calls, "the trace screen traced nothing"
    for args in appctl_calls:  # options end before the command, and it only reports
        assert args[args.index("--") + 1] in appctl.READ_ONLY, args
    assert {"ofproto/trace", "fdb/show", "dpctl/dump-conntrack", "dpctl/show"} <= {
        args[args.index("--") + 1] for args in appctl_calls}
    assert [args for args, _shell in spies.processes
            if args not in ofctl_calls and args not in appctl_calls] == []
    assert spies.transactions == 0
    assert {name for name, _uri in spies.opened} == {"openReadOnly"}

    snap = subprocess.run(
        [sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
         "snapshot", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert snap.returncode == 0, snap.stderr
    assert json.loads(snap.stdout)["instances"]
    rates = subprocess.run(
        [sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
         "snapshot", "--rates", "1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert rates.returncode == 0, rates.stderr
    for extra in ([], ["--from-wire"], ["--proto", "arp"], ["--proto", "tcp:22"]):
        tr = subprocess.run(
            [sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
             "trace", "--port", vm.tap, "--to", labmod.GATEWAY, "--json", *extra],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        assert tr.returncode in (0, 1), tr.stderr
        assert json.loads(tr.stdout)["hops"]

    assert node_state(fresh_lab) == before
