"""Reading saved ``ip -d link show`` output (offline input, and the seed)."""

from __future__ import annotations

from pathlib import Path

from collectors.netlink import parse_ip_link_detail
from model.records import Link

SEED = Path(__file__).parent.parent / "fixtures" / "seed" / "ip-d-link-show.txt"

# `ip -s -d link show` in a private namespace here (iproute2 6.1), long tails cut.
NAMESPACE_DUMP = """\
1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0  allmulti 0 minmtu 0 maxmtu 0 addrgenmode eui64 numtxqueues 1 numrxqueues 1
    RX:  bytes packets errors dropped  missed   mcast
             0       0      0       0       0       0
    TX:  bytes packets errors dropped carrier collsns
             0       0      0       0       0       0
2: vb@va: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue master br0 state DOWN mode DEFAULT group default qlen 1000
    link/ether e2:e8:a9:03:c1:eb brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535
    veth
    bridge_slave state disabled
    RX:  bytes packets errors dropped  missed   mcast
           866      11      0       0       0       0
    TX:  bytes packets errors dropped carrier collsns
           936      12      0       0       0       0
3: va@vb: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 1000
    link/ether 6a:e5:d6:e4:55:ea brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535
    veth addrgenmode eui64 numtxqueues 2 numrxqueues 2
    RX:  bytes packets errors dropped  missed   mcast
           936      12      0       3       0       0
    TX:  bytes packets errors dropped carrier collsns
           866      11      1       0       0       0
6: br0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000
    link/ether e2:e8:a9:03:c1:eb brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535
    bridge forward_delay 1500 addrgenmode eui64 numtxqueues 1 numrxqueues 1
"""


def test_seed_tap_is_a_tun_device_on_the_ovs_datapath():
    assert parse_ip_link_detail(SEED.read_text()) == (
        Link(index=8, ifname="tap2d1670a4-8e", operstate="UNKNOWN", master="ovs-system",
             kind="tun", mtu=1500, mac="fe:16:3e:bc:78:a8"),
    )


def test_every_link_of_a_dump_with_its_kind_master_and_state():
    links = {link.ifname: link for link in parse_ip_link_detail(NAMESPACE_DUMP)}
    assert list(links) == ["lo", "vb", "va", "br0"]
    # "vb@va" names the peer; the link itself is "vb".
    assert (links["vb"].kind, links["vb"].master, links["vb"].operstate) == ("veth", "br0", "DOWN")
    assert (links["va"].kind, links["va"].master, links["va"].operstate) == (
        "veth", None, "LOWERLAYERDOWN")
    assert links["br0"].kind == "bridge"
    # The loopback has no kind of its own: its details share the link/ line.
    assert (links["lo"].kind, links["lo"].mac, links["lo"].mtu) == (None, "00:00:00:00:00:00", 65536)


def test_counters_from_ip_s_are_read_and_absent_ones_stay_zero():
    links = {link.ifname: link for link in parse_ip_link_detail(NAMESPACE_DUMP)}
    va = links["va"]
    assert (va.rx_bytes, va.rx_packets, va.rx_errors, va.rx_dropped) == (936, 12, 0, 3)
    assert (va.tx_bytes, va.tx_packets, va.tx_errors, va.tx_dropped) == (866, 11, 1, 0)
    assert (links["br0"].rx_packets, links["br0"].tx_bytes) == (0, 0)


def test_slave_info_is_not_mistaken_for_a_kind():
    # A physical NIC on OVS: no kind of its own, only its role under the master.
    text = """\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq master ovs-system state UP mode DEFAULT group default qlen 1000
    link/ether 00:15:5d:bf:ba:42 brd ff:ff:ff:ff:ff:ff promiscuity 1 minmtu 68 maxmtu 9000
    openvswitch_slave addrgenmode none numtxqueues 4 numrxqueues 4
"""
    (eth0,) = parse_ip_link_detail(text)
    assert (eth0.ifname, eth0.kind, eth0.master, eth0.operstate) == ("eth0", None, "ovs-system", "UP")


def test_a_link_without_a_hardware_address_has_no_mac():
    text = """\
9: tun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UNKNOWN mode DEFAULT group default qlen 500
    link/none  promiscuity 0 minmtu 68 maxmtu 65535
    tun type tun pi off vnet_hdr off persist off addrgenmode random numtxqueues 1
"""
    (tun0,) = parse_ip_link_detail(text)
    assert (tun0.mac, tun0.kind) == (None, "tun")


def test_text_around_the_dump_is_ignored():
    text = "$ ip -d link show\n(...)\n\n" + SEED.read_text() + "\nsome trailing note\n"
    assert [link.ifname for link in parse_ip_link_detail(text)] == ["tap2d1670a4-8e"]
    assert parse_ip_link_detail("") == ()
