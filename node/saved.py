"""Records saved from a node behind the app: nothing to start, nothing pushed.

The app drives it through the same ``Backend`` interface as ``LiveBackend``
(node/live.py); every refresh shows the same records, marked "saved".
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from collectors.saved.assemble import read_flows
from collectors.saved.result import SavedNode
from node.session import NodeSession, Refresh
from node.sources import SavedSources
from node.ui_first import UiFirst


class SavedBackend:
    """A session over sources that need nothing started (saved records)."""

    def __init__(self, sources: SavedSources, *, hostname: str | None = None) -> None:
        self.ui_first = UiFirst()
        self.session = NodeSession(sources, hostname=hostname, pause=self.ui_first.pause)

    def start(self, loop: asyncio.AbstractEventLoop, changed: Callable[[str], None]) -> None:
        pass  # saved records never change

    def refresh(self) -> Refresh:
        self.ui_first.refresh_starts()
        return self.session.refresh()

    async def stop(self) -> None:
        pass

    def request_mark(self) -> None:
        self.session.request_mark()

    def clear_mark(self) -> None:
        self.session.clear_mark()


def recorded_at(saved: SavedNode) -> float:
    """When the saved records were taken, as a session counts it: the path's time."""
    return os.stat(saved.path).st_mtime


class SavedNodeBackend(SavedBackend):
    """A saved node opened with its flow dumps still to read (read.open_saved): the
    first refresh shows everything else at once, the one right after reads them
    (100k flows take seconds); ``saved`` is then the whole node, for its report."""

    def __init__(self, saved: SavedNode) -> None:
        self.saved = saved
        rest = self._read_flows if saved.pending else None
        super().__init__(SavedSources(saved.observation, recorded_at(saved), rest=rest),
                         hostname=saved.observation.hostname)

    def _read_flows(self):
        self.saved = read_flows(self.saved)
        return self.saved.observation
