"""A trace result as text: the verdict first, then one line a hop (rich, no I/O)."""

from __future__ import annotations

from rich.text import Text

from model.trace import TraceResult

VERDICT_STYLE = {"output": "bold green", "drop": "bold red", "no-port": "bold red",
                 "local": "bold yellow"}


def verdict_text(result: TraceResult) -> Text:
    t = Text()
    t.append(result.verdict.upper(), style=VERDICT_STYLE.get(result.verdict, "bold"))
    t.append("  " + result.summary)
    return t


def trace_text(result: TraceResult, *, width: int | None = 160,
               selected: int | None = None) -> Text:
    """What ``ovsvlan-tui trace`` prints and the trace screen shows; ``width`` None: no cut."""
    r = result.request
    t = verdict_text(result)
    t.append(f"\n{r.direction} trace of {r.port}: ovs-appctl ofproto/trace "
             + " ".join(r.args()), style="dim")
    bridge, pass_no = None, 0
    narrow = width is not None and width < 120
    for n, h in enumerate(result.hops):
        if h.pass_no != pass_no:
            pass_no = h.pass_no
            state = r.ct_next[pass_no - 1] if pass_no - 1 < len(r.ct_next) else "default"
            t.append(f"\n  ↻ after conntrack (--ct-next {state})", style="magenta")
        if h.bridge != bridge:
            bridge = h.bridge
            t.append(f"\n{bridge}", style="bold cyan")
        is_drop = result.drop is not None and h is result.drop
        mark = "✗ " if is_drop else ("▶ " if n == selected else "  ")
        t.append("\n  " + mark, style="bold red" if is_drop else "bold yellow")
        t.append(f"t{h.table:<3}", style="bold")
        t.append(f"{h.table_name:<26}" if len(h.table_name) < 26 else h.table_name + " ",
                 style="cyan")
        if h.priority is None:
            t.append("no match -> drop", style="red")
            continue
        t.append(f"p{h.priority:<6}")
        match = h.match or "(any)"
        actions = ",".join(a for a in h.actions if a != "drop" or len(h.actions) == 1)
        line = f"{match}  -> {actions}"
        if narrow:
            t.append("\n        ")
            room = max(width - 14, 20)  # the indent, padding and scroll bar
        else:
            room = max(width - 48, 30) if width else len(line)
        t.append(line if len(line) <= room else line[: room - 1] + "…",
                 style="red" if is_drop else "")
    if result.datapath_actions is not None:
        t.append(f"\ndatapath actions: {result.datapath_actions}", style="dim")
    return t
