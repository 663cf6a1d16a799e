"""The real TUI, launched in a terminal and measured from outside.

It runs as ``ovsvlan-tui`` does for an operator: its own process, in a tmux
pane (a real terminal emulator, so every frame is really rendered and
written), on the bench node. Measuring in-process with ``run_test`` would
be cheaper but would miss the import time of the first frame and, in
headless mode, Textual skips turning frames into terminal output.

What the operator sees is read with ``tmux capture-pane``: a frame is
"there" when its text is. Keys and captures go through one tmux client in
control mode (``tmux -C``, its pane output turned off): a tmux client process
per capture cost ~3 ms of CPU each, polled every 5 ms, ~40% of a core taken
from the TUI while it drew the very frame being timed. Times are good to ~5
ms; nothing is captured during the CPU window.
CPU and memory come from /proc: utime+stime of the TUI and of the children
it reaped (ovs-ofctl), and VmHWM (peak RSS).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
_ROW_STYLE = re.compile(r"^│((?:\x1b\[[0-9;]*m)+)")
_INTERVAL = re.compile(r"every ([0-9.]+)s")
_FLOWS_SUMMARY = re.compile(r"[0-9]+ of [0-9]+ flows")
OVERVIEW_MARK = "Instances  [Enter"
HELP_MARK = "drill down into the selected row"  # a line of the help screen
# Each screen's text once it shows the node (not just its frame): the path's
# header (widgets/path.py), the port screen's OpenFlow counters panel.
_PATH_SHOWN = re.compile(r"one reading: no rates yet|rates over the last [0-9]+ s")
PORT_MARK = "OpenFlow port counters"
# the source bar once a flow dump has been read (every source live: "all sources live")
FLOWS_LIVE = ("openflow live", "all sources live")


def _quoted(arg: str) -> str:
    """One argument of a tmux command line, as tmux's parser reads it."""
    return "'" + arg.replace("'", "'\\''") + "'"


class TerminalError(Exception):
    """The TUI did not show what was expected in time; says what it showed."""


@dataclass
class Terminal:
    """One tmux server of our own (its own socket), one pane running one command."""

    socket: str
    width: int = 200
    height: int = 50
    _control: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def _tmux(self, *args: str) -> str:
        # COLUMNS and LINES (pytest sets them) would override the pane's size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], env=env,
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def start(self, argv: list[str]) -> int:
        """Run ``argv`` (no shell) in a new pane; returns its pid. The pane stays
        after the command exits, so what it last showed can be told."""
        self._tmux("new-session", "-d", "-s", "bench", "-x", str(self.width),
                   "-y", str(self.height), "--", *argv,
                   ";", "set-option", "-t", "bench", "remain-on-exit", "on")
        return int(self._tmux("display-message", "-p", "-t", "bench", "#{pane_pid}"))

    def exit_status(self) -> int | None:
        """The command's exit status once it has exited, else None."""
        dead, status = self._tmux("display-message", "-p", "-t", "bench",
                                  "#{pane_dead} #{pane_dead_status}").split(" ", 1)
        return int(status) if dead == "1" and status.strip() else None

    def screen(self, escapes: bool = False) -> list[str]:
        args = ["capture-pane", "-p", "-t", "bench"] + (["-e"] if escapes else [])
        return self._command(*args).split("\n")

    def send(self, key: str) -> None:
        self._command("send-keys", "-t", "bench", key)

    def _command(self, *args: str) -> str:
        """A tmux command through the control client (started at the first one)."""
        control = self._control
        if control is None:
            control = self._control = subprocess.Popen(
                ["tmux", "-L", self.socket, "-f", "/dev/null", "-C", "attach-session",
                 "-f", "no-output,ignore-size", "-t", "bench"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")})
            self._reply(control, "attach-session")  # its own reply comes first
        control.stdin.write(" ".join(_quoted(a) for a in args) + "\n")
        control.stdin.flush()
        return self._reply(control, args[0])

    @staticmethod
    def _reply(control: subprocess.Popen, command: str) -> str:
        """The next command's output: the lines between %begin and %end."""
        out: list[str] = []
        inside = False
        while True:
            line = control.stdout.readline()
            if not line:
                raise TerminalError(f"the tmux control client went away during {command}")
            line = line.rstrip("\n")
            if not inside:
                inside = line.startswith("%begin ")  # else a notification: not ours
                continue
            if line.startswith("%end ") or line.startswith("%error "):
                if line.startswith("%error "):
                    raise TerminalError(f"tmux {command}: {' '.join(out)}")
                return "\n".join(out)
            out.append(line)

    def stop(self) -> None:
        """Stop our tmux server and remove its socket (kill-server leaves it behind)."""
        control, self._control = self._control, None
        if control is not None:
            control.kill()
            control.wait()
        try:
            path = self._tmux("display-message", "-p", "#{socket_path}").strip()
        except subprocess.SubprocessError:
            path = ""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
        if path:
            Path(path).unlink(missing_ok=True)


# --------------------------------------------------------------------------
# /proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def memory_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(value.split()[0])
    return out


def running_ofctl(pid: int) -> bool:
    """Whether the TUI has an ovs-ofctl running now (a text dump is on)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "ovs-ofctl":
                    return True
            except OSError:
                pass
    return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# --------------------------------------------------------------------------
# Waiting for what the operator sees


def wait_for(term: Terminal, seen, timeout: float, what: str, *, escapes: bool = False,
             poll: float = 0.005) -> float:
    """Poll the screen until ``seen(lines)``; returns the time.monotonic() it was seen."""
    deadline = time.monotonic() + timeout
    while True:
        lines = term.screen(escapes)
        now = time.monotonic()
        if seen(lines):
            return now
        if now > deadline:
            _fail(term, f"{what} not seen within {timeout:g} s")
        time.sleep(poll)


def _fail(term: Terminal, what: str) -> None:
    status = term.exit_status()
    if status is not None:
        what += f" (the TUI exited with status {status})"
    shown = "\n".join(line.rstrip() for line in term.screen() if line.strip())
    raise TerminalError(f"{what}; the screen was:\n{shown}")


def _row_style(line: str) -> str:
    found = _ROW_STYLE.match(line)
    return found.group(1) if found else ""


def find_cursor_style(before: list[str], after: list[str]) -> tuple[str, int] | None:
    """The style of the cursor row and its line, from two screens one Down apart."""
    for n in range(len(before) - 1):
        style = _row_style(before[n])
        if style and style != _row_style(before[n + 1]) \
                and _row_style(after[n + 1]) == style and _row_style(after[n]) != style:
            return style, n + 1
    return None


def cursor_line(lines: list[str], style: str) -> int | None:
    return next((n for n, line in enumerate(lines) if _row_style(line) == style), None)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------
# The measurements


@dataclass(frozen=True)
class LatencyPlan:
    """How many of each key. A screen's count is its visits: each opens it
    (timed as that screen's kind) and goes back with Escape (timed as "back")."""

    cursor: int  # Down/Up presses on the instances table
    help: int  # "?" (a light screen)
    flows: int  # "f" (the all-flows screen)
    path: int = 0  # "P" on the instances table (the path of the row's vNIC)
    port: int = 0  # Enter on the bridges-and-ports pane (the port screen)


KINDS = ("cursor", "help", "flows", "path", "port", "back")


def measure_tui(argv: list[str], *, socket: str, ready: list[str], cpu_window: float,
                warmup: float, plan: LatencyPlan, refresh_wall: float, seed: int = 1) -> dict:
    """Launch the TUI, wait for its first complete frame, then measure it.

    ``ready`` are texts that are all on screen once the first refresh with
    OVSDB, libvirt and flows has been drawn. Keys are sent while a refresh
    runs: when an ovs-ofctl child appears, after a random delay within the
    refresh's wall time measured in-process (``refresh_wall``).
    """
    term = Terminal(socket)
    out: dict = {}
    started = time.monotonic()
    pid = term.start(argv)
    try:
        seen = wait_for(term, lambda lines: all(any(r in line for line in lines) for r in ready),
                        60.0, "the first frame with data", poll=0.02)
        out["first_frame_s"] = seen - started
        # The first frame comes before the first flow dump (the flows follow at
        # once): this is when their counters are on screen too.
        flows_seen = wait_for(term,
                              lambda lines: any(m in line for line in lines for m in FLOWS_LIVE),
                              60.0, "the first frame with flow counters", poll=0.02)
        out["flows_frame_s"] = flows_seen - started

        time.sleep(warmup)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(cpu_window)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        out["cpu_window_s"] = t1 - t0
        out["cpu_percent"] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        shown = _INTERVAL.search("\n".join(term.screen()))
        out["interval_shown_s"] = float(shown.group(1)) if shown else None

        out["latency"] = _latencies(term, pid, plan, refresh_wall, random.Random(seed))
        mem = memory_kib(pid)
        out["peak_rss_mb"] = mem["VmHWM"] / 1024
        out["rss_mb"] = mem["VmRSS"] / 1024
    finally:
        quit_tui(term, pid)
    return out


def _when_refreshing(pid: int, refresh_wall: float, rng: random.Random) -> bool:
    """Wait for the next refresh to start, then a random part of its length.

    A refresh starts its ovs-ofctl runs (dump-ports at least) at once; the
    key then goes at a random moment within the refresh's wall time as
    measured in-process. Returns whether a refresh start was seen.
    """
    deadline = time.monotonic() + 10
    while running_ofctl(pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    while not running_ofctl(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    time.sleep(rng.uniform(0, refresh_wall))
    return True


def _shown(pattern: str | re.Pattern):
    """A test that the screen shows ``pattern`` (text, or a regex) somewhere."""
    if isinstance(pattern, str):
        return lambda lines: any(pattern in line for line in lines)
    return lambda lines: bool(pattern.search("\n".join(lines)))


def on_overview(lines: list[str]) -> bool:
    """The overview, and no other screen's text (the help is drawn over it)."""
    text = "\n".join(lines)
    return OVERVIEW_MARK in text and not _FLOWS_SUMMARY.search(text) \
        and HELP_MARK not in text and not _PATH_SHOWN.search(text) and PORT_MARK not in text


def _latencies(term: Terminal, pid: int, plan: LatencyPlan, refresh_wall: float,
               rng: random.Random) -> dict:
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    during = 0

    def timed(kind: str, key: str, seen, what: str, escapes: bool = False) -> None:
        nonlocal during
        during += _when_refreshing(pid, refresh_wall, rng)
        sent = time.monotonic()
        term.send(key)
        samples[kind].append(wait_for(term, seen, 30.0, what, escapes=escapes) - sent)

    style, line = _learn_cursor(term)
    for n in range(plan.cursor):
        key, target = ("Up", line - 1) if n % 2 == 0 else ("Down", line)
        timed("cursor", key, lambda lines, t=target: cursor_line(lines, style) == t,
              f"the cursor on line {target}", escapes=True)

    visits = [("help", "?", _shown(HELP_MARK), "the help screen"),
              ("flows", "f", _shown(_FLOWS_SUMMARY), "the flows screen with its flows"),
              ("path", "P", _shown(_PATH_SHOWN), "the path screen with its hops"),
              ("port", "Enter", _shown(PORT_MARK), "the port screen with its counters")]
    for kind, key, seen, what in visits:
        if kind == "port" and plan.port:
            # the ports pane takes the focus (instances -> VLAN map -> ports); not timed
            term.send("Tab")
            term.send("Tab")
        for _ in range(getattr(plan, kind)):
            timed(kind, key, seen, what)
            timed("back", "Escape", on_overview, "the overview")
    if not on_overview(term.screen()):
        term.send("Escape")

    every = [v for values in samples.values() for v in values]
    result = {"samples": len(every), "during_refresh": during,
              "p50_ms": _ms(percentile(every, 50)), "p95_ms": _ms(percentile(every, 95)),
              "max_ms": _ms(max(every) if every else None)}
    for kind, values in samples.items():
        result[kind] = {"samples": len(values), "p50_ms": _ms(percentile(values, 50)),
                        "p95_ms": _ms(percentile(values, 95)),
                        "mean_ms": _ms(statistics.fmean(values) if values else None),
                        "ms": [_ms(v) for v in values]}  # in order sent ("back": from each visit)
    return result


def _learn_cursor(term: Terminal) -> tuple[str, int]:
    """The instances table has the focus: press Down once to see what its cursor looks like."""
    before = term.screen(escapes=True)
    term.send("Down")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = find_cursor_style(before, term.screen(escapes=True))
        if found is not None:
            return found
        time.sleep(0.01)
    raise TerminalError("the cursor of the instances table did not move on Down")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def quit_tui(term: Terminal, pid: int) -> None:
    """q, as an operator would; the pid if it does not go; then our tmux server."""
    try:
        term.send("q")
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, 9)
    except (subprocess.SubprocessError, OSError):
        if alive(pid):
            os.kill(pid, 9)
    finally:
        term.stop()
