"""The built-in lab is a real node: traffic crosses the VLAN translation, and it
leaves the host exactly as it found it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import lab_possible, new_lab_name
from lab import node as labmod
from tui.cli import build_parser, main, resolve_endpoints

pytestmark = pytest.mark.lab


def ofctl_flows(lab: labmod.Lab, bridge: str) -> str:
    env = {**os.environ, "OVS_RUNDIR": str(lab.rundir)}
    return subprocess.run(["ovs-ofctl", "--read-only", "--names", "dump-flows", bridge],
                          env=env, capture_output=True, text=True, check=True).stdout


def packets_of(dump: str, fragment: str) -> int:
    lines = [line for line in dump.splitlines() if fragment in line]
    assert len(lines) == 1, f"expected one flow with {fragment!r}, got {lines}"
    return int(re.search(r"n_packets=(\d+)", lines[0]).group(1))


def host_state() -> dict:
    """What the lab must never change: host links, namespaces, OVS processes."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    names = sorted(re.findall(r"^\d+: ([^:@]+)", links, re.M))
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    procs = subprocess.run(["ps", "-eo", "pid=,stat=,comm="], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    ovs = sorted(p.split()[0] for p in procs
                 if re.search(r"ovs-vswitchd|ovsdb-server", p) and p.split()[1][0] != "Z")
    return {"links": names, "netns": sorted(netns), "ovs": ovs}


def test_ping_crosses_the_vlan_translation_and_counts(shared_lab):
    before_egress = packets_of(ofctl_flows(shared_lab, "br-provider"), "dl_vlan=2 actions=mod_vlan_vid:100")
    before_ingress = packets_of(ofctl_flows(shared_lab, "br-int"), "dl_vlan=100 actions=mod_vlan_vid:2")

    assert main(["lab", "ping", "--lab-name", shared_lab.name, "--count", "3"]) == 0

    after_egress = packets_of(ofctl_flows(shared_lab, "br-provider"), "dl_vlan=2 actions=mod_vlan_vid:100")
    after_ingress = packets_of(ofctl_flows(shared_lab, "br-int"), "dl_vlan=100 actions=mod_vlan_vid:2")
    assert after_egress >= before_egress + 3
    assert after_ingress >= before_ingress + 3


def test_flat_network_instance_reaches_its_untagged_gateway(shared_lab):
    vm = labmod.VMS[1]
    proc = subprocess.run(["ip", "netns", "exec", shared_lab.vm_ns(vm), "ping", "-c", "2", "-W", "2",
                           vm.gateway], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert packets_of(ofctl_flows(shared_lab, "br-provider"), "dl_vlan=1 actions=strip_vlan") >= 2


def test_lab_is_the_seed_node(shared_lab):
    env = {**os.environ, "OVS_RUNDIR": str(shared_lab.rundir)}
    show = subprocess.run(["ovs-vsctl", f"--db={shared_lab.db}", "show"], env=env,
                          capture_output=True, text=True, check=True).stdout
    for expected in ("Bridge br-int", "Bridge br-provider", "fail_mode: secure",
                     "datapath_type: netdev", "options: {peer=phy-br-provider}",
                     "Port tap2d1670a4-8e\n            tag: 2",
                     "Port tap60ad2c85-f3\n            tag: 1", "Port eth0"):
        assert expected in show
    ports = subprocess.run(["ovs-ofctl", "--read-only", "show", "br-int"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "3(tap2d1670a4-8e)" in ports and "1(int-br-provider)" in ports
    assert shared_lab.node_xml.read_text().count("<domain type='test'>") == 2


def test_up_is_idempotent_and_status_tells_how_to_connect(shared_lab, capsys):
    assert main(["lab", "up", "--lab-name", shared_lab.name]) == 0
    assert main(["lab", "status", "--lab-name", shared_lab.name]) == 0
    out = capsys.readouterr().out
    # a command line that works when pasted: every endpoint as a flag, none as
    # an environment variable among the flags
    line = [line.strip() for line in out.splitlines()
            if line.strip().startswith("ovsvlan-tui --db")][-1]  # `up` printed it too
    argv = shlex.split(line)[1:]
    assert "--ovs-rundir" in argv and not any(a.startswith("OVS_RUNDIR=") for a in argv)
    assert resolve_endpoints(build_parser().parse_args(argv)) == shared_lab.endpoints()
    assert f"ovsvlan-tui lab down --lab-name {shared_lab.name}" in out


def test_up_on_a_damaged_lab_says_what_it_repaired_and_a_continuous_ping_follows(fresh_lab,
                                                                               tmp_path):
    log = tmp_path / "ping.log"
    with open(log, "wb") as out:
        ping = subprocess.Popen([sys.executable, "-m", "tui.cli", "lab", "ping", "--continuous",
                                 "--lab-name", fresh_lab.name], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "bytes from" in log.read_text(), "a first reply")
        # a daemon stopped and started again is the same lab: the ping goes on
        labmod.stop_daemon(fresh_lab, "ovsdb-server")
        time.sleep(2.5)  # the ping looks at its lab once a second
        labmod.start_daemon(fresh_lab, "ovsdb-server")
        time.sleep(2.5)
        assert ping.poll() is None and "rebuilt" not in log.read_text()
        labmod.stop_daemon(fresh_lab, "ovs-vswitchd")
        up = subprocess.run([sys.executable, "-m", "tui.cli", "lab", "up", "--lab-name",
                             fresh_lab.name], capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        assert (f"lab {fresh_lab.name!r} was damaged (ovs-vswitchd of the node namespace was "
                "not running): rebuilt it") in up.stdout
        wait_until(lambda: "was rebuilt: pinging in the new one" in log.read_text(),
                   "the ping saying it follows the rebuilt lab", log)
        after = lambda: log.read_text().split("was rebuilt")[1]  # noqa: E731
        wait_until(lambda: "bytes from" in after(), "a reply from the rebuilt lab")
        assert ping.poll() is None
    finally:
        os.killpg(ping.pid, signal.SIGINT)  # its session: the CLI and its ping
        ping.wait(timeout=10)


def wait_until(check, what: str, log: Path | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        said = f"; the ping said:\n{log.read_text()[-2000:]}" if log else ""
        assert time.monotonic() < deadline, f"not seen within {timeout:g}s: {what}{said}"
        time.sleep(0.2)


def test_down_leaves_the_host_exactly_as_before_up():
    reason = lab_possible()
    if reason:
        pytest.skip(reason)
    before = host_state()
    lab = labmod.Lab(new_lab_name())
    try:
        labmod.up(lab)
        during = host_state()
        assert during["links"] == before["links"], "the lab touched the host's interfaces"
        assert len(during["ovs"]) == len(before["ovs"]) + 4
    finally:
        labmod.down(lab)
    assert host_state() == before
    assert not lab.dir.exists()
    assert main(["lab", "status", "--lab-name", lab.name]) == 1


def test_two_labs_coexist(shared_lab):
    other = labmod.Lab(new_lab_name())
    try:
        labmod.up(other)
        assert labmod.is_up(other) and labmod.is_up(shared_lab)
        assert main(["lab", "ping", "--lab-name", other.name, "--count", "1"]) == 0
    finally:
        labmod.down(other)
    assert labmod.is_up(shared_lab)
