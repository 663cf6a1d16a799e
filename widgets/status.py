"""The lines at the top of every screen: node and source health, and where you are."""

from __future__ import annotations

import time
from typing import Sequence

from rich.text import Text
from textual.widgets import Static

from model.records import SourceState
from widgets.format import status_colour



def spaced(t: Text, gap: str = "  ") -> Text:
    """End ``t`` with ``gap`` in the style of its last word, so the next word
    starts a run of its own without leading spaces: Textual's SVG screenshot
    writes no text for a run of spaces alone, and a reader of its text may
    drop a run's leading spaces, which glued words there ("liveevery 1s")."""
    end = len(t)
    t.append(gap)
    for n in range(len(t.spans) - 1, -1, -1):  # the spans that end the text grow over the gap
        if t.spans[n].end == end:
            t.spans[n] = t.spans[n]._replace(end=len(t))
    return t


def source_text(state: SourceState, now: float | None = None) -> Text:
    """'ovsdb live', 'openflow stale 12s: <why>', 'libvirt error: <why>'."""
    t = Text()
    t.append(state.source + " ", style="bold")
    t.append(state.status, style=status_colour(state.status))
    if state.status == "saved":  # "ovsdb saved Thu Feb 10 16:19:17 UTC 2022"
        when = state.detail or (time.strftime("%Y-%m-%d %H:%M", time.localtime(state.last_ok))
                                if state.last_ok is not None else "")
        if when:
            spaced(t, " ").append(when, style="cyan")
    elif state.status == "stale" and state.last_ok is not None:
        age = int((now if now is not None else time.time()) - state.last_ok)
        spaced(t, " ").append(f"{age}s", style="yellow")
    return t


class Steady(Static):
    """A Static that asks for a new layout only when what it shows changed.

    Textual lays the whole screen out again on every Static.update: 10-16 ms
    of the UI thread at 160x48 (bench node, 50k flows), each refresh, for a
    status line that reads the same as a second ago.
    """

    _shown: object = None

    def update(self, content="", *, layout: bool = True) -> None:
        if content == self._shown and isinstance(content, (str, Text)):
            return
        self._shown = content
        super().update(content, layout=layout)


class SourceBar(Steady):
    """Node, OVS version, datapath types, each source's state, interval, mark, pause."""

    DEFAULT_CSS = """
    SourceBar { height: auto; background: $boost; padding: 0 1; }
    """

    def show(self, *, hostname: str, ovs_version: str | None, datapaths: Sequence[str],
             sources: Sequence[SourceState], interval: float, adapted: bool,
             paused: bool, mark_age: float | None, problems: int, verdict: str = "",
             clean: bool = True, now: float | None = None) -> None:
        """``now`` is the refresh's time, so the same refresh always reads the same;
        ``verdict`` is model.problems.verdict's sentence (``clean``: its second half)."""
        t = Text(no_wrap=False)
        spaced(t.append(hostname, style="bold"))
        t.append(f"OVS {ovs_version or '?'}")
        if datapaths:
            t.append(f" ({'/'.join(sorted(set(datapaths)))})")
        if sources and all(s.status == "live" for s in sources):
            # one phrase for the usual case: the bar fits in 80 columns
            spaced(t).append("all sources ", style="bold")
            t.append("live", style=status_colour("live"))
        else:
            for s in sources:
                spaced(t).append_text(source_text(s, now))
        spaced(t).append(f"every {interval:g}s", style="yellow" if adapted else "")
        if adapted:
            t.append(" (slowed: refresh is slow)", style="yellow")
        if mark_age is not None:
            spaced(t).append(f"mark {int(mark_age)}s ago", style="cyan")
        if paused:  # a badge: the space that ends it is inside it
            spaced(t).append(" PAUSED ", style="bold reverse yellow").append(" ")
        else:
            spaced(t)
        # the verdict says which checks could not run: never "0 problems" alone then
        t.append(verdict or f"{problems} problem{'s' if problems != 1 else ''}",
                 style="bold red" if problems else "green" if clean else "bold yellow")
        errors = [s for s in sources if s.status in ("error", "stale") and s.detail]
        for s in errors:
            t.append(f"\n{s.source}: {s.detail}", style=status_colour(s.status))
        self.update(t)


class Breadcrumb(Steady):
    """Overview › instance01 › tap2d1670a4-8e › flows

    Where it is too long for the screen the middle goes ("overview › … ›
    flows of tap2d1670a4-8e › br-int t60 p100"): the last element, where you
    are, is never cut."""

    DEFAULT_CSS = """
    Breadcrumb { height: 1; padding: 0 1; color: $text-muted; }
    """

    _path: tuple[str, ...] = ()

    def show(self, path: Sequence[str]) -> None:
        self._path = tuple(path)
        # one line across the screen whatever it says: nothing to lay out again
        self.update(crumb_text(self._path, self.size.width - 2 if self.size.width else 0),
                    layout=False)

    def on_resize(self) -> None:
        if self._path:
            self.show(self._path)


def crumb_text(path: Sequence[str], width: int) -> Text:
    """The path as one line of at most ``width`` cells (0: any), eliding the middle."""
    parts = list(path)
    shown = parts
    n = 1
    while width and len(" › ".join(shown)) > width and n < len(parts) - 1:
        shown = parts[:1] + ["…"] + parts[n + 1:]
        n += 1
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(shown):
        if i:
            spaced(t, " ").append("› ", style="dim")
        t.append(part, style="bold" if i == len(shown) - 1 else "")
    return t
