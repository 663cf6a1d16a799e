"""A sosreport, as a directory or as the tarball it comes in, read in place.

The files the tool reads are named by the command sos ran (sos's
``_mangle_command``: spaces -> ``_``, ``/`` -> ``.``; plugins openvswitch,
networking, host, virsh, date, libvirt in sos/report/plugins/). A tarball's
members are read with tarfile straight from the archive: nothing is
extracted. Some distributions prefix the OVS commands
(``openstack-hypervisor.ovs-vsctl_...``, sos's DebianOpenVSwitch).
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path
from typing import Callable, Iterator

from collectors.saved import kinds
from collectors.saved.assemble import Assembler
from collectors.saved.result import SavedNode

MAX_FILE = 512 * 1024 * 1024
_OVS = r"^sos_commands/(?:openvswitch|ovn_host)/(?:[A-Za-z0-9_-]+\.)?"
_OFCTL = re.compile(_OVS + r"ovs-ofctl(?:_-O_(OpenFlow1[0-5]))?_(dump-flows|show|dump-ports|dump-ports-desc)_(.+)$")
_VSCTL_SHOW = re.compile(_OVS + r"ovs-vsctl(?:_-t_5)?_show$")
_VSCTL_LIST = re.compile(_OVS + r"ovs-vsctl(?:_-t_5)?_list_(interface|Interface|bridge|Bridge|port|Port|Open_vSwitch)$")
_OVSDB_DUMP = re.compile(_OVS + r"ovsdb-client_-f_list_dump$")  # sos before it copied conf.db
_APPCTL = re.compile(_OVS + r"ovs-(appctl|vsctl|ofctl|dpctl)_")
_DOMAIN = re.compile(r"^(?:etc/libvirt/qemu|(?:var/)?run/libvirt/qemu)/[^/]+\.xml$")
_VIRSH_DUMP = re.compile(r"^sos_commands/virsh/virsh_-r_dumpxml_")
_VIRSH_LIST = re.compile(r"^sos_commands/virsh/virsh_(?:-r_)?list_--all$")
_CONF_DB = re.compile(r"(?:^|/)(?:etc|var/lib)/openvswitch/conf\.db$")
_IP_LINK = ("sos_commands/networking/ip_-s_-d_link", "sos_commands/networking/ip_-d_link")
_OFCTL_KINDS = {"dump-flows": kinds.DUMP_FLOWS, "show": kinds.OFCTL_SHOW,
                "dump-ports": kinds.DUMP_PORTS, "dump-ports-desc": kinds.PORTS_DESC}
DATE = "sos_commands/date/date"


def classify(rel: str) -> tuple[str, str | None, str | None] | None:
    """(kind, bridge, OpenFlow version) that a sosreport file's name says, or None."""
    m = _OFCTL.match(rel)
    if m:
        return _OFCTL_KINDS[m.group(2)], m.group(3), m.group(1)
    if _VSCTL_SHOW.match(rel):
        return kinds.VSCTL_SHOW, None, None
    if _VSCTL_LIST.match(rel):
        return kinds.VSCTL_LIST, None, None
    if _OVSDB_DUMP.match(rel):
        return kinds.OVSDB_DUMP, None, None
    if rel in _IP_LINK:
        return kinds.IP_LINK, None, None
    if rel == "sos_commands/host/hostname":
        return kinds.HOSTNAME, None, None
    if _DOMAIN.match(rel) or _VIRSH_DUMP.match(rel):
        return kinds.DOMAIN_XML, None, None
    if _VIRSH_LIST.match(rel):
        return kinds.VIRSH_LIST, None, None
    if _CONF_DB.search(rel):
        return kinds.CONF_DB, None, None
    return None


def is_sosreport_dir(path: Path) -> bool:
    return (path / "sos_commands").is_dir()


def _dir_files(root: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            full = Path(dirpath) / f
            if full.is_file() and not full.is_symlink():
                yield full.relative_to(root).as_posix(), full.read_bytes


def _tar_files(tar: tarfile.TarFile) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Members in archive order, read as the stream passes them (an .xz cannot seek
    back cheaply); a sosreport's members all sit under one top directory."""
    top = None
    for m in tar:
        if top is None:
            top = m.name.split("/", 1)[0] + "/" if "/" in m.name or m.isdir() else ""
        if m.isfile() and m.name.startswith(top) and m.size <= MAX_FILE:
            yield m.name[len(top):], (lambda m=m: tar.extractfile(m).read())


def _taken(date_text: str | None, name: str) -> str | None:
    if date_text and date_text.strip():
        return date_text.strip().splitlines()[0]
    m = re.search(r"(20[0-9]{2}-[01][0-9]-[0-3][0-9])", name)  # sosreport-<host>-<date>-<id>
    return m.group(1) if m else None


def read_sosreport(path: Path) -> SavedNode:
    """A sosreport directory or tarball (.tar.xz, .tar.gz, .tar.bz2, .tar)."""
    if path.is_dir():
        return _read(path, _dir_files(path))
    try:
        with tarfile.open(path, "r|*") as tar:
            return _read(path, _tar_files(tar))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable sosreport tarball ({e})") from None


def _read(path: Path, files) -> SavedNode:
    asm = Assembler(str(path), "sosreport")
    date = None
    others = appctl = 0
    for rel, read in files:
        if rel == DATE:
            date = read().decode("utf-8", "replace")
            continue
        what = classify(rel)
        if what is None:
            if _APPCTL.match(rel):
                appctl += 1
            else:
                others += 1
            continue
        kind, bridge, protocol = what
        asm.add(rel, read(), kind, bridge=bridge, protocol=protocol)
    if appctl:
        asm.skip(f"{appctl} other OVS command outputs (ovs-appctl, dump-groups, ...)",
                 "not shown by this tool")
    if others:
        asm.skip(f"{others} other files", "not about OVS, libvirt or links")
    return asm.node(_taken(date, path.name), path.name)
