"""What ovn-controller's br-int tables and OVN's logical registers are, by release.

Read from OVN's own code: controller/lflow.h (OFTABLE_*) at each release tag
from v22.03.0 to v25.09.0, and include/ovn/logical-fields.h (MFF_LOG_*),
the same at v23.03.0 and main. Which release runs comes from the southbound
DB where it answers; which table holds "logical to physical" comes from the
flows (model/ovn.py), so a newer numbering gets no older name.
"""

from __future__ import annotations

from typing import Mapping

from model.views import NodeModel

# include/ovn/logical-fields.h (the same at v23.03.0 and main); metadata is the datapath
REGISTERS: Mapping[str, str] = {
    "reg10": "logical flags", "reg11": "DNAT zone", "reg12": "SNAT zone",
    "reg13": "conntrack zone", "reg14": "logical input port", "reg15": "logical output port",
}

# controller/lflow.h, read at each release tag from v22.03.0 to v25.09.0: the
# tables after the logical pipelines are the same in all of them (73-78 are
# new in 23.03; 22.x has no flows there to misname) ...
_HIGH_TABLES: Mapping[int, str] = {
    0: "physical to logical", 64: "save in_port", 65: "logical to physical",
    66: "MAC binding", 67: "MAC lookup", 68: "check LB hairpin", 69: "check LB hairpin reply",
    70: "CT SNAT hairpin", 71: "get FDB", 72: "lookup FDB", 73: "check in port security",
    74: "check in port security (ND)", 75: "check out port security", 76: "ECMP next-hop MAC",
    77: "ECMP next hop", 78: "check LB affinity",
}
# ... while the output tables between the pipelines move: (releases, {table: name},
# first table of the logical egress pipeline). Ingress always starts at 8.
_OUTPUT = ("output: large packet detect", "output: large packet process")
_MIDDLE_TABLES: tuple[tuple[tuple[str, ...], Mapping[int, str], int], ...] = (
    (("22.", "23.03"), {37: "remote output", 38: "local output", 39: "check loopback"}, 40),
    (("23.06",), {38: _OUTPUT[0], 39: _OUTPUT[1], 40: "remote output", 41: "local output",
                  42: "check loopback"}, 43),
    (("23.09", "24.03"), {37: _OUTPUT[0], 38: _OUTPUT[1], 39: "remote output",
                          40: "local output", 41: "check loopback"}, 42),
    (("24.09", "25.03"), {40: _OUTPUT[0], 41: _OUTPUT[1], 42: "remote output",
                          43: "local output", 44: "check loopback"}, 45),
    (("25.09",), {41: _OUTPUT[0], 42: _OUTPUT[1], 43: "remote output",
                  44: "remote VTEP output", 45: "local output", 46: "check loopback"}, 47),
)


def table_name(table: int, release: str | None = None) -> str:
    """ovn-controller's name for a br-int table of OVN 22.03-25.09, or "" where
    the table moved between releases and the running one is not known. The
    logical pipelines' tables are named by stage, the number ``ovn-sbctl
    lflow-list`` prints."""
    if table in _HIGH_TABLES:
        return _HIGH_TABLES[table]
    for releases, tables, egress in _MIDDLE_TABLES:
        if release is not None and release.startswith(releases):
            if table in tables:
                return tables[table]
            if 8 <= table < egress:
                return f"logical ingress {table - 8}"
            if egress <= table < 64:
                return f"logical egress {table - egress}"
    return ""


def br_int_table_name(model: NodeModel, bridge: str, table: int) -> str | None:
    """ovn-controller's name for a table of an OVN chassis' br-int; None for any
    other bridge or node (the Neutron agent's names apply there)."""
    if model.ovn is None or bridge != model.integration_bridge:
        return None
    return table_name_of(model, table)


def table_name_of(model: NodeModel, table: int) -> str:
    """A br-int table's name on this chassis: the egress table as found, else by release."""
    if model.ovn is None:
        return ""
    found = model.ovn.egress_tables
    if table in found:
        return "logical to physical"
    if found and 65 not in found:  # a release after 25.09 (89 on main): no names but those
        return "physical to logical" if table == 0 else ""
    sb = model.ovn.southbound
    return table_name(table, sb.version if sb else None)
