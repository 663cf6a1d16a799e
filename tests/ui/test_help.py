"""`?` lists every key an operator can press, where it works, in the words
of its binding, and no key that does not exist (the help is made from the
bindings, so a new key or screen cannot be forgotten in it)."""

from __future__ import annotations

from rich.console import Console
from textual.binding import Binding

from tests.ui.test_snapshots import app, first_refresh, until
from tui.app import HELP_SCREENS, OvsVlanApp
from tui.screens.base import NodeScreen
from tui.screens.help import HelpScreen, key_text
from widgets.virtual_table import OPEN_ROW


def every_node_screen(cls=NodeScreen) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *every_node_screen(sub)]
    return out


def declared(owner: type) -> list[Binding]:
    return list(Binding.make_bindings(owner.__dict__.get("BINDINGS", ())))


def test_every_node_screen_has_its_section_in_the_help():
    assert set(every_node_screen()) == set(HELP_SCREENS)


async def test_the_help_lists_every_binding_where_it_works_and_nothing_else():
    async with app().run_test(size=(160, 48)) as pilot:
        await first_refresh(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")
        shown = pilot.app.screen.keys
        the_app = pilot.app

        def expected(bindings) -> list[tuple[str, str]]:
            return [(key_text(the_app, b), b.tooltip or b.description) for b in bindings
                    if b.description]

        wanted = [("everywhere", expected([OPEN_ROW, *declared(NodeScreen),
                                           *declared(OvsVlanApp)]))]
        for screen in HELP_SCREENS:
            if expected(declared(screen)):
                wanted.append((screen.help_title, expected(declared(screen))))
        assert shown == wanted
        console = Console(width=400, record=True)  # wide: one line per key
        console.print(pilot.app.screen.key_table())
        lines = [line.split() for line in console.export_text().splitlines() if line.strip()]
        assert lines == [words for where, keys in shown
                         for words in ([where.split()] + [f"{k} {w}".split() for k, w in keys])]


def test_a_key_left_out_of_the_help_only_hides_a_footer_entry():
    """A binding with no description is not listed: it must not be a key either."""
    for owner in (OvsVlanApp, NodeScreen, *HELP_SCREENS):
        for b in declared(owner):
            if not b.description:
                assert not b.show and b.action == "back", (owner.__name__, b.key)


def test_the_help_says_what_the_main_keys_do():
    keys = {b.key: b.tooltip or b.description for b in OvsVlanApp.keys_everywhere()}
    assert keys["enter"] == "drill down into the selected row"
    assert keys["ctrl+p"].startswith("jump to an instance")
    assert keys["question_mark"] == "this help"
