"""How OVSDB values become the plain values an operator sees.

The rows here are stand-ins shaped like python-ovs IDL rows: optional columns
are lists of zero or one element, sets are lists, maps are dicts, references
are lists of rows.
"""

import errno
import uuid
from types import SimpleNamespace

import pytest

from collectors.ovsdb import (
    COLUMNS,
    SnapshotCopier,
    describe_connect_error,
    int_set,
    interface_record,
    optional,
    port_record,
)


def iface_row(name, **columns):
    values = dict(
        type="", ofport=[], options={}, external_ids={}, error=[], link_state=[],
        admin_state=[], mac_in_use=[],
    )
    values.update(columns)
    return SimpleNamespace(uuid=uuid.uuid4(), name=name, **values)


def port_row(name, interfaces=None, **columns):
    values = dict(tag=[], trunks=[], vlan_mode=[], other_config={}, external_ids={})
    values.update(columns)
    interfaces = interfaces if interfaces is not None else [iface_row(name)]
    return SimpleNamespace(uuid=uuid.uuid4(), name=name, interfaces=interfaces, **values)


def bridge_row(name, ports, datapath_type="system", fail_mode=("secure",)):
    return SimpleNamespace(
        uuid=uuid.uuid4(), name=name, datapath_type=datapath_type,
        fail_mode=list(fail_mode), ports=ports,
    )


def root_row(bridges, ovs_version=("3.1.4",)):
    return SimpleNamespace(uuid=uuid.uuid4(), bridges=bridges, ovs_version=list(ovs_version))


# --------------------------------------------------------------------------
# Scalars and sets


@pytest.mark.parametrize(
    "value, expected",
    [([], None), ([2], 2), ([4095], 4095), ([-1], -1), (["secure"], "secure")],
)
def test_optional_column_is_none_when_empty_else_its_single_value(value, expected):
    assert optional(value) == expected


def test_trunks_become_a_sorted_tuple():
    assert int_set([100, 5, 2000]) == (5, 100, 2000)
    assert int_set([]) == ()


# --------------------------------------------------------------------------
# Interfaces


def test_untagged_port_has_no_tag_and_a_tagged_one_has_its_local_vlan():
    assert port_record(port_row("br-int"), "br-int").tag is None
    assert port_record(port_row("tap2d1670a4-8e", tag=[2]), "br-int").tag == 2


def test_dead_vlan_4095_is_kept_as_is():
    assert port_record(port_row("tap-unbound", tag=[4095]), "br-int").tag == 4095


def test_ofport_is_none_until_assigned_and_minus_one_when_the_interface_failed():
    assert interface_record(iface_row("tap1")).ofport is None
    assert interface_record(iface_row("tap1", ofport=[3])).ofport == 3
    failed = interface_record(
        iface_row("tap1", ofport=[-1], error=["could not open network device tap1 (No such device)"])
    )
    assert failed.ofport == -1
    assert failed.error == "could not open network device tap1 (No such device)"


def test_patch_interface_names_its_peer_and_other_types_do_not():
    patch = interface_record(iface_row("int-br-provider", type="patch", options={"peer": "phy-br-provider"}))
    assert patch.peer == "phy-br-provider"
    assert interface_record(iface_row("vxlan0", type="vxlan", options={"peer": "x"})).peer is None


def test_vif_identity_comes_from_external_ids_written_by_os_vif_or_libvirt():
    by_os_vif = interface_record(
        iface_row(
            "tap2d1670a4-8e",
            external_ids={
                "iface-id": "2d1670a4-8e0e-4bd6-9e2a-0c5b1f6a7d11",
                "attached-mac": "fa:16:3e:bc:78:a8",
                "iface-status": "active",
                "vm-uuid": "9c2b4a7e-1f3d-4c59-8a0e-6d2f1b3c4e5a",
            },
        )
    )
    assert by_os_vif.iface_id == "2d1670a4-8e0e-4bd6-9e2a-0c5b1f6a7d11"
    assert by_os_vif.attached_mac == "fa:16:3e:bc:78:a8"
    assert by_os_vif.vm_uuid == "9c2b4a7e-1f3d-4c59-8a0e-6d2f1b3c4e5a"
    by_libvirt = interface_record(iface_row("tap60ad2c85-f3", external_ids={"vm-id": "0a1b"}))
    assert by_libvirt.vm_uuid == "0a1b"


def test_link_admin_state_and_mac_are_copied():
    rec = interface_record(
        iface_row("tap1", link_state=["up"], admin_state=["down"], mac_in_use=["fe:16:3e:bc:78:a8"])
    )
    assert (rec.link_state, rec.admin_state, rec.mac_in_use) == ("up", "down", "fe:16:3e:bc:78:a8")


def test_interface_statistics_are_neither_replicated_nor_read():
    """ovs-vswitchd rewrites Interface.statistics every few seconds; replicating
    it would cost a snapshot copy and a refresh each time, for nothing."""
    assert "statistics" not in COLUMNS["Interface"]
    row = iface_row("tap1")  # no statistics attribute, as the IDL gives such a row
    assert interface_record(row).name == "tap1"


def test_maps_are_read_only_copies_not_the_rows_dicts():
    external_ids = {"iface-id": "a"}
    rec = interface_record(iface_row("tap1", external_ids=external_ids))
    external_ids["iface-id"] = "changed later"
    assert rec.iface_id == "a"
    with pytest.raises(TypeError):
        rec.external_ids["iface-id"] = "b"


# --------------------------------------------------------------------------
# Ports


def test_port_keeps_neutron_other_config_and_vlan_settings():
    rec = port_record(
        port_row(
            "tap2d1670a4-8e", tag=[2], trunks=[200, 100], vlan_mode=["access"],
            other_config={
                "net_uuid": "5b1e", "network_type": "vlan", "physical_network": "provider",
                "segmentation_id": "100", "tag": "2",
            },
        ),
        "br-int",
    )
    assert rec.bridge == "br-int"
    assert rec.trunks == (100, 200)
    assert rec.vlan_mode == "access"
    assert rec.other_config["segmentation_id"] == "100"
    assert rec.other_config["physical_network"] == "provider"


def test_bond_port_lists_its_interfaces_by_name():
    rec = port_record(port_row("bond0", interfaces=[iface_row("eth1"), iface_row("eth0")]), "br-ex")
    assert [i.name for i in rec.interfaces] == ["eth0", "eth1"]
    assert rec.interface.name == "eth0"


# --------------------------------------------------------------------------
# Whole snapshots


def test_empty_database_before_init_gives_no_bridges():
    snap = SnapshotCopier().copy([], set(), seqno=1)
    assert snap.ovs_version is None
    assert snap.bridges == ()


def test_snapshot_lists_bridges_and_ports_by_name():
    root = root_row(
        [
            bridge_row("br-provider", [port_row("phy-br-provider"), port_row("eth0")]),
            bridge_row("br-int", [port_row("tap60ad2c85-f3", tag=[1]), port_row("br-int")], "netdev", ()),
        ]
    )
    snap = SnapshotCopier().copy([root], set(), seqno=7)
    assert snap.ovs_version == "3.1.4"
    assert snap.seqno == 7
    assert [b.name for b in snap.bridges] == ["br-int", "br-provider"]
    br_int = snap.bridges[0]
    assert (br_int.datapath_type, br_int.fail_mode) == ("netdev", None)
    assert [p.name for p in br_int.ports] == ["br-int", "tap60ad2c85-f3"]
    assert snap.bridges[1].fail_mode == "secure"


def test_unchanged_ports_keep_their_records_and_changed_ones_are_reread():
    still, retagged = port_row("tap-a", tag=[1]), port_row("tap-b", tag=[2])
    root = root_row([bridge_row("br-int", [still, retagged])])
    copier = SnapshotCopier()
    first = copier.copy([root], set(), seqno=1)

    retagged.tag = [4095]
    second = copier.copy([root], {retagged.uuid}, seqno=2)

    assert second.bridges[0].ports[0] is first.bridges[0].ports[0]
    assert second.bridges[0].ports[1].tag == 4095
    assert first.bridges[0].ports[1].tag == 2  # the earlier snapshot never changes


def test_an_interface_change_alone_reaches_its_port():
    iface = iface_row("tap-a", link_state=["up"])
    port = port_row("tap-a", interfaces=[iface], tag=[1])
    root = root_row([bridge_row("br-int", [port])])
    copier = SnapshotCopier()
    copier.copy([root], set(), seqno=1)

    iface.link_state = ["down"]
    snap = copier.copy([root], {iface.uuid}, seqno=2)
    assert snap.bridges[0].ports[0].interface.link_state == "down"
    assert snap.bridges[0].ports[0].tag == 1


def test_forget_rereads_every_row():
    port = port_row("tap-a", tag=[1])
    root = root_row([bridge_row("br-int", [port])])
    copier = SnapshotCopier()
    copier.copy([root], set(), seqno=1)

    port.tag = [3]  # changed while disconnected: no change notice
    copier.forget()
    assert copier.copy([root], set(), seqno=2).bridges[0].ports[0].tag == 3


def test_a_port_moved_to_another_bridge_names_its_new_bridge():
    port = port_row("tap-a")
    br_int, br_ex = bridge_row("br-int", [port]), bridge_row("br-ex", [])
    root = root_row([br_int, br_ex])
    copier = SnapshotCopier()
    copier.copy([root], set(), seqno=1)

    br_int.ports, br_ex.ports = [], [port]
    snap = copier.copy([root], {br_int.uuid, br_ex.uuid}, seqno=2)
    assert [(p.name, p.bridge) for b in snap.bridges for p in b.ports] == [("tap-a", "br-ex")]


# --------------------------------------------------------------------------
# What the operator is told when the database cannot be reached


def test_missing_socket_says_to_check_ovsdb_server_and_the_db_flag():
    msg = describe_connect_error("unix:/var/run/openvswitch/db.sock", errno.ENOENT)
    assert msg.startswith("cannot open unix:/var/run/openvswitch/db.sock: No such file or directory")
    assert "is ovsdb-server running?" in msg
    assert "--db" in msg and "OVS_RUNDIR" in msg


def test_permission_denied_says_to_run_as_root_or_join_the_openvswitch_group():
    msg = describe_connect_error("unix:/var/run/openvswitch/db.sock", errno.EACCES)
    assert msg.startswith("permission denied on unix:/var/run/openvswitch/db.sock")
    assert "root" in msg and "openvswitch group" in msg


def test_refused_connection_means_nothing_listens_on_the_socket():
    msg = describe_connect_error("unix:/run/db.sock", errno.ECONNREFUSED)
    assert "Connection refused" in msg and "is ovsdb-server running?" in msg
