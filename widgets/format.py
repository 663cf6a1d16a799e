"""Numbers as an operator reads them: short, aligned, units that say what they are."""

from __future__ import annotations

from typing import Sequence

from model.neutron import DEAD_VLAN

# A source's state as a colour: the source bar, the pane borders, `snapshot`.
STATUS_COLOURS = {"live": "green", "connecting": "yellow", "stale": "yellow", "error": "red",
                  "saved": "cyan"}


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, "red")  # a state not known here is not a good one

BARS = "▁▂▃▄▅▆▇█"
NO_RATE = "–"  # a rate not measured yet (a counter seen once)


def count(n: int | None) -> str:
    """1234567 -> '1.2M'; exact below 100k so small counters can be compared by eye.

    Up to exa, so a 64-bit counter (libvirt's test driver makes huge ones)
    still fits in six characters.
    """
    if n is None:
        return "-"
    if n < 100_000:
        return str(n)
    for unit, size in (("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15)):
        text = f"{n / size:.1f}"
        if len(text) <= 5:  # below 1000 once rounded
            return text + unit
    return f"{n / 1e18:.1f}E"


def rate(per_second: float | None, unit: str = "") -> str:
    """packets or bytes per second; NO_RATE until measured (never a 0 not measured)."""
    if per_second is None:
        return NO_RATE
    if per_second == 0:
        return "0"
    if per_second < 10:
        return f"{per_second:.1f}{unit}"
    return count(int(round(per_second))) + unit


def bits(bytes_per_second: float | None) -> str:
    if bytes_per_second is None:
        return NO_RATE
    b = bytes_per_second * 8
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if b >= size:
            return f"{b / size:.1f}{unit}b/s"
    return f"{b:.0f}b/s"


def spark(values: Sequence[float], width: int = 10) -> str:
    """The last ``width`` samples as bars scaled to their own maximum, right-aligned:
    time not observed is blank, not the lowest bar (which reads as "no traffic")."""
    values = list(values)[-width:]
    if not values:
        return ""
    pad = " " * (width - len(values))
    top = max(values)
    if top <= 0:
        return pad + BARS[0] * len(values)
    return pad + "".join(BARS[min(int(v / top * (len(BARS) - 1) + 0.5), len(BARS) - 1)]
                         for v in values)


def addresses(ips, source: str) -> str:
    """'192.168.100.30 (nova)': a vNIC's IPs and where they were read, Nova's
    metadata or its anti-spoofing flows ('' for none)."""
    if not ips:
        return ""
    return f"{', '.join(ips)} ({'nova' if source == 'nova' else 'flows'})"


def vlan_path(local: int | str | None, segid: int | None, network_type: str | None) -> str:
    """'2 -> 100', '1 -> flat', '3 -> vxlan 1001', '4095 (dead)'; on OVN the datapath: 'dp1 -> 100'."""
    if local is None:
        return "-"
    if local == DEAD_VLAN:
        return f"{DEAD_VLAN} (dead)"
    if network_type == "flat":
        return f"{local} -> flat"
    if segid is None:
        return f"{local} -> ?"
    if network_type in ("vxlan", "gre", "geneve"):
        return f"{local} -> {network_type} {segid}"
    return f"{local} -> {segid}"


def drawn(console, renderable, width: int):
    """``renderable`` drawn once, at ``width``, as plain segments.

    A Static lays out a rich Table or Panel twice (once to measure its height,
    once to draw it): the path picture's grid of panels cost 40-60 ms of the
    UI thread a frame at 160 columns. Its lines, drawn here once, cost next
    to nothing to measure and draw again."""
    from rich.segment import Segment, Segments

    lines = console.render_lines(renderable, console.options.update_width(max(width, 1)),
                                 pad=False)
    out: list = []
    for line in lines:
        out.extend(line)
        out.append(Segment.line())  # each line ended, as a Text's last line is
    return Segments(out)
