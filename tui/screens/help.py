"""`?`: what each key does, where."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

KEYS = [
    ("everywhere", [
        ("Enter", "drill down into the selected row"),
        ("Esc", "back to where you came from (the breadcrumb shows the path)"),
        ("ctrl+p", "jump to an instance, Nova name, tap, port, MAC, IP seen in flows, or VLAN"),
        ("m", "set a mark: counters also show how much moved since"),
        ("M", "clear the mark"),
        ("p", "pause the display (collection goes on)"),
        ("r", "refresh now"),
        ("!", "the problem list"),
        ("?", "this help"),
        ("q", "quit"),
    ]),
    ("overview", [("tab", "next pane"), ("f", "all flows")]),
    ("instance", [("f", "flows of all its ports")]),
    ("port", [("f", "flows of the port (in_port, reg5, dl_dst, output)"),
              ("v", "its VLAN"), ("i", "its instance"), ("b", "its bridge's flows")]),
    ("VLAN", [("f", "flows of the VLAN (both bridges)"), ("n", "the physical NIC"),
              ("i", "the instance of the selected port")]),
    ("flows", [("/", "filter: words like tap2d1670a4-8e, 192.168.100.30, reg5=0x3, "
                     "dl_vlan=2, table=71, cookie=0x1d8e74efef4967c4"),
               ("Esc", "leave the filter box (an empty filter shows every flow)"),
               ("s", "sort: table, rate, packets"), ("Enter", "the flow in detail"),
               ("i", "instance of the selected flow's port")]),
    ("flow", [("i", "instance of the port this flow is about"), ("o", "that port")]),
]


class HelpScreen(Screen):
    """Opaque, not modal, and made once (the app installs it): dimming the
    screen below on every frame cost ~0.2 s a visit at 200 ports."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for where, keys in KEYS:
            table.add_row(f"[b]{where}[/b]", "")
            for key, what in keys:
                table.add_row(f"  {key}", what)
        with VerticalScroll() as keys:
            keys.border_title = "Keys"
            keys.border_subtitle = "Esc, q or ?: close"
            yield Static(table)
