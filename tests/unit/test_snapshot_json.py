"""`snapshot --json` is read by scripts: whichever encoder writes it (orjson,
or the standard one for what orjson refuses), it is one JSON document in
UTF-8, on one line unless --pretty asks for a reader's indentation."""

from __future__ import annotations

import json

from model.contract import to_contract
from model.join import build_model
from tests.fakes import seed_observation
from tui.snapshot import encode_json


def seed_document() -> dict:
    obs, tables = seed_observation()
    return to_contract(build_model(obs, lambda f: tables[f.bridge].detail_of(f)))


def test_the_seed_node_is_one_line_of_the_same_document_compact_or_pretty():
    doc = seed_document()
    compact, pretty = encode_json(doc), encode_json(doc, pretty=True)
    assert compact.count(b"\n") == 1 and compact.endswith(b"\n")
    assert pretty.startswith(b'{\n  "schema": ')
    assert json.loads(compact) == json.loads(pretty) == json.loads(json.dumps(doc))


def test_a_counter_wider_than_64_bits_and_a_numbered_key_are_still_written():
    # ovs-ofctl prints up to 20 digits; orjson stops at 64 bits and at keys that are not strings
    doc = {"n_packets": 2**70, "by_vlan": {101: "physnet1"}, "name": "ü(x)=y"}
    text = encode_json(doc)
    assert json.loads(text) == {"n_packets": 2**70, "by_vlan": {"101": "physnet1"},
                                "name": "ü(x)=y"}
    assert "ü".encode() in text and text.endswith(b"\n")
    assert json.loads(encode_json(doc, pretty=True)) == json.loads(text)
