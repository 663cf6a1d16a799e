"""``ovs-ofctl --read-only`` run on one bridge: its flows' text and its ports' counters.

An argument list, never a shell, ``--`` before the bridge name; a failure
comes back as a sentence saying what to do, never raised.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Callable

from collectors.openflow.lines import parse_dump
from collectors.openflow.ports import parse_dump_ports
from model.records import FlowDump, PortCounters

OFCTL = "ovs-ofctl"
DEFAULT_RUNDIR = "/var/run/openvswitch"


def run_dir(rundir: str | None) -> str:
    """Where the bridges' ``.mgmt`` sockets are: the option, $OVS_RUNDIR, or OVS's default."""
    return str(rundir or os.environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR)


def mgmt_bridges(rundir: str | None) -> list[str]:
    """The bridges whose management sockets are in the run directory (``<bridge>.mgmt``):
    what ovs-vswitchd serves OpenFlow on, known before OVSDB answers."""
    try:
        names = os.listdir(run_dir(rundir))
    except OSError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".mgmt") and len(n) > 5)


STREAM_POLL = 0.02  # seconds between looks at a dump being printed
READ_RUN = 1 << 20  # bytes of it read and handed on at a time


async def _output(proc, out: int, on_output: Callable[[str], None] | None,
                  timeout: float) -> bytes:
    """Wait for ``proc`` (its stderr back); meanwhile hand ``on_output`` the whole
    lines written to the memory file ``out`` so far, and the rest at the end.

    Raises asyncio.TimeoutError when ovs-ofctl takes longer than ``timeout``:
    the time spent reading its lines here is not counted (at 200k flows on a
    busy machine, reading takes longer than the dump itself).
    """
    if on_output is None:
        return (await asyncio.wait_for(proc.communicate(), timeout))[1]
    done = asyncio.ensure_future(proc.communicate())
    offset = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            finished = (await asyncio.wait({done}, timeout=STREAM_POLL))[0]
            size = os.fstat(out).st_size
            if not finished and time.monotonic() > deadline:
                raise asyncio.TimeoutError
            reading = time.monotonic()
            # At most READ_RUN bytes at a time: a 200k-flow dump (32 MB) read at
            # once held its bytes and their text together, 64 MB at the peak.
            while size > offset:
                chunk = os.pread(out, min(size - offset, READ_RUN), offset)
                cut = chunk.rfind(b"\n") + 1  # whole lines only: a newline is never
                while not cut and len(chunk) < size - offset:  # inside a UTF-8 character
                    chunk = os.pread(out, min(size - offset, 2 * len(chunk)), offset)
                    cut = chunk.rfind(b"\n") + 1  # a line longer than READ_RUN
                if not cut:
                    if not finished:
                        break  # a line still being printed
                    cut = len(chunk)  # the last line, without its newline
                on_output(chunk[:cut].decode("utf-8", "replace"))
                offset += cut
            if finished:
                return done.result()[1]
            deadline += time.monotonic() - reading
    finally:
        done.cancel()


async def _ofctl(
    command: str, bridge: str, rundir: str | None, timeout: float,
    on_output: Callable[[str], None] | None = None,
) -> tuple[str | None, str | None]:
    """(stdout, None) or (None, what went wrong and what to do).

    The output goes to a memory file, not a pipe: for a 100k-flow dump
    (18 MB) reading a pipe through asyncio cost us 0.11-0.17 s of CPU and
    ovs-ofctl 0.47-0.79 s (small writes, one wake-up each); into a memfd
    it costs us 0.02 s and ovs-ofctl 0.47 s, as much as writing to /dev/null.

    ``on_output``: given the output in runs of whole lines while ovs-ofctl
    writes it (a dump is printed for ~0.4 s at 50k flows, after the switch
    has answered: reading it meanwhile overlaps the two); stdout is "" then.
    """
    # "--": a bridge named like an option (--log-file=...) stays a bridge name
    args = [OFCTL, "--read-only", "--names", "--", command, bridge]
    env = None if rundir is None else {**os.environ, "OVS_RUNDIR": str(rundir)}
    where = run_dir(rundir)
    out = os.memfd_create(f"{OFCTL} {command}", os.MFD_CLOEXEC)
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError:
            return None, (
                f"{OFCTL} was not found: install Open vSwitch (package openvswitch-switch) "
                f"or put {OFCTL} on PATH."
            )
        except OSError as exc:
            return None, (
                f"{OFCTL} could not be started ({exc.strerror}): "
                f"check that it is installed and executable."
            )
        try:
            err = await _output(proc, out, on_output, timeout)
        except asyncio.TimeoutError:
            return None, (
                f"{OFCTL} {command} {bridge} gave no answer within {timeout:g} s: "
                f"check that ovs-vswitchd is running and not overloaded."
            )
        finally:
            if proc.returncode is None:  # timed out or cancelled: never leave it behind
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            return None, (
                f"{OFCTL} {command} {bridge} failed ({why}): check that ovs-vswitchd is "
                f"running, that bridge {bridge} exists and that its run directory is {where} "
                f"(otherwise pass --ovs-rundir DIR or set OVS_RUNDIR)."
            )
        if on_output is not None:
            return "", None
        return os.pread(out, os.fstat(out).st_size, 0).decode("utf-8", "replace"), None
    finally:
        os.close(out)


@dataclass(frozen=True, slots=True)
class DumpText:
    """One bridge's ``dump-flows`` output, unread (``FlowTable.update_text`` reads it)."""

    bridge: str
    text: str
    taken_at: float  # time.monotonic() when the dump was complete
    error: str | None = None  # what went wrong and what to do; text is "" then


async def dump_flows_text(bridge: str, *, rundir: str | None = None, timeout: float = 5.0,
                          on_output: Callable[[str], None] | None = None) -> DumpText:
    """The bridge's flows now, as ovs-ofctl printed them; a failure is ``error``.

    ``on_output``: see _ofctl (``text`` is "" then, the lines went there)."""
    text, error = await _ofctl("dump-flows", bridge, rundir, timeout, on_output)
    return DumpText(bridge, text or "", time.monotonic(), error)


async def dump_flows(bridge: str, *, rundir: str | None = None, timeout: float = 5.0) -> FlowDump:
    """The bridge's flows now; a failure comes back as ``FlowDump.error``, never raised."""
    raw = await dump_flows_text(bridge, rundir=rundir, timeout=timeout)
    if raw.error is not None:
        return FlowDump(bridge, (), raw.taken_at, error=raw.error)
    return parse_dump(bridge, raw.text, raw.taken_at)


async def dump_ports(
    bridge: str, *, rundir: str | None = None, timeout: float = 5.0
) -> tuple[PortCounters, ...] | str:
    """The bridge's port counters now, or a sentence saying what went wrong."""
    text, error = await _ofctl("dump-ports", bridge, rundir, timeout)
    if error is not None:
        return error
    return parse_dump_ports(bridge, text)
