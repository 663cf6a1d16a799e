"""MAC learning (``fdb/show``) as an operator reads it: which MACs a NORMAL
bridge learned behind which port, on which VLAN, and how long ago; where
nothing was learned on a VLAN in use, that is said in plain words, since
"no MAC learned on VLAN 100 via eth0" is what an upstream switch that does
not carry VLAN 100 looks like from here."""

from __future__ import annotations

from rich.text import Text

from model.learning import learned_by_port, learned_on, learned_via

SHOWN = 6  # MACs listed per port and VLAN


def where(vlan: int) -> str:
    return f"VLAN {vlan}" if vlan else "untagged"


def not_learned(vlan: int, nic: str) -> str:
    """The one sentence for a NIC behind which nothing was learned on a VLAN in use."""
    return (f"no MAC learned on {where(vlan)} via {nic}: nothing came from the wire there "
            f"lately (does the upstream switch carry {where(vlan)}?)")


def macs(entries) -> str:
    """'fa:16:3e:..:.. (3 s ago), ...': the MACs and their ages, the first few."""
    return ", ".join(f"{e.mac} ({e.age if e.age is not None else '?'} s ago)"
                     for e in entries[:SHOWN]) + (
        f" and {len(entries) - SHOWN} more" if len(entries) > SHOWN else "")


def fdb_text(model, fdb, bridge: str, vlan: int, nics) -> Text:
    """The path's: which MACs the bridge learned on the provider VLAN behind each NIC."""
    t = Text()
    for nic in nics:
        seen = learned_on(fdb, model, bridge, vlan, nic)
        if seen:
            t.append(f"MACs learned on {bridge} {where(vlan)} via {nic}: ", style="bold")
            t.append(macs(seen))
        else:
            t.append(not_learned(vlan, nic), style="bold red")
        t.append("\n")
    return t


def vlan_fdb_text(model, fdb, bridge: str, vlan: int, nics) -> Text:
    """A network's: every port of its physical bridge behind which MACs were
    learned on its provider VLAN, and each NIC behind which none was."""
    t = Text(f"MAC learning on {bridge} {where(vlan)} (fdb/show):", style="bold")
    by_port = learned_by_port(fdb, model, bridge, vlan)
    for port, entries in sorted(by_port.items(), key=lambda kv: (kv[0] not in nics, kv[0])):
        t.append(f"\n  via {port}: ", style="bold")
        t.append(macs(entries))
    for nic in nics:
        if nic not in by_port:
            t.append("\n  " + not_learned(vlan, nic), style="bold red")
    return t


def nic_fdb_text(model, fdb, bridge: str, nic: str, in_use) -> Text:
    """A NIC's: the MACs learned behind it on each VLAN, the VLANs in use first,
    saying so for each VLAN in use with none."""
    t = Text(f"MAC learning via {nic} on {bridge} (fdb/show):", style="bold")
    by_vlan = learned_via(fdb, model, bridge, nic)
    for vlan in in_use:
        if by_vlan.get(vlan):
            t.append(f"\n  {where(vlan)}: ", style="bold")
            t.append(macs(by_vlan[vlan]))
        else:
            t.append("\n  " + not_learned(vlan, nic), style="bold red")
    for vlan in sorted(set(by_vlan) - set(in_use)):
        t.append(f"\n  {where(vlan)} (no network here uses it): ", style="bold")
        t.append(macs(by_vlan[vlan]))
    return t
