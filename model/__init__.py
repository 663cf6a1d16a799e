"""The pure picture of a node: records, the join, problems, flow scopes,
Neutron facts and the JSON contract. No I/O, no UI: everything here is
unit-tested on saved outputs."""
