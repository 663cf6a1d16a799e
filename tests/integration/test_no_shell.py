"""Names come from OVSDB, libvirt and the kernel, and anyone who can name a port
or an instance chooses them. None of them ever reaches a shell: every
process the tool starts gets an argument list, and a name full of shell
syntax is just a name.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import libvirt
import pytest

from tests.integration.live_app import LiveApp, ip, lab_endpoints, until, vsctl
from lab import node as labmod
from model.scopes import Scope
from tui.cli import endpoint_flags
from tui.navigation import OpenPath, OpenPort
from tui.screens.trace import TraceScreen

REPO = Path(__file__).parents[2]
APP_PACKAGES = ("collectors", "tui", "widgets", "bench")
SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput", "create_subprocess_shell",
               "subprocess_shell", "spawnlp", "spawnvp", "execlp", "execvp"}


def shell_uses(source: str, name: str) -> list[str]:
    """Calls that hand a string to a shell, or could: os.system, os.popen,
    subprocess.getoutput, asyncio's *_shell, any shell=<not False>."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in SHELL_CALLS:
            found.append(f"{name}:{node.lineno}: {called}()")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                          and kw.value.value is False):
                found.append(f"{name}:{node.lineno}: shell=")
    return found


def test_no_module_of_the_tool_ever_calls_a_shell():
    files = [p for pkg in APP_PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]
    assert len(files) > 10
    assert [use for path in files
            for use in shell_uses(path.read_text(), str(path.relative_to(REPO)))] == []


def test_the_shell_check_sees_each_way_to_call_a_shell():
    source = ("import os, subprocess, asyncio\n"
              "os.system('x')\nos.popen('x')\nsubprocess.run('x', shell=True)\n"
              "subprocess.getoutput('x')\nasyncio.create_subprocess_shell('x')\n"
              "subprocess.run(['x'], shell=flag)\nsubprocess.run(['x'], shell=False)\n")
    assert shell_uses(source, "bad.py") == [
        "bad.py:2: system()", "bad.py:3: popen()", "bad.py:4: shell=",
        "bad.py:5: getoutput()", "bad.py:6: create_subprocess_shell()", "bad.py:7: shell="]


# --------------------------------------------------------------------------
# Hostile names on a real node


@pytest.mark.lab
async def test_names_full_of_shell_syntax_are_only_names(fresh_lab, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    shells = [f"x;touch {marker}-1", f"$(touch {marker}-2)", f"`touch {marker}-3`",
              f"x|touch {marker}-4", f"x&&touch {marker}-5"]
    # Ports (OVSDB) and a bridge named like commands.
    for n, name in enumerate(shells):
        vsctl(fresh_lab, "add-port", "br-int", name, f"tag={n + 1}",
              "--", "set", "Interface", name, f"external_ids:iface-id=port-{n}",
              f"external_ids:vm-uuid={labmod.VMS[0].uuid}")
    vsctl(fresh_lab, "add-br", f"br;touch {marker}-6", "--", "set", "Bridge",
          f"br;touch {marker}-6", "datapath_type=netdev")
    # A tap (netlink) whose name is shell syntax; relative, so a shell run in
    # the tool's working directory would create it there.
    tap = "t$(id>pw)`x`"
    ip(fresh_lab, "link", "add", tap, "type", "veth", "peer", "name", "t$(id>pw2)")
    # An instance (libvirt) with a name and a vNIC target that are shell syntax.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    node = libvirt.open("test:///default")
    dom = node.defineXML(
        f"<domain type='test'><name>vm;touch pwned-7</name><memory>1024</memory>"
        f"<os><type>hvm</type></os><devices><interface type='ethernet'>"
        f"<mac address='fa:16:3e:00:00:77'/><target dev='$(touch {marker}-8)'/>"
        f"</interface></devices></domain>")
    try:
        monkeypatch.chdir(tmp_path)
        started: list[tuple[object, bool]] = []
        popen_init = subprocess.Popen.__init__

        def popen(proc, args, *a, **kw):
            started.append((args, bool(kw.get("shell"))))
            popen_init(proc, args, *a, **kw)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen)
        app = LiveApp(lab_endpoints(fresh_lab, libvirt="test:///default"), interval=0.3)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest and set(shells) <= {
                pv.name for pv in app.latest.model.ports}, "the hostile ports shown")
            await until(pilot, lambda: any(d.domain.name == "vm;touch pwned-7"
                                           for d in app.latest.model.instances),
                        "the hostile instance shown")
            for name in shells:
                app.post_message(OpenPort(name))
                await pilot.pause(0.2)
                app.open_flows(Scope("port", name))
                await pilot.pause(0.2)
                app.post_message(OpenPath(name))
                await pilot.pause(0.2)
                app.push_screen(TraceScreen(name, labmod.GATEWAY))
                await pilot.pause(0.2)
                await pilot.press("escape", "escape", "escape", "escape")
            app.open_instance(dom.UUIDString())
            await pilot.pause(0.3)
        monkeypatch.undo()
        assert app.errors() == []
        assert started
        for args, shell in started:
            assert isinstance(args, (list, tuple)) and not shell
        # The bridge's name went to ovs-ofctl whole, as one argument.
        assert any(f"br;touch {marker}-6" in args for args, _shell in started)

        snap = subprocess.run(
            [sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
             "snapshot", "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
        ports = {p["name"] for b in json.loads(snap.stdout)["bridges"] for p in b["ports"]}
        assert set(shells) <= ports
    finally:
        dom.undefine()
        node.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.lab
def test_a_bridge_named_like_an_option_is_not_one(fresh_lab, tmp_path):
    """ovs-ofctl reads options anywhere on its command line (getopt), so a bridge
    named ``--log-file=<path>`` would make it write a file there, as root."""
    log = tmp_path / "written-by-ovs-ofctl.log"
    vsctl(fresh_lab, "--", "add-br", f"--log-file={log}", "--", "set", "Bridge",
          f"--log-file={log}", "datapath_type=netdev")
    subprocess.run([sys.executable, "-m", "tui.cli", *endpoint_flags(fresh_lab.endpoints()),
                    "snapshot", "--json"],
                   cwd=REPO, capture_output=True, timeout=60)
    assert not log.exists()
