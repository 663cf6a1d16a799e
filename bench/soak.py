"""Soak: the app on a lab for a long time, under a continuous ping and topology
churn, with its memory watched.

    sudo .venv/bin/python -m bench.soak --minutes 30

Brings up a lab of its own, runs the real app (LiveBackend, headless) on it
and, for the whole run, keeps a ping crossing the VLAN translation while
bridges, ports, taps, thousands of flows and instances come and go and the
screens are drilled into and left. Prints the app's RSS at the start (after
a warm-up cycle), every minute and at the end, and exits 1 if RSS grew by
more than ``--max-growth-mib``, if the app reported an error or if it
stopped refreshing. ``--seconds`` makes a short run for CI.

What the bound allows: Textual's DataTable keeps up to 10,000 rendered
cells per table, stale ones included (every cell update renews the cache
key), so the overview's three tables fill their caches over the first
minutes (about +13 MiB a minute here, then flat); anything beyond that is a
leak.

Instances live in libvirt's shared in-process test node (``test:///default``)
so the soak can start and stop them through a writable connection while the
app watches through its read-only one and gets the lifecycle events.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import libvirt

from collectors.endpoints import Endpoints
from lab import node as labmod
from model.scopes import Scope
from tui.app import OvsVlanApp
from tui.navigation import OpenFlows, OpenInstance, OpenPort, OpenVlan
from node.live import LiveBackend

SHARED_NODE = "test:///default"
CHURN_FLOWS = 2000  # flows added and deleted per churn cycle


def rss_mib() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class SoakApp(OvsVlanApp):
    """The app as `ovsvlan-tui` runs it, counting refreshes and error notifications."""

    def __init__(self, endpoints: Endpoints, interval: float) -> None:
        super().__init__(LiveBackend(endpoints), interval=interval)
        self.errors: list[str] = []
        self.refreshes = 0

    def notify(self, message, *, severity="information", **kwargs) -> None:
        if severity == "error":
            self.errors.append(str(message))
        super().notify(message, severity=severity, **kwargs)

    def _done(self, refresh) -> None:
        self.refreshes += 1
        super()._done(refresh)


class Churn:
    """One cycle of what a busy compute node sees, undone by the next cycle."""

    def __init__(self, lab: labmod.Lab, node: libvirt.virConnect) -> None:
        self.lab = lab
        self.node = node
        self.cycle = 0
        self.domains: list[libvirt.virDomain] = []

    def _vsctl(self, *args: str) -> None:
        subprocess.run(["ovs-vsctl", f"--db={self.lab.db}", "--timeout=20", *args],
                       capture_output=True, check=True)

    def _ofctl(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(["ovs-ofctl", *args], input=stdin, capture_output=True, text=True,
                       check=True, env={**os.environ, "OVS_RUNDIR": str(self.lab.rundir)})

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.lab.node_ns, *args], capture_output=True, check=True)

    def define_lab_instances(self) -> None:
        """The lab's instances, in the shared node, running."""
        for dom in ET.fromstring(labmod.node_xml()).iter("domain"):
            d = self.node.defineXML(ET.tostring(dom, encoding="unicode"))
            d.create()
            self.domains.append(d)

    def step(self) -> None:
        n = self.cycle
        tap, old_tap = f"tapsoak{n % 2}", f"tapsoak{(n + 1) % 2}"
        bridge, old_bridge = f"br-soak{n % 2}", f"br-soak{(n + 1) % 2}"
        # a tap appears and the agent plugs it; the previous one goes
        self._ip("link", "add", tap, "type", "veth", "peer", "name", f"p{tap}")
        self._ip("link", "set", tap, "up")
        self._vsctl("--may-exist", "add-port", "br-int", tap, f"tag={10 + n % 50}",
                    "--", "set", "Interface", tap, f"external_ids:iface-id=soak-{n}")
        if n:
            self._vsctl("--if-exists", "del-port", "br-int", old_tap)
            self._ip("link", "del", old_tap)
        # a bridge with ports appears; the previous one goes
        self._vsctl("--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge,
                    "datapath_type=netdev",
                    *[a for p in range(3) for a in ("--", "--may-exist", "add-port", bridge,
                                                    f"{bridge}-p{p}", "--", "set", "Interface",
                                                    f"{bridge}-p{p}", "type=internal")])
        self._vsctl("--if-exists", "del-br", old_bridge)
        # flows by the thousand, alternately added and deleted
        if n % 2 == 0:
            self._ofctl("add-flows", "br-int", "-", stdin="".join(
                f"cookie=0x50a4,table=40,priority={i % 500 + 1},ip,nw_src=10.8.{i >> 8}.{i & 255}"
                f" actions=resubmit(,41)\n" for i in range(CHURN_FLOWS)))
        else:
            self._ofctl("del-flows", "br-int", "cookie=0x50a4/-1")
        # an instance stops or starts (the flat-network one; instance01 keeps pinging)
        flat = self.domains[1]
        if flat.isActive():
            flat.destroy()
        else:
            flat.create()
        self.cycle += 1

    def undefine(self) -> None:
        for d in self.domains:
            if d.isActive():
                d.destroy()
            d.undefine()


async def drill(app: OvsVlanApp, pilot) -> None:
    """An operator looking around: each screen, then back to the overview."""
    if app.latest is None:
        return
    vm = labmod.VMS[0]
    for message in (OpenInstance(vm.uuid), OpenPort(vm.tap), OpenVlan(vm.local_vlan),
                    OpenFlows(Scope("all"))):
        app.post_message(message)
        await pilot.pause(0.3)
        await pilot.press("escape")
    await pilot.press("exclamation_mark")  # the problem list
    await pilot.pause(0.3)
    await pilot.press("escape")


async def watch(app: SoakApp, pilot, churn: Churn, seconds: float, every: float,
                interval: float, max_growth: float, drill_every: int) -> int:
    """The run itself, reporting as it goes; 0 if memory stayed bounded and nothing failed."""
    # Warm-up: churn cycles and a look at every screen, so the baseline
    # holds what any run holds (imports, caches, parsed flows).
    await asyncio.to_thread(churn.step)
    await asyncio.to_thread(churn.step)
    await pilot.pause(2 * interval)
    await drill(app, pilot)
    start_rss, start = rss_mib(), time.monotonic()
    print(f"start: RSS {start_rss:.1f} MiB after warm-up ({app.refreshes} refreshes)", flush=True)
    next_report, seen = start + every, app.refreshes
    while (now := time.monotonic()) < start + seconds:
        await asyncio.to_thread(churn.step)
        await pilot.pause(1.0)
        if churn.cycle % drill_every == 0:
            await drill(app, pilot)
        if now >= next_report:
            if app.refreshes == seen:
                print("the app stopped refreshing", flush=True)
                return 1
            seen = app.refreshes
            rss = rss_mib()
            print(f"{(now - start) / 60:5.1f} min: RSS {rss:.1f} MiB ({rss - start_rss:+.1f}), "
                  f"{app.refreshes} refreshes, {churn.cycle} churn cycles", flush=True)
            next_report += every
    end_rss = rss_mib()
    growth = end_rss - start_rss
    took = app.latest.took if app.latest else 0.0
    print(f"end: RSS {end_rss:.1f} MiB, grew {growth:+.1f} MiB in {seconds / 60:.1f} min "
          f"(bound {max_growth:g} MiB); {app.refreshes} refreshes, {churn.cycle} churn "
          f"cycles, last refresh {took:.2f}s, {len(app.errors)} errors", flush=True)
    for error in app.errors[:5]:
        print(f"error: {error}", flush=True)
    return 0 if growth <= max_growth and not app.errors else 1


async def soak(lab: labmod.Lab, seconds: float, every: float, interval: float,
               max_growth: float, drill_every: int) -> int:
    endpoints = dataclasses.replace(lab.endpoints(), libvirt=SHARED_NODE)
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    node = libvirt.open(SHARED_NODE)
    churn = Churn(lab, node)
    churn.define_lab_instances()
    ping = subprocess.Popen([*labmod.ping_command(lab, continuous=True)[:-1], "-i", "0.2",
                             labmod.GATEWAY], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    app = SoakApp(endpoints, interval)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            outcome = await watch(app, pilot, churn, seconds, every, interval, max_growth,
                                  drill_every)
    except Exception as e:  # the app died, running or closing: that fails the soak
        print(f"the app crashed: {e!r}", flush=True)
        outcome = 1
    finally:
        ping.terminate()
        ping.wait()
        churn.undefine()
        node.close()
    return outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=30.0, help="length (default: 30)")
    length.add_argument("--seconds", type=float, help="length in seconds (a short CI run)")
    p.add_argument("--max-growth-mib", type=float, default=80.0,
                   help="fail if RSS grows more than this after warm-up (default: 80)")
    p.add_argument("--interval", type=float, default=1.0, help="refresh interval (default: 1)")
    p.add_argument("--drill-every", type=int, default=5, metavar="N",
                   help="visit every screen each N churn cycles (default: 5)")
    p.add_argument("--lab-name", default=f"soak{os.getpid() % 100000}",
                   help="lab to build and remove (default: soak<pid>)")
    args = p.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    every = 60.0 if seconds >= 300 else 10.0
    lab = labmod.Lab(args.lab_name)
    labmod.up(lab)
    try:
        return asyncio.run(soak(lab, seconds, every, args.interval, args.max_growth_mib,
                                args.drill_every))
    finally:
        labmod.down(lab)


if __name__ == "__main__":
    sys.exit(main())
