"""Live and offline go through the same model: `lab sos DIR` writes the running
lab as sos writes a node (the same read-only commands, the same file names),
and `snapshot --json --from DIR` then says what `snapshot --json` says live,
field for field; only counters, durations and source states (saved, not
live) differ, and flows name ports by number, as sos's ovs-ofctl (no
--names) printed them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
COUNTERS = {"n_packets", "n_bytes", "duration"}
# what live snapshot adds from two readings of the counters: saved outputs have no rates
LIVE_ONLY = {"sources", "rates_seconds", "drops", "paths"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def by_number(text: str, ofports: dict[str, int]) -> str:
    """in_port=/output: port names as the numbers ovs-ofctl prints without --names."""
    def sub(m: re.Match) -> str:
        name = m.group(2).strip('"')
        return f"{m.group(1)}{ofports.get(name, name)}"
    return re.sub(r'(in_port=|output:)("(?:[^"\\]|\\.)*"|[^,\s()]+)', sub, text)


def comparable(doc: dict) -> dict:
    """The contract without counters and source states, flows' ports by number."""
    ofports = {b["name"]: {p["name"][:15]: p["ofport"] for p in b["ports"]} for b in doc["bridges"]}

    def flow(f: dict | None) -> dict | None:
        if f is None:
            return None
        numbers = ofports.get(f["bridge"], {})
        return {k: by_number(v, numbers) if k in ("match", "actions") else v
                for k, v in f.items() if k not in COUNTERS}

    out = {k: v for k, v in doc.items() if k not in LIVE_ONLY}
    out["flows"] = sorted((flow(f) for f in doc["flows"]), key=json.dumps)
    out["vlans"] = [{**v, "egress_flow": flow(v["egress_flow"]), "ingress_flow": flow(v["ingress_flow"]),
                     "tunnel_unicast_flows": [flow(f) for f in v["tunnel_unicast_flows"]]}
                    for v in doc["vlans"]]
    return out


@pytest.fixture(scope="module")
def sos_dir(shared_lab, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sos") / "sosreport-lab"
    r = cli("lab", "sos", str(out), "--lab-name", shared_lab.name)
    assert r.returncode == 0, r.stderr
    return out


def test_lab_sos_writes_the_files_sos_names(sos_dir):
    names = {p.relative_to(sos_dir).as_posix() for p in sos_dir.rglob("*") if p.is_file()}
    assert {"sos_commands/openvswitch/ovs-vsctl_-t_5_show",
            "sos_commands/openvswitch/ovs-vsctl_-t_5_list_interface",
            "sos_commands/openvswitch/ovs-ofctl_dump-flows_br-int",
            "sos_commands/openvswitch/ovs-ofctl_-O_OpenFlow13_dump-flows_br-provider",
            "sos_commands/networking/ip_-s_-d_link", "sos_commands/host/hostname",
            "etc/openvswitch/conf.db", "etc/libvirt/qemu/instance-00000027.xml",
            "run/libvirt/qemu/instance-00000027.xml"} <= names


def test_from_the_labs_sosreport_gives_the_live_model_counters_aside(shared_lab, sos_dir):
    live = cli("--lab", "--lab-name", shared_lab.name, "snapshot", "--json")
    saved = cli("snapshot", "--json", "--from", str(sos_dir))
    assert live.returncode == 0 and saved.returncode == 0, (live.stderr, saved.stderr)
    assert "read etc/openvswitch/conf.db as conf.db" in saved.stderr
    assert "warning" not in saved.stderr
    live_doc, saved_doc = json.loads(live.stdout), json.loads(saved.stdout)
    assert comparable(saved_doc) == comparable(live_doc)
    assert {s["source"]: s["status"] for s in saved_doc["sources"]} == dict.fromkeys(
        ("ovsdb", "openflow", "libvirt", "netlink"), "saved")
    # the comparison has something to compare: the lab's picture is all there
    assert len(live_doc["instances"]) == 2 and len(live_doc["vlans"]) == 2
    assert all(p["other_config"] for p in saved_doc["bridges"][0]["ports"]
               if p["name"].startswith("tap"))


def test_the_labs_sosreport_as_a_tarball_reads_as_the_directory(sos_dir, tmp_path):
    archive = tmp_path / "sosreport-lab.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(sos_dir, arcname="sosreport-lab")
    from_tar = cli("snapshot", "--json", "--from", str(archive))
    from_dir = cli("snapshot", "--json", "--from", str(sos_dir))
    assert from_tar.returncode == 0, from_tar.stderr
    assert json.loads(from_tar.stdout) == json.loads(from_dir.stdout)


def test_lab_sos_never_writes_over_a_directory_that_has_files(shared_lab, sos_dir):
    r = cli("lab", "sos", str(sos_dir), "--lab-name", shared_lab.name)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "not an empty directory" in r.stderr


def test_pasted_listings_alone_rebuild_the_bridges_with_port_other_config(shared_lab, tmp_path):
    """No `show`, no conf.db: `ovs-vsctl list` of four tables, saved under any
    names, give every bridge, port and interface, other_config included."""
    from lab.run import vsctl

    for n, table in enumerate(("Open_vSwitch", "bridge", "port", "interface")):
        (tmp_path / f"paste-{n}.txt").write_text(vsctl(shared_lab.rundir, "list", table))
    saved = cli("snapshot", "--json", "--from", str(tmp_path))
    live = cli("--lab", "--lab-name", shared_lab.name, "snapshot", "--json")
    # the one exit rule: what was not saved is a source not read, each said in a line
    assert saved.returncode == 1, saved.stderr
    for source in ("openflow", "libvirt", "netlink"):
        assert f"ovsvlan-tui: {source}: error: no " in saved.stderr
    assert re.search(r"read paste-2.txt as ovs-vsctl list: \d+ Port rows", saved.stderr)
    # which instance owns a port is libvirt's to say, and no libvirt output was saved here
    from_libvirt = ("domain_uuid", "owner")
    strip = lambda doc: [{**b, "ports": [{k: v for k, v in p.items() if k not in from_libvirt}  # noqa: E731
                                         for p in b["ports"]]} for b in doc["bridges"]]
    assert strip(json.loads(saved.stdout)) == strip(json.loads(live.stdout))


def test_the_recorded_port_counters_are_those_of_the_live_ports(shared_lab, sos_dir):
    """sos's dump-ports names ports by number; they are shown on the same ports."""
    from collectors.saved.read import read_saved
    from node.once import collect_once
    from tui.snapshot import saved_session

    saved = saved_session(read_saved(sos_dir)).refresh().model
    live = collect_once(shared_lab.endpoints())
    assert sorted(saved.port_counters) == sorted(live.port_counters)
    assert len(saved.port_counters) == sum(len(b.ports) for b in live.bridges)
