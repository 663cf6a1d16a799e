"""Which command printed a saved file, told from its content.

A file pasted into a ticket has any name and may be indented; what it is
shows in its first lines. Each kind's name is what the file list says.
"""

from __future__ import annotations

import json
import re
import textwrap

from collectors.saved.libvirt_saved import root_tag

VSCTL_SHOW = "ovs-vsctl show"
OVSDB_DUMP = "ovsdb-client dump"
VSCTL_LIST = "ovs-vsctl list"  # the table is told apart from the columns (vsctl_list.table_of)
OFCTL_SHOW = "ovs-ofctl show"
PORTS_DESC = "ovs-ofctl dump-ports-desc"
DUMP_FLOWS = "ovs-ofctl dump-flows"
DUMP_PORTS = "ovs-ofctl dump-ports"
VIRSH_LIST = "virsh list"
DOMAIN_XML = "domain XML"
INTERFACE_XML = "virsh dumpxml <interface>"
IP_LINK = "ip -d link"
HOSTNAME = "hostname"
SNAPSHOT = "ovsvlan-tui snapshot --json"
CONF_DB = "conf.db"

_FLOW = re.compile(r"^\s*cookie=0x[0-9a-f]+, duration=", re.M)
_SHOW_PORT = re.compile(r"^\s*([0-9]+|LOCAL)\(.*\): addr:", re.M)
_PORT_LINE = re.compile(r"^\s*port\s+\S+:\s*rx\s+pkts=", re.M)
_VSCTL_SHOW = re.compile(r"^\s*Bridge \S+\s*$", re.M)
_VSCTL_SHOW_PORT = re.compile(r"^\s*(Port \S+|ovs_version: )", re.M)
_VSCTL_LIST = re.compile(r"^\s*_uuid\s*: [0-9a-f]{8}-", re.M)
_DUMP_HEADING = re.compile(r"^\s*(Bridge|Interface|Port|Open_vSwitch) table\s*$", re.M)
_IP_LINK = re.compile(r"^\s*[0-9]+: [^:\s]+(@\S*)?: <[A-Z_,-]*>", re.M)
_VIRSH_HEAD = re.compile(r"^\s*Id\s+\S+\s+\S+\s*\n\s*-{10,}", re.M)
_VIRSH_DASHES = re.compile(r"^\s*-{10,}\s*$", re.M)
_LEADING = re.compile(r"\s*")
_VIRSH_ROW = re.compile(r"^\s*([0-9]+|-)\s+\S+\s+\S", re.M)


def dedent(text: str) -> str:
    """A pasted output with every line indented alike, back at column 0.

    An output whose first line starts at column 0 (every file sos saves) is
    returned as it is: textwrap.dedent would only blank its lines of spaces,
    which every reader skips, and takes ~0.4 s on a 100k-flow dump."""
    text = text.expandtabs(8) if "\t" in text else text
    start = _LEADING.match(text).end()  # the first character that is not blank
    if start == text.rfind("\n", 0, start) + 1:
        return text
    return textwrap.dedent(text)


def decoded(data: bytes) -> str | None:
    """A saved file's text; None for a conf.db (read as bytes) or what is not UTF-8."""
    if data.startswith(b"OVSDB JSON "):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def recognise(data: bytes, text: str | None = None) -> str | None:
    """The kind of a saved file, or None when it is none this tool reads
    (``text``: ``decoded(data)`` when the caller has it already)."""
    if data.startswith(b"OVSDB JSON "):
        return CONF_DB
    text = text if text is not None else decoded(data)
    if text is None:
        return None
    head = text.lstrip()
    if head.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return SNAPSHOT if isinstance(doc, dict) and str(doc.get("schema", "")).startswith(
            "ovsvlan-tui/snapshot/") else None
    if head.startswith("<"):
        tag = root_tag(text) or (root_tag(f"<devices>{text}</devices>") and "devices")
        if tag in ("domain", "domstatus"):
            return DOMAIN_XML
        if tag == "interface" or (tag == "devices" and "<interface" in text):
            return INTERFACE_XML
        return None
    if _FLOW.search(text) or re.search(r"^\s*(NXST|OFPST)_FLOW reply", text, re.M):
        return DUMP_FLOWS
    if "OFPST_PORT_DESC reply" in text:
        return PORTS_DESC
    if _PORT_LINE.search(text) or "OFPST_PORT reply" in text:
        return DUMP_PORTS
    if "OFPT_FEATURES_REPLY" in text or _SHOW_PORT.search(text):
        return OFCTL_SHOW
    if _VSCTL_LIST.search(text):
        return OVSDB_DUMP if _DUMP_HEADING.search(text) else VSCTL_LIST
    if _VSCTL_SHOW.search(text) and _VSCTL_SHOW_PORT.search(text):
        return VSCTL_SHOW
    if _IP_LINK.search(text):
        return IP_LINK
    if _VIRSH_HEAD.search(text) or (_VIRSH_DASHES.search(text) and _VIRSH_ROW.search(text)):
        return VIRSH_LIST
    return None
