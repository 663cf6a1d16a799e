"""`--from` a sosreport shows the node before its flow dumps are read (on a
busy node they are 100k lines each): the first reading has the bridges,
ports, instances and VLAN map from OVSDB's saved output and the domain XML,
says the flows are being read and draws no verdict that needs them; the
reading right after has read them, and the picture is then the one of a
whole read. Inputs: the real nodes' sosreport trees from hotsos's test data
and the seed's pasted outputs (tests/fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.saved import kinds
from collectors.saved.read import open_saved, read_saved
from model.contract import to_contract
from model.problems import verdict
from node.saved import SavedNodeBackend
from node.session import NodeSession
from node.sources import SavedSources

FIXTURES = Path(__file__).parent.parent / "fixtures"
OPENSTACK = FIXTURES / "sos" / "hotsos-openstack"
SEED = FIXTURES / "seed"


def whole(path: Path):
    saved = read_saved(path)
    return NodeSession(SavedSources(saved.observation, 0.0),
                       hostname=saved.observation.hostname).refresh().model


@pytest.mark.parametrize("path", [OPENSTACK, SEED], ids=["sosreport", "pasted outputs"])
def test_the_first_reading_shows_the_node_without_flows_and_no_verdict_from_them(path):
    backend = SavedNodeBackend(open_saved(path))
    first = backend.refresh()
    done = whole(path)
    assert first.flows_pending
    assert first.model.flows == {}
    assert [b.name for b in first.model.bridges] == [b.name for b in done.bridges]
    assert [i.domain.name for i in first.model.instances] == [i.domain.name for i in done.instances]
    assert [p.name for p in first.model.ports] == [p.name for p in done.ports]
    openflow = next(s for s in first.model.sources if s.source == "openflow")
    assert openflow.status == "connecting"
    assert openflow.detail == "reading the saved flow dumps of " + ", ".join(sorted(done.flows))
    # nothing judged from flows not read: only the checks that need no flow ran
    assert first.model.problems == tuple(p for p in done.problems if p.kind in {
        c.kind for c in first.model.checks if c.status == "ran"})
    said, clean = verdict(first.model)
    assert "openflow not read" in said and not clean


@pytest.mark.parametrize("path", [OPENSTACK, SEED], ids=["sosreport", "pasted outputs"])
def test_the_reading_after_has_read_the_flows_and_is_the_whole_picture(path):
    backend = SavedNodeBackend(open_saved(path))
    backend.refresh()
    second = backend.refresh()
    assert not second.flows_pending
    assert to_contract(second.model) == to_contract(whole(path))
    assert backend.saved.report() == read_saved(path).report()
    assert backend.refresh().model.problems == second.model.problems  # and stays so


def test_the_file_list_says_a_flow_dump_is_being_read_until_it_is():
    opened = open_saved(OPENSTACK)
    name = "sos_commands/openvswitch/ovs-ofctl_dump-flows_br-int"
    note = next(f.note for f in opened.files if f.name == name)
    assert note == "being read: flows of br-int"
    read = next(f for f in read_saved(OPENSTACK).files if f.name == name)
    assert read.read_as == kinds.DUMP_FLOWS
    assert read.note.endswith("flows of br-int (bridge from its file name)")
    assert int(read.note.split()[0]) > 0


def test_a_problem_found_in_the_flows_waits_for_them():
    """The seed's VLAN 1 has no translation flow: said once its flows are read, not before."""
    backend = SavedNodeBackend(open_saved(SEED))
    before, after = backend.refresh().model, backend.refresh().model
    assert ("missing-vlan-translation", "vlan 1") in [(p.kind, p.subject) for p in after.problems]
    assert not [p for p in before.problems if p.kind == "missing-vlan-translation"]
    check = next(c for c in before.checks if c.kind == "missing-vlan-translation")
    assert check.status == "not run" and "openflow" in check.missing
