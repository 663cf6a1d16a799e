"""Saved libvirt state: domain XML files, ``<domstatus>`` status files,
``virsh list`` and a pasted ``<interface>`` element.

The domain XML parser is the live collector's; this only unwraps what a
saved copy adds around it and reads states from what was saved with it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace

from collectors.domains import DomainXmlError, _NoDtd, _vnic, domain_record
from model.records import Domain, Vnic

# `virsh list` prints the state in the operator's language; these are the
# ones seen in saved outputs (English: virsh's own strings, virDomainState;
# Japanese: the seed's 実行中).
STATE_WORDS = {
    "running": "running", "idle": "blocked", "blocked": "blocked", "paused": "paused",
    "in shutdown": "shutdown", "shut off": "shutoff", "crashed": "crashed",
    "pmsuspended": "pmsuspended", "実行中": "running", "一時停止中": "paused",
    "シャットオフ": "shutoff",
}
_VIRSH_ROW = re.compile(r"^\s*([0-9]+|-)\s+(\S+)\s+(\S.*?)\s*$")
_DASHES = re.compile(r"^\s*-{10,}\s*$")


def _root(xml: str) -> ET.Element:
    parser = ET.XMLParser(target=_NoDtd())
    try:
        parser.feed(xml)
        return parser.close()
    except (ET.ParseError, ValueError) as e:
        if isinstance(e, DomainXmlError):
            raise
        raise DomainXmlError(f"malformed XML: {e}") from None


def root_tag(xml: str) -> str | None:
    """The root element's name, or None when this is not XML."""
    try:
        return _root(xml).tag
    except DomainXmlError:
        return None


def parse_saved_domain(xml: str, *, state: str | None = None) -> Domain:
    """A ``<domain>`` (``etc/libvirt/qemu/*.xml``, ``virsh dumpxml``) or a
    ``<domstatus>`` (``run/libvirt/qemu/*.xml``, a running domain's status).

    ``state`` when known from elsewhere (virsh list); else a status file's
    state, else "running" for a domain XML with an id (only an active domain
    has one) and "shutoff" for a domain XML without.
    """
    root = _root(xml)
    if root.tag == "domstatus":
        inner = root.find("domain")
        if inner is None:
            raise DomainXmlError("<domstatus> without a <domain>")
        state = state or root.get("state") or "running"
        root = inner
    if root.tag != "domain":
        raise DomainXmlError(f"expected <domain> or <domstatus>, got <{root.tag}>")
    dom_id = root.get("id")
    number = int(dom_id) if dom_id and dom_id.isdigit() else None
    if state is None:
        state = "running" if number is not None and number >= 0 else "shutoff"
    return domain_record(root, state=state, id=number)  # parsed once (200 domains: ~0.2 s)


def parse_interfaces(xml: str) -> tuple[Vnic, ...]:
    """One or more pasted ``<interface>`` elements (a part of ``virsh dumpxml``)."""
    root = _root(f"<devices>{xml}</devices>")
    return tuple(_vnic(i) for i in root.iter("interface"))


def parse_virsh_list(text: str) -> dict[str, tuple[int | None, str]]:
    """``virsh list [--all]`` -> {domain name: (id, state)}; states as libvirt names them."""
    out: dict[str, tuple[int | None, str]] = {}
    lines = text.splitlines()
    start = next((n + 1 for n, line in enumerate(lines) if _DASHES.match(line)), None)
    if start is None:
        return out
    for line in lines[start:]:
        m = _VIRSH_ROW.match(line)
        if m:
            number, name, state = m.groups()
            out[name] = (int(number) if number.isdigit() else None,
                         STATE_WORDS.get(state.lower(), state))
    return out


def with_states(domains: list[Domain], listed: dict[str, tuple[int | None, str]]) -> list[Domain]:
    """Each domain with the state and id ``virsh list`` gave it, when listed."""
    return [replace(d, id=listed[d.name][0], state=listed[d.name][1]) if d.name in listed else d
            for d in domains]
