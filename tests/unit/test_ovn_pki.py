"""An OVN chassis on an ssl: southbound is read with ovn-controller's own
certificates, found where ovn-controller takes them from."""

from __future__ import annotations

import pytest

from collectors import ovn_pki
from collectors.ovn_sb import OvnSbError, read_southbound, sbctl_args

# The command line ovn-ctl's start_controller builds (ovn-org/ovn
# utilities/ovn-ctl, Apache-2.0), with the ssl options puppet-ovn sets
# (openstack/puppet-ovn, Apache-2.0) and start_ovn_daemon's own flags.
OVN_CTL = ["ovn-controller", "unix:/var/run/openvswitch/db.sock", "-vconsole:emer",
           "-vsyslog:err", "-vfile:info", "--private-key=/etc/openvswitch/ovncontroller-privkey.pem",
           "--certificate=/etc/openvswitch/ovncontroller-cert.pem",
           "--ca-cert=/var/lib/openvswitch/pki/switchca/cacert.pem", "-n", "compute-0",
           "--user", "openvswitch:hugetlbfs", "--no-chdir",
           "--log-file=/var/log/ovn/ovn-controller.log",
           "--pidfile=/var/run/ovn/ovn-controller.pid", "--detach", "--monitor"]


def test_ovn_ctls_command_line_names_the_three_files_and_the_ovsdb():
    files, db = ovn_pki.command_line(OVN_CTL)
    assert files == {"private_key": "/etc/openvswitch/ovncontroller-privkey.pem",
                     "certificate": "/etc/openvswitch/ovncontroller-cert.pem",
                     "ca_cert": "/var/lib/openvswitch/pki/switchca/cacert.pem"}
    assert db == "unix:/var/run/openvswitch/db.sock"


def test_short_options_separate_or_joined_and_the_default_ovsdb():
    files, db = ovn_pki.command_line(["ovn-controller", "-p", "/k.pem", "-c/c.pem", "-Cnone",
                                      "--pidfile"])
    assert files == {"private_key": "/k.pem", "certificate": "/c.pem", "ca_cert": "none"}
    assert db == ovn_pki.DEFAULT_DB


def _proc(tmp_path, pid: int, args: list[str], comm: str = "ovn-controller"):
    """A synthetic /proc holding one process."""
    d = tmp_path / "proc" / str(pid)
    d.mkdir(parents=True)
    (d / "comm").write_text(comm + "\n")
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
    return d


def test_the_controller_of_this_ovsdb_is_chosen_and_its_container_paths_are_read_inside(tmp_path):
    _proc(tmp_path, 10, ["ovn-controller", "unix:/run/other/db.sock", "-p", "/wrong.pem",
                         "-c", "/wrong.pem", "-C", "/wrong.pem"])
    mine = _proc(tmp_path, 20, OVN_CTL)
    _proc(tmp_path, 30, ["bash"], comm="bash")
    inside = mine / "root" / "etc" / "openvswitch"
    inside.mkdir(parents=True)
    (inside / "ovncontroller-privkey.pem").write_text("key")
    tls = ovn_pki.find("unix:/run/openvswitch/db.sock", None, proc=str(tmp_path / "proc"))
    assert tls.source == "ovn-controller's command line (pid 20)"
    assert tls.private_key == str(inside / "ovncontroller-privkey.pem")
    # not in its container: the path as given
    assert tls.certificate == "/etc/openvswitch/ovncontroller-cert.pem"
    assert sbctl_args("ssl:192.0.2.1:6642", 5, tls)[5:8] == tls.sbctl_flags()


def test_with_none_on_the_command_line_the_ssl_table_is_used(tmp_path):
    _proc(tmp_path, 20, ["ovn-controller", "unix:/run/openvswitch/db.sock"])
    table = ("/etc/ovn/key.pem", "/etc/ovn/cert.pem", "/etc/ovn/ca.pem")
    tls = ovn_pki.find("unix:/run/openvswitch/db.sock", table, proc=str(tmp_path / "proc"))
    assert (tls.private_key, tls.certificate, tls.ca_cert) == table
    assert tls.source == "the local OVSDB's SSL table"
    assert ovn_pki.find("unix:/run/openvswitch/db.sock", None,
                        proc=str(tmp_path / "proc")) is None


def test_another_nodes_controller_is_not_taken_for_a_lab_ovsdb(tmp_path):
    _proc(tmp_path, 20, OVN_CTL)
    assert ovn_pki.find("unix:/run/ovsvlan-tui/lab/node/db.sock", None,
                        proc=str(tmp_path / "proc")) is None


def test_an_ssl_southbound_without_certificates_says_where_they_were_looked_for():
    with pytest.raises(OvnSbError, match="ovn-controller's -p/-c/-C nor the local OVSDB's SSL"):
        read_southbound("ssl:192.0.2.1:6642")
