"""The app: wires a backend to the screens and keeps the refresh cycle.

Refreshes never overlap: a refresh runs in a worker thread, and the next one
is armed only when it has finished (so a slow node slows the cycle down, it
does not pile refreshes up; the interval actually used is shown). OVSDB,
libvirt and netlink changes start a refresh at once. Only the screen on top
is fed; the others catch up when they come back.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import time
from functools import partial
from typing import Callable

from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from collectors.endpoints import Endpoints
from model.scopes import Scope, ports_of_flow
from model.words import display_name
from node.session import Refresh
from node.live import Backend, LiveBackend
from tui.choices import Choices
from tui.navigation import (
    Feed,
    OpenFlowDetail,
    OpenFlowOwner,
    OpenFlows,
    OpenConntrack,
    OpenDrops,
    OpenInstance,
    OpenPath,
    OpenPort,
    OpenTrace,
    OpenSubject,
    OpenVlan,
    WantFeed,
)
from tui.screens.base import NodeScreen
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.flows import FlowsScreen
from tui.screens.help import HelpScreen, own_bindings, sections
from tui.screens.instance import InstanceScreen
from tui.screens.conntrack import ConntrackScreen
from tui.screens.drops import DropsScreen
from tui.screens.overview import OverviewScreen
from tui.screens.path import PathScreen
from tui.screens.port import PortScreen
from tui.screens.problems import ProblemsScreen
from tui.screens.trace import TraceScreen
from tui.screens.vlan import VlanScreen
from widgets.counters import CounterPanel
from widgets.key_line import KeyLine
from widgets.keyed_table import KeyedTable
from widgets.pane_table import PaneTable
from widgets.textual_fixes import (compose_ahead, draw_ahead, free_finished_workers,
                                   lay_out_ahead, on_input, preload_css, quick_escape)
from widgets.virtual_table import OPEN_ROW, VirtualTable

_IP = re.compile(r"(?:nw_src|nw_dst|arp_spa|arp_tpa|ipv6_src|ipv6_dst|nd_target)="
                 r"([0-9a-fA-F.:]+)")


FULL_COLLECTION_EVERY = 100  # collections of the middle generation (Python's default: 10)
COLLECT_AFTER_S = 1.0  # s after a screen is left for good (App._collect_soon)


def _freeze_heap(enable: bool) -> None:
    """Once the node's flows are read: keep the garbage collector off what is there.

    A full collection walks every object alive; at 50k flows it stopped the
    whole process (the UI thread included) for 150-530 ms every ~2 s, which
    was most of the keys' p95. What exists once the first dump is read (the
    flows, the UI, the modules) mostly lives on; frozen, a full collection
    walks only what came after. Collected first, so no garbage is kept.

    What comes after is still 60-80 ms a full collection at 50k flows
    (containers of the flows a refresh or the flows screen holds, and
    Textual's caches of drawn lines), which came every ~5 s and so fell on
    one key in ten. A full collection now waits for 100 younger ones, not
    10: about one a minute, and a second after a screen is left for good,
    whose widgets are the bulk of what waits (App._collect_soon).
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    if enable:
        gc.enable()


class RefreshDone(Message):
    def __init__(self, refresh: Refresh) -> None:
        super().__init__()
        self.refresh = refresh


class SourceChanged(Message):
    """A push source saw a change: refresh now rather than at the next tick."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source


class JumpProvider(Provider):
    """ctrl+p: any instance, Nova name, tap, port, MAC, IP seen in flows, or VLAN."""

    async def search(self, query: str) -> Hits:
        app = self.app
        if app.latest is None:
            return
        matcher = self.matcher(query)
        for text, help_text, action in app.jump_targets():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), action, help=help_text)


# Screens kept mounted once left (push_kept), and how each is made.
KEPT_SCREENS: dict[str, Callable[[], "NodeScreen"]] = {
    "all flows": lambda: FlowsScreen(Scope("all"), "all flows"),
    "port": lambda: PortScreen(""),  # pointed at a port when pushed (retarget)
    "path": lambda: PathScreen(""),
}

# The node screens, in the order the help lists their keys.
HELP_SCREENS = (OverviewScreen, InstanceScreen, PortScreen, VlanScreen, FlowsScreen,
                FlowDetailScreen, ProblemsScreen, PathScreen, TraceScreen, DropsScreen,
                ConntrackScreen)
# Their CSS and their widgets', parsed once at start (widgets/textual_fixes.py preload_css)
PRELOADED_CSS = (*HELP_SCREENS, HelpScreen, PaneTable, VirtualTable, KeyedTable, CounterPanel,
                 KeyLine, Input, Grid, VerticalScroll)


class OvsVlanApp(App):
    TITLE = "ovsvlan-tui"
    COMMANDS = App.COMMANDS | {JumpProvider}
    BINDINGS = [  # the help (tui/screens/help.py) is made from these and the screens'
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help", tooltip="this help"),
        Binding("m", "mark", "mark", tooltip="set a mark: counters also show how much moved "
                                             "since"),
        Binding("M", "clear_mark", "clear mark", show=False, tooltip="clear the mark"),
        Binding("p", "pause", "pause", tooltip="pause the display (collection goes on)"),
        Binding("r", "refresh_now", "refresh", tooltip="refresh now"),
        Binding("exclamation_mark", "problems", "problems", tooltip="the problem list"),
        Binding("D", "drops", "drops", show=False,
                tooltip="everything dropping packets now, fastest first"),
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True,
                tooltip="jump to an instance, Nova name, tap, port, MAC, IP seen in flows, "
                        "or VLAN"),
    ]

    def __init__(self, backend: Backend, *, interval: float = 1.0,
                 notice: str | None = None, gc_paused: bool = False) -> None:
        """``notice``: shown once the app is up (what a saved node's files were read as);
        ``gc_paused``: the cyclic GC was turned off for the start (tui/cli.py), on
        again once the first refresh with flows is shown."""
        super().__init__()
        self._gc_paused = gc_paused
        self.backend = backend
        self._notice = notice
        self.interval = interval
        self.effective_interval = interval
        self.latest: Refresh | None = None
        self.paused = False
        self._refreshing = False
        self._refresh_again = False
        self._last_start = float("-inf")
        self._refresh_timer: Timer | None = None
        self._jump_cache: tuple[int, list] | None = None
        self.flow_choices = Choices()  # the flows screens' choices, kept across refreshes
        self._heap_frozen = False
        self._collecting: Timer | None = None  # a full collection to come (_collect_soon)
        preload_css(self, PRELOADED_CSS)
        quick_escape()
        free_finished_workers()
        on_input(backend.ui_first.hold)  # a key's first byte holds refreshes back

    @classmethod
    def keys_everywhere(cls) -> list[Binding]:
        """Enter on a row, then the keys of every node screen, then the app's."""
        return [OPEN_ROW, *own_bindings(NodeScreen), *own_bindings(cls)]

    def get_default_screen(self) -> OverviewScreen:
        return OverviewScreen()

    # -- lifecycle ---------------------------------------------------------------

    def on_mount(self) -> None:
        self.install_screen(HelpScreen(sections(self, self.keys_everywhere(), HELP_SCREENS)),
                            name="help")
        self.backend.start(asyncio.get_running_loop(),
                           lambda source: self.post_message(SourceChanged(source)))
        self._kick()
        if self._notice:
            warned = "warning:" in self._notice
            self.notify(self._notice, title="saved node", timeout=20,
                        severity="warning" if warned else "information")

    async def on_unmount(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        await self.backend.stop()

    async def on_event(self, event: events.Event) -> None:
        """A key or a click first holds the refresh back (node/ui_first.py): its
        screen is drawn with the interpreter to itself."""
        if isinstance(event, (events.Key, events.MouseDown)):
            self.backend.ui_first.hold()
        await super().on_event(event)

    # -- the refresh cycle ---------------------------------------------------------

    def _kick(self, *, now: bool = False) -> None:
        """Start a refresh unless one runs; then one more follows it.

        Pushed changes come in bursts: refreshes start at least half an
        interval apart (unless ``now``), so a rate is never taken over a
        window so short that one packet reads as a spike.
        """
        if self._refreshing:
            self._refresh_again = True
            return
        wait = self._last_start + self.interval / 2 - time.monotonic()
        if wait > 0 and not now:
            self._arm(wait)
            return
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None
        self._refreshing = True
        self._last_start = time.monotonic()
        self.run_worker(self.backend.refresh, thread=True, group="refresh",
                        name="refresh", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "refresh":
            return
        if event.state == WorkerState.SUCCESS:
            self._done(event.worker.result)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._refreshing = False
            if event.state == WorkerState.ERROR:
                self.notify(f"refresh failed: {event.worker.error!r}", severity="error",
                            timeout=5)
            self._arm(self.effective_interval)

    def _done(self, refresh: Refresh) -> None:
        self._refreshing = False
        if not self.screen_stack:  # the app is closing: a last refresh came back too late
            return
        self.latest = refresh
        self._jump_cache = None
        # A refresh slower than the interval stretches the cycle instead of queueing.
        self.effective_interval = max(self.interval, round(refresh.took * 1.5, 1))
        if not self.paused and isinstance(self.screen, NodeScreen):
            self._feed(self.screen)
        if not self.paused and len(self.screen_stack) > 1:
            self.call_after_refresh(self._feed_below)
        if not self._heap_frozen and refresh.flows_settled:
            self._heap_frozen = True
            # once that frame is drawn; the GC paused at start (tui/cli.py) comes back on
            self.call_after_refresh(_freeze_heap, self._gc_paused)
            self._gc_paused = False
            self.set_timer(0.5, lambda: self._build_kept(["help", *KEPT_SCREENS]))
        if refresh.flows_pending:  # bridges shown; their first flow dump follows at once,
            self._refresh_again = False  # once they are on screen (a saved dump's reading
            self.call_after_refresh(self._kick, now=True)  # would hold the GIL from the paint)
        elif self._refresh_again:
            self._refresh_again = False
            self._kick()
        else:
            self._arm(max(self.effective_interval - refresh.took, 0.05))

    def _arm(self, delay: float) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self._refresh_timer = self.set_timer(delay, self._kick)

    def on_source_changed(self, message: SourceChanged) -> None:
        self._kick()

    # -- actions ------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self._kick(now=True)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("display paused: collection goes on (p to resume)" if self.paused
                    else "display resumed", timeout=3)
        if isinstance(self.screen, NodeScreen):
            self._feed(self.screen)

    def action_mark(self) -> None:
        self.backend.request_mark()
        self.notify("mark set: counters also show what moved since now", timeout=3)
        self._kick()

    def action_clear_mark(self) -> None:
        self.backend.clear_mark()
        self._kick()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen("help")

    def action_drops(self) -> None:
        self.post_message(OpenDrops())

    def action_problems(self) -> None:
        self.push_screen(ProblemsScreen())

    # -- navigation: screens post tui/navigation.py's messages, handled here ---------

    def _feed(self, screen: NodeScreen) -> None:
        if self.latest is not None:
            screen.apply(Feed(self.latest, self.interval, self.effective_interval, self.paused))

    @on(WantFeed)
    def _want_feed(self, message: WantFeed) -> None:
        if message.screen is self.screen:  # still on top (pop_screen may have fed it)
            self._bring_up_to_date(message.screen)

    def push_screen(self, screen, *args, **kwargs):
        """A node screen comes with the latest refresh, shown in its first frame."""
        done = super().push_screen(screen, *args, **kwargs)
        pushed = self.get_screen(screen) if isinstance(screen, str) else screen
        if isinstance(pushed, NodeScreen):
            self._feed(pushed)
        return done

    def push_kept(self, name: str, aim: Callable[[NodeScreen], None]) -> None:
        """Open a screen that stays mounted once left, as the help does: all the
        flows, the port screen and the path screen, opened again and again in a
        session (``aim`` points the kept one at what is asked). Building one
        again cost 30-60 ms of the UI thread at 160x48 (its widgets, their
        styles, a first layout); they are built ahead once the node is shown
        (_build_kept)."""
        if not self.is_screen_installed(name):
            self.install_screen(KEPT_SCREENS[name](), name)
        kept = self.get_screen(name)
        if kept in self.screen_stack:  # open below already (port -> path -> port): another
            kept = KEPT_SCREENS[name]()
        aim(kept)
        self.push_screen(kept)

    def _build_kept(self, names: list[str]) -> None:
        """Compose, lay out and draw the kept screens ahead, one at a time while
        the app is idle (20-60 ms of the UI thread each), so that even the
        first visit of each only draws what changed."""
        if not names or not self.screen_stack or not self.is_running:  # closing
            return
        name, rest = names[0], names[1:]
        if not self.is_screen_installed(name):
            self.install_screen(KEPT_SCREENS[name](), name)
        compose_ahead(self, name)
        kept = self.get_screen(name)
        if isinstance(kept, FlowsScreen):  # its choice made too (tui/choices.py), off this thread
            self._feed(kept)
        elif isinstance(kept, (PortScreen, PathScreen)) and self.latest is not None:
            # pointed at a vNIC for now: laid out and drawn with panels of real
            # sizes, so a first visit only draws what it is pointed at then
            port = next((vv.port.name for inst in self.latest.model.instances
                         for vv in inst.vnics if vv.port is not None), None)
            if port is not None and kept not in self.screen_stack:
                kept.retarget(port)
                self._feed(kept)
        self.set_timer(0.15, lambda: lay_out_ahead(self, name))
        self.set_timer(0.3, lambda: draw_ahead(self, name))
        self.set_timer(0.4, lambda: self._build_kept(rest))

    def pop_screen(self):
        """Back to a screen: fed the latest refresh before its first frame, so it
        never shows what it showed when it was left, even for a moment."""
        left = self.screen
        done = super().pop_screen()
        self._bring_up_to_date(self.screen)
        if not self.is_screen_installed(left):
            self._collect_soon()
        return done

    def _collect_soon(self) -> None:
        """A screen left for good is garbage in cycles (its widgets and theirs)
        that only a full collection frees, and those wait for 100 younger ones
        (_freeze_heap): about a minute, ~28 MiB in the one-minute soak's churn.
        Freed a second after it is left instead (once for several screens),
        not while the screen going back is drawn."""
        if self._heap_frozen and self._collecting is None:
            self._collecting = self.set_timer(COLLECT_AFTER_S, self._collect)

    def _collect(self) -> None:
        self._collecting = None
        gc.collect()

    def _feed_below(self) -> None:
        """The screen Esc goes back to, fed once the top one is drawn: going back
        then only draws it (its feed was 12-24 ms of the Escape key at 50k flows,
        the overview's panes of 200 ports)."""
        if len(self.screen_stack) > 1:
            self._bring_up_to_date(self.screen_stack[-2])

    def _bring_up_to_date(self, screen) -> None:
        """Feed a node screen unless it shows all of the latest already
        (back within a refresh, or fed while below)."""
        if isinstance(screen, NodeScreen) and screen.fed != self._feed_state():
            self._feed(screen)

    def _feed_state(self) -> tuple:
        """What a feed would give a screen now (Feed.state)."""
        return Feed(self.latest, self.interval, self.effective_interval, self.paused).state

    @on(OpenInstance)
    def _open_instance(self, message: OpenInstance) -> None:
        self.open_instance(message.uuid)

    @on(OpenPort)
    def _open_port(self, message: OpenPort) -> None:
        self.open_port(message.name)

    @on(OpenPath)
    def _open_path(self, message: OpenPath) -> None:
        self.push_kept("path", lambda s: s.retarget(message.port))

    @on(OpenConntrack)
    def _open_conntrack(self, message: OpenConntrack) -> None:
        self.push_screen(ConntrackScreen(message.port))

    @on(OpenDrops)
    def _open_drops(self, message: OpenDrops) -> None:
        self.push_screen(DropsScreen())

    @on(OpenTrace)
    def _open_trace(self, message: OpenTrace) -> None:
        self.push_screen(TraceScreen(message.port))

    @on(OpenVlan)
    def _open_vlan(self, message: OpenVlan) -> None:
        self.push_screen(VlanScreen(message.local_vlan))

    @on(OpenFlows)
    def _open_flows(self, message: OpenFlows) -> None:
        self.open_flows(message.scope, message.text)

    @on(OpenFlowDetail)
    def _open_flow_detail(self, message: OpenFlowDetail) -> None:
        self.push_screen(FlowDetailScreen(message.flow))

    @on(OpenFlowOwner)
    def _open_flow_owner(self, message: OpenFlowOwner) -> None:
        from collectors import openflow

        if self.latest is None:
            return
        for pv in ports_of_flow(self.latest.model, message.flow,
                                openflow.flow_detail(message.flow)):
            if pv.domain_uuid:
                self.open_instance(pv.domain_uuid)
                return
        self.notify("no instance owns the ports of this flow", severity="warning")

    @on(OpenSubject)
    def _open_subject(self, message: OpenSubject) -> None:
        """From a problem to what it concerns."""
        model = self.latest.model if self.latest else None
        if model is None:
            return
        subject = message.subject
        if subject.startswith("vlan ") and subject[5:].isdigit():
            self.push_screen(VlanScreen(int(subject[5:])))
        elif model.port(subject) is not None:
            self.open_port(subject)
        elif any(v.localnet == subject for v in model.vlans):  # OVN: a localnet port
            self.push_screen(VlanScreen(next(v.key for v in model.vlans if v.localnet == subject)))
        else:
            for inst in model.instances:
                if any(v.vnic.target == subject or v.vnic.mac == subject for v in inst.vnics):
                    self.open_instance(inst.domain.uuid)
                    return
            if model.ovn is not None and any(p.subject == subject and p.kind in (
                    "missing-bridge-mapping", "missing-localnet-patch") for p in model.problems):
                # a physnet or a localnet port that has nothing on this node to open
                mappings = model.ovn.chassis.bridge_mappings
                shown = ", ".join(f"{k}:{v}" for k, v in mappings.items()) or "empty"
                self.notify(f"{subject}: see ovn-bridge-mappings ({shown})", severity="warning")
                return
            self.notify(f"{subject} is not on this node any more", severity="warning")

    def open_port(self, name: str) -> None:
        self.push_kept("port", lambda s: s.retarget(name))

    def open_instance(self, uuid: str) -> None:
        inst = self.latest.model.instance(uuid) if self.latest else None
        name = display_name(inst.domain) if inst else uuid[:8]
        self.push_screen(InstanceScreen(uuid, name))

    def open_flows(self, scope: Scope, text: str = "") -> None:
        if scope.kind == "all" and not text:
            self.push_kept("all flows", lambda s: None)
            return
        model = self.latest.model if self.latest else None
        if scope.kind == "all":
            title = f"flows with {text}"
        elif scope.kind == "port":
            title = f"flows of {scope.value}"
        else:
            title = scope.title(model)
        self.push_screen(FlowsScreen(scope, title, text))

    def _go(self, message_type: type[Message], *args) -> None:
        """A jump from the command palette: the same message a screen would post."""
        self.post_message(message_type(*args))

    def jump_targets(self) -> list[tuple[str, str, object]]:
        """Everything ctrl+p can jump to, rebuilt once per refresh."""
        if self._jump_cache is not None and self._jump_cache[0] == id(self.latest):
            return self._jump_cache[1]
        model = self.latest.model
        out: list[tuple[str, str, object]] = []
        for inst in model.instances:
            d = inst.domain
            go = partial(self._go, OpenInstance, d.uuid)
            if d.nova_name:
                out.append((d.nova_name, f"instance {d.name} ({d.state})", go))
            out.append((d.name, f"domain, Nova name {d.nova_name or '-'}", go))
            out.append((d.uuid, f"domain uuid of {display_name(d)}", go))
            for v in inst.vnics:
                if v.vnic.mac:
                    out.append((v.vnic.mac, f"vNIC of {display_name(d)}",
                                partial(self._go, OpenPort, v.port.name) if v.port else go))
        for pv in model.ports:
            owner = f" of {pv.domain_uuid[:8]}" if pv.domain_uuid else ""
            out.append((pv.name, f"port on {pv.bridge}, ofport {pv.ofport}{owner}",
                        partial(self._go, OpenPort, pv.name)))
            if pv.tap:
                out.append((pv.tap, f"tap behind {pv.name}", partial(self._go, OpenPort, pv.name)))
        for v in model.vlans:
            go = partial(self._go, OpenVlan, v.key if v.local_vlan is None else v.local_vlan)
            if v.local_vlan is not None:
                out.append((f"vlan {v.local_vlan}", f"local VLAN on {v.bridge}", go))
            else:  # OVN: a datapath, by its localnet port and Neutron name
                out.append((f"datapath {v.datapath_key}", f"OVN network {v.network_name or ''} "
                            f"(localnet {v.localnet or 'none'})", go))
                if v.localnet:
                    out.append((v.localnet, f"localnet port of datapath {v.datapath_key}", go))
            if v.segmentation_id is not None:
                out.append((f"vlan {v.segmentation_id}",
                            f"provider VLAN of local VLAN {v.local_vlan}" if v.local_vlan is not None
                            else f"provider VLAN of datapath {v.datapath_key}", go))
        ips: set[str] = set()
        for f in model.all_flows():
            if "=" in f.match:
                ips.update(_IP.findall(f.match))
            if len(ips) > 5000:
                break
        for ip in sorted(ips):
            out.append((ip, "IP seen in flows: the flows that mention it",
                        partial(self._go, OpenFlows, Scope("all"), ip)))
        self._jump_cache = (id(self.latest), out)
        return out


def run_app(endpoints: Endpoints, *, interval: float = 1.0,
            backend: LiveBackend | None = None, gc_paused: bool = False) -> int:
    OvsVlanApp(backend or LiveBackend(endpoints), interval=interval, gc_paused=gc_paused).run()
    return 0


def saved_app(path: str) -> OvsVlanApp:
    """The app on a saved node (--from): every screen, the recorded counters, no rates.
    Its flow dumps are read by the refresh after the first frame (node/saved.py)."""
    from collectors.saved.read import open_saved
    from node.saved import SavedNodeBackend

    saved = open_saved(path)
    return OvsVlanApp(SavedNodeBackend(saved), interval=5.0, notice=saved_summary(saved))


def saved_summary(saved) -> str:
    """What the notice says: how many files were read, and each warning."""
    read = sum(1 for f in saved.files if f.read_as and not f.warning)
    warnings = [f"warning: {f.name}: {f.note}" for f in saved.files if f.warning]
    head = f"{saved.kind} {saved.path}: {read} files read"
    return "\n".join([head, *warnings[:6]] + ([f"... {len(warnings) - 6} more warnings "
                                                 "(printed on stderr)"] if len(warnings) > 6 else []))


def run_saved_app(path: str) -> int:
    app = saved_app(path)
    app.run()
    # what each file was read as, flow counts included: on the terminal the TUI leaves
    print("\n".join(app.backend.saved.report()), file=sys.stderr)
    return 0


