"""``python -m bench.own_rss OUT SCRIPT ARGS...``: run a Python script, its own peak RSS to OUT.

The peak RSS a parent learns from wait4 (ru_maxrss) starts from the parent's
own size at fork, and takes in every child reaped (ovs-ofctl, which holds a
whole dump's replies): for a small command run by the big bench process it is
the bench's. This process is a fresh interpreter: it runs SCRIPT (ovsvlan-tui,
ovs-flowviz) as ``python SCRIPT ARGS`` would and writes VmHWM (KiB, this
process only) on the way out, so both are measured alike: at the
interpreter's exit, or at ``os._exit``, with which a snapshot ends itself
(tui.cli.end_now).
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys
from pathlib import Path


def peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    out, script = Path(sys.argv[1]), sys.argv[2]
    write = lambda: out.write_text(f"{peak_kib()}\n")  # noqa: E731
    atexit.register(write)
    exit_now = os._exit

    def _exit(status: int) -> None:
        write()
        exit_now(status)

    os._exit = _exit
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
