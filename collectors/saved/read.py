"""``--from PATH``: whatever was given, read into a SavedNode.

A sosreport (directory or tarball), a saved ``snapshot --json``, or a
directory (or one file) of command outputs recognised by their content.
"""

from __future__ import annotations

import tarfile
from datetime import datetime, timezone
from pathlib import Path

from collectors.saved import kinds
from collectors.saved.assemble import Assembler, read_flows
from collectors.saved.result import SavedError, SavedNode
from collectors.saved.snapshot_json import read_snapshot
from collectors.saved.sosreport import is_sosreport_dir, read_sosreport

MAX_FILE = 512 * 1024 * 1024


def read_saved(path: str | Path) -> SavedNode:
    """The whole saved node, its flow dumps read."""
    return read_flows(open_saved(path))


def open_saved(path: str | Path) -> SavedNode:
    """The saved node but its flow dumps' lines (``pending``: assemble.read_flows reads
    them), so a display shows the rest first; bad input is refused here, before that."""
    p = Path(path)
    if not p.exists():
        raise SavedError(f"--from {path}: no such file or directory")
    try:
        if p.is_dir():
            if is_sosreport_dir(p):
                return read_sosreport(p)
            return _read_outputs(p, sorted(f for f in p.rglob("*") if f.is_file()))
        if tarfile.is_tarfile(p):
            return read_sosreport(p)
        head = p.read_bytes()[:MAX_FILE]
        if kinds.recognise(head) == kinds.SNAPSHOT:
            return read_snapshot(p, head)
        return _read_outputs(p.parent, [p], given=p)
    except PermissionError as e:
        raise SavedError(f"--from {path}: cannot read {e.filename}: permission denied") from None
    except ValueError as e:
        raise SavedError(f"--from {path}: {e}") from None


def _read_outputs(root: Path, files: list[Path], given: Path | None = None) -> SavedNode:
    asm = Assembler(str(given or root), "saved outputs")
    newest = 0.0
    for f in files:
        rel = f.relative_to(root).as_posix()
        if f.stat().st_size > MAX_FILE:
            asm.skip(rel, "larger than 512 MB")
            continue
        data = f.read_bytes()
        if kinds.recognise(data) is not None:
            newest = max(newest, f.stat().st_mtime)
        asm.add(rel, data)
    if not newest:
        raise SavedError(f"--from {given or root}: no file there is an output this tool reads "
                         "(ovs-vsctl show/list, ovs-ofctl show/dump-flows/dump-ports, virsh list/"
                         "dumpxml, ip -d link, a sosreport or a snapshot --json)")
    # saved outputs do not say when they were taken: the newest file's time is the best guess
    taken = datetime.fromtimestamp(newest, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + " (file time)"
    return asm.node(taken, (given or root).name)
