"""The Neutron OVS agent's flows on the lab's bridges, as text for ``ovs-ofctl add-flows``.

br-provider gets the egress VLAN translation (local -> provider), br-int the
ingress one (provider -> local) and the openvswitch firewall's tables.
"""

from __future__ import annotations

from lab.topology import AGENT_COOKIE, INT_COOKIE, STALE_COOKIE, TUNNEL_COOKIE


def egress_translation(local: int, segmentation_id: int) -> str:
    """br-provider: a frame from br-int on local VLAN ``local`` leaves tagged ``segmentation_id``."""
    return (f"cookie={AGENT_COOKIE},table=0,priority=4,in_port=phy-br-provider,"
            f"dl_vlan={local} actions=mod_vlan_vid:{segmentation_id},NORMAL")


def ingress_translation(local: int, segmentation_id: int) -> str:
    """br-int: a frame from the provider network tagged ``segmentation_id`` gets local VLAN ``local``."""
    return (f"cookie={INT_COOKIE},table=0,priority=3,in_port=int-br-provider,"
            f"dl_vlan={segmentation_id} actions=mod_vlan_vid:{local},resubmit(,59)")


def provider_flows() -> str:
    """br-provider: VLAN 1 leaves untagged (flat), VLAN 2 as provider VLAN 100."""
    c = AGENT_COOKIE
    return "\n".join([
        f"cookie={c},table=0,priority=4,in_port=phy-br-provider,dl_vlan=1 actions=strip_vlan,NORMAL",
        egress_translation(2, 100),
        f"cookie={c},table=0,priority=2,in_port=phy-br-provider actions=drop",
        f"cookie={c},table=0,priority=0 actions=NORMAL",
    ]) + "\n"


# br-int's default pipeline: canary and spoofing defaults, rate limit, then NORMAL
_SWITCHING = (
    "table=0,priority=0 actions=resubmit(,59)",
    "table=23,priority=0 actions=drop",
    "table=24,priority=0 actions=drop",
    "table=59,priority=0 actions=resubmit(,60)",
    "table=60,priority=3 actions=NORMAL",
)


def integration_flows() -> str:
    """br-int as the Neutron OVS agent with the openvswitch firewall leaves it.

    The per-port flows of tap2d1670a4-8e are the seed's (tables 60-82); the
    pipeline around them (table 0 switching, 23/24 defaults, 59, 72-94) is
    the agent's usual one, so a ping from instance01 crosses it for real.
    """
    c, s = INT_COOKIE, STALE_COOKIE
    tap, mac, ip = "tap2d1670a4-8e", "fa:16:3e:bc:78:a8", "192.168.100.30"
    lla = "fe80::f816:3eff:febc:78a8"
    flows = [
        # table 0: local switching and the VLAN translation (provider -> local)
        "table=0,priority=65535,vlan_tci=0x0fff/0x1fff actions=drop",
        "table=0,priority=3,in_port=int-br-provider,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:1,resubmit(,59)",
        ingress_translation(2, 100),
        "table=0,priority=2,in_port=int-br-provider actions=drop",
        *_SWITCHING,
        # the seed's firewall flows for tap2d1670a4-8e (ofport 3, zone 2)
        f"table=60,priority=100,in_port={tap} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],resubmit(,71)",
        f"table=60,priority=90,dl_vlan=100,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],strip_vlan,resubmit(,81)",
        f"table=60,priority=90,dl_vlan=2,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],strip_vlan,resubmit(,81)",
        f"table=71,priority=95,arp,reg5=0x3,in_port={tap},dl_src={mac},arp_spa={ip} actions=resubmit(,94)",
        f"table=71,priority=65,ip,reg5=0x3,in_port={tap},dl_src={mac},nw_src={ip} actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=130 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=133 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},icmp_type=135 actions=resubmit(,94)",
        f"table=71,priority=95,icmp6,reg5=0x3,in_port={tap},icmp_type=136,nd_target={lla} actions=resubmit(,94)",
        f"table=71,priority=80,udp,reg5=0x3,in_port={tap},dl_src={mac},nw_src={ip},tp_src=68,tp_dst=67 actions=resubmit(,73)",
        f"table=71,priority=80,udp,reg5=0x3,in_port={tap},dl_src={mac},nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=resubmit(,73)",
        f"table=71,priority=80,udp6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla},tp_src=546,tp_dst=547 actions=resubmit(,73)",
        f"table=71,priority=70,udp,reg5=0x3,in_port={tap},tp_src=67,tp_dst=68 actions=resubmit(,93)",
        f"table=71,priority=70,udp6,reg5=0x3,in_port={tap},tp_src=547,tp_dst=546 actions=resubmit(,93)",
        f"table=71,priority=70,icmp6,reg5=0x3,in_port={tap},icmp_type=134 actions=resubmit(,93)",
        f"table=71,priority=65,ipv6,reg5=0x3,in_port={tap},dl_src={mac},ipv6_src={lla} actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
        f"table=71,priority=10,reg5=0x3,in_port={tap} actions=ct_clear,resubmit(,93)",
        # egress rules of the default security group: allow all egress
        "table=72,priority=74,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+new-est,ip,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=74,ct_state=+new-est,ipv6,reg5=0x3 actions=resubmit(,73)",
        "table=72,priority=50,ct_state=+inv+trk actions=resubmit(,93)",
        "table=72,priority=50,ct_state=+est-rel+rpl,ct_zone=2,ct_mark=0,reg5=0x3 actions=resubmit(,94)",
        "table=72,priority=50,ct_state=-new-est+rel-inv,ct_zone=2,ct_mark=0,reg5=0x3 actions=resubmit(,94)",
        "table=72,priority=40,ct_state=-est,reg5=0x3 actions=resubmit(,93)",
        "table=72,priority=0 actions=drop",
        f"table=73,priority=100,reg6=0x2,dl_dst={mac} actions=load:0x3->NXM_NX_REG5[],resubmit(,81)",
        "table=73,priority=90,ct_state=+new-est,ip,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
        "table=73,priority=90,ct_state=+new-est,ipv6,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
        "table=73,priority=80,reg5=0x3 actions=resubmit(,94)",
        "table=73,priority=0 actions=drop",
        # ingress
        f"table=81,priority=100,arp,reg5=0x3 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=130 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=135 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=136 actions=output:{tap}",
        f"table=81,priority=100,icmp6,reg5=0x3,icmp_type=134 actions=output:{tap}",
        f"table=81,priority=95,udp,reg5=0x3,tp_src=67,tp_dst=68 actions=output:{tap}",
        f"table=81,priority=95,udp6,reg5=0x3,tp_src=547,tp_dst=546 actions=output:{tap}",
        "table=81,priority=90,ct_state=-trk,ip,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])",
        "table=81,priority=90,ct_state=-trk,ipv6,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])",
        "table=81,priority=80,ct_state=+trk,reg5=0x3 actions=resubmit(,82)",
        "table=81,priority=0 actions=drop",
        f"table=82,priority=77,ct_state=+est-rel-rpl,tcp,reg5=0x3,tp_dst=22 actions=output:{tap}",
        f"table=82,priority=77,ct_state=+new-est,tcp,reg5=0x3,tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=75,ct_state=+est-rel-rpl,icmp,reg5=0x3 actions=output:{tap}",
        f"table=82,priority=75,ct_state=+new-est,icmp,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=70,conj_id=16,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=load:0x10->NXM_NX_REG7[],output:{tap}",
        f"table=82,priority=70,conj_id=24,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=load:0x18->NXM_NX_REG7[],output:{tap}",
        f"table=82,priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=load:0x11->NXM_NX_REG7[],ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"table=82,priority=70,conj_id=25,ct_state=+new-est,ipv6,reg5=0x3 actions=load:0x19->NXM_NX_REG7[],ct(commit,zone=NXM_NX_REG6[0..15]),output:{tap},resubmit(,92)",
        f"cookie={s},table=82,priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src={ip} actions=conjunction(16,1/2)",
        f"table=82,priority=70,ct_state=+est-rel-rpl,ip,reg6=0x2,nw_src={ip} actions=conjunction(16,1/2)",
        f"cookie={s},table=82,priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src={ip} actions=conjunction(17,1/2)",
        f"table=82,priority=70,ct_state=+new-est,ip,reg6=0x2,nw_src={ip} actions=conjunction(17,1/2)",
        f"table=82,priority=50,ct_state=+est-rel+rpl,ct_zone=2,ct_mark=0,reg5=0x3 actions=output:{tap}",
        f"table=82,priority=50,ct_state=-new-est+rel-inv,ct_zone=2,ct_mark=0,reg5=0x3 actions=output:{tap}",
        "table=82,priority=0 actions=drop",
        # accepted / dropped
        "table=91,priority=1 actions=resubmit(,94)",
        "table=92,priority=0 actions=drop",
        "table=93,priority=0 actions=drop",
        "table=94,priority=1 actions=NORMAL",
    ]
    return "\n".join(f if f.startswith("cookie=") else f"cookie={c},{f}" for f in flows) + "\n"


def agent_flows() -> dict[str, str]:
    """Each bridge's flows, as the agent installs them."""
    return {"br-provider": provider_flows(), "br-int": integration_flows()}


def tunnel_flows(tunnel_port: str, local_vlan: int, vni: int) -> str:
    """br-tun as the agent's ovs-ofctl driver sets it up (neutron br_tun.py
    setup_default_table, provision_local_vlan, install_flood_to_tun; no l2pop,
    so unicast to tunnels is learned in table 20 from table 10): 0 sorts by
    in_port, 2 splits unicast (20) from flood (22), 4 turns the VNI into the
    local VLAN, 22 the local VLAN into the VNI out of the tunnel."""
    learn = (f"learn(cookie={TUNNEL_COOKIE},table=20,priority=1,hard_timeout=300,"
             "NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
             "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[])")
    flows = [
        "table=0,priority=1,in_port=patch-int actions=resubmit(,2)",
        f"table=0,priority=1,in_port={tunnel_port} actions=resubmit(,4)",
        "table=0,priority=0 actions=drop",
        "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
        "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)",
        "table=3,priority=0 actions=drop",
        f"table=4,priority=1,tun_id={vni:#x} actions=mod_vlan_vid:{local_vlan},resubmit(,10)",
        "table=4,priority=0 actions=drop",
        "table=6,priority=0 actions=drop",
        f"table=10,priority=1 actions={learn},output:patch-int",
        "table=20,priority=0 actions=resubmit(,22)",
        f"table=22,priority=1,dl_vlan={local_vlan} actions=strip_vlan,"
        f"load:{vni:#x}->NXM_NX_TUN_ID[],output:{tunnel_port}",
        "table=22,priority=0 actions=drop",
    ]
    return "\n".join(f"cookie={TUNNEL_COOKIE},{f}" for f in flows) + "\n"


def plain_integration_flows() -> str:
    """br-int of the second node: the agent's table 0 and NORMAL switching
    (its one instance has no security group rules worth showing)."""
    flows = ["table=0,priority=65535,vlan_tci=0x0fff/0x1fff actions=drop", *_SWITCHING]
    return "\n".join(f"cookie={INT_COOKIE},{f}" for f in flows) + "\n"
