"""Where each source is read from on this node (from flags, env or defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoints:
    db: str  # OVSDB remote, e.g. unix:/var/run/openvswitch/db.sock
    ovs_rundir: str  # where ovs-ofctl finds <bridge>.mgmt
    libvirt: str  # libvirt URI, opened read-only
    netns: str | None = None  # network namespace of the taps; None: ours

    def flags(self) -> list[str]:
        """The ovsvlan-tui flags that point it at these endpoints."""
        out = ["--db", self.db, "--ovs-rundir", self.ovs_rundir, "--libvirt", self.libvirt]
        return out + (["--netns", self.netns] if self.netns else [])
