"""Each port finds its own ``dump-ports`` line however ovs-ofctl printed its name.

Synthetic records in the shapes OVS 3.1 prints (seen on the OVN lab: two
networks' ``patch-br-int-to-provnet-...`` ports share their first 15 bytes, and
ovs-ofctl then names both by number)."""

from __future__ import annotations

from model.ports import counters_of
from model.records import OvsInterface, OvsPort, PortCounters
from model.views import PortView


def _port(name: str, ofport: int, bridge: str = "br-int") -> PortView:
    i = OvsInterface(name, "patch", ofport, None)
    return PortView(bridge, OvsPort(name, bridge, None, interfaces=(i,)), i)


def _counters(*refs: str) -> dict:
    return {("br-int", r): PortCounters("br-int", r, rx_packets=n) for n, r in enumerate(refs)}


def test_a_port_is_found_by_name_by_its_15_byte_name_or_by_number():
    counters = _counters("tap1", "qvo12345678-9ab", "4", "5", "LOCAL")
    assert counters_of(counters, _port("tap1", 1)).port == "tap1"
    assert counters_of(counters, _port("qvo12345678-9abc", 2)).port == "qvo12345678-9ab"
    clash_a = _port("patch-br-int-to-provnet-5e1c0a2d", 4)
    clash_b = _port("patch-br-int-to-provnet-9b8a7c6d", 5)
    assert counters_of(counters, clash_a).port == "4"
    assert counters_of(counters, clash_b).port == "5"
    assert counters_of(counters, _port("br-int", 65534)).port == "LOCAL"


def test_a_port_dump_ports_did_not_list_has_no_counters():
    assert counters_of(_counters("tap1"), _port("tap2", 2)) is None
    assert counters_of(_counters("tap1"), _port("tap1", 1, bridge="br-ex")) is None
