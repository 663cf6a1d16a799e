"""docs/contract.md is the contract scripts are written against: every field
`snapshot --json` emits, at every depth, and every problem kind is in it, so
a field added to the code without its line in the document fails here."""

from __future__ import annotations

from pathlib import Path

from model.contract import to_contract
from model.join import build_model
from model.problems import KINDS
from tests.fakes import seed_observation

DOC = (Path(__file__).parents[2] / "docs" / "contract.md").read_text()


def keys(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            if path.endswith((".other_config", ".bridge_mappings")):
                continue  # maps of the node's own keys, not field names
            yield f"{path}.{k}", k
            yield from keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from keys(v, path)


def test_every_field_the_snapshot_emits_is_in_the_contract_document():
    obs, tables = seed_observation()
    doc = to_contract(build_model(obs, lambda f: tables[f.bridge].detail_of(f)))
    missing = sorted({path for path, k in keys(doc) if f'"{k}"' not in DOC})
    assert missing == []


def test_every_problem_kind_is_in_the_contract_document():
    assert [k for k in KINDS if f"`{k}`" not in DOC] == []


def test_every_field_snapshot_adds_for_drops_and_paths_is_in_the_contract_document():
    from model import drops, path as pathmod
    from model.drops import drop_dict

    obs, tables = seed_observation()
    model = build_model(obs, lambda f: tables[f.bridge].detail_of(f))
    ranked = [drops.Drop(c, None) for c in drops.counters(model)]  # zeros too
    port = next(vv.port.name for i in model.instances for vv in i.vnics if vv.port)
    path = pathmod.path_between(model, model, port, 1.0)
    doc = {"rates_seconds": 1.0, "drops": [drop_dict(d) for d in ranked],
           "paths": [pathmod.path_dict(path)]}
    assert ranked and path.hops
    missing = sorted({p for p, k in keys(doc) if f'"{k}"' not in DOC})
    assert missing == []
