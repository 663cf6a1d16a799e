"""Network links (taps, veths, bridges) with state and counters, from rtnetlink
or from saved ``ip -d link show`` text.

pyroute2 0.9's core is asyncio and its sync ``IPRoute`` refuses to run inside a
running loop, so this module uses ``AsyncIPRoute`` on the caller's loop.

Measured here: pyroute2 costs ~0.45 ms of CPU per link (a dump of 202 links
takes ~95 ms), plus ~8 ms to open a socket inside a named namespace (it forks
a child to do so). ``read_links`` hands the loop back every YIELD_EVERY links,
which cut the loop's longest stall for 202 links from ~95 ms to ~45 ms (the
rest is pyroute2 parsing one socket read, which cannot be split). On a node
with many hundreds of links, call it from a worker thread (``asyncio.run``
there) rather than on the UI's loop.

Every socket is opened with ``flags=0``: pyroute2's default (O_CREAT) would
silently create a network namespace the operator mistyped.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from model.records import Link

if TYPE_CHECKING:
    from pyroute2 import AsyncIPRoute

RTMGRP_LINK = 1  # linux/rtnetlink.h: the link group (pyroute2.netlink.rtnl.RTMGRP_LINK)

LINK_EVENTS = ("RTM_NEWLINK", "RTM_DELLINK")
YIELD_EVERY = 16  # links decoded between returns to the event loop (~7 ms)


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
    # Imported here, not at the top: pyroute2 takes ~0.25 s to import, and the
    # first flow dumps start before it (LiveSources.prefetch_flows)
    from pyroute2 import AsyncIPRoute

    return AsyncIPRoute(netns=netns, flags=0, groups=groups)


async def read_links(netns: str | None = None) -> tuple[Link, ...]:
    """Every link of ``netns`` (None: the namespace we run in)."""
    links, masters = [], {}
    try:
        async with _open(netns) as ipr:
            async for msg in await ipr.link("dump"):
                link = _link(msg)
                links.append(link)
                if msg.get("master"):
                    masters[link.index] = msg.get("master")
                if len(links) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # decoding is slow: let the UI draw
    except OSError as e:
        raise NetlinkUnavailable(_explain(e, netns)) from None
    names = {link.index: link.ifname for link in links}

    def named_master(link: Link) -> Link:
        index = masters.get(link.index)
        return replace(link, master=names.get(index, str(index))) if index else link

    return tuple(named_master(link) for link in links)


def _link(msg) -> Link:
    stats = msg.get("stats64") or msg.get("stats") or {}
    return Link(
        index=msg["index"],
        ifname=msg.get("ifname"),
        operstate=msg.get("operstate") or "UNKNOWN",
        kind=msg.get(("linkinfo", "kind")),
        mtu=msg.get("mtu"),
        mac=msg.get("address"),
        rx_packets=stats.get("rx_packets", 0),
        tx_packets=stats.get("tx_packets", 0),
        rx_bytes=stats.get("rx_bytes", 0),
        tx_bytes=stats.get("tx_bytes", 0),
        rx_dropped=stats.get("rx_dropped", 0),
        tx_dropped=stats.get("tx_dropped", 0),
        rx_errors=stats.get("rx_errors", 0),
        tx_errors=stats.get("tx_errors", 0),
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
