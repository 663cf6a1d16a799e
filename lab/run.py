"""Commands for the lab: argument lists only, inside a lab namespace, and the
lab's OVS daemons started and stopped by their own pid files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


class LabError(Exception):
    """A lab command could not do its job; the message says what to do."""


# A lab's name becomes a directory under LAB_ROOT (which `down` deletes) and
# part of namespace names, so it may not hold "/", ".." or anything odd.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", re.ASCII)


def check_name(name: str) -> str:
    """A lab's name, or LabError saying what one may be (here, not in lab.node:
    the command line checks it before knowing whether a lab is used)."""
    if not _NAME.fullmatch(name):
        raise LabError(f"bad lab name {name!r}: use 1-32 letters, digits, '-' or '_', "
                       "starting with a letter or digit")
    return name


def run(args: list[str], *, ns: str | None = None, env: dict | None = None,
        check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    if ns is not None:
        args = ["ip", "netns", "exec", ns, *args]
    full_env = None
    if env:
        full_env = {**os.environ, **env}
    proc = subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def ovs_env(rundir: Path) -> dict[str, str]:
    return {
        "OVS_RUNDIR": str(rundir),
        "OVS_DBDIR": str(rundir),
        "OVS_LOGDIR": str(rundir),
        "OVS_SYSCONFDIR": str(rundir),
    }


def vsctl(rundir: Path, *args: str) -> str:
    return run(["ovs-vsctl", f"--db=unix:{rundir}/db.sock", "--timeout=10", *args],
               env=ovs_env(rundir)).stdout


def ofctl(rundir: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["ovs-ofctl", *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **ovs_env(rundir)}, timeout=30)
    if proc.returncode != 0:
        raise LabError(f"ovs-ofctl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def pid_alive(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process runs (a zombie does not count:
    in a container whose init does not reap, a daemon we killed stays one)."""
    try:
        pid = int(pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return None if state in ("Z", "X") else pid


def namespaces() -> set[str]:
    out = run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


DAEMONS = ("ovsdb-server", "ovs-vswitchd")


def start_daemon(rundir: Path, ns: str, daemon: str) -> None:
    """One daemon of a lab OVS, with its own files, in ``ns``."""
    env = ovs_env(rundir)
    common = [f"--pidfile={rundir}/{daemon}.pid", f"--unixctl={rundir}/{daemon}.ctl",
              f"--log-file={rundir}/{daemon}.log", "--no-chdir", "--detach", "-vconsole:off"]
    if daemon == "ovsdb-server":
        run(["ovsdb-server", str(rundir / "conf.db"), f"--remote=punix:{rundir}/db.sock",
             *common], ns=ns, env=env)
    elif daemon == "ovs-vswitchd":
        run(["ovs-vswitchd", f"unix:{rundir}/db.sock", "--disable-system", *common],
            ns=ns, env=env)
    else:
        raise ValueError(f"not a lab daemon: {daemon!r}")


def stop_daemon(rundir: Path, daemon: str) -> None:
    """Stop one daemon of a lab OVS by its pid file, and only it."""
    pidfile = rundir / f"{daemon}.pid"
    pid = pid_alive(pidfile)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if pid_alive(pidfile) is None:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_ovs(rundir: Path, ns: str) -> None:
    """ovsdb-server + ovs-vswitchd (userspace datapath) with their own files, in ``ns``."""
    rundir.mkdir(parents=True, exist_ok=True)
    db = rundir / "conf.db"
    if not db.exists():
        run(["ovsdb-tool", "create", str(db), str(SCHEMA)], env=ovs_env(rundir))
    start_daemon(rundir, ns, "ovsdb-server")
    version = run(["ovs-vswitchd", "--version"]).stdout.split()[-1]
    vsctl(rundir, "--no-wait", "init", "--", "set", "Open_vSwitch", ".",
          f"ovs_version={version}", "external_ids:hostname=" + ns)
    start_daemon(rundir, ns, "ovs-vswitchd")


def stop_ovs(rundir: Path) -> None:
    for daemon in reversed(DAEMONS):
        stop_daemon(rundir, daemon)


def stop(proc: subprocess.Popen, timeout: float = 5) -> None:
    """A process this program started: asked to end, killed if it will not."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
