"""The flow screen shows a flow's match and actions from the one guarded
parse: a port name with spaces and commas comes back whole, and a flow text
with a control character (on which python-ovs's parser loops forever) is shown
as text instead of freezing the screen."""

from __future__ import annotations

import threading

from collectors import openflow
from model.records import Flow
from tui.screens.flow_detail import parsed_fields

QUOTED = 'tap "a b,c"'  # a port name as an operator may give it


def flow(match: str, actions: str) -> Flow:
    return Flow("br-int", 0, 10, 0x5cba03097712b897, match, actions, 3, 294, 12.0, 100.0)


def shown(f: Flow) -> tuple[list, list, object]:
    """What the screen computes for ``f`` (its fields and its detail), in a
    thread, so that a parser that loops fails this test instead of hanging it."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append((*parsed_fields(f),
                                                         openflow.flow_detail(f))),
                              daemon=True)
    worker.start()
    worker.join(60)
    assert out, "the flow screen's parse never returned"
    return out[0]


def test_a_quoted_port_name_comes_back_whole_in_match_and_actions():
    name = '"tap \\"a b,c\\""'  # as ovs-ofctl --names prints it
    match, actions, detail = shown(flow(f"in_port={name},dl_vlan=100",
                                        f"mod_vlan_vid:2,output:{name}"))
    assert ("in_port", name) in match  # whole, quoted as printed
    assert ("output", {"port": QUOTED}) in actions  # whole
    assert detail.in_port == QUOTED and detail.outputs == (QUOTED,)
    assert detail.set_vlan == 2 and not detail.partial


def test_a_control_character_in_the_flow_text_is_shown_as_text_not_parsed():
    text = 'mod_vlan_vid:5,\toutput:"tap \\"a b,c\\""'
    match, actions, detail = shown(flow("dl_vlan=2", text))
    assert match == [("(unparsed)", "dl_vlan=2")]
    assert actions == [("(unparsed)", text)]
    assert detail.partial and detail.set_vlan == 5  # the regex fallback still reads it
