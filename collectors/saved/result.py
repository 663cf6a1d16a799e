"""What reading a saved node gives: its records and, per file, what it was read as."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.records import Observation


class SavedError(Exception):
    """PATH cannot be read as a saved node; the message says what to give instead.

    Here, not in read.py: the command line catches it without importing every reader."""


@dataclass(frozen=True, slots=True)
class SavedFile:
    name: str  # as found: a path inside the sosreport, directory or tarball
    read_as: str | None  # the command it is the output of; None: skipped
    note: str = ""  # what it gave, or why it was skipped
    warning: bool = False  # it looks like a known output but gave nothing usable


@dataclass(frozen=True, slots=True)
class FlowFile:
    """The flow dump chosen for a bridge, its lines not read yet (read_flows reads
    them): 100k lines take seconds, the first frame does not wait for them."""

    name: str
    bridge: str
    how: str  # how its bridge was told: "its file name", "the ports its flows use: ..."
    text: str = field(repr=False)


@dataclass(frozen=True)
class SavedNode:
    path: str  # what was given to --from
    kind: str  # "sosreport", "saved outputs", "snapshot"
    taken: str | None  # when the node was read, as the saved files say; None: unknown
    observation: Observation  # sources: "saved" for each one the files hold, else "error"
    files: tuple[SavedFile, ...]
    # flow dumps not read yet: their bridges are missing from observation.flows and
    # its openflow state says they are being read (assemble.read_flows reads them)
    pending: tuple[FlowFile, ...] = field(default=(), repr=False)

    def report(self) -> list[str]:
        """One line per file: read as what, skipped, or a warning."""
        lines = [f"{self.kind} {self.path}" + (f", taken {self.taken}" if self.taken else "")]
        for f in self.files:
            if f.warning:
                lines.append(f"  warning: {f.name}: {f.note}")
            elif f.read_as:
                lines.append(f"  read {f.name} as {f.read_as}" + (f": {f.note}" if f.note else ""))
            else:
                lines.append(f"  skipped {f.name}" + (f": {f.note}" if f.note else ""))
        return lines
