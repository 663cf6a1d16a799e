"""Network links (taps, veths, bridges) with state and counters, from rtnetlink
or from saved ``ip -d link show`` text.

``read_links`` reads one RTM_GETLINK dump with ``rtnetlink`` (hand-written:
pyroute2 took ~0.2 s to import and ~0.45 ms of CPU a link, ~0.3 s of a
snapshot of a 200-port node; see there). ``LinkWatcher`` follows link
events with pyroute2: its 0.9 core is asyncio and its sync ``IPRoute``
refuses to run inside a running loop, so it uses ``AsyncIPRoute`` on the
caller's loop, imported only when a watcher starts.

No socket ever creates a network namespace: pyroute2's is opened with
``flags=0`` (its default, O_CREAT, would silently create a namespace the
operator mistyped), and ``rtnetlink`` opens the namespace without O_CREAT.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Callable

from collectors import rtnetlink
from model.records import Link

if TYPE_CHECKING:
    from pyroute2 import AsyncIPRoute

RTMGRP_LINK = 1  # linux/rtnetlink.h: the link group (pyroute2.netlink.rtnl.RTMGRP_LINK)

LINK_EVENTS = ("RTM_NEWLINK", "RTM_DELLINK")


class NetlinkUnavailable(Exception):
    """Links cannot be read; the message says why and what to do."""


def _explain(e: OSError, netns: str | None) -> str:
    where = f"network namespace {netns!r}" if netns else "this network namespace"
    if isinstance(e, FileNotFoundError) and netns:
        return (f"network namespace {netns!r} does not exist (see `ip netns list`); "
                "pass --netns with the namespace that holds the taps, or none for this one")
    if isinstance(e, PermissionError):
        return f"cannot read links of {where}: {e.strerror or e}. Run as root."
    return f"cannot read links of {where}: {e}"


def _open(netns: str | None, groups: int = 0) -> AsyncIPRoute:
    # Imported here, not at the top: pyroute2 takes ~0.2 s to import
    from pyroute2 import AsyncIPRoute

    return AsyncIPRoute(netns=netns, flags=0, groups=groups)


async def read_links(netns: str | None = None) -> tuple[Link, ...]:
    """Every link of ``netns`` (None: the namespace we run in).

    One RTM_GETLINK dump read by ``rtnetlink`` (not pyroute2: see there), on a
    worker thread so the caller's loop keeps running."""
    try:
        dumped = await asyncio.to_thread(rtnetlink.dump_links, netns)
    except OSError as e:
        raise NetlinkUnavailable(_explain(e, netns)) from None
    names = {d["index"]: d["ifname"] for d in dumped}
    return tuple(_link(d, names) for d in dumped)


def _link(d: dict, names: dict) -> Link:
    master = d.get("master")
    return Link(
        index=d["index"],
        ifname=d["ifname"],
        operstate=d["operstate"] or "UNKNOWN",
        kind=d["kind"],
        mtu=d["mtu"],
        mac=d["mac"],
        master=names.get(master, str(master)) if master else None,
        rx_packets=d.get("rx_packets", 0),
        tx_packets=d.get("tx_packets", 0),
        rx_bytes=d.get("rx_bytes", 0),
        tx_bytes=d.get("tx_bytes", 0),
        rx_dropped=d.get("rx_dropped", 0),
        tx_dropped=d.get("tx_dropped", 0),
        rx_errors=d.get("rx_errors", 0),
        tx_errors=d.get("tx_errors", 0),
    )


class LinkWatcher:
    """Calls ``on_change(ifname)`` on the running loop when a link is added,
    removed or changes state, so the caller re-reads links only then.

    The kernel may announce one change several times; callers should coalesce.
    Use ``async with`` or ``start()``/``stop()``; stopping (or cancelling the
    task inside ``async with``) closes the socket and ends the reader task.
    """

    def __init__(self, on_change: Callable[[str | None], None], netns: str | None = None) -> None:
        self._on_change = on_change
        self._netns = netns
        self._ipr: AsyncIPRoute | None = None
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        """False once stopped, or if the subscription ended on its own."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("LinkWatcher already started")
        ipr = None
        try:
            ipr = _open(self._netns, groups=RTMGRP_LINK)
            await ipr.bind()
        except OSError as e:
            if ipr is not None:
                ipr.close()
            raise NetlinkUnavailable(_explain(e, self._netns)) from None
        self._ipr = ipr
        self._task = asyncio.create_task(self._read(ipr), name=f"LinkWatcher({self._netns})")

    async def _read(self, ipr: AsyncIPRoute) -> None:
        while True:
            got = False
            async for msg in ipr.get():
                got = True
                if msg.get("event") in LINK_EVENTS:
                    self._on_change(msg.get("ifname"))
            if not got:  # pyroute2 ends a read with nothing when the socket closes
                return

    async def stop(self) -> None:
        task, self._task = self._task, None
        ipr, self._ipr = self._ipr, None
        try:
            if task is not None:
                task.cancel()
                # wait() neither raises the task's CancelledError nor swallows ours.
                await asyncio.wait({task})
        finally:
            if ipr is not None:
                ipr.close()
        if task is not None and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # on_change failed earlier: surface it

    async def __aenter__(self) -> LinkWatcher:
        await self.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.stop()


# --------------------------------------------------------------------------
# Saved `ip -d link show` (optionally with -s) text

_HEADER = re.compile(r"^([0-9]{1,10}):\s+([^:\s@]+)(?:@\S*?)?:\s+<[^>]*>(.*)$")
_LINK_LAYER = re.compile(r"^link/\S+(?:\s+([0-9a-f]{2}(?::[0-9a-f]{2})+))?", re.I)
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
# Words that can start the line after link/... without naming a kind.
_NOT_KINDS = {"addrgenmode", "altname", "alias", "vf", "prop"}
_COUNTERS = {"bytes", "packets", "errors", "dropped"}  # columns of `ip -s` that Link keeps
# ASCII digits of a 64-bit counter: str.isdigit() also takes "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]{1,20}")


def parse_ip_link_detail(text: str) -> tuple[Link, ...]:
    """Links from ``ip -d link show`` output, for offline input; ``-s``
    counters are read when present, else left at 0. Unknown lines are skipped.
    """
    links: list[dict] = []
    cur: dict | None = None
    after_link_layer = False
    pending: tuple[str, list[str]] | None = None  # "rx"/"tx" and the counter names
    for raw in text.splitlines():
        line = raw.strip()
        head = _HEADER.match(raw)
        if head:
            cur = _header_fields(head)
            links.append(cur)
            after_link_layer = False
            pending = None
            continue
        if cur is None or not raw[:1].isspace() or not line:
            continue
        words = line.split()
        if pending is not None:
            direction, cols = pending
            pending = None
            for col, value in zip(cols, words):
                if col in _COUNTERS and _DIGITS.fullmatch(value):
                    cur[f"{direction}_{col}"] = int(value)
            continue
        if words[0] in ("RX:", "TX:"):
            pending = (words[0][:2].lower(), words[1:])
            after_link_layer = False
            continue
        layer = _LINK_LAYER.match(line)
        if layer:
            if layer.group(1):
                cur["mac"] = layer.group(1).lower()
            after_link_layer = True
            continue
        if after_link_layer:
            after_link_layer = False
            first = words[0]
            if _KIND.match(first) and not first.endswith("_slave") and first not in _NOT_KINDS:
                cur["kind"] = first
    return tuple(Link(**fields) for fields in links)


def _header_fields(head: re.Match) -> dict:
    rest = head.group(3)
    fields: dict = {"index": int(head.group(1)), "ifname": head.group(2), "operstate": "UNKNOWN"}
    for key, name, value in (("mtu", "mtu", "[0-9]{1,10}"), ("master", "master", r"\S+"),
                             ("state", "operstate", r"\S+")):
        m = re.search(rf"\b{key}\s+({value})(?:\s|$)", rest)
        if m:
            fields[name] = int(m.group(1)) if name == "mtu" else m.group(1)
    return fields
