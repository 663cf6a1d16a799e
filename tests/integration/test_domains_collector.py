"""The libvirt source against libvirt's in-process test driver (no daemon needed).

``test:///<path>/node.xml`` holds a node of its own per connection;
``test:///default`` is one node shared by every connection of the process,
which lets a test change a domain through a second, writable connection and
watch what our read-only one sees.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import libvirtaio
import pytest

from collectors.domains import LibvirtSource, LibvirtUnavailable

NODE_XML = Path(__file__).parent.parent / "fixtures" / "libvirt" / "node.xml"
NODE_URI = f"test://{NODE_XML.resolve()}"
SHARED_URI = "test:///default"


@pytest.fixture
def source():
    src = LibvirtSource(NODE_URI)
    src.open()
    yield src
    src.close()


def by_name(domains):
    return {d.name: d for d in domains}


def test_lists_running_and_shut_off_instances_with_their_vnics(source):
    doms = by_name(source.list_domains())
    assert set(doms) == {"instance-00000027", "instance-00000026"}

    running = doms["instance-00000027"]
    assert (running.state, running.id) == ("running", 1)
    assert running.uuid == "45ee5234-e888-4ab8-91d1-d8d646a382ae"
    assert (running.nova_name, running.flavor, running.project, running.project_id) == (
        "instance01", "m1.nano", "demo", "f2aeffb34ff34ffb8959f1cd813655c6")
    assert [(v.mac, v.target, v.type) for v in running.vnics] == [
        ("fa:16:3e:bc:78:a8", "tap2d1670a4-8e", "ethernet")]

    stopped = doms["instance-00000026"]
    assert (stopped.state, stopped.id) == ("shutoff", None)
    assert [(v.mac, v.target) for v in stopped.vnics] == [("fa:16:3e:e9:6a:38", "tap60ad2c85-f3")]


def test_vnic_counters_come_from_running_instances_only_and_are_fresh(source):
    domains = source.list_domains()
    first = source.interface_stats(domains)
    assert [(s.domain_uuid, s.target) for s in first] == [
        ("45ee5234-e888-4ab8-91d1-d8d646a382ae", "tap2d1670a4-8e")]
    time.sleep(0.05)
    (second,) = source.interface_stats(domains)
    # The test driver's counters follow the clock: a later read must be larger,
    # and they are marked as made up, so no screen shows them as traffic.
    assert second.rx_bytes > first[0].rx_bytes
    assert second.tx_packets > first[0].tx_packets
    assert first[0].synthetic and second.synthetic


def test_a_vanished_interface_is_left_out_quietly(source, capfd):
    (running,) = [d for d in source.list_domains() if d.state == "running"]
    ghost = type(running.vnics[0])(mac="fa:16:3e:00:00:99", target="tapdeadbeef-00")
    gone = type(running)(name=running.name, uuid=running.uuid, state="running",
                         vnics=(ghost, *running.vnics))
    assert [s.target for s in source.interface_stats([gone])] == ["tap2d1670a4-8e"]
    # libvirt's own error printing would scribble over the full-screen UI.
    assert capfd.readouterr().err == ""


def test_reconnecting_is_close_then_open(source):
    with pytest.raises(RuntimeError, match="already open"):
        source.open()
    source.close()
    with pytest.raises(RuntimeError, match="not been called"):
        source.list_domains()
    source.open()
    assert len(source.list_domains()) == 2


def test_the_tool_only_ever_opens_libvirt_read_only_and_changes_nothing(monkeypatch):
    opened = []
    real_open_ro = libvirt.openReadOnly

    def spy(uri):
        opened.append(real_open_ro(uri))
        return opened[-1]

    def forbidden(*_a, **_k):
        raise AssertionError("a writable libvirt connection was opened")

    monkeypatch.setattr(libvirt, "openReadOnly", spy)
    monkeypatch.setattr(libvirt, "open", forbidden)
    monkeypatch.setattr(libvirt, "openAuth", forbidden)

    witness = real_open_ro(SHARED_URI)
    dom = witness.lookupByName("test")
    before = (dom.XMLDesc(), dom.state())
    with LibvirtSource(SHARED_URI) as src:
        src.interface_stats(src.list_domains())
        (conn,) = opened
        assert conn.isAlive() == 1
        with pytest.raises(libvirt.libvirtError) as refused:
            conn.lookupByName("test").suspend()
        assert refused.value.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED
    assert (dom.XMLDesc(), dom.state()) == before
    witness.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_lifecycle_events_arrive_on_the_loop():
    # libvirt binds events to one asyncio loop per process: the session's.
    loop = asyncio.get_running_loop()
    events: list[tuple[str, str]] = []
    arrived = asyncio.Event()

    def on_event(uuid, name):
        events.append((uuid, name))
        if len(events) == 2:
            arrived.set()

    src = LibvirtSource(SHARED_URI)
    src.register_events(loop, on_event, on_closed=lambda reason: None)
    src.open()
    admin = libvirt.open(SHARED_URI)  # the test's own hands, never the tool's
    try:
        dom = admin.lookupByName("test")
        dom.suspend()
        dom.resume()
        await asyncio.wait_for(arrived.wait(), timeout=5)
    finally:
        admin.close()
        src.close()
        await libvirtaio.getCurrentImpl().drain()
    assert events == [(dom.UUIDString(), "suspended"), (dom.UUIDString(), "resumed")]


@pytest.mark.asyncio(loop_scope="session")
async def test_events_cannot_be_asked_for_after_open_or_on_a_second_loop():
    src = LibvirtSource(NODE_URI)
    src.register_events(asyncio.get_running_loop(), lambda *_: None)
    other = asyncio.new_event_loop()
    try:
        with pytest.raises(LibvirtUnavailable, match="another asyncio loop"):
            LibvirtSource(NODE_URI).register_events(other, lambda *_: None)
    finally:
        other.close()
    src.open()
    try:
        with pytest.raises(RuntimeError, match="before open"):
            src.register_events(asyncio.get_running_loop(), lambda *_: None)
    finally:
        src.close()


def test_no_daemon_says_to_start_it_or_pass_another_uri(tmp_path):
    src = LibvirtSource(f"qemu+unix:///system?socket={tmp_path}/libvirt-sock-ro")
    with pytest.raises(LibvirtUnavailable) as e:
        src.open()
    assert "is libvirtd/virtqemud running?" in str(e.value).lower()
    assert "--libvirt URI" in str(e.value)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to take away root's file-permission override")
def test_permission_denied_says_to_run_as_root_or_in_libvirt_group(tmp_path):
    # A daemon socket only its owner may use, and a root without CAP_DAC_OVERRIDE.
    tmp_path.chmod(0o755)
    path = tmp_path / "libvirt-sock-ro"
    with socket.socket(socket.AF_UNIX) as daemon:
        daemon.bind(str(path))
        daemon.listen()
        os.chown(path, 65534, 65534)
        path.chmod(0o600)
        code = ("from collectors.domains import LibvirtSource, LibvirtUnavailable\n"
                f"try: LibvirtSource('qemu+unix:///system?socket={path}').open()\n"
                "except LibvirtUnavailable as e: print(e)\n")
        out = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override", "--inh-caps=-dac_override", "--",
             sys.executable, "-c", code],
            capture_output=True, text=True, timeout=30, check=True).stdout
    assert "Permission denied" in out
    assert "run as root or in the libvirt group" in out.lower()


def test_missing_libvirt_python_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "libvirt", None)  # makes `import libvirt` fail
    with pytest.raises(LibvirtUnavailable, match="pip install libvirt-python"):
        LibvirtSource(NODE_URI).open()
