"""How screens ask for another screen: typed messages the app handles.

A screen never calls the app by a method name: it posts one of these
(``self.post_message(OpenPort(name))``), the message bubbles up to the app,
and the app's ``@on(OpenPort)`` handler builds and pushes the screen. A new
screen adds its message here and its handler in ``tui/app.py``; an import
shows who opens what, and a typo fails at import, not on a key press.

The app pushes what screens show (``NodeScreen.apply(Feed)``); a screen that
comes back on top posts ``WantFeed`` to be given the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.screen import Screen

from model.records import Flow
from model.scopes import Scope
from node.session import Refresh


# Messages keep Textual's identity comparison (and so stay hashable).
message = dataclass(eq=False)


@dataclass(frozen=True)
class Feed:
    """What the app pushes to the screen on top: the latest refresh and the
    state of the refresh cycle the source bar shows."""

    refresh: Refresh
    interval: float  # asked for (--interval)
    effective_interval: float  # used: longer when refreshes are slow
    paused: bool

    @property
    def state(self) -> tuple:
        """What a screen fed this shows (the refresh by identity): the same, no need to feed."""
        return (id(self.refresh), self.interval, self.effective_interval, self.paused)


@message
class WantFeed(Message):
    """A node screen is on top again (pushed, or uncovered): feed it now."""

    screen: Screen


@message
class OpenInstance(Message):
    uuid: str  # the libvirt domain's uuid


@message
class OpenPort(Message):
    name: str  # an OVS port (or tap) name


@message
class OpenVlan(Message):
    local_vlan: int | str  # a local VLAN, or its VlanView.key ("2"; on OVN "dp1")


@message
class OpenFlows(Message):
    scope: Scope
    text: str = ""  # a filter to start with


@message
class OpenFlowDetail(Message):
    flow: Flow


@message
class OpenFlowOwner(Message):
    """The instance whose port a flow is about."""

    flow: Flow


@message
class OpenSubject(Message):
    """What a problem concerns: a VLAN ("vlan 2"), a port or tap, or a vNIC."""

    subject: str


@message
class OpenPath(Message):
    """The path picture of the vNIC on this port (or tap)."""

    port: str


@message
class OpenTrace(Message):
    """A packet trace from the vNIC on this port (or tap)."""

    port: str


@message
class OpenDrops(Message):
    """Everything dropping now."""


@message
class OpenConntrack(Message):
    """The conntrack entries of the port's firewall zone."""

    port: str
