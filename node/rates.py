"""Rates over a window of several seconds, the same window for every source.

At a ping's 1 packet a second, a one-refresh window holds 0 or 2 packets
depending on when the refresh ran, and the rate flickers between 0 and 2. A
window of ``RATE_WINDOW`` seconds always holds a packet of a steady 1 pps
flow; a rate exists only once two samples do (None until then: the screens
print "–", never a 0 that was not measured).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from types import MappingProxyType
from typing import Hashable, Mapping

from collectors import openflow
from model.records import FlowKey

RATE_WINDOW = 5.0  # seconds


class CounterWindow:
    """Per-key counter tuples sampled over time -> per-second rates over the window."""

    def __init__(self, span: float = RATE_WINDOW) -> None:
        self.span = span
        self._samples: deque[tuple[float, Mapping[Hashable, tuple[int, ...]]]] = deque()

    def add(self, now: float, current: Mapping[Hashable, tuple[int, ...]]
            ) -> Mapping[Hashable, tuple[float, ...]]:
        """Take a read (``{}``: the source failed: no rates) and give the rates."""
        if not current:  # no rate from counters not read now
            return MappingProxyType({})
        self._samples.append((now, current))
        # keep the newest sample at least ``span`` old: the window's start
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.span:
            self._samples.popleft()
        return MappingProxyType(self.rates())

    def rates(self) -> dict[Hashable, tuple[float, ...]]:
        if len(self._samples) < 2:
            return {}
        now, current = self._samples[-1]
        out = {}
        for key, values in current.items():
            for then, old in self._samples:  # oldest first: the widest window holding the key
                if then >= now:
                    break
                before = old.get(key)
                if before is not None:
                    if all(a >= b for a, b in zip(values, before)):
                        out[key] = tuple((a - b) / (now - then) for a, b in zip(values, before))
                    break  # counters that went back started over: no rate, not 0/s
        return out


@dataclass(frozen=True)
class FlowRates:
    """One bridge's flow rates over the window, frozen: safe to hand to the UI thread."""

    bridge: str
    seconds: float  # the window's length
    moved: Mapping[FlowKey, tuple[int, int]]  # what moved in it (only the flows that did)
    young: Mapping[FlowKey, float]  # seconds observed, for flows born within it

    def rate(self, key: FlowKey) -> tuple[float, float] | None:
        """(packets/s, bytes/s) over the window; None before a flow was seen twice."""
        seconds = self.young.get(key, self.seconds)
        if seconds <= 0:
            return None
        packets, nbytes = self.moved.get(key, (0, 0))
        return packets / seconds, nbytes / seconds


class FlowWindow:
    """One bridge's flow deltas over the last ``span`` seconds."""

    def __init__(self, bridge: str, span: float = RATE_WINDOW) -> None:
        self.bridge = bridge
        self.span = span
        self._deltas: deque[openflow.FlowDelta] = deque()
        self.rates = FlowRates(bridge, 0.0, MappingProxyType({}), MappingProxyType({}))

    def add(self, delta: openflow.FlowDelta) -> FlowRates:
        if delta.interval <= 0:  # the first dump, or a failed one: no time observed
            return self.rates
        self._deltas.append(delta)
        while len(self._deltas) > 1 and \
                sum(d.interval for d in self._deltas) - self._deltas[0].interval >= self.span:
            self._deltas.popleft()
        moved: dict[FlowKey, list[int]] = {}
        young: dict[FlowKey, float] = {}
        for d in self._deltas:  # oldest first
            for key in young:
                young[key] += d.interval
            for key in d.new:
                young[key] = 0.0  # its time starts at this dump
                moved.pop(key, None)
            for key, (p, b) in d.moved.items():
                if key in d.new:
                    continue
                m = moved.setdefault(key, [0, 0])
                m[0] += p
                m[1] += b
        self.rates = FlowRates(
            self.bridge, sum(d.interval for d in self._deltas),
            MappingProxyType({k: (v[0], v[1]) for k, v in moved.items()}),
            MappingProxyType(young))
        return self.rates
