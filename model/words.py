"""The sentences an operator reads about a VLAN and an instance, written once
for the TUI, ``snapshot`` and the problem texts, so every view words the same
fact the same way."""

from __future__ import annotations

from model.neutron import DEAD_VLAN, TUNNEL_NETWORKS
from model.records import Domain

FLAT = "flat (untagged)"
DEAD = f"local VLAN {DEAD_VLAN} (dead): its traffic is dropped"
SYNTHETIC_VNIC = "libvirt test driver: synthetic counters (from the clock, not traffic)"


def provider_side(network_type: str | None, segmentation_id: int | None) -> str:
    """What a local VLAN becomes on the wire: 'provider VLAN 100', 'flat (untagged)',
    'vxlan VNI 1001'."""
    if network_type == "flat":
        return FLAT
    if network_type in TUNNEL_NETWORKS:
        return f"{network_type} VNI {segmentation_id if segmentation_id is not None else '?'}"
    return f"provider VLAN {segmentation_id if segmentation_id is not None else '?'}"


def provider_network(segmentation_id: int | None) -> str:
    """The provider network in a sentence: 'provider VLAN 100', 'the untagged provider network'."""
    if segmentation_id is None:
        return "the untagged provider network"
    return f"provider VLAN {segmentation_id}"


def vlan_pair(local_vlan: int | None, network_type: str | None,
              segmentation_id: int | None, datapath: int | None = None) -> str:
    """'local VLAN 2 <-> provider VLAN 100', 'local VLAN 1 <-> flat (untagged)';
    on OVN, where a network has no local VLAN: 'OVN datapath 1 <-> provider VLAN 100'."""
    if local_vlan is None and datapath is None:
        return "no local VLAN"
    where = f"local VLAN {local_vlan}" if local_vlan is not None else f"OVN datapath {datapath}"
    return f"{where} <-> {provider_side(network_type, segmentation_id)}"


def display_name(domain: Domain) -> str:
    """The name an operator knows an instance by: Nova's, else libvirt's."""
    return domain.nova_name or domain.name
