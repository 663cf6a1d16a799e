"""A vNIC's path drawn as a chain of boxes and arrows (rich; no I/O).

Wide terminals get boxes side by side, wrapping into rows; below
``STACK_BELOW`` columns the chain stacks vertically, one line a hop, so the
whole path still fits 80x24. Each hop shows packets per second toward the
wire (↑) and toward the vNIC (↓) and its moving drops; the hop where
packets stop is red, with the counter or flow that shows it.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from model.path import Hop, PacketPath
from widgets.format import rate

STACK_BELOW = 120
BOX_WIDTH = 26
KIND_TITLES = {"vnic": "vNIC (libvirt)", "tap": "tap", "port": "OVS port", "firewall": "firewall",
               "patch": "patch", "translation": "VLAN translation", "nic": "NIC", "tunnel": "tunnel", "wire": "wire"}


def _pps(value: float | None) -> str:
    return "?" if value is None else rate(value)


def _counts(h: Hop) -> Text:
    t = Text()
    if h.spec.key == "wire":
        return t
    t.append(f"↑{_pps(h.out_pps):>5} ", style="green" if h.out_pps else "dim")
    t.append(f"↓{_pps(h.in_pps):>5}", style="green" if h.in_pps else "dim")
    drops = sum(r for _f, r in h.drops)
    if drops:
        t.append(f" ✗{rate(drops)}", style="bold red")
    return t


def _stop_lines(path: PacketPath) -> Text:
    t = Text()
    for s in path.stops:
        h = path.hops[s.hop].spec
        way = "toward the wire" if s.direction == "out" else "toward the vNIC"
        t.append(f"\n✗ packets stop at {h.label} ({way}): ", style="bold red")
        t.append(s.evidence)
    if not path.stops and path.seconds > 0:
        t.append("\nno hop where moving packets stop", style="green")
    return t


def _header(path: PacketPath) -> Text:
    t = Text(path.title, style="bold")
    if path.seconds > 0:
        t.append(f"   rates over the last {path.seconds:.0f} s  ↑ toward the wire  "
                 "↓ toward the vNIC  ✗ drops", style="dim")
    else:
        t.append("   one reading: no rates yet (snapshot --rates SECONDS reads twice)",
                 style="dim")
    return t


def render_path(path: PacketPath, width: int = 160, selected: int | None = None
                ) -> RenderableType:
    """The picture; ``selected`` is the hop Enter would open."""
    if not path.hops:
        return Text(path.title, style="red")
    stopped = {s.hop for s in path.stops}
    if width < STACK_BELOW:
        return _stacked(path, stopped, selected)
    n = len(path.hops)
    most = max(1, (width - 2 + 3) // (BOX_WIDTH + 3))  # boxes a row can hold
    rows_needed = -(-n // most)
    per_row = -(-n // rows_needed)  # the same number of boxes on each row
    box = min(40, (width - 2 - 3 * (per_row - 1)) // per_row)
    rows: list[RenderableType] = [_header(path)]
    boxes = []
    for i, h in enumerate(path.hops):
        body = Text(h.spec.label + "\n", style="bold", overflow="ellipsis", no_wrap=True)
        body.append(h.spec.detail, style="dim")
        body.append(f"  {h.spec.source}\n" if h.spec.source else "\n", style="dim italic")
        body.append_text(_counts(h))
        style = "red" if i in stopped else ("yellow" if i == selected else "blue")
        boxes.append(Panel(body, title=KIND_TITLES.get(h.spec.key, h.spec.key),
                           title_align="left", width=box, border_style=style,
                           padding=(0, 1)))
    for start in range(0, len(boxes), per_row):
        grid = Table.grid(padding=0)
        chunk = boxes[start: start + per_row]
        cells: list[RenderableType] = []
        for n, box in enumerate(chunk):
            cells.append(box)
            if n < len(chunk) - 1 or start + per_row < len(boxes):
                cells.append(Text("\n\n → ", style="bold"))
        for _ in cells:
            grid.add_column()
        grid.add_row(*cells)
        rows.append(grid)
    rows.append(_stop_lines(path))
    return Group(*rows)


def _stacked(path: PacketPath, stopped: set[int], selected: int | None) -> Text:
    t = _header(path)
    t.append("\n")
    for i, h in enumerate(path.hops):
        mark = "✗" if i in stopped else ("▶" if i == selected else "■")
        style = "bold red" if i in stopped else ("bold yellow" if i == selected else "bold")
        t.append(f"\n{mark} ", style=style)
        t.append(f"{h.spec.label[:34]:<35}", style=style)
        t.append_text(_counts(h))
        t.append(f"  {h.spec.detail[:22]}", style="dim")
        if i < len(path.hops) - 1:
            t.append("\n│", style="dim")
    t.append_text(_stop_lines(path))
    return t


def conntrack_text(zone: int, entries, shown: int = 8) -> Text:
    from model.learning import ct_states

    t = Text(f"conntrack zone {zone} (reg6): {len(entries)} entr"
             f"{'y' if len(entries) == 1 else 'ies'}", style="bold")
    states = ct_states(entries)
    if states:
        t.append("  " + ", ".join(f"{k} {v}" for k, v in states.most_common()))
    for e in entries[:shown]:
        t.append(f"\n  {e.proto:<6} {e.orig.text():<44} reply {e.reply.text()}"
                 + (f"  {e.state}" if e.state else ""), style="dim")
    if len(entries) > shown:
        t.append(f"\n  … {len(entries) - shown} more", style="dim")
    return t
