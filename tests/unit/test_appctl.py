"""ovs-appctl's reports read as an operator reads them, on outputs OVS itself printed
(tests/fixtures/appctl/README.md says where each comes from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import appctl

FIX = Path(__file__).parents[1] / "fixtures" / "appctl"


def text(name: str) -> str:
    return (FIX / name).read_text()


def test_a_trace_that_outputs_lists_each_lookup_and_the_datapath_actions():
    t = appctl.parse_trace(text("trace-tracing-output.txt"))
    assert t.unparsed == ()
    [p] = t.passes
    assert p.flow.startswith("tcp,in_port=3,")
    assert [(s.bridge, s.table, s.match, s.priority, s.actions) for s in p.steps] == [
        ("br0", 0, "ip,in_port=3,nw_src=192.0.2.0/24", 32768, ("resubmit(,2)",)),
        ("br0", 2, "tcp,tp_dst=22", 32768, ("output:1",)),
    ]
    assert t.datapath_actions == "1"
    assert p.megaflow == "recirc_id=0,tcp,in_port=3,nw_src=192.0.2.0/24,nw_frag=no,tp_dst=22"


def test_a_table_miss_is_a_step_without_a_flow_that_drops():
    t = appctl.parse_trace(text("trace-tracing-nomatch.txt"))
    last = t.steps[-1]
    assert (last.table, last.matched, last.drops, last.actions) == (2, False, True, ("drop",))
    assert t.datapath_actions == "drop"


def test_a_priority_only_flow_has_an_empty_match():
    t = appctl.parse_trace(text("trace-advanced-access-vlan.txt"))
    first, second = t.steps[:2]
    assert (first.match, first.priority) == ("", 0)
    assert second.actions == ("mod_vlan_vid:20", "resubmit(,2)")
    assert t.passes[0].final_flow.startswith("in_port=2,dl_vlan=20,")


def test_a_nested_resubmit_keeps_its_own_actions_and_the_parent_resumes_after_it():
    t = appctl.parse_trace(text("trace-advanced-learned.txt"))
    by_table = {s.table: s for s in t.steps}
    assert [s.table for s in t.steps] == [0, 1, 2, 3, 10, 4]
    assert by_table[10].depth == 1
    assert by_table[10].actions == ("load:0x1->NXM_NX_REG0[0..15]",)
    assert by_table[3].actions == ("resubmit(,10)", "resubmit(,4)")
    assert by_table[2].notes[0].startswith("table=10 vlan_tci=0x0014/0x0fff")
    assert t.unparsed == ()


def test_fdb_rows_give_port_vlan_mac_and_an_unknown_age():
    rows = appctl.parse_fdb("br0", text("fdb-show.txt"))
    assert [(r.port, r.vlan, r.mac, r.age) for r in rows] == [
        ("3", 0, "50:54:00:00:00:05", None), ("1", 0, "50:54:00:00:00:06", None),
        ("2", 0, "50:54:00:00:00:07", None)]


def test_dpif_show_maps_ofports_to_datapath_ports_and_patches_have_none():
    ports = {(p.bridge, p.name): p for p in appctl.parse_dpif_show(text("dpif-show-patch.txt"))}
    assert (ports["br0", "p2"].ofport, ports["br0", "p2"].dp_port) == (2, 2)
    assert ports["br1", "pbr1"].dp_port is None and ports["br1", "pbr1"].type.startswith("patch")
    tun = {p.name: p for p in appctl.parse_dpif_show(text("dpif-show-tunnel.txt"))}
    assert tun["t1"].type == "gre: key=456, remote_ip=1.1.2.92" and tun["t1"].bridge == "int-br"


def test_dpctl_show_gives_lookups_flows_and_ports():
    [dp] = appctl.parse_dpctl_show(text("dpctl-show.txt"))
    assert (dp.name, dp.hit, dp.missed, dp.lost, dp.flows) == ("dummy@dp0", 0, 0, 0, 0)
    assert [(p.number, p.name) for p in dp.ports] == [(0, "dp0"), (1, "p1"), (2, "p2")]
    assert dp.ports[1].type.startswith("dummy-pmd")


def test_conntrack_entries_give_tuples_state_zone_and_mark():
    tcp = appctl.parse_conntrack(text("conntrack-tutorial.txt"))
    assert [e.state for e in tcp] == ["SYN_SENT", "ESTABLISHED", "TIME_WAIT"]
    assert tcp[0].orig.text() == "192.168.0.2:1024 -> 10.0.0.2:2048"
    assert tcp[0].zone == 0
    udp, zoned, icmp = appctl.parse_conntrack(text("conntrack-system-traffic.txt"))
    assert (udp.mark, udp.zone) == (170, 0)
    assert (zoned.zone, zoned.labels) == (5, "0xaa00000000")
    assert (icmp.proto, icmp.orig.icmp_type, icmp.reply.icmp_type) == ("icmp", 8, 0)


def test_bonds_give_mode_lacp_and_which_members_are_enabled_and_active():
    [ab] = appctl.parse_bond_show(text("bond-show-active-backup.txt"))
    assert (ab.name, ab.mode, ab.lacp_status) == ("bond", "active-backup", "negotiated")
    assert [(m.name, m.enabled, m.active) for m in ab.members] == [("p1", False, False),
                                                                   ("p2", False, False)]
    b0, b1 = appctl.parse_bond_show(text("bond-show-balance-tcp.txt"))
    assert b0.mode == "balance-tcp"
    assert [(m.name, m.enabled, m.active, m.may_enable) for m in b1.members] == [
        ("p2", False, False, False), ("p3", True, True, True)]


def test_only_read_only_commands_are_ever_built_and_options_end_before_them(tmp_path):
    (tmp_path / "ovs-vswitchd.pid").write_text("4242\n")
    args = appctl.command_args(str(tmp_path), "fdb/show", "-br")
    assert args[:2] == ["ovs-appctl", "-t"]
    assert args[2] == str(tmp_path / "ovs-vswitchd.4242.ctl")
    assert args[args.index("--") + 1:] == ["fdb/show", "-br"]
    for write in ("fdb/flush", "dpctl/flush-conntrack", "vlog/set", "exit"):
        with pytest.raises(ValueError):
            appctl.command_args(str(tmp_path), write)


def test_a_daemon_started_with_its_own_unixctl_path_is_reached_there(tmp_path):
    (tmp_path / "ovs-vswitchd.ctl").touch()
    assert appctl.target(str(tmp_path)) == str(tmp_path / "ovs-vswitchd.ctl")
