"""``ovsvlan-tui lab sos DIR``: the running lab written as a sosreport-shaped directory.

The same read-only commands sos runs, under the file names sos gives them
(sos's ``_mangle_command``; plugins openvswitch, networking, host, date,
libvirt), run against the lab: ``ovs-vsctl`` and ``ovs-ofctl`` (always
``--read-only``, which sos does not pass but changes nothing in the output)
through the lab's run directory, ``ip -s -d link`` inside the lab's node
namespace, and a copy of its ``conf.db`` as newer sos copies it. The lab has
no libvirtd: its domains are read through the read-only API; each one's
inactive XML is its ``etc/libvirt/qemu/<name>.xml`` and an active one's live
XML, wrapped in ``<domstatus>`` as libvirtd keeps it, its
``run/libvirt/qemu/<name>.xml``. Then ``--from DIR`` reads the lab as it
would read a real node's sosreport.
"""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

from collectors.domains import _import_libvirt
from lab import run as cmd
from lab.node import Lab, is_up, require_root
from lab.run import LabError

# Per bridge, as sos's openvswitch plugin runs them (collect_ovs_bridge_info,
# get_flow_versions): the default protocol's and OpenFlow 1.3's.
_PER_BRIDGE = ("dump-flows", "show", "dump-ports", "dump-ports-desc")
_VSCTL = ("show", "list-br", "list Open_vSwitch", "list interface", "list bridge",
          "get Open_vSwitch . other_config")


def mangle(command: str) -> str:
    """sos's file name for a command (sos/report/plugins/__init__.py, _mangle_command)."""
    name = re.sub(r"^/(usr/|)(bin|sbin)/", "", command)
    name = re.sub(r"[^\w\-\.\/]+", "_", name)
    return re.sub(r"/", ".", name).strip(" ._-")


def write_sos(lab: Lab, out: Path, *, libvirt_uri: str | None = None) -> list[Path]:
    """Write the lab under ``out`` (which must be empty or absent); the files written.

    ``libvirt_uri``: whose domains to write (default: the lab's; the benchmark's
    busy node has a node file of its own)."""
    require_root("sos")
    if not is_up(lab):
        raise LabError(f"lab {lab.name!r} is down: run `ovsvlan-tui lab up` first")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out} exists and is not an empty directory: give a new one")
    written: list[Path] = []

    def save(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    rd, env = lab.rundir, cmd.ovs_env(lab.rundir)

    def ovs(sos_command: str, args: list[str]) -> str:
        proc = cmd.run(args, ns=lab.node_ns, env=env, check=False)
        save(f"sos_commands/openvswitch/{mangle(sos_command)}", proc.stdout + proc.stderr)
        return proc.stdout

    for sub in _VSCTL:
        ovs(f"ovs-vsctl -t 5 {sub}", ["ovs-vsctl", "-t", "5", *sub.split()])
    bridges = cmd.run(["ovs-vsctl", "-t", "5", "list-br"], ns=lab.node_ns, env=env).stdout.split()
    for bridge in bridges:
        for what in _PER_BRIDGE:
            ovs(f"ovs-ofctl {what} {bridge}", ["ovs-ofctl", "--read-only", what, "--", bridge])
            ovs(f"ovs-ofctl -O OpenFlow13 {what} {bridge}",
                ["ovs-ofctl", "--read-only", "-O", "OpenFlow13", what, "--", bridge])
    ctl = str(rd / "ovs-vswitchd.ctl")
    for sub in ("ofproto/list-tunnels", "bond/show"):
        ovs(f"ovs-appctl {sub}", ["ovs-appctl", "-t", ctl, *sub.split()])
    link = cmd.run(["ip", "-s", "-d", "link"], ns=lab.node_ns)
    save(f"sos_commands/networking/{mangle('ip -s -d link')}", link.stdout)
    save("sos_commands/host/hostname", socket.gethostname() + "\n")
    save("sos_commands/date/date", cmd.run(["date"]).stdout)
    (out / "etc/openvswitch").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rd / "conf.db", out / "etc/openvswitch/conf.db")  # a copy: never opened to write
    written.append(out / "etc/openvswitch/conf.db")
    _domains(libvirt_uri or lab.libvirt_uri, save)
    return written


def _domains(uri: str, save) -> None:
    libvirt = _import_libvirt()
    conn = libvirt.openReadOnly(uri)
    try:
        for dom in conn.listAllDomains():
            name = dom.name()
            save(f"etc/libvirt/qemu/{name}.xml", dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            if dom.isActive():
                save(f"run/libvirt/qemu/{name}.xml",
                     f"<domstatus state='running' reason='booted' pid='0'>\n{dom.XMLDesc()}"
                     "</domstatus>\n")
    finally:
        conn.close()
