"""``ovs-ofctl dump-ports`` and ``ovs-ofctl show`` outputs read into records."""

from __future__ import annotations

import re

from collectors.openflow.lines import printed_name
from model.records import PortCounters

_PORT_LINE = re.compile(r'\s*port\s+("(?:[^"\\]|\\.)*"|[^\s:]+):\s*rx\s+(.*)$')
_TX_LINE = re.compile(r"\s*tx\s+(.*)$")
_COUNTER = re.compile(r"([a-z]+)=([0-9]+|\?)", re.ASCII)
_SHOW_PORT = re.compile(r"\s*([0-9]{1,10}|LOCAL)\((.*)\): addr:", re.ASCII)


def _counters(text: str) -> dict[str, int | None]:
    """'pkts=1, bytes=?' -> {'pkts': 1, 'bytes': None}; '?' means the port cannot count it."""
    return {
        name: int(value) if value != "?" and len(value) <= 20 else None
        for name, value in _COUNTER.findall(text)
    }


def parse_dump_ports(bridge: str, text: str) -> tuple[PortCounters, ...]:
    """Every port of one ``dump-ports`` output; lines it does not know are skipped."""
    ports = []
    rx: dict[str, int | None] | None = None
    name = ""
    for line in text.split("\n"):
        port = _PORT_LINE.match(line)
        if port is not None:
            if rx is not None:
                ports.append(_port_counters(bridge, name, rx, {}))
            name, rx = printed_name(port.group(1)), _counters(port.group(2))
            continue
        tx = _TX_LINE.match(line)
        if tx is not None and rx is not None:
            ports.append(_port_counters(bridge, name, rx, _counters(tx.group(1))))
            rx = None
    if rx is not None:
        ports.append(_port_counters(bridge, name, rx, {}))
    return tuple(ports)


def _port_counters(bridge: str, port: str, rx: dict, tx: dict) -> PortCounters:
    return PortCounters(
        bridge=bridge,
        port=port,
        rx_packets=rx.get("pkts"),
        rx_bytes=rx.get("bytes"),
        rx_dropped=rx.get("drop"),
        rx_errors=rx.get("errs"),
        tx_packets=tx.get("pkts"),
        tx_bytes=tx.get("bytes"),
        tx_dropped=tx.get("drop"),
        tx_errors=tx.get("errs"),
    )


def parse_ofctl_show(text: str) -> dict[int | str, str]:
    """Port numbers to names from ``ovs-ofctl show`` (for dumps made with --no-names).

    OVS 3.1 prints an empty name for a port whose name is not ASCII
    ("7()"); such ports are left out rather than mapped to "".
    """
    ports: dict[int | str, str] = {}
    for line in text.split("\n"):
        found = _SHOW_PORT.match(line)
        if found and found.group(2):
            number = found.group(1)
            ports[number if number == "LOCAL" else int(number)] = found.group(2)
    return ports
