"""The flows a flows screen shows, in their order, with their row keys:
chosen once per set of flows, not at each refresh.

Choosing is O(flows): at 50k flows ~15 ms to sort and ~15 ms of row keys,
twice that while a refresh runs beside it, and it ran on every key that
opened a flows screen and at every refresh while one was open. A refresh
that only moved counters keeps each bridge's ``FlowDump.layout``; while the
layouts are those a choice was made from, the choice sorted by table within
the whole node or one bridge (scopes read from the flows alone; a port's or a
VLAN's depend on OVSDB too) is the same, and taking it is ~2 ms. Sorted by
packets or rate, the order moves with the counters: chosen each time.
"""

from __future__ import annotations

from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from operator import attrgetter

from model.records import Flow
from model.scopes import Scope, select_flows
from model.views import NodeModel
from tui import rows

KEPT = 3  # choices kept, of the latest layouts only: the screens on the stack, a filter


@dataclass(frozen=True)
class Choice:
    """What a flows screen shows of one set of flows, the counters aside."""

    order: array  # positions in model.all_flows(), 4 bytes each (200k flows: 0.8 MB)
    keys: list  # row keys, in that order (rows.flow_row_keys)
    index: dict  # row key -> position in the choice
    exact: bool  # keys are FlowKeys (two flows' hashes were alike)
    cookies: Counter
    total: int  # flows on the node


def layouts(model: NodeModel) -> tuple | None:
    """What identifies the node's set of flows; None when a dump does not say."""
    parts = []
    for bridge, dump in model.flows.items():
        if dump.layout is None:
            return None
        parts.append((bridge, dump.layout))
    return tuple(parts)


def keeps(scope: Scope, sort: str) -> bool:
    """Whether a choice of this scope and sort lasts as long as the layouts."""
    return sort == "table" and scope.kind in ("all", "bridge")


def choose(model: NodeModel, scope: Scope, text: str, sort: str, rate_of) -> tuple[list[Flow], Choice]:
    """A choice made afresh: O(flows), for a worker thread."""
    every = list(model.all_flows())
    flows = select_flows(model, scope, text, sort, rate_of)
    where = dict(zip(map(id, every), range(len(every))))
    keys, index, exact = rows.flow_row_keys(flows)
    return flows, Choice(array("I", map(where.__getitem__, map(id, flows))), keys, index, exact,
                         Counter(map(attrgetter("cookie"), flows)), len(every))


class Choices:
    """The last few choices, by what they were chosen from. The app holds one
    for its flows screens; used on the UI thread only."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, Choice] = OrderedDict()

    def kept(self, model: NodeModel, scope: Scope, text: str, sort: str
             ) -> tuple[list[Flow], Choice] | None:
        """The flows of a choice made from these same flows, in its order; None if none is."""
        if not keeps(scope, sort):
            return None
        made = layouts(model)
        choice = self._kept.get((made, scope, text)) if made is not None else None
        if choice is None:
            return None
        self._kept.move_to_end((made, scope, text))
        every = list(model.all_flows())
        return list(map(every.__getitem__, choice.order)), choice

    def keep(self, model: NodeModel, scope: Scope, text: str, sort: str, choice: Choice) -> None:
        made = layouts(model)
        if made is None or not keeps(scope, sort):
            return
        for old in [k for k in self._kept if k[0] != made]:  # flows since changed
            del self._kept[old]
        self._kept[(made, scope, text)] = choice
        self._kept.move_to_end((made, scope, text))
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
