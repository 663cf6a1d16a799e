"""The netlink source against real links in private network namespaces (root only).

Every link is created inside namespaces made for the test and removed with
them; nothing touches the host's namespace.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.netlink import LinkWatcher, NetlinkUnavailable, parse_ip_link_detail, read_links

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("ping")),
                       reason="needs root, iproute2 and ping (private network namespaces)"),
]

_counter = itertools.count()


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True,
                          timeout=30).stdout


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 100000}x{next(_counter)}"


@pytest.fixture
def netns():
    """A fresh, empty network namespace, deleted with everything in it."""
    made = []

    def make() -> str:
        name = unique("ovt-nl")
        ip("netns", "add", name)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def by_name(links):
    return {link.ifname: link for link in links}


async def test_reads_a_veth_pair_its_state_and_its_counters_after_a_ping(netns):
    node, peer = netns(), netns()
    ip("-n", node, "link", "add", "va", "type", "veth", "peer", "name", "vb")

    links = by_name(await read_links(node))
    assert {"lo", "va", "vb"} <= set(links)
    assert (links["va"].kind, links["vb"].kind) == ("veth", "veth")
    assert (links["va"].operstate, links["vb"].operstate) == ("DOWN", "DOWN")
    assert links["va"].mtu == 1500 and links["va"].mac

    # Move one end out, so a ping really crosses the pair.
    ip("-n", node, "link", "set", "vb", "netns", peer)
    ip("-n", node, "addr", "add", "198.51.100.1/30", "dev", "va")
    ip("-n", peer, "addr", "add", "198.51.100.2/30", "dev", "vb")
    ip("-n", node, "link", "set", "va", "up")
    ip("-n", peer, "link", "set", "vb", "up")
    subprocess.run(["ip", "netns", "exec", node, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                    "198.51.100.2"], check=True, capture_output=True, timeout=30)

    va = by_name(await read_links(node))["va"]
    vb = by_name(await read_links(peer))["vb"]
    assert "vb" not in by_name(await read_links(node))
    assert (va.operstate, vb.operstate) == ("UP", "UP")
    assert va.tx_packets >= 3 and vb.rx_packets >= 3  # the echo requests
    assert va.rx_packets >= 3 and vb.tx_packets >= 3  # the replies
    assert va.tx_bytes >= 3 * 98 and vb.rx_bytes >= 3 * 98


async def test_master_is_named_not_numbered(netns):
    node = netns()
    ip("-n", node, "link", "add", "qbrtest", "type", "bridge")
    ip("-n", node, "link", "add", "qvbtest", "type", "veth", "peer", "name", "qvotest")
    ip("-n", node, "link", "set", "qvbtest", "master", "qbrtest")
    links = by_name(await read_links(node))
    assert links["qvbtest"].master == "qbrtest"
    assert links["qbrtest"].kind == "bridge"
    assert links["qvotest"].master is None


async def test_saved_ip_output_and_netlink_agree(netns):
    node = netns()
    ip("-n", node, "link", "add", "brx", "type", "bridge")
    ip("-n", node, "link", "add", "vx", "type", "veth", "peer", "name", "vy")
    ip("-n", node, "link", "set", "vx", "master", "brx")
    ip("-n", node, "link", "set", "vy", "up")
    saved = by_name(parse_ip_link_detail(ip("-n", node, "-s", "-d", "link", "show")))
    live = by_name(await read_links(node))
    assert set(saved) == set(live)
    for name, link in live.items():
        s = saved[name]
        assert (s.index, s.operstate, s.master, s.kind, s.mtu, s.mac) == (
            link.index, link.operstate, link.master, link.kind, link.mtu, link.mac), name
        assert s.rx_packets <= link.rx_packets and s.tx_packets <= link.tx_packets, name


async def test_watcher_reports_links_added_and_deleted(netns):
    node = netns()
    seen: list[str | None] = []
    changed = asyncio.Event()

    def on_change(ifname):
        seen.append(ifname)
        changed.set()

    async def wait_for(name: str, after: int) -> None:
        async with asyncio.timeout(5):
            while name not in seen[after:]:
                changed.clear()
                await changed.wait()

    async with LinkWatcher(on_change, netns=node) as watcher:
        assert watcher.running
        ip("-n", node, "link", "add", "vw", "type", "veth", "peer", "name", "vz")
        await wait_for("vw", 0)
        mark = len(seen)
        ip("-n", node, "link", "del", "vw")
        await wait_for("vw", mark)
    assert not watcher.running


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_watcher_leaves_no_task_or_socket_behind_when_cancelled(netns):
    node = netns()
    await read_links(node)  # let pyroute2 do its one-time setup before counting
    fds, tasks = open_fds(), asyncio.all_tasks()
    started = asyncio.Event()

    async def watch_forever():
        async with LinkWatcher(lambda _name: None, netns=node):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(watch_forever())
    await started.wait()
    assert open_fds() > fds
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == tasks
    assert open_fds() == fds


async def test_reading_another_namespace_leaves_every_thread_in_ours_and_no_socket_open(netns):
    node = netns()
    ip("-n", node, "link", "add", "vq", "type", "veth", "peer", "name", "vr")
    ours = os.readlink("/proc/thread-self/ns/net")
    await read_links(node)  # the first read starts the worker threads
    fds = open_fds()
    for _ in range(3):
        assert "vq" in by_name(await read_links(node))
    assert open_fds() == fds
    assert os.readlink("/proc/thread-self/ns/net") == ours
    for task in os.listdir("/proc/self/task"):  # the loop's worker threads too
        assert os.readlink(f"/proc/self/task/{task}/ns/net") == ours
    assert "vq" not in by_name(await read_links(None))


async def test_a_mistyped_namespace_is_reported_and_never_created():
    name = unique("ovt-missing")
    with pytest.raises(NetlinkUnavailable, match="does not exist"):
        await read_links(name)
    with pytest.raises(NetlinkUnavailable, match="does not exist"):
        await LinkWatcher(lambda _n: None, netns=name).start()
    assert not Path("/run/netns", name).exists()
    assert name not in ip("netns", "list")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_no_privilege_to_enter_a_namespace_says_to_run_as_root(netns):
    node = netns()
    code = ("import asyncio\n"
            "from collectors.netlink import read_links, NetlinkUnavailable\n"
            f"try: asyncio.run(read_links({node!r}))\n"
            "except NetlinkUnavailable as e: print(e)\n")
    out = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
         sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert node in out
    assert "Run as root" in out
