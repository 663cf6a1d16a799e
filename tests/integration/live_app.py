"""The real app (LiveBackend) on a lab under Pilot, and what an operator would see.

Shared by the fault, read-only, no-shell and soak tests. Every helper waits
on what the app shows (source states, the source bar, the model) rather than
on sleeps, and fails saying what it was waiting for and what it saw.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from typing import Callable

from textual.widgets import Static

from collectors.endpoints import Endpoints
from model.records import SourceState
from lab import node as labmod
from tui.app import OvsVlanApp
from node.live import LiveBackend
from widgets.status import SourceBar


def lab_endpoints(lab: labmod.Lab, **override: str) -> Endpoints:
    return dataclasses.replace(lab.endpoints(), **override)


class LiveApp(OvsVlanApp):
    """The app exactly as `ovsvlan-tui` runs it, remembering every notification."""

    def __init__(self, endpoints: Endpoints, interval: float = 0.5) -> None:
        super().__init__(LiveBackend(endpoints), interval=interval)
        self.notices: list[tuple[str, str]] = []  # (severity, message)

    def notify(self, message, *, severity="information", **kwargs) -> None:
        self.notices.append((severity, str(message)))
        super().notify(message, severity=severity, **kwargs)

    def errors(self) -> list[str]:
        """Error notifications: a refresh that raised, or anything else gone wrong."""
        return [m for severity, m in self.notices if severity == "error"]


def states(app: OvsVlanApp) -> dict[str, SourceState]:
    if app.latest is None:
        return {}
    return {s.source: s for s in app.latest.model.sources}


def status(app: OvsVlanApp, source: str) -> str | None:
    state = states(app).get(source)
    return state.status if state else None


def source_bar(app: OvsVlanApp) -> str:
    """The source bar of the screen on top, as plain text."""
    return str(app.screen.query_one(SourceBar).content)


def screen_text(app: OvsVlanApp) -> str:
    """Every line of text the screen on top shows outside its tables."""
    return "\n".join(str(w.content) for w in app.screen.query(Static))


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds; fail with what it showed."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            seen = {k: (v.status, v.detail) for k, v in states(app).items()}
            raise AssertionError(f"not seen within {timeout:g}s: {what}\nsources: {seen}\n"
                                 f"errors: {getattr(app, 'errors', list)()}")
        await pilot.pause(0.1)


async def all_live(pilot, timeout: float = 20.0) -> None:
    await until(pilot, lambda: set(s.status for s in states(pilot.app).values()) == {"live"},
                "every source live", timeout)


def model_ports(app: OvsVlanApp) -> set[str]:
    return {pv.name for pv in app.latest.model.ports} if app.latest else set()


def flow_count(app: OvsVlanApp, bridge: str) -> int | None:
    dump = app.latest.model.flows.get(bridge) if app.latest else None
    return len(dump.flows) if dump else None


# --------------------------------------------------------------------------
# Changing the lab behind the app's back, as the agent, Nova or an operator would.


def vsctl(lab: labmod.Lab, *args: str) -> str:
    return subprocess.run(["ovs-vsctl", f"--db={lab.db}", "--timeout=20", *args],
                          capture_output=True, text=True, check=True).stdout


def ofctl(lab: labmod.Lab, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["ovs-ofctl", *args], input=stdin, capture_output=True, text=True,
                          check=True, env={**os.environ, "OVS_RUNDIR": str(lab.rundir)}).stdout


def ip(lab: labmod.Lab, *args: str) -> None:
    """`ip` inside the lab's node namespace, never the host's."""
    subprocess.run(["ip", "-n", lab.node_ns, *args], capture_output=True, text=True, check=True)

