"""The certificates ovn-controller reaches an ``ssl:`` southbound DB with.

ovn-controller takes them from its command line (``-p``/``--private-key``,
``-c``/``--certificate``, ``-C``/``--ca-cert``, as ovn-ctl and containerised
deployments pass them) or, when it has none there, from the local OVSDB's
SSL table (``ovs-vsctl set-ssl``). A containerised ovn-controller names
paths inside its container: they are read through ``/proc/PID/root``.
Nothing here writes anything; the files are only handed to ``ovn-sbctl``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_FLAGS = {"-p": "private_key", "--private-key": "private_key",
          "-c": "certificate", "--certificate": "certificate",
          "-C": "ca_cert", "--ca-cert": "ca_cert"}
DEFAULT_DB = "unix:/var/run/openvswitch/db.sock"  # ovn-controller's, with no DATABASE


@dataclass(frozen=True, slots=True)
class SbTls:
    private_key: str
    certificate: str
    ca_cert: str  # a file, or "none": the chassis does not verify the DB's certificate
    source: str  # where they were found, in words

    def sbctl_flags(self) -> list[str]:
        return [f"--private-key={self.private_key}", f"--certificate={self.certificate}",
                f"--ca-cert={self.ca_cert}"]


def command_line(args: list[str]) -> tuple[dict[str, str], str]:
    """The PKI files and the OVSDB remote in an ovn-controller command line."""
    files: dict[str, str] = {}
    db = ""
    i = 1
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _FLAGS and name.startswith("--") and eq:
            files[_FLAGS[name]] = value
        elif arg in _FLAGS and i + 1 < len(args):
            files[_FLAGS[arg]] = args[i + 1]
            i += 1
        elif arg[:2] in _FLAGS and len(arg) > 2 and not arg.startswith("--"):
            files[_FLAGS[arg[:2]]] = arg[2:]  # getopt's "-p/etc/key.pem"
        elif arg.startswith(("unix:", "tcp:", "ssl:")) and not db:
            db = arg  # DATABASE (an option's separate value is never a remote)
        i += 1
    return files, db or DEFAULT_DB


def _controllers(proc: str) -> list[tuple[int, list[str]]]:
    out = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/comm") as f:
                if f.read().strip() != "ovn-controller":
                    continue
            with open(f"{proc}/{entry}/cmdline", "rb") as f:
                args = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        out.append((int(entry), [a for a in args if a]))
    return out


def _same_db(a: str, b: str) -> bool:
    # /var/run is /run on every distribution that ships OVN
    return a.replace("/var/run/", "/run/") == b.replace("/var/run/", "/run/")


def _seen_by(pid: int | None, path: str, proc: str) -> str:
    """``path`` as the process sees it: inside its container when it runs in one."""
    if pid is None or path == "none":
        return path
    where = f"{proc}/{pid}/root" if os.path.isabs(path) else f"{proc}/{pid}/cwd"
    inside = os.path.join(where, path.lstrip("/"))
    return inside if os.path.exists(inside) else path


def find(db: str, ssl_table: tuple[str, str, str] | None, *, proc: str = "/proc"
         ) -> SbTls | None:
    """The certificates of the ovn-controller attached to OVSDB ``db``; None if none.

    The ovn-controller whose DATABASE is ``db``; on the node's own OVSDB socket,
    also the only one running (a container may name its OVSDB otherwise).
    """
    controllers = [(pid, *command_line(args)) for pid, args in _controllers(proc)]
    mine = [c for c in controllers if _same_db(c[2], db)]
    if not mine and len(controllers) == 1 and _same_db(db, DEFAULT_DB):
        mine = controllers
    pid, files, _db = mine[0] if mine else (None, {}, "")
    if len(files) == 3:
        where = f"ovn-controller's command line (pid {pid})"
    elif ssl_table is not None and all(ssl_table):
        files = dict(zip(("private_key", "certificate", "ca_cert"), ssl_table))
        where = "the local OVSDB's SSL table"
    else:
        return None
    return SbTls(*(_seen_by(pid, files[k], proc) for k in ("private_key", "certificate",
                                                              "ca_cert")), source=where)
