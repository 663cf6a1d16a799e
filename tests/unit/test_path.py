"""A vNIC's path names the hops its packets really cross, on nodes others ran
(tests/fixtures/real: the seed author's VXLAN compute node; the seed's VLAN node)."""

from __future__ import annotations

from model import path as pathmod
from tests.unit.test_real_nodes import study_notes_node


def test_a_vxlan_vnic_leaves_through_br_tun_and_its_tunnel_port_with_remote_ip_and_vni():
    model = study_notes_node()
    (inst,) = model.instances
    (vv,) = inst.vnics
    title, hops = pathmod.path_of(model, vv.port.name)
    assert [h.key for h in hops] == ["vnic", "tap", "port", "firewall", "patch", "translation",
                                     "tunnel", "wire"]
    by_key = {h.key: h for h in hops}
    assert by_key["translation"].label == "br-tun, VLAN 3 -> VNI 239"
    assert by_key["tunnel"].label == "vxlan-ac10000b"
    assert by_key["tunnel"].detail == "remote 172.16.0.11, VNI 239"
    assert by_key["patch"].shared and by_key["tunnel"].shared
    # the counters each hop reads: the br-tun translation flows (tables 22 and 4), and
    # out also the flow br-tun learned for the far MAC (table 20): unicast takes it, not 22
    (flood, learned), (in_id,) = by_key["translation"].out_ids, by_key["translation"].in_ids
    assert (flood[1][0], flood[1][1], in_id[1][0], in_id[1][1]) == ("br-tun", 22, "br-tun", 4)
    assert learned[1][:4] == ("br-tun", 20, 1, "vlan_tci=0x0003/0x0fff,dl_dst=fa:16:3e:e9:26:5b")


def test_one_reading_gives_no_rates_and_marks_no_hop():
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    title, hops = pathmod.path_of(model, vv.port.name)
    reading = pathmod.read(model, pathmod.counter_ids(hops))
    path = pathmod.measure(title, hops, reading, reading, 0.0)
    assert path.stops == ()
    assert all(h.out_pps is None and h.in_pps is None for h in path.hops)


def test_an_idle_vnic_is_never_marked_even_when_shared_hops_move():
    """Synthetic counters (two readings of the real node's ids, only the shared
    hops advanced): other VLANs' traffic on the patch and tunnel says nothing."""
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    title, hops = pathmod.path_of(model, vv.port.name)
    then = {i: 0 for i in pathmod.counter_ids(hops)}
    now = dict(then)
    for h in hops:
        if h.shared:
            for i in h.out_ids + h.in_ids:
                now[i] = 500
    path = pathmod.measure(title, hops, then, now, 5.0)
    assert path.stops == ()


def test_one_reading_of_a_real_node_lists_its_drop_flows_by_total_naming_the_port():
    """The seed author's VXLAN compute node: br-mgmt's untranslated traffic is the
    biggest drop, counted on both sides of its patch pair."""
    from model import drops

    ranked = drops.rank(drops.counters(study_notes_node()))
    flows = [(d.counter.flow.bridge, d.counter.flow.priority, d.counter.subject,
              d.counter.total) for d in ranked if d.counter.source == "flow"]
    assert flows[:2] == [("br-mgmt", 2, "phy-br-mgmt", 372), ("br-int", 2, "int-br-mgmt", 274)]
    assert all(d.rate is None for d in ranked)  # one reading: totals, no rate


def _measured(model, port: str, moving: set[str], seconds: float = 5.0):
    """Synthetic counters over the real node's hops: the hops in ``moving`` each
    way advanced 25 packets, every other counter (drops too) still."""
    title, hops = pathmod.path_of(model, port)
    then = {i: 0 for i in pathmod.counter_ids(hops)}
    now = dict(then)
    for h in hops:
        if h.key in moving:
            for i in h.out_ids + h.in_ids:
                now[i] = 25
    return pathmod.measure(title, hops, then, now, seconds)


def test_a_vnic_talking_to_a_neighbour_on_the_node_is_not_a_stop_at_the_patch():
    """Its port and firewall move, the patch and the translation do not: the
    packets went to another vNIC on br-int, and no flow says they died."""
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    path = _measured(model, vv.port.name, {"tap", "port", "firewall"})
    assert path.stops == ()


def test_the_network_moving_while_this_vnic_is_still_is_traffic_for_another_vnic():
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    path = _measured(model, vv.port.name, {"translation", "patch", "tunnel"})
    assert path.stops == ()


def test_a_vnics_own_counters_disagreeing_is_a_stop_even_without_a_drop_flow():
    """Its port receives from the tap but its firewall flows see nothing."""
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    path = _measured(model, vv.port.name, {"tap", "port"})
    [stop] = [s for s in path.stops if s.direction == "out"]
    assert path.hops[stop.hop].spec.key == "firewall"


def test_the_libvirt_test_drivers_synthetic_vnic_counters_are_neither_traffic_nor_drops():
    """libvirt's test:/// driver counts from the clock: its vNIC packets must not
    move a path hop and its vNIC drops must not rank as drops (the lab runs on it)."""
    from dataclasses import replace

    from model import drops
    from model.records import VnicStats

    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    tap = vv.vnic.target
    fake = VnicStats(model.instances[0].domain.uuid, tap, rx_packets=10**9, rx_bytes=0,
                     tx_packets=10**9, tx_bytes=0, rx_drop=500, tx_drop=500, synthetic=True)
    model = replace(model, vnic_stats={tap: fake})
    title, hops = pathmod.path_of(model, vv.port.name)
    reading = pathmod.read(model, pathmod.counter_ids(hops))
    assert not [cid for cid in reading if cid[0] == "vnic"]
    assert not [d for d in drops.counters(model) if d.id[0] == "vnic"]
    real = replace(fake, synthetic=False)
    assert [d.id[0] for d in drops.counters(replace(model, vnic_stats={tap: real}))
            ].count("vnic") == 2


def _firewall_reinstalled(then_count: int, now_count: int, moved_install_s: float):
    """The real node's hops with its port moving 25 packets; each firewall flow
    counting ``then_count`` then ``now_count``, installed ``moved_install_s`` later
    at the second reading (synthetic counters)."""
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    title, hops = pathmod.path_of(model, vv.port.name)
    then = {i: 0 for i in pathmod.counter_ids(hops)}
    now = dict(then)
    for h in hops:
        for i in h.out_ids + h.in_ids:
            if h.key in ("tap", "port"):
                now[i] = 25
            elif h.key == "firewall":
                then[i], now[i] = then_count, now_count
                then[("installed", i[1])] = 100.0
                now[("installed", i[1])] = 100.0 + moved_install_s
    return pathmod.measure(title, hops, then, now, 5.0)


def test_a_firewall_flow_installed_again_in_the_window_is_unknown_not_a_stop():
    """ovn-controller or the agent replaces a flow with the same match and cookie:
    its counters start over. Counting back to 0 as "still" would say the packets
    die at the firewall while they pass."""
    for then_count, now_count in ((40, 3), (0, 0)):
        path = _firewall_reinstalled(then_count, now_count, moved_install_s=10.0)
        firewall = next(h for h in path.hops if h.spec.key == "firewall")
        assert firewall.out_pps is None and firewall.in_pps is None
        assert path.stops == ()


def test_a_firewall_flow_still_while_its_port_moves_is_still_a_stop():
    """The same flow, not installed again (its install time read 1.2 s apart, as a
    long dump's start and end can be): the stop is said."""
    path = _firewall_reinstalled(40, 40, moved_install_s=1.2)
    [stop] = [s for s in path.stops if s.direction == "out"]
    assert path.hops[stop.hop].spec.key == "firewall"


def test_a_reading_keeps_each_flows_install_time():
    model = study_notes_node()
    (vv,) = model.instances[0].vnics
    _, hops = pathmod.path_of(model, vv.port.name)
    ids = pathmod.counter_ids(hops)
    flows = {f.key: f for d in model.flows.values() for f in d.flows}
    reading = pathmod.read(model, ids)
    flow_ids = [i for i in ids if i[0] == "flow"]
    assert flow_ids
    for i in flow_ids:
        f = flows[i[1]]
        assert reading[("installed", i[1])] == f.seen_at - f.duration
