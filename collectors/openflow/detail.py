"""A flow parsed in full, once: python-ovs's ``OFPFlow`` behind its guards, with
a regex fallback for what it refuses.

This is the one place that calls ``OFPFlow``: port names (which may hold
spaces, commas or "actions=") go in as placeholders, and text with a control
character outside a quoted name never reaches it (python-ovs 3.1's parser
loops forever on a tab or carriage return). ``flow_detail`` gives what the
model needs, ``flow_fields`` the match and actions as key/value pairs for a
screen that shows them all. ~50-140 us a flow with OFPFlow, ~15 us in the
regex fallback.
"""

from __future__ import annotations

import logging
import re
from collectors.openflow.lines import QUOTED, printed_name
from model.records import Flow, FlowDetail, frozen_map

log = logging.getLogger(__name__)

_RESERVED_PORTS = frozenset(
    {"IN_PORT", "LOCAL", "CONTROLLER", "NORMAL", "FLOOD", "ALL", "TABLE", "NONE", "ANY"}
)
_REG_MATCH = re.compile(r"reg([0-9]|1[0-5])", re.ASCII)
_REG_NXM = re.compile(r"NXM_NX_REG([0-9]|1[0-5])", re.ASCII)
_VLAN_PRESENT = 0x1000  # OF1.2+ vlan_vid: bit 12 says "a VLAN header is present"
_PLACEHOLDER = re.compile(r'"?#([0-9]+)"?')


def flow_detail(flow: Flow) -> FlowDetail:
    """What the model needs from one flow; never raises.

    python-ovs's ``OFPFlow`` does the parse. When it refuses a flow (a field
    or action it does not know), a few regexes read the VLAN-related basics
    and the result says ``partial=True``.
    """
    try:
        return _detail_from_ofpflow(flow)
    except Exception as exc:  # python-ovs raises ParseError, ValueError, KeyError...
        log.debug("OFPFlow could not parse %r: %s", flow.key, exc)
    try:
        return _detail_from_regexes(flow)
    except Exception as exc:  # the promise is "never raises", even if a regex is wrong
        log.warning("could not read flow %r: %s", flow.key, exc)
        return FlowDetail(partial=True)


def _ofpflow(flow: Flow):
    """python-ovs's parse of ``flow``, and the quoted names it holds as printed.

    The one call of ``OFPFlow``, behind its guards; raises when it refuses.
    """
    # OFPFlow splits on spaces, commas and "actions=", so port names (which
    # may hold any of them) go in as "#N" placeholders and come back after.
    printed: list[str] = []

    def hide(m: re.Match) -> str:
        printed.append(m.group())
        return f'"#{len(printed) - 1}"'

    match = QUOTED.sub(hide, flow.match)
    actions = QUOTED.sub(hide, flow.actions)
    if not (match + actions).isprintable():
        # python-ovs 3.1's KVParser loops forever on a tab or carriage return
        # and stops at a newline; ovs-ofctl never prints them outside quotes.
        raise ValueError("control character outside a quoted name")
    # Priority always goes in, so the match section is never empty (OFPFlow
    # cannot split an empty match from the info section).
    sep = "," if match else ""
    from ovs.flow.ofp import OFPFlow  # here, not at the top: 55 ms off the TUI's start

    text = f"table={flow.table} priority={flow.priority}{sep}{match} actions={actions}"
    return OFPFlow(text), printed


def _hidden(value: object, printed: list[str]) -> str | None:
    """The quoted name a placeholder stands for, as printed; None for anything else."""
    found = _PLACEHOLDER.fullmatch(str(value))
    if found and int(found.group(1)) < len(printed):
        return printed[int(found.group(1))]
    return None


def flow_fields(flow: Flow) -> tuple[list[tuple[str, object]], list[tuple[str, object]]] | None:
    """(match, actions) as python-ovs's key/value pairs, port names whole (quoted as
    printed in the match, plain in the actions); None when it refuses the flow
    (then show the text). Never raises."""
    try:
        parsed, printed = _ofpflow(flow)

        def named(value: object, as_printed: bool) -> object:
            # python-ovs keeps a match's quotes and drops an action's: so do we
            if isinstance(value, str):
                hidden = _hidden(value, printed)
                if hidden is None:
                    return value
                return hidden if as_printed else printed_name(hidden)
            if isinstance(value, dict):
                return {k: named(v, as_printed) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [named(v, as_printed) for v in value]
            return value

        match = [(kv.key, named(kv.meta.vstring if kv.key == "in_port" else kv.value, True))
                 for kv in parsed.match_kv if kv.key != "priority"]
        return match, [(kv.key, named(kv.value, False)) for kv in parsed.actions_kv]
    except Exception as exc:  # python-ovs raises ParseError, ValueError, KeyError...
        log.debug("OFPFlow could not parse %r: %s", flow.key, exc)
        return None


def _detail_from_ofpflow(flow: Flow) -> FlowDetail:
    parsed, printed = _ofpflow(flow)

    def port(value: object) -> str:
        hidden = _hidden(value, printed)
        if hidden is not None:
            return printed_name(hidden)
        text = str(value)
        upper = text.upper()
        return upper if upper in _RESERVED_PORTS else printed_name(text)
    detail: dict = {}
    regs: dict[str, int] = {}
    for kv in parsed.match_kv:
        key, value = kv.key, kv.value
        if key == "in_port":
            detail["in_port"] = port(kv.meta.vstring)
        elif key == "dl_vlan":
            detail["dl_vlan"] = int(value)
        elif key in ("vlan_tci", "vlan_vid"):
            if value.mask & _VLAN_PRESENT and not value.value & _VLAN_PRESENT:
                detail["untagged"] = True
            elif value.value & _VLAN_PRESENT and value.mask & 0xFFF == 0xFFF:
                detail["dl_vlan"] = value.value & 0xFFF
            elif value.mask & 0xFFF == 0xFFF and value.value & 0xFFF:
                # the VID bits alone (br-tun's learned flows, NXM_OF_VLAN_TCI[0..11]):
                # a VID other than 0 is only on a tagged frame
                detail["dl_vlan"] = value.value & 0xFFF
        elif key in ("dl_src", "eth_src"):
            detail["dl_src"] = kv.meta.vstring
        elif key in ("dl_dst", "eth_dst"):
            detail["dl_dst"] = kv.meta.vstring
        elif _REG_MATCH.fullmatch(key):
            regs[key] = value.value
        elif key == "metadata":
            detail["metadata"] = value.value

    outputs: list[str] = []
    resubmits: list[int] = []
    loads: dict[str, int] = {}
    for kv in parsed.actions_kv:
        key, value = kv.key.lower(), kv.value
        if key == "output":
            target = port(value["port"])
            if target == "NORMAL":
                detail["normal"] = True
            else:
                outputs.append(target)
        elif key == "controller":
            outputs.append("CONTROLLER")
        elif key == "drop":
            detail["drop"] = True
        elif key in ("strip_vlan", "pop_vlan"):
            detail["strip_vlan"] = True
        elif key == "push_vlan":
            detail["push_vlan"] = True
        elif key in ("mod_vlan_vid", "set_vlan_vid"):
            detail["set_vlan"] = int(value)
        elif key == "set_field":
            dst = value["dst"]["field"]
            if dst not in ("vlan_vid", "dl_vlan", "metadata") and not _REG_MATCH.fullmatch(dst):
                continue  # e.g. set_field:<MAC>->eth_src (OF1.3 mod_dl_src): not a number
            (written,) = value["value"].values()
            number = written.value if hasattr(written, "value") else int(written)
            if dst == "vlan_vid":
                detail["set_vlan"] = number & 0xFFF  # drops the "present" bit
            elif dst == "dl_vlan":
                detail["set_vlan"] = number
            elif _REG_MATCH.fullmatch(dst):
                loads[dst] = number
            elif dst == "metadata":
                detail["load_metadata"] = number
        elif key == "load" and "value" in value:
            dst = value["dst"]
            reg = _REG_NXM.fullmatch(dst["field"])
            start = dst.get("start", 0)
            if reg and start < 32:  # registers are 32 bits wide
                name = f"reg{reg.group(1)}"
                loads[name] = loads.get(name, 0) | value["value"] << start
            elif dst["field"] == "NXM_OF_VLAN_TCI" and not dst.get("start") and not value["value"]:
                detail["strip_vlan"] = True  # a TCI of 0 is no VLAN (br-tun's learned flows)
            elif dst["field"] in ("OXM_OF_VLAN_VID", "NXM_OF_VLAN_TCI") and not dst.get("start"):
                detail["set_vlan"] = value["value"] & 0xFFF
            elif dst["field"] == "OXM_OF_METADATA" and not dst.get("start"):
                detail["load_metadata"] = value["value"]
        elif key == "resubmit" and isinstance(value.get("table"), int):
            resubmits.append(value["table"])
        elif key == "goto_table":
            resubmits.append(int(value))
        elif key == "ct" and isinstance(value, dict) and isinstance(value.get("table"), int):
            # ct(table=N) carries on in table N once conntrack has run.
            resubmits.append(value["table"])
    if not parsed.actions_kv:
        detail["drop"] = True
    return FlowDetail(
        regs=frozen_map(regs), loads=frozen_map(loads), outputs=tuple(outputs),
        resubmits=tuple(resubmits), **detail,
    )


# The regex fallback: just what VLAN translation and the firewall's port
# registers need, read straight from the printed text.
_NAME = r'("(?:[^"\\]|\\.)*"|[^,\s]+)'
_RX_IN_PORT = re.compile(r"(?:^|,)in_port=" + _NAME)
_RX_DL_VLAN = re.compile(r"(?:^|,)dl_vlan=([0-9]{1,4})(?:,|$)")
_RX_UNTAGGED = re.compile(r"(?:^|,)vlan_tci=0x0000(?:/0x1fff|/0x1000)?(?:,|$)")
_RX_DL_SRC = re.compile(r"(?:^|,)dl_src=([0-9a-f:/]+)")
_RX_DL_DST = re.compile(r"(?:^|,)dl_dst=([0-9a-f:/]+)")
_RX_REG = re.compile(r"(?:^|,)reg([0-9]|1[0-5])=(0x[0-9a-f]{1,8}|[0-9]{1,10})")
_RX_SET_VLAN = re.compile(
    r"(?:mod_vlan_vid|set_vlan_vid):([0-9]{1,4})|set_field:(0x[0-9a-f]{1,4}|[0-9]{1,5})->vlan_vid"
)
_RX_OUTPUT = re.compile(r"(?:^|,)output:" + _NAME)
_RX_TABLE = re.compile(r"resubmit\([^,()]*,([0-9]{1,3})|goto_table:([0-9]{1,3})")
_RX_LOAD = re.compile(
    r"load:(0x[0-9a-f]{1,8}|[0-9]{1,10})->NXM_NX_REG([0-9]|1[0-5])\[\]"
    r"|set_field:(0x[0-9a-f]{1,8}|[0-9]{1,10})->reg([0-9]|1[0-5])(?:,|$)"
)
_RX_METADATA = re.compile(r"(?:^|,)metadata=(0x[0-9a-f]{1,16}|[0-9]{1,20})(?:,|$)")
_RX_LOAD_METADATA = re.compile(
    r"load:(0x[0-9a-f]{1,16}|[0-9]{1,20})->OXM_OF_METADATA\[\]"
    r"|set_field:(0x[0-9a-f]{1,16}|[0-9]{1,20})->metadata(?:,|$)")
_RX_WORD = re.compile(r"(?:^|,)(drop|NORMAL|strip_vlan|pop_vlan|push_vlan)(?:[:,]|$)")


def _number(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def _detail_from_regexes(flow: Flow) -> FlowDetail:
    m, a = flow.match, flow.actions
    in_port = _RX_IN_PORT.search(m)
    dl_vlan = _RX_DL_VLAN.search(m)
    dl_src = _RX_DL_SRC.search(m)
    dl_dst = _RX_DL_DST.search(m)
    set_vlan = None
    for found in _RX_SET_VLAN.finditer(a):
        set_vlan = int(found.group(1)) if found.group(1) else _number(found.group(2)) & 0xFFF
    loads = {}
    for found in _RX_LOAD.finditer(a):
        value, reg = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
        loads[f"reg{reg}"] = _number(value)
    words = {found.group(1) for found in _RX_WORD.finditer(a)}
    metadata = _RX_METADATA.search(m)
    load_metadata = None
    for found in _RX_LOAD_METADATA.finditer(a):
        load_metadata = _number(found.group(1) or found.group(2))
    outputs = [printed_name(o) for o in _RX_OUTPUT.findall(a)]
    return FlowDetail(
        in_port=printed_name(in_port.group(1)) if in_port else None,
        dl_vlan=int(dl_vlan.group(1)) if dl_vlan else None,
        untagged=_RX_UNTAGGED.search(m) is not None,
        dl_src=dl_src.group(1) if dl_src else None,
        dl_dst=dl_dst.group(1) if dl_dst else None,
        regs=frozen_map({f"reg{r}": _number(v) for r, v in _RX_REG.findall(m)}),
        set_vlan=set_vlan,
        strip_vlan=bool(words & {"strip_vlan", "pop_vlan"}),
        push_vlan="push_vlan" in words,
        outputs=tuple(o for o in outputs if o != "NORMAL"),
        resubmits=tuple(int(r or g) for r, g in _RX_TABLE.findall(a)),
        loads=frozen_map(loads),
        metadata=_number(metadata.group(1)) if metadata else None,
        load_metadata=load_metadata,
        drop="drop" in words or not a,
        normal="NORMAL" in words or "NORMAL" in outputs,
        partial=True,
    )
