"""Records saved from a node behind the app: nothing to start, nothing pushed.

The app drives it through the same ``Backend`` interface as ``LiveBackend``
(node/live.py); every refresh shows the same records, marked "saved".
"""

from __future__ import annotations

import asyncio
from typing import Callable

from node.session import NodeSession, Refresh
from node.sources import SavedSources


class SavedBackend:
    """A session over sources that need nothing started (saved records)."""

    def __init__(self, sources: SavedSources, *, hostname: str | None = None) -> None:
        self.session = NodeSession(sources, hostname=hostname)

    def start(self, loop: asyncio.AbstractEventLoop, changed: Callable[[str], None]) -> None:
        pass  # saved records never change

    def refresh(self) -> Refresh:
        return self.session.refresh()

    async def stop(self) -> None:
        pass

    def request_mark(self) -> None:
        self.session.request_mark()

    def clear_mark(self) -> None:
        self.session.clear_mark()
