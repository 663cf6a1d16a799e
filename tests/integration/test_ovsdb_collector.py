"""The OVSDB collector against a real, private ovsdb-server.

Each test gets its own ovsdb-server with a fresh database, socket, pidfile,
control socket and log in its tmp dir; no ovs-vswitchd is needed, so columns
vswitchd would fill in (ofport, error, link_state) are written with ovs-vsctl.
Teardown kills only the pid from that server's pidfile.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from collectors.ovsdb import (
    OvsdbCollector,
    OvsdbError,
    SnapshotCopier,
    copy_snapshot,
    fetch_schema,
    is_ready,
    open_idl,
    read_once,
    read_once_idl,
)
from model.records import OvsdbSnapshot, OvsPort, SourceState

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ovsdb-server") or not SCHEMA.exists(),
        reason="needs root, ovsdb-server and the vswitch schema",
    ),
]

VM_UUID = "9c2b4a7e-1f3d-4c59-8a0e-6d2f1b3c4e5a"
IFACE_ID = "2d1670a4-8e0e-4bd6-9e2a-0c5b1f6a7d11"

# The seed's node as the Neutron OVS agent and os-vif leave it.
SEED_TOPOLOGY = [
    "add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev", "fail_mode=secure",
    "--", "add-br", "br-provider",
    "--", "set", "Bridge", "br-provider", "datapath_type=netdev", "fail_mode=secure",
    "--", "add-port", "br-provider", "eth0",
    "--", "add-port", "br-provider", "phy-br-provider",
    "--", "set", "Interface", "phy-br-provider", "type=patch", "options:peer=int-br-provider",
    "--", "add-port", "br-int", "int-br-provider",
    "--", "set", "Interface", "int-br-provider", "type=patch", "options:peer=phy-br-provider",
    "--", "add-port", "br-int", "tap2d1670a4-8e", "tag=2",
    "--", "set", "Interface", "tap2d1670a4-8e", "ofport=3", "link_state=up",
    f"external_ids:iface-id={IFACE_ID}", "external_ids:attached-mac=fa:16:3e:bc:78:a8",
    "external_ids:iface-status=active", f"external_ids:vm-uuid={VM_UUID}",
    "--", "set", "Port", "tap2d1670a4-8e", "other_config:net_uuid=5b1e0c7a-2f44-4f0e-9d7b-3c2a1e0f9b8d",
    "other_config:network_type=vlan", "other_config:physical_network=provider",
    "other_config:segmentation_id=100", "other_config:tag=2",
    "--", "add-port", "br-int", "tap60ad2c85-f3", "tag=1",
    "--", "set", "Interface", "tap60ad2c85-f3", "ofport=-1",
    'error="could not open network device tap60ad2c85-f3 (No such device)"',
    "external_ids:vm-id=0f6c2d1e-7a8b-4c3d-9e0f-1a2b3c4d5e6f",
]


class OvsdbServer:
    """A private ovsdb-server; nothing it uses is shared with the host's OVS."""

    def __init__(self, workdir: Path, schema: Path = SCHEMA, listen: tuple[str, ...] = (),
                 netns: str | None = None) -> None:
        """``listen``: more ovsdb-server arguments (remotes, PKI files); ``netns``:
        the (lab) namespace the server runs in."""
        self.dir = workdir
        self.schema, self.listen, self.netns = schema, listen, netns
        self.db_file = workdir / "conf.db"
        self.sock = workdir / "db.sock"
        self.pidfile = workdir / "ovsdb-server.pid"
        self.remote = f"unix:{self.sock}"
        self.env = dict(os.environ, OVS_RUNDIR=str(workdir), OVS_DBDIR=str(workdir), OVS_LOGDIR=str(workdir))
        self._proc: subprocess.Popen | None = None

    def create(self) -> None:
        subprocess.run(["ovsdb-tool", "create", str(self.db_file), str(self.schema)], check=True,
                       env=self.env)

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                *(["ip", "netns", "exec", self.netns] if self.netns else []),  # execs: same pid
                "ovsdb-server", str(self.db_file), *self.listen,
                f"--remote=punix:{self.sock}",
                f"--pidfile={self.pidfile}",
                f"--unixctl={self.dir / 'ovsdb-server.ctl'}",
                f"--log-file={self.dir / 'ovsdb-server.log'}",
                "--no-chdir",
            ],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not self._accepts():
            assert self._proc.poll() is None, "ovsdb-server exited; see ovsdb-server.log"
            assert time.monotonic() < deadline, "ovsdb-server did not open its socket"
            time.sleep(0.02)

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(self.sock))
                return True
            except OSError:
                return False

    def stop(self) -> None:
        """SIGTERM the pid in our pidfile (and nothing else), then reap it."""
        if self._proc is None:
            return
        if self.pidfile.exists():
            pid = int(self.pidfile.read_text().strip())
            if pid == self._proc.pid and self._proc.poll() is None:
                os.kill(pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def vsctl(self, *args: str) -> str:
        return subprocess.run(
            ["ovs-vsctl", f"--db={self.remote}", "--no-wait", *args],
            check=True, capture_output=True, text=True, env=self.env,
        ).stdout

    def dump(self) -> str:
        return subprocess.run(
            ["ovsdb-client", "dump", self.remote, "Open_vSwitch"],
            check=True, capture_output=True, text=True, env=self.env,
        ).stdout


class Recorder:
    """Collects what the collector reports, and waits for what a test expects."""

    def __init__(self) -> None:
        self.snapshots: list[OvsdbSnapshot] = []
        self.states: list[SourceState] = []
        self._cond = threading.Condition()

    def on_snapshot(self, snapshot: OvsdbSnapshot) -> None:
        with self._cond:
            self.snapshots.append(snapshot)
            self._cond.notify_all()

    def on_state(self, state: SourceState) -> None:
        with self._cond:
            self.states.append(state)
            self._cond.notify_all()

    def wait_snapshot(self, check, timeout: float = 2.0) -> OvsdbSnapshot:
        """The latest snapshot once it satisfies `check`."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self.snapshots and check(self.snapshots[-1]), timeout)
            assert ok, f"no snapshot matched within {timeout} s"
            return self.snapshots[-1]

    def wait_state(self, status: str, timeout: float = 2.0) -> SourceState:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.states and self.states[-1].status == status, timeout)
            assert ok, f"state is not {status!r} after {timeout} s: {self.states[-1:]}"
            return self.states[-1]


def run_until(idl, done, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the IDL did not get there in time"
        idl.run()
        time.sleep(0.005)


def ports(snapshot: OvsdbSnapshot) -> dict[str, OvsPort]:
    return {p.name: p for b in snapshot.bridges for p in b.ports}


@pytest.fixture
def server(tmp_path):
    srv = OvsdbServer(tmp_path)
    srv.create()
    try:
        srv.start()
        srv.vsctl("init")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def seeded(server):
    server.vsctl(*SEED_TOPOLOGY)
    return server


@pytest.fixture
def follow():
    """Starts collectors on demand and always stops them."""
    started = []

    def start(remote: str) -> Recorder:
        rec = Recorder()
        collector = OvsdbCollector(remote, rec.on_snapshot, rec.on_state)
        started.append(collector)
        collector.start()
        return rec

    yield start
    for collector in started:
        collector.stop()


# --------------------------------------------------------------------------


def test_first_snapshot_shows_the_nodes_bridges_ports_and_neutron_metadata(seeded, follow):
    t0 = time.monotonic()
    rec = follow(seeded.remote)
    snap = rec.wait_snapshot(lambda s: True)
    print(f"\nstart() -> first snapshot: {(time.monotonic() - t0) * 1000:.1f} ms")

    assert [s.status for s in rec.states] == ["connecting", "live"]
    assert [b.name for b in snap.bridges] == ["br-int", "br-provider"]
    br_int = snap.bridges[0]
    assert (br_int.datapath_type, br_int.fail_mode) == ("netdev", "secure")
    assert [p.name for p in br_int.ports] == ["br-int", "int-br-provider", "tap2d1670a4-8e", "tap60ad2c85-f3"]

    vif = ports(snap)["tap2d1670a4-8e"]
    assert vif.tag == 2
    assert vif.other_config["segmentation_id"] == "100"
    assert vif.other_config["physical_network"] == "provider"
    assert vif.other_config["network_type"] == "vlan"
    assert (vif.interface.ofport, vif.interface.link_state) == (3, "up")
    assert vif.interface.iface_id == IFACE_ID
    assert vif.interface.attached_mac == "fa:16:3e:bc:78:a8"
    assert vif.interface.vm_uuid == VM_UUID

    failed = ports(snap)["tap60ad2c85-f3"].interface
    assert failed.ofport == -1
    assert failed.error == "could not open network device tap60ad2c85-f3 (No such device)"
    assert failed.vm_uuid == "0f6c2d1e-7a8b-4c3d-9e0f-1a2b3c4d5e6f"

    assert ports(snap)["int-br-provider"].interface.peer == "phy-br-provider"
    assert ports(snap)["phy-br-provider"].interface.peer == "int-br-provider"
    assert ports(snap)["phy-br-provider"].bridge == "br-provider"
    assert ports(snap)["br-int"].tag is None
    assert ports(snap)["br-int"].interface.type == "internal"


def test_changes_arrive_as_new_snapshots_and_an_idle_database_sends_none(seeded, follow):
    rec = follow(seeded.remote)
    rec.wait_snapshot(lambda s: True)

    seeded.vsctl("set", "Port", "tap2d1670a4-8e", "tag=4095")
    snap = rec.wait_snapshot(lambda s: ports(s)["tap2d1670a4-8e"].tag == 4095)
    assert ports(snap)["tap60ad2c85-f3"].tag == 1

    seeded.vsctl("add-port", "br-int", "tap11111111-22", "tag=3")
    rec.wait_snapshot(lambda s: ports(s).get("tap11111111-22") is not None and ports(s)["tap11111111-22"].tag == 3)

    seeded.vsctl("del-port", "br-int", "tap60ad2c85-f3")
    rec.wait_snapshot(lambda s: "tap60ad2c85-f3" not in ports(s))

    count = len(rec.snapshots)
    time.sleep(1.0)
    assert len(rec.snapshots) == count, "snapshots arrived although nothing changed"


def test_a_burst_of_changes_is_throttled_and_ends_with_the_last_change(seeded, follow):
    rec = follow(seeded.remote)
    rec.wait_snapshot(lambda s: True)
    before = len(rec.snapshots)

    t0 = time.monotonic()
    for tag in range(1, 41):
        seeded.vsctl("set", "Port", "tap2d1670a4-8e", f"tag={tag}")
    burst = time.monotonic() - t0
    rec.wait_snapshot(lambda s: ports(s)["tap2d1670a4-8e"].tag == 40)

    made = len(rec.snapshots) - before
    print(f"\n40 changes in {burst * 1000:.0f} ms -> {made} snapshots")
    assert made <= burst / 0.1 + 2


def test_losing_the_server_keeps_the_last_snapshot_as_stale_until_it_returns(seeded, follow):
    rec = follow(seeded.remote)
    last = rec.wait_snapshot(lambda s: True)
    rec.wait_state("live")

    seeded.stop()
    stale = rec.wait_state("stale")
    assert "showing the last snapshot" in stale.detail
    assert "is ovsdb-server running?" in stale.detail
    assert stale.last_ok is not None
    assert rec.snapshots[-1] is last

    seeded.start()
    rec.wait_state("live", timeout=7.0)
    fresh = rec.snapshots[-1]
    assert fresh is not last
    assert ports(fresh)["tap2d1670a4-8e"].tag == 2

    seeded.vsctl("set", "Port", "tap2d1670a4-8e", "tag=7")
    rec.wait_snapshot(lambda s: ports(s)["tap2d1670a4-8e"].tag == 7)


def test_missing_socket_is_an_error_that_says_what_to_do_then_recovers(tmp_path, follow):
    srv = OvsdbServer(tmp_path)
    rec = follow(srv.remote)
    error = rec.wait_state("error")
    assert error.source == "ovsdb"
    assert f"cannot open {srv.remote}: No such file or directory" in error.detail
    assert "is ovsdb-server running?" in error.detail and "--db" in error.detail

    srv.create()
    try:
        srv.start()
        srv.vsctl("init")
        rec.wait_state("live", timeout=7.0)
        assert rec.snapshots[-1].bridges == ()
    finally:
        srv.stop()


def test_stop_returns_promptly_whether_connected_or_retrying(seeded, tmp_path):
    live = OvsdbCollector(seeded.remote, lambda s: None, lambda s: None)
    retrying = OvsdbCollector(f"unix:{tmp_path}/nothing-here.sock", lambda s: None, lambda s: None)
    for collector in (live, retrying):
        collector.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        collector.stop()
        assert time.monotonic() - t0 < 0.3


def test_read_once_returns_a_snapshot(seeded):
    snap = read_once(seeded.remote)
    assert ports(snap)["tap2d1670a4-8e"].tag == 2
    assert [b.name for b in snap.bridges] == ["br-int", "br-provider"]


def test_read_once_without_the_idl_copies_the_same_records_as_the_idl(seeded):
    """snapshot's one read (get_schema and monitor, decoded by the C JSON decoder) gives
    the records the IDL gives: optional columns, sets, maps, a bond's interfaces."""
    seeded.vsctl("add-bond", "br-int", "bond0", "eth1", "eth2", "trunks=10,2,300",
                 "vlan_mode=trunk", "--", "set", "Interface", "eth1", "link_state=down",
                 "options:key=\"a b\"", "--", "set", "Open_vSwitch", ".",
                 "ovs_version=3.1.0", "external_ids:hostname=compute-1")
    fast, idl = read_once(seeded.remote), read_once_idl(seeded.remote)
    assert replace(fast, seqno=0) == replace(idl, seqno=0)
    bond = ports(fast)["bond0"]
    assert bond.trunks == (2, 10, 300) and bond.vlan_mode == "trunk"
    assert [(i.name, i.link_state) for i in bond.interfaces] == [("eth1", "down"), ("eth2", None)]
    assert bond.interfaces[0].options == {"key": "a b"}
    assert ports(fast)["tap60ad2c85-f3"].interfaces[0].error.startswith("could not open")
    assert fast.ovs_version == "3.1.0" and fast.external_ids == {"hostname": "compute-1"}


def test_read_once_never_writes_to_the_database(seeded):
    dump_before, file_before = seeded.dump(), seeded.db_file.read_bytes()
    read_once(seeded.remote)
    assert seeded.dump() == dump_before
    assert seeded.db_file.read_bytes() == file_before


def test_read_once_raises_a_clear_error_on_a_socket_nobody_listens_on(tmp_path):
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(dead))  # the file stays; nothing listens, as after a crash
    with pytest.raises(OvsdbError, match="Connection refused — is ovsdb-server running"):
        read_once(f"unix:{dead}", timeout=1.0)
    with pytest.raises(OvsdbError, match="No such file or directory"):
        read_once(f"unix:{tmp_path}/absent.sock", timeout=1.0)


def test_read_once_as_an_unprivileged_user_says_to_run_as_root_or_join_the_group(seeded):
    """Forked child drops to nobody; the socket sits in root's 0700 tmp dir."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                read_once(seeded.remote, timeout=1.0)
                message = "no error"
            except OvsdbError as e:
                message = str(e)
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    assert message == (
        f"permission denied on {seeded.remote} — run as root or a member of the openvswitch group"
    )


def test_the_collector_never_writes_to_the_database(seeded, follow):
    dump_before, file_before = seeded.dump(), seeded.db_file.read_bytes()

    rec = follow(seeded.remote)
    rec.wait_state("live")
    time.sleep(0.5)

    assert seeded.dump() == dump_before
    assert seeded.db_file.read_bytes() == file_before


def test_copy_cost_with_500_ports(server, follow):
    args = ["add-br", "br-int"]
    for i in range(500):
        name = f"tap{i:08x}-00"
        args += [
            "--", "add-port", "br-int", name, f"tag={i % 4094 + 1}",
            "--", "set", "Interface", name, "type=internal",
            f"external_ids:iface-id=port-{i}", "external_ids:attached-mac=fa:16:3e:00:00:01",
            f"external_ids:vm-uuid=vm-{i}",
            "--", "set", "Port", name, "other_config:network_type=vlan",
            "other_config:physical_network=provider", f"other_config:segmentation_id={100 + i}",
        ]
    server.vsctl(*args)

    t0 = time.monotonic()
    rec = follow(server.remote)
    first = rec.wait_snapshot(lambda s: True, timeout=5.0)
    first_ms = (time.monotonic() - t0) * 1000
    assert len(first.bridges[0].ports) == 501

    idl = open_idl(server.remote, fetch_schema(server.remote, 5.0))
    try:
        run_until(idl, lambda: is_ready(idl))
        rounds = 10
        t0 = time.perf_counter()
        for _ in range(rounds):
            copy_snapshot(idl, SnapshotCopier())
        full_ms = (time.perf_counter() - t0) * 1000 / rounds

        copier = SnapshotCopier()
        copy_snapshot(idl, copier)
        server.vsctl("set", "Port", "tap00000007-00", "tag=4095")
        run_until(idl, lambda: idl.changed_rows)
        t0 = time.perf_counter()
        snap = copy_snapshot(idl, copier)
        one_ms = (time.perf_counter() - t0) * 1000
    finally:
        idl.close()

    assert ports(snap)["tap00000007-00"].tag == 4095
    print(
        f"\n500 ports: start() -> first snapshot {first_ms:.0f} ms; full copy {full_ms:.1f} ms;"
        f" copy after one port changed {one_ms:.1f} ms"
    )
    assert one_ms < full_ms / 5
