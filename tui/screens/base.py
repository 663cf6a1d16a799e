"""What every screen shares: the source bar, the breadcrumb, the footer, and
being fed refreshes only while it is the screen on top."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen

from model.problems import verdict
from node.session import Refresh
from tui.navigation import Feed, WantFeed
from widgets.status import Breadcrumb, SourceBar
from widgets.key_line import KeyLine
from widgets.textual_fixes import forget_drawn_lines


class NodeScreen(Screen):
    """A screen of the node view. Subclasses fill ``body`` and ``show``."""

    BINDINGS = [
        Binding("escape", "back", "back",
                tooltip="back to where you came from (the breadcrumb shows the path)"),
    ]

    crumb = "?"
    help_title = "?"  # its section in the help
    shown: Refresh | None = None  # the last refresh the app fed this screen
    fed: tuple = ()  # the Feed.state it shows
    _waiting: Feed | None = None  # fed before it was composed: shown once it is

    def compose(self) -> ComposeResult:
        yield SourceBar(id="sources")
        yield Breadcrumb(id="crumbs")
        with Vertical(id="body"):
            yield from self.body()
        yield KeyLine()

    def body(self) -> ComposeResult:
        yield from ()

    # -- refreshes ----------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.query_one(Breadcrumb).show(
            [s.crumb for s in self.app.screen_stack if isinstance(s, NodeScreen)])
        self.post_message(WantFeed(self))

    def apply(self, feed: Feed) -> None:
        """Called by the app for the screen on top, and for the one Esc goes back to
        once the top one is drawn (App._feed_below); the screens below do no work."""
        refresh = feed.refresh
        model = refresh.model
        said, clean = verdict(model)
        try:
            bar = self.query_one(SourceBar)
        except NoMatches:  # pushed, not composed yet: shown on mount, before its first frame
            self._waiting = feed
            return
        self._waiting = None
        self.shown = refresh
        self.fed = feed.state
        bar.show(
            hostname=model.hostname,
            ovs_version=model.ovs_version,
            datapaths=[b.datapath_type or "system" for b in model.bridges],
            sources=model.sources,
            interval=feed.effective_interval,
            adapted=feed.effective_interval > feed.interval,
            paused=feed.paused,
            mark_age=(refresh.at - refresh.mark_time) if refresh.mark_time is not None else None,
            problems=len(model.problems),
            verdict=said,
            clean=clean,
            now=refresh.at,
        )
        self.show(refresh)

    def show(self, refresh: Refresh) -> None:
        """Render this screen's part of the refresh."""

    def on_mount(self) -> None:
        """The feed that came with the push: drawn in the first frame, not after an empty one
        (a layout and a paint of the whole screen saved, 20-40 ms at 160x48)."""
        if self._waiting is not None:
            self.apply(self._waiting)

    def on_unmount(self) -> None:
        forget_drawn_lines()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
