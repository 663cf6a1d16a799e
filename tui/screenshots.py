"""The README's screenshots, made by the app itself from a live lab.

``python -m tui.screenshots [--lab-name NAME] [--out screenshots/]`` (root):
brings the lab up if it is down, makes instance01 ping its gateway, drives
the real app headless through each screen at 160x48 (and the overview at
80x24), waits on each long enough for rates and trends to show, and saves
each with the app's own ``save_screenshot`` as SVG. It stops the ping, and
takes the lab down again only if it brought it up.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from collectors.endpoints import Endpoints
from lab import node as labmod
from lab import ovn as labovn
from lab.run import stop
from tui.app import OvsVlanApp
from node.live import LiveBackend
from tui.navigation import OpenPath
from tui.screens.drops import DropsScreen
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.flows import FlowsScreen
from tui.screens.instance import InstanceScreen
from tui.screens.overview import OverviewScreen
from tui.screens.path import PathScreen
from tui.screens.port import PortScreen
from tui.screens.problems import ProblemsScreen
from tui.screens.trace import TraceScreen
from tui.screens.vlan import VlanScreen

SIZE = (160, 48)
NARROW = (80, 24)
SETTLE = 3.0  # seconds on each screen: a few refreshes, so rates and trends show


async def _until(pilot: Pilot, ready, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


async def _screen(pilot: Pilot, screen_type) -> None:
    await _until(pilot, lambda: isinstance(pilot.app.screen, screen_type), screen_type.__name__)


@dataclass(frozen=True)
class _Shots:
    out: Path
    prefix: str = ""  # "ovn-" for the OVN lab's
    only: frozenset[str] | None = None  # the names to save (None: all)


async def _shoot(pilot: Pilot, shots: _Shots, name: str, moving: bool = False) -> Path | None:
    """``moving``: wait for a refresh in which the ping moved br-int's flows (at
    one ping a second, a one-second window now and then holds none)."""
    if shots.only is not None and name not in shots.only:
        return None
    name = shots.prefix + name
    await pilot.pause(SETTLE)
    if moving:
        app = pilot.app
        await _until(pilot, lambda: app.latest is not None
                     and app.latest.deltas.get("br-int") is not None
                     and len(app.latest.deltas["br-int"].moved) > 0, "flows moving")
        await pilot.pause(0.2)
    saved = Path(pilot.app.save_screenshot(filename=f"{name}.svg", path=str(shots.out)))
    print(f"wrote {saved}")
    return saved


# the OVN lab's shots (ovn-*.svg): the screens whose content differs from the ML2/OVS lab's
OVN_SHOTS = frozenset({"overview", "instance", "port", "vlan", "overview-80x24"})


async def _tour(endpoints: Endpoints, out: Path, *, ovn: bool = False) -> list[Path]:
    """Overview -> instance01 -> its tap -> VLAN 2; the tap's flows (after a
    mark) -> one flow; problems; help; then the overview at 80x24."""
    vm = labmod.VMS[0]
    app = OvsVlanApp(LiveBackend(endpoints))
    cfg = _Shots(out, "ovn-", OVN_SHOTS) if ovn else _Shots(out)
    shots = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.latest is not None
                     and len(app.latest.model.instances) == len(labmod.VMS)
                     and all(s.status == "live" for s in app.latest.model.sources),
                     "every source live")
        shots.append(await _shoot(pilot, cfg, "overview", moving=True))

        instances = app.screen.query_one("#instances")
        instances.focus()
        for _ in range(instances.row_count):
            if instances.cursor_key == f"{vm.uuid}/0":
                break
            await pilot.press("down")
        await pilot.press("enter")
        await _screen(pilot, InstanceScreen)
        shots.append(await _shoot(pilot, cfg, "instance"))

        await pilot.press("enter")
        await _screen(pilot, PortScreen)
        shots.append(await _shoot(pilot, cfg, "port"))

        if not ovn:  # the path and the trace, from the port (P, t)
            await pilot.press("P")
            await _screen(pilot, PathScreen)
            await _until(pilot, lambda: app.screen.path is not None
                         and app.screen.path.seconds >= 4, "the path's rates")
            shots.append(await _shoot(pilot, cfg, "path"))
            await pilot.press("t")
            await _screen(pilot, TraceScreen)
            await pilot.press(*labmod.GATEWAY, "enter")
            await _until(pilot, lambda: app.screen.result is not None, "a trace")
            shots.append(await _shoot(pilot, cfg, "trace"))
            await pilot.press("escape", "escape")
            await _screen(pilot, PortScreen)

        await pilot.press("v")
        await _screen(pilot, VlanScreen)
        shots.append(await _shoot(pilot, cfg, "vlan", moving=True))

        await pilot.press("escape", "m", "f")
        await _screen(pilot, FlowsScreen)
        await pilot.pause(SETTLE)  # the "mark set" notice goes away meanwhile
        shots.append(await _shoot(pilot, cfg, "flows", moving=True))

        await pilot.press("enter")  # the tap's first flow: table 60, every packet it sends
        await _screen(pilot, FlowDetailScreen)
        shots.append(await _shoot(pilot, cfg, "flow-detail"))

        while not isinstance(app.screen, OverviewScreen):
            await pilot.press("escape")
        await pilot.press("exclamation_mark")
        await _screen(pilot, ProblemsScreen)
        shots.append(await _shoot(pilot, cfg, "problems"))

        if not ovn:
            await pilot.press("escape", "D")
            await _screen(pilot, DropsScreen)
            await pilot.pause(5)  # rates over a few refreshes
            shots.append(await _shoot(pilot, cfg, "drops"))
        await pilot.press("escape", "question_mark")
        await _until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
        shots.append(await _shoot(pilot, cfg, "help"))

        await pilot.press("escape")
        await _screen(pilot, OverviewScreen)
        await pilot.resize_terminal(*NARROW)
        shots.append(await _shoot(pilot, cfg, "overview-80x24"))
        if not ovn:
            app.post_message(OpenPath(vm.tap))
            await _screen(pilot, PathScreen)
            await _until(pilot, lambda: app.screen.path is not None
                         and app.screen.path.seconds >= 4, "the path's rates")
            shots.append(await _shoot(pilot, cfg, "path-80x24"))
    return [s for s in shots if s is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshots", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--lab-name", default="lab", metavar="NAME")
    parser.add_argument("--out", default="screenshots", metavar="DIR")
    parser.add_argument("--ovn", action="store_true",
                        help="the OVN lab (lab up --ovn): ovn-*.svg of the screens that differ")
    args = parser.parse_args(argv)
    try:
        labmod.require_root("up")
    except labmod.LabError as e:
        print(f"screenshots: {e}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lab = labmod.Lab(args.lab_name)
    kind = labovn if args.ovn else labmod
    brought_up = not kind.is_up(lab)
    kind.up(lab)
    ping = None
    try:
        ping = subprocess.Popen(labmod.ping_command(lab, continuous=True),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        asyncio.run(_tour(lab.endpoints(), out, ovn=args.ovn))
    finally:
        if ping is not None:
            stop(ping)
        if brought_up:
            kind.down(lab)
    return 0


if __name__ == "__main__":
    sys.exit(main())
