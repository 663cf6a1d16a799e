"""Reading what the switch learned (fdb/show, conntrack) for a screen, off the
UI thread: one read at a time, in a thread of its own (Textual's thread
workers share asyncio's default executor with the refresh and would wait
their turn behind it, see tui/screens/trace.py); a slow switch skips refreshes."""

from __future__ import annotations

import threading
from typing import Callable

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from collectors import appctl
from model import learning
from widgets.learning import nic_fdb_text, vlan_fdb_text


class BackgroundText:
    """Runs ``produce`` in a thread and shows its Text in one Static of the screen."""

    def __init__(self, screen: Screen, static_id: str, name: str) -> None:
        self._screen = screen
        self._static_id = static_id
        self._name = name
        self._busy = False
        self._asked = 0  # what it is about: a read started before clear() is not shown

    def start(self, produce: Callable[[], Text | None]) -> None:
        """Not for a screen that is not on top (a kept screen drawn ahead, tui/app.py
        _build_kept): it reads the switch only for a screen being looked at."""
        if self._busy or self._screen.app.screen is not self._screen:
            return
        self._busy = True
        threading.Thread(target=self._run, args=(produce, self._asked), name=self._name,
                         daemon=True).start()

    def clear(self) -> None:
        """The screen is about something else now (a kept screen opened for another port)."""
        self._asked += 1
        for static in self._screen.query(self._static_id):  # none before it is composed
            static.update("")
            static.display = False

    def _run(self, produce: Callable[[], Text | None], asked: int) -> None:
        try:
            text = produce()
        finally:
            self._busy = False
        if text is not None:
            try:
                self._screen.app.call_from_thread(self._show, text, asked)
            except RuntimeError:  # the app closed meanwhile
                pass

    def _show(self, text: Text, asked: int) -> None:
        if self._screen.is_attached and asked == self._asked:
            static = self._screen.query_one(self._static_id, Static)
            static.update(text)
            static.display = True  # hidden until there is something to say


def rundir_of(app) -> str | None | bool:
    """The live switch's run directory; False when the backend has no switch to
    ask (a saved node: nothing to read, nothing to say)."""
    endpoints = getattr(app.backend, "endpoints", None)
    return False if endpoints is None else endpoints.ovs_rundir


def read_fdb(rundir: str | None, bridge: str):
    """(entries, "") or (None, why not). Blocking: call it from a BackgroundText."""
    try:
        return appctl.parse_fdb(bridge, appctl.run(rundir, "fdb/show", bridge)), ""
    except appctl.AppctlError as e:
        return None, f"MAC learning not read: {e}"


def vlan_learning(rundir: str | None, model, vlan) -> Text | None:
    """A network's MAC learning on its physical bridge; None when it has none."""
    tag = learning.provider_tag(vlan)
    if tag is None:
        return None
    fdb, why = read_fdb(rundir, vlan.physical_bridge)
    if fdb is None:
        return Text(why, style="yellow")
    return vlan_fdb_text(model, fdb, vlan.physical_bridge, tag, vlan.nics)


def nic_learning(rundir: str | None, model, nic) -> Text | None:
    """The MACs learned via a physical NIC on each VLAN of the networks it carries."""
    carried = [v for v in model.vlans if v.physical_bridge == nic.bridge and nic.name in v.nics]
    tags = sorted({t for t in map(learning.provider_tag, carried) if t is not None})
    if not tags:
        return None
    fdb, why = read_fdb(rundir, nic.bridge)
    if fdb is None:
        return Text(why, style="yellow")
    return nic_fdb_text(model, fdb, nic.bridge, nic.name, tags)
