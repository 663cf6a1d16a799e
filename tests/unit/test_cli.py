"""The command line under bad input and missing privileges: a mistyped flag
costs one line and exit status 2, a missing privilege is named once with the
source that needs it, and nothing ever ends in a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def cli(*args: str, as_nobody: bool = False, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tui.cli", *args]
    return subprocess.run(NOBODY + command if as_nobody else command, cwd=REPO if not as_nobody
                          else "/", capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--interval"],
    ["--interval", "abc"],
    ["--interval", "0"],
    ["--interval", "nan"],
    ["--interval", "inf"],
    ["--interval", "-1"],
    ["frob"],
    ["snapshot", "--bogus"],
    ["snapshot", "--json", "extra"],
    ["lab"],
    ["lab", "frob"],
    ["lab", "ping", "--count", "0"],
    ["lab", "ping", "--count", "many"],
    ["--lab-name", "../../tmp", "lab", "down"],
    ["lab", "down", "--lab-name", "a/b"],
    ["lab", "status", "--lab-name", ""],
    ["--db", "punix:/tmp/listen-here.sock"],
    ["--db", "ptcp:6640"],
    ["--db", "db.sock"],
    ["--db", "unix:"],
    ["exporter", "--listen", ":9479"],  # every interface, without saying so
    ["exporter", "--listen", "example.com:9479"],
    ["exporter", "--listen", "127.0.0.1:70000"],
    ["exporter", "--listen", "127.0.0.1:http"],
    ["exporter", "--top-flows", "-1"],
    ["exporter", "--top-flows", "many"],
    ["snapshot", "--rates", "0"],
    ["snapshot", "--rates", "soon"],
    ["trace"],
    ["trace", "--port", "tap1"],
    ["trace", "--port", "tap1", "--to", "gateway"],
    ["trace", "--port", "tap1", "--to", "192.0.2.1", "--proto", "icmp:8"],
    ["trace", "--port", "tap1", "--to", "192.0.2.1", "--proto", "tcp:99999"],
], ids=lambda args: " ".join(args) or "-")
def test_bad_input_gets_one_line_and_exit_status_2(args):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_is_not_an_error():
    result = cli("--help")
    assert result.returncode == 0 and "snapshot" in result.stdout and result.stderr == ""


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`ovsvlan-tui snapshot --json | head -1`: the pipe closes under us."""
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--db", "unix:/nonexistent/db.sock",
                             "--libvirt", "test:///default", "snapshot", "--json"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    _out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 1


# --------------------------------------------------------------------------
# Without root

needs_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to drop privileges with setpriv")


@needs_setpriv
@pytest.mark.parametrize("action", ["up", "down", "ping"])
def test_lab_commands_say_they_need_root_in_one_line(action):
    result = cli("lab", action, "--lab-name", "nobodys", as_nobody=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"`lab {action}` needs root" in result.stderr and "sudo" in result.stderr
    assert not Path("/run/ovsvlan-tui/nobodys").exists()


@pytest.fixture
def root_only_sockets():
    """An OVS run directory anyone may enter, whose db.sock and br-int.mgmt only
    root may connect to (as a real node's are)."""
    rundir = Path(tempfile.mkdtemp(prefix="ovsvlan-perm-"))
    rundir.chmod(0o755)
    socks = []
    for name in ("db.sock", "br-int.mgmt"):
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(rundir / name))
        s.listen()
        (rundir / name).chmod(0o700)
        socks.append(s)
    try:
        yield rundir
    finally:
        for s in socks:
            s.close()
        shutil.rmtree(rundir)


@needs_setpriv
def test_permission_denied_names_each_source_and_the_privilege_it_needs(root_only_sockets):
    rundir = root_only_sockets
    result = cli("--db", f"unix:{rundir}/db.sock", "--ovs-rundir", str(rundir),
                 "--libvirt", "test:///default", "--netns", "some-namespace",
                 "snapshot", "--json", as_nobody=True)
    first, *rest = result.stderr.splitlines()
    assert first.startswith("ovsvlan-tui: running as nobody: ")
    assert f"ovsdb needs write access to {rundir}/db.sock (root:root srwx------)" in first
    assert (f"openflow (ovs-ofctl) needs write access to {rundir}/<bridge>.mgmt "
            "(root:root srwx------)") in first
    assert "netlink needs root (CAP_SYS_ADMIN) to enter network namespace 'some-namespace'" \
        in first
    assert "libvirt" not in first  # it needs nothing it lacks
    assert "Traceback" not in result.stderr
    # The rest still works: libvirt's instances are in the snapshot.
    assert '"instances"' in result.stdout and '"test"' in result.stdout


@needs_setpriv
def test_root_gets_no_privilege_message(root_only_sockets):
    rundir = root_only_sockets
    result = cli("--db", f"unix:{rundir}/none.sock", "--ovs-rundir", str(rundir),
                 "--libvirt", "test:///default", "--netns", "some-namespace", "snapshot", "--json")
    assert "running as" not in result.stderr
    assert "netlink:" in result.stderr  # the namespace is missing, not the privilege


# --------------------------------------------------------------------------
# The exporter's address: loopback unless told, and a taken port is one line.

DOWN_NODE = ["--db", "unix:/nonexistent/db.sock", "--ovs-rundir", "/nonexistent",
             "--libvirt", "test:///default"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exporter_port_alone_listens_on_loopback_only_and_serves_with_sources_down():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "exporter", *DOWN_NODE,
                             "--listen", str(port), "--interval", "0.5"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline().strip().endswith(
            f"serving http://127.0.0.1:{port}/metrics, refreshing every 0.5 s")
        listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
        local = {line.split()[1] for line in listening if line.split()[3] == "0A"}
        assert f"0100007F:{port:04X}" in local  # 127.0.0.1, and no 0.0.0.0 entry
        assert f"00000000:{port:04X}" not in local
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.status == 200
            text = r.read().decode()
        assert 'ovsvlan_source_up{source="ovsdb"} 0.0' in text
        assert 'ovsvlan_source_up{source="openflow"} 0.0' in text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_exporter_on_a_port_in_use_says_so_in_one_line_and_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("exporter", *DOWN_NODE, "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr == (f"ovsvlan-tui exporter: cannot listen on 127.0.0.1:{port}: "
                             "Address already in use (choose another with --listen HOST:PORT)\n")
    assert result.stdout == ""
# --from: a saved node

FIXTURES = REPO / "tests" / "fixtures"


@pytest.mark.parametrize("args", [
    ["--from", "tests/fixtures/seed", "--db", "unix:/x"],
    ["snapshot", "--from", "tests/fixtures/seed", "--lab"],
    ["--libvirt", "test:///default", "snapshot", "--from", "tests/fixtures/seed"],
    ["trace", "--from", "tests/fixtures/seed", "--port", "tap2d1670a4-8e", "--to", "192.0.2.1"],
    ["exporter", "--from", "tests/fixtures/seed"],
])
def test_from_with_a_live_connection_flag_is_refused_in_one_line(args):
    r = cli(*args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--from reads a saved node" in r.stderr


def test_snapshot_from_a_sosreport_says_what_it_read_and_prints_the_model():
    r = cli("snapshot", "--json", "--from", str(FIXTURES / "sos" / "hotsos-sunbeam"))
    # the one exit rule: this sosreport holds no libvirt XML and no `ip -d link`
    assert r.returncode == 1, r.stderr
    assert "ovsvlan-tui: libvirt: error: no domain XML or virsh list was saved" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["node"]["hostname"] == "noble-sunbeam"
    assert "read sos_commands/openvswitch/openstack-hypervisor.ovs-vsctl_-t_5_show as ovs-vsctl show" \
        in r.stderr
    assert "warning: sos_commands/openvswitch/openstack-hypervisor.ovs-ofctl_show_br-ex" in r.stderr
    assert "Traceback" not in r.stderr


def test_from_a_path_that_is_nothing_saved_is_one_line():
    r = cli("snapshot", "--from", "/nonexistent/sosreport")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr


# --------------------------------------------------------------------------
# Lab hints repeat the lab's name: following one never starts another lab


def test_lab_hints_repeat_the_lab_name_given():
    status = cli("lab", "status", "--lab-name", "nc")
    assert status.returncode == 1
    assert "start it with: ovsvlan-tui lab up --lab-name nc" in status.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="lab ping needs root")
def test_lab_ping_on_a_lab_that_is_down_names_the_command_for_that_lab():
    ping = cli("lab", "ping", "--lab-name", "nc")
    assert ping.returncode == 1
    assert "run `ovsvlan-tui lab up --lab-name nc` first" in ping.stderr
    default = cli("lab", "status")  # the default lab needs no name repeated
    assert "ovsvlan-tui lab up)" in default.stdout or "is up" in default.stdout
