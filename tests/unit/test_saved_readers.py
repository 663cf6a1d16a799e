"""Reading what a node left behind: every saved file is read as the output it
is (whatever its name, however it was pasted), a file that looks like a known
output but gives nothing is a warning, and the records are the ones the live
collectors would make from the same node.

Inputs: the seed's outputs, two sosreport-shaped trees of real nodes from
hotsos's test data (an OpenStack DVR compute node with OVS 2.13, a Sunbeam
node with OVS 3.3 and prefixed command names) and a conf.db written by the
lab's ovsdb-server (see tests/fixtures/README.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from collectors import openflow
from collectors.saved import confdb, kinds, vsctl_list
from collectors.saved.libvirt_saved import parse_virsh_list
from collectors.saved.read import SavedError, read_saved
from model.contract import to_contract
from model.join import build_model

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED = FIXTURES / "seed"
OPENSTACK = FIXTURES / "sos" / "hotsos-openstack"
SUNBEAM = FIXTURES / "sos" / "hotsos-sunbeam"
CONF_DB = FIXTURES / "saved" / "lab-conf.db"
DUMP = FIXTURES / "saved" / "lab-ovsdb-client-list-dump.txt"


def model_of(saved):
    return build_model(saved.observation, openflow.flow_detail)


def read_as(saved) -> dict[str, str | None]:
    return {f.name: f.read_as for f in saved.files if not f.warning}


def ports(obs) -> dict:
    return {p.name: p for b in obs.ovsdb.bridges for p in b.ports}


# --------------------------------------------------------------------------
# A directory of outputs, any names


def test_each_seed_file_is_read_as_the_output_it_is():
    saved = read_saved(SEED)
    assert read_as(saved) == {
        "dump-flows-br-int.txt": kinds.DUMP_FLOWS, "dump-flows-br-provider.txt": kinds.DUMP_FLOWS,
        "ip-d-link-show.txt": kinds.IP_LINK, "ovs-ofctl-show-br-int.txt": kinds.OFCTL_SHOW,
        "ovs-ofctl-show-br-provider.txt": kinds.OFCTL_SHOW, "ovs-vsctl-show.txt": kinds.VSCTL_SHOW,
        "virsh-dumpxml-interface.xml": kinds.INTERFACE_XML, "virsh-list.txt": kinds.VIRSH_LIST,
    }
    assert not [f for f in saved.files if f.warning]


def test_the_seed_directory_gives_instance01s_path():
    model = model_of(read_saved(SEED))
    (inst,) = model.instances
    assert (inst.domain.name, inst.domain.state) == ("instance-00000027", "running")  # 実行中
    (vv,) = inst.vnics
    assert (vv.port.name, vv.port.bridge, vv.port.ofport, vv.local_vlan, vv.segmentation_id,
            vv.physical_bridge, vv.nics) == ("tap2d1670a4-8e", "br-int", 3, 2, 100,
                                             "br-provider", ("eth0",))
    assert vv.link_state == "unknown"  # ip -d link: state UNKNOWN (a tap)
    # the seed really has no ingress flow for the flat network's VLAN 1
    assert [(p.kind, p.subject) for p in model.problems] == [("missing-vlan-translation", "vlan 1")]
    assert {s.source: s.status for s in model.sources} == dict.fromkeys(
        ("ovsdb", "openflow", "libvirt", "netlink"), "saved")


def test_outputs_pasted_indented_read_the_same(tmp_path):
    for f in SEED.iterdir():
        (tmp_path / f.name).write_text("".join("    " + line for line in
                                               f.read_text().splitlines(keepends=True)))
    pasted, original = read_saved(tmp_path), read_saved(SEED)
    assert read_as(pasted) == read_as(original)
    a, b = pasted.observation, original.observation
    assert (a.ovsdb, a.domains, a.links) == (b.ovsdb, b.domains, b.links)
    assert {k: d.flows for k, d in a.flows.items()} == {k: d.flows for k, d in b.flows.items()}


def test_a_flow_dump_named_after_no_bridge_gets_its_bridge_from_its_ports(tmp_path):
    for f in SEED.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "dump-flows-br-int.txt").rename(tmp_path / "flows1.txt")
    saved = read_saved(tmp_path)
    note = next(f.note for f in saved.files if f.name == "flows1.txt")
    assert "40 flows of br-int" in note and "the ports its flows use" in note
    assert "tap2d1670a4-8e" in note
    assert len(saved.observation.flows["br-int"].flows) == 40


def test_a_pasted_flow_dump_that_kept_its_command_line_gets_its_bridge_from_it(tmp_path):
    for f in SEED.iterdir():
        if not f.name.startswith("dump-flows"):
            shutil.copy(f, tmp_path / f.name)
    text = (SEED / "dump-flows-br-provider.txt").read_text()
    (tmp_path / "ticket-1.txt").write_text("$ sudo ovs-ofctl dump-flows br-provider\n"
                                           + "".join("    " + l for l in text.splitlines(True)))
    saved = read_saved(tmp_path)
    note = next(f.note for f in saved.files if f.name == "ticket-1.txt")
    assert note == "4 flows of br-provider (bridge from the command line in it)"
    flows = saved.observation.flows["br-provider"]
    assert len(flows.flows) == 4


def test_a_flow_dump_whose_bridge_cannot_be_told_is_a_warning(tmp_path):
    (tmp_path / "flows.txt").write_text((SEED / "dump-flows-br-int.txt").read_text())
    saved = read_saved(tmp_path)
    (f,) = saved.files
    assert f.warning and f.read_as == kinds.DUMP_FLOWS and "not used" in f.note
    assert saved.observation.flows == {}


def test_a_directory_with_nothing_readable_is_refused_in_one_sentence(tmp_path):
    (tmp_path / "notes.txt").write_text("the VM cannot ping its gateway\n")
    with pytest.raises(SavedError, match="no file there is an output this tool reads"):
        read_saved(tmp_path)


def test_virsh_list_states_in_the_operators_language():
    assert parse_virsh_list((SEED / "virsh-list.txt").read_text()) == {
        "instance-00000027": (2, "running")}


# --------------------------------------------------------------------------
# A sosreport


def test_a_real_sosreport_gives_the_nodes_ovsdb_flows_domain_and_links():
    saved = read_saved(OPENSTACK)
    assert saved.kind == "sosreport" and saved.taken == "Thu Feb 10 16:19:17 UTC 2022"
    obs = saved.observation
    assert obs.hostname == "compute4" and obs.ovsdb.ovs_version == "2.13.3"
    assert [b.name for b in obs.ovsdb.bridges] == ["br-data", "br-ex", "br-int", "br-tun"]
    p = ports(obs)
    tap = p["tap0e778df8-ca"].interface
    assert (p["tap0e778df8-ca"].tag, tap.ofport, tap.link_state) == (3, 9, "up")
    assert tap.iface_id == "0e778df8-ca29-490b-8d54-e238b1e0be1c"
    assert tap.attached_mac == "fa:16:3e:a7:45:cb"
    assert tap.vm_uuid == "d1d75e2f-ada4-49bc-a963-528d89dfda25"
    assert p["vxlan-0a000072"].interface.options["remote_ip"] == "10.0.0.114"
    assert p["int-br-data"].interface.peer == "phy-br-data"
    assert p["br-int"].interface.ofport == 65534  # ovs-ofctl show: LOCAL
    assert {b: len(d.flows) for b, d in obs.flows.items()} == {
        "br-data": 9, "br-ex": 1, "br-int": 110, "br-tun": 39}
    assert all(d.unparsed == () for d in obs.flows.values())
    (dom,) = obs.domains
    assert (dom.name, dom.state, dom.vnics[0].target) == ("instance-00000001", "running",
                                                           "tap0e778df8-ca")
    assert {l.ifname for l in obs.links} >= {"tap0e778df8-ca", "ens7"}
    assert {c.port for c in obs.port_counters if c.bridge == "br-tun"} >= {"LOCAL"}


def test_the_sosreports_instance_reaches_its_port():
    model = model_of(read_saved(OPENSTACK))
    (inst,) = model.instances
    (vv,) = inst.vnics
    assert (vv.port.name, vv.port.bridge, vv.port.ofport, vv.local_vlan) == (
        "tap0e778df8-ca", "br-int", 9, 3)
    assert not [p for p in model.problems if p.kind in ("unplugged-vif", "interface-error")]


def test_of_several_dumps_of_a_bridge_the_default_protocols_is_read():
    saved = read_saved(OPENSTACK)
    used = {f.name for f in saved.files if f.read_as == kinds.DUMP_FLOWS}
    assert "sos_commands/openvswitch/ovs-ofctl_dump-flows_br-int" in used
    assert "sos_commands/openvswitch/ovs-ofctl_-O_OpenFlow13_dump-flows_br-int" not in used


def test_prefixed_names_are_read_and_failed_commands_are_warnings():
    saved = read_saved(SUNBEAM)
    assert saved.observation.hostname == "noble-sunbeam"
    assert saved.observation.ovsdb.ovs_version == "3.3.0"
    warned = {f.name.rsplit("/", 1)[1] for f in saved.files if f.warning}
    assert "openstack-hypervisor.ovs-ofctl_dump-flows_br-ex" in warned  # version negotiation failed
    assert all("vconn|WARN" in f.note or "named like" in f.note for f in saved.files if f.warning)
    # br-ex answers only OpenFlow 1.3+: its OpenFlow 1.3 dump is read instead
    assert len(saved.observation.flows["br-ex"].flows) == 1
    states = {s.source: s for s in saved.observation.sources}
    assert states["libvirt"].status == "error" and "no domain XML" in states["libvirt"].detail


def test_a_sosreport_tarball_reads_as_its_directory(tmp_path):
    archive = tmp_path / "sosreport-compute4-2022-02-10-abcdef.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(OPENSTACK, arcname="sosreport-compute4-2022-02-10-abcdef")
    from_tar, from_dir = read_saved(archive), read_saved(OPENSTACK)
    assert from_tar.observation == from_dir.observation
    assert [(f.name, f.read_as) for f in from_tar.files] == [(f.name, f.read_as) for f in from_dir.files]
    assert list(tmp_path.iterdir()) == [archive]  # nothing extracted


# --------------------------------------------------------------------------
# conf.db and ovs-vsctl list


def test_confdb_gives_port_other_config():
    snap = confdb.read_confdb(CONF_DB.read_bytes())
    p = {p.name: p for b in snap.bridges for p in b.ports}
    assert dict(p["tap2d1670a4-8e"].other_config) == {
        "net_uuid": "fab2345c-5de9-4fda-8342-f0430a9239ea", "network_type": "vlan",
        "physical_network": "provider", "segmentation_id": "100", "tag": "2"}
    assert p["tap2d1670a4-8e"].tag == 2 and p["tap2d1670a4-8e"].interface.ofport == 3


@pytest.mark.skipif(shutil.which("ovsdb-tool") is None, reason="needs ovsdb-tool")
def test_confdb_rows_are_those_ovsdb_tool_reads(tmp_path):
    """ovsdb-tool (on a copy) is the reference: the same rows, column for column."""
    copy = tmp_path / "conf.db"
    shutil.copy(CONF_DB, copy)
    mine = confdb.read_tables(CONF_DB.read_bytes())
    for table, columns in (("Port", ["name", "tag", "other_config", "interfaces"]),
                           ("Interface", ["name", "ofport", "external_ids", "options", "type"])):
        query = json.dumps(["Open_vSwitch", {"op": "select", "table": table, "where": [],
                                             "columns": ["_uuid", *columns]}])
        out = subprocess.run(["ovsdb-tool", "query", str(copy), query], capture_output=True,
                             text=True, check=True, timeout=30).stdout
        for row in json.loads(out)[0]["rows"]:
            uuid = row["_uuid"][1]
            for col in columns:
                theirs, ours = confdb._decode(row[col]), mine[table][uuid].get(col)
                if isinstance(theirs, list) or isinstance(ours, list):
                    theirs = sorted(theirs if isinstance(theirs, list) else [theirs])
                    ours = sorted(ours if isinstance(ours, list) else [] if ours is None else [ours])
                assert ours == theirs or (ours is None and theirs in ([], {}, "")), (table, col)


def test_confdb_refuses_what_is_not_one():
    with pytest.raises(confdb.ConfDbError, match="not an OVSDB database"):
        confdb.read_confdb(b"hello\n")


def test_vsctl_list_values_are_typed_and_its_table_told():
    text = (OPENSTACK / "sos_commands/openvswitch/ovs-vsctl_-t_5_list_interface").read_text()
    records = vsctl_list.parse_vsctl_list(text)
    assert vsctl_list.table_of(records) == "Interface" and len(records) == 17
    vx = next(r for r in records if r["name"] == "vxlan-0a000072")
    assert vx["options"]["remote_ip"] == "10.0.0.114" and vx["error"] == []
    assert isinstance(vx["ofport"], int) and isinstance(vx["statistics"]["rx_packets"], int)


# --------------------------------------------------------------------------
# A saved snapshot --json


def test_a_saved_snapshot_reads_back_into_the_same_contract(tmp_path):
    before = model_of(read_saved(SEED))
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(to_contract(before)))
    saved = read_saved(path)
    assert saved.kind == "snapshot"
    after = to_contract(model_of(saved))
    drop = lambda c: {k: v for k, v in c.items() if k != "sources"}  # noqa: E731
    assert drop(after) == drop(to_contract(before))
    assert {s["source"]: s["status"] for s in after["sources"]} == {
        "ovsdb": "saved", "openflow": "saved", "libvirt": "saved", "netlink": "error"}


def test_an_older_sosreports_ovsdb_client_dump_gives_the_same_rows_as_conf_db(tmp_path):
    """sos before conf.db copies saved `ovsdb-client -f list dump`: Port
    other_config is there too. Both fixtures are of the same lab node."""
    plugin = tmp_path / "sos_commands" / "openvswitch"
    plugin.mkdir(parents=True)
    shutil.copy(DUMP, plugin / "ovsdb-client_-f_list_dump")
    saved = read_saved(tmp_path)
    assert read_as(saved)["sos_commands/openvswitch/ovsdb-client_-f_list_dump"] == kinds.OVSDB_DUMP
    from_dump = saved.observation.ovsdb
    from_db = confdb.read_confdb(CONF_DB.read_bytes())

    def persistent(snap):  # conf.db keeps no ephemeral columns (link state, statistics...)
        return [(b.name, b.datapath_type, b.fail_mode,
                 [(p.name, p.tag, dict(p.other_config),
                   [(i.name, i.type, i.ofport, dict(i.external_ids), dict(i.options))
                    for i in p.interfaces]) for p in b.ports]) for b in snap.bridges]
    assert persistent(from_dump) == persistent(from_db)
    assert from_dump.ovs_version == from_db.ovs_version


def test_ovn_host_plugins_flow_dump_is_read_as_its_bridges_flows(tmp_path):
    plugin = tmp_path / "sos_commands" / "ovn_host"
    plugin.mkdir(parents=True)
    shutil.copy(SEED / "dump-flows-br-int.txt", plugin / "ovs-ofctl_-O_OpenFlow13_dump-flows_br-int")
    (tmp_path / "sos_commands" / "openvswitch").mkdir()
    shutil.copy(SEED / "ovs-vsctl-show.txt", tmp_path / "sos_commands/openvswitch/ovs-vsctl_-t_5_show")
    saved = read_saved(tmp_path)
    assert len(saved.observation.flows["br-int"].flows) == 40


def test_a_snapshot_of_a_sosreport_keeps_when_the_sosreport_was_taken(tmp_path):
    path = tmp_path / "compute4.json"
    path.write_text(json.dumps(to_contract(model_of(read_saved(OPENSTACK)))))
    states = {s.source: s for s in read_saved(path).observation.sources}
    assert states["ovsdb"].status == "saved"
    assert states["ovsdb"].detail == "Thu Feb 10 16:19:17 UTC 2022"


def test_an_ovn_chassis_sosreport_keeps_its_bridge_mappings_and_southbound_remote():
    """The OVN model finds physnets and checks mappings from Open_vSwitch
    external_ids: a saved node must carry them as a live one does."""
    ids = read_saved(SUNBEAM).observation.ovsdb.external_ids
    assert ids["ovn-bridge-mappings"] == "physnet1:br-ex"
    assert ids["ovn-remote"] == "ssl:172.16.1.202:6642"
