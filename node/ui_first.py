"""Keys before refreshes: the refresh thread steps aside while a key is answered.

Python runs one thread at a time. A refresh at 50k flows reads ~0.1 s of
flow statistics and builds the model in Python beside the UI thread, which
then gets about half of the turns: a key's screen took twice as long to draw
while a refresh ran (bench at 50k flows: the flows screen 244 ms idle, 324 ms
during a refresh). The app holds the refresh for a moment at each key; the
refresh waits at its pauses (between statistics replies, between runs of a
dump's text, before the model is built) until the hold ends, at most
``BUDGET`` in all per refresh so that keys held down never stop it. Counters
keep their own time (the dump's, the reply's), so a paused refresh gives the
same rates.
"""

from __future__ import annotations

import time

KEY_HOLD = 0.2  # s: what the slowest screens take to draw once the UI thread has the turns
BUDGET = 0.5  # s a refresh may wait in all


class UiFirst:
    """``hold`` from the UI thread, ``pause`` from the refresh's; a float each way, no lock."""

    def __init__(self) -> None:
        self._until = 0.0  # time.monotonic() the hold ends
        self._left = BUDGET

    def hold(self, seconds: float = KEY_HOLD) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    def refresh_starts(self) -> None:
        self._left = BUDGET

    def pause(self) -> None:
        wait = min(self._until - time.monotonic(), self._left)
        if wait > 0:
            time.sleep(wait)  # the GIL with it: the UI thread runs alone
            self._left -= wait
