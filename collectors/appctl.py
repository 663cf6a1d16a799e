"""ovs-vswitchd's own reports through ``ovs-appctl``, read-only.

Only commands that compute or report are ever sent (``READ_ONLY``): a
packet trace, MAC learning, datapath counters, conntrack entries, bonds.
Argument lists, never a shell, and ``--`` ends ovs-appctl's options so a
bridge or flow can never be read as one. The parsers take the text exactly
as OVS 2.x-3.x prints it (tests/fixtures/appctl, with their sources).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from model.vswitchd import (
    Bond,
    BondMember,
    CtEntry,
    CtTuple,
    DatapathPort,
    DatapathStats,
    DpifPort,
    FdbEntry,
    Trace,
    TracePass,
    TraceStep,
)

APPCTL = "ovs-appctl"
DEFAULT_RUNDIR = "/var/run/openvswitch"
# Commands that only compute or report (ovs-vswitchd(8)); anything else is refused.
READ_ONLY = frozenset({
    "ofproto/trace", "fdb/show", "dpctl/show", "dpctl/dump-conntrack", "bond/show",
    "dpif/show", "ofproto/list-tunnels",
})


class AppctlError(Exception):
    """ovs-appctl could not answer; the message says why and what to do."""


def target(rundir: str | None) -> str:
    """The control socket of ovs-vswitchd in ``rundir``.

    A packaged daemon listens on ``ovs-vswitchd.<pid>.ctl`` (its pid from
    ``ovs-vswitchd.pid``); one started with ``--unixctl`` (the lab) on the
    path given, here ``ovs-vswitchd.ctl``.
    """
    rd = Path(rundir or os.environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR)
    fixed = rd / "ovs-vswitchd.ctl"
    if fixed.exists():
        return str(fixed)
    try:
        pid = int((rd / "ovs-vswitchd.pid").read_text().strip())
    except (OSError, ValueError):
        return str(fixed)  # the error then names the socket that is missing
    return str(rd / f"ovs-vswitchd.{pid}.ctl")


def command_args(rundir: str | None, command: str, *args: str, timeout: int = 5) -> list[str]:
    """The argument list for one read-only command (never a shell string)."""
    if command not in READ_ONLY:
        raise ValueError(f"not a read-only ovs-appctl command: {command!r}")
    return [APPCTL, "-t", target(rundir), f"--timeout={timeout}", "--", command, *args]


def run(rundir: str | None, command: str, *args: str, timeout: int = 5) -> str:
    """Run one read-only command; raise AppctlError with what to do."""
    argv = command_args(rundir, command, *args, timeout=timeout)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 2,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise AppctlError("ovs-appctl not found: install openvswitch-switch "
                          "(or openvswitch-common)") from None
    except subprocess.TimeoutExpired:
        raise AppctlError(f"ovs-appctl {command} took more than {timeout + 2} s: "
                          "is ovs-vswitchd busy or hung?") from None
    if proc.returncode != 0:
        # skip ovs-appctl's own log lines ("2026-...Z|00001|unixctl|WARN|..."): the
        # sentence after them says what failed
        err = [line for line in (proc.stderr.strip() or proc.stdout.strip()).splitlines()
               if not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T.*\|[A-Z]+\|", line)]
        first = err[0] if err else f"exit status {proc.returncode}"
        if "No such file" in first or "Connection refused" in first:
            first += (f" (is ovs-vswitchd running? its control socket is looked for in "
                      f"{Path(argv[2]).parent}; set --ovs-rundir)")
        elif "Permission denied" in first:
            first += " (run as root: the control socket is root's)"
        raise AppctlError(f"ovs-appctl {command}: {first}")
    return proc.stdout


def trace(rundir: str | None, args: list[str]) -> tuple[Trace, tuple[DpifPort, ...]]:
    """One ``ofproto/trace`` and the ofport/datapath-port map to read its output with.

    Only the trace and ``dpif/show`` run: no flow table is dumped for it.
    """
    text = run(rundir, "ofproto/trace", *args, timeout=10)
    return parse_trace(text), parse_dpif_show(run(rundir, "dpif/show"))


# --------------------------------------------------------------------------
# ofproto/trace

_STEP = re.compile(r"^( *)([0-9]{1,3})\. (.*)$")
_PRIORITY = re.compile(r"(?:^|, )priority ([0-9]{1,5})(?:, cookie 0x([0-9a-f]{1,16}))?$")
_BRIDGE = re.compile(r'^bridge\("(.*)"\)$')
_RESUME = ("thaw", "Resuming from table")


def parse_trace(text: str) -> Trace:
    """An ``ofproto/trace`` output (with or without ``--ct-next`` passes).

    A step's actions are the lines indented deeper than its "N." header; a
    header deeper than the open one is a nested resubmit that returns.
    """
    passes: list[TracePass] = []
    unparsed: list[str] = []
    state: dict = {"flow": None, "recirc": None, "ends": {}}
    built: list[dict] = []  # this pass's steps, in print order
    open_steps: list[dict] = []  # the step whose actions are being read, and its parents
    bridge = ""

    def close_pass() -> None:
        if state["flow"] is not None or built:
            ends = state["ends"]
            passes.append(TracePass(state["flow"] or "", tuple(_step(b) for b in built),
                                    ends.get("Final flow"), ends.get("Megaflow"),
                                    ends.get("Datapath actions"), state["recirc"]))
        state.update(flow=None, recirc=None, ends={})
        built.clear()
        open_steps.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or set(stripped) == {"-"}:
            continue
        if set(stripped) == {"="}:
            if state["flow"] is not None or built:
                close_pass()
            continue
        if line.startswith("recirc(") and " - " in line:
            state["recirc"] = line
            continue
        if line.startswith("Flow: "):
            if state["flow"] is not None:
                close_pass()
            state["flow"] = line[6:]
            continue
        head, sep, rest = line.partition(": ")
        if sep and head in ("Final flow", "Megaflow", "Datapath actions"):
            open_steps.clear()
            state["ends"][head] = rest
            continue
        m = _BRIDGE.match(line)
        if m:
            open_steps.clear()
            bridge = m.group(1)
            continue
        m = _STEP.match(line)
        if m:
            dot = len(m.group(1)) + len(m.group(2))
            while open_steps and open_steps[-1]["dot"] >= dot:
                open_steps.pop()
            b = {"bridge": bridge, "table": int(m.group(2)), "dot": dot,
                 "depth": len(open_steps), "head": m.group(3), "actions": [], "notes": [],
                 "pass_no": len(passes)}
            built.append(b)
            open_steps.append(b)
            continue
        indent = len(line) - len(line.lstrip(" "))
        while len(open_steps) > 1 and open_steps[-1]["dot"] >= indent:
            open_steps.pop()
        if open_steps and open_steps[-1]["dot"] < indent:
            owner = open_steps[-1]
            (owner["notes"] if stripped.startswith("->") else owner["actions"]).append(
                stripped[2:].strip() if stripped.startswith("->") else stripped)
            continue
        if stripped.startswith(_RESUME):
            # OVS heads a resumed pass with the bridge the trace started on; the
            # pass really resumes where the ct(table=N) that recirculated it was.
            m = re.match(r"Resuming from table ([0-9]+)$", stripped)
            if m:
                bridge = _ct_bridge(passes, int(m.group(1))) or bridge
            continue
        unparsed.append(line)
    close_pass()
    return Trace(tuple(passes), tuple(unparsed))


def _ct_bridge(passes: list[TracePass], table: int) -> str | None:
    """The bridge of the last ct(...,table=N) step before a resumed pass."""
    want = re.compile(rf"table={table}(?![0-9])")
    for p in reversed(passes):
        for s in reversed(p.steps):
            if any(a.startswith("ct(") and want.search(a) for a in s.actions):
                return s.bridge
    return None


def _step(b: dict) -> TraceStep:
    head: str = b["head"]
    priority = cookie = None
    match = head
    if head.rstrip(".") == "No match":
        match = ""
    else:
        m = _PRIORITY.search(head)
        if m:
            priority = int(m.group(1))
            cookie = int(m.group(2), 16) if m.group(2) else None
            match = head[: m.start()]
    return TraceStep(bridge=b["bridge"], table=b["table"], match=match, priority=priority,
                     cookie=cookie, actions=tuple(b["actions"]), notes=tuple(b["notes"]),
                     depth=b["depth"], pass_no=b["pass_no"])


# --------------------------------------------------------------------------
# fdb/show, dpif/show, dpctl/show -s


def parse_fdb(bridge: str, text: str) -> tuple[FdbEntry, ...]:
    """``fdb/show BRIDGE``: " port  VLAN  MAC  Age" rows."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0].lower() == "port":
            continue
        port, vlan, mac, age = parts
        if not vlan.isdigit() or mac.count(":") != 5:
            continue
        out.append(FdbEntry(bridge, port, int(vlan), mac.lower(),
                            int(age) if age.isdigit() else None))
    return tuple(out)


_DPIF_PORT = re.compile(r"^ {4}(\S.*?) ([0-9]+|LOCAL)/([0-9]+|none):(?: \((.*)\))?$")


def parse_dpif_show(text: str) -> tuple[DpifPort, ...]:
    """``dpif/show``: each bridge's ports with ofport/datapath port."""
    out = []
    bridge = None
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("    ") and line.endswith(":"):
            bridge = line.strip()[:-1]
            continue
        m = _DPIF_PORT.match(line)
        if m and bridge:
            ofport, dp = m.group(2), m.group(3)
            out.append(DpifPort(bridge, m.group(1), int(ofport) if ofport.isdigit() else None,
                                int(dp) if dp.isdigit() else None, m.group(4) or ""))
    return tuple(out)


_DP_PORT = re.compile(r"^  port ([0-9]+): (\S+)(?: \((.*)\))?$")
_KV = re.compile(r"([a-z_]+):([0-9]+)")


def parse_dpctl_show(text: str) -> tuple[DatapathStats, ...]:
    """``dpctl/show [-s]``: lookups (hit/missed/lost), flows, ports and their counters."""
    out: list[DatapathStats] = []
    cur: dict | None = None
    port: dict | None = None

    def flush_port() -> None:
        nonlocal port
        if port is not None and cur is not None:
            cur["ports"].append(DatapathPort(**port))
        port = None

    def flush() -> None:
        nonlocal cur
        flush_port()
        if cur is not None:
            out.append(DatapathStats(cur["name"], cur.get("hit"), cur.get("missed"),
                                     cur.get("lost"), cur.get("flows"), tuple(cur["ports"])))
        cur = None

    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            flush()
            cur = {"name": line[:-1], "ports": []}
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("lookups:"):
            cur.update({k: int(v) for k, v in _KV.findall(s)})
        elif s.startswith("flows:") and s[6:].strip().isdigit():
            cur["flows"] = int(s[6:].strip())
        elif (m := _DP_PORT.match(line)):
            flush_port()
            port = {"number": int(m.group(1)), "name": m.group(2), "type": m.group(3) or ""}
        elif port is not None and s.startswith(("RX packets:", "TX packets:")):
            side = s[:2].lower()
            kv = dict(_KV.findall(s))
            port[f"{side}_packets"] = int(kv["packets"]) if "packets" in kv else None
            port[f"{side}_errors"] = int(kv["errors"]) if "errors" in kv else None
            port[f"{side}_dropped"] = int(kv["dropped"]) if "dropped" in kv else None
    flush()
    return tuple(out)


# --------------------------------------------------------------------------
# dpctl/dump-conntrack

_CT_GROUP = re.compile(r"(orig|reply|protoinfo)=\(([^)]*)\)")


def _ct_tuple(body: str) -> CtTuple:
    kv = dict(p.split("=", 1) for p in body.split(",") if "=" in p)

    def num(key: str) -> int | None:
        v = kv.get(key)
        return int(v) if v is not None and v.isdigit() else None

    return CtTuple(src=kv.get("src", "?"), dst=kv.get("dst", "?"), sport=num("sport"),
                   dport=num("dport"), icmp_id=kv.get("id"), icmp_type=num("type"),
                   icmp_code=num("code"))


def parse_conntrack(text: str) -> tuple[CtEntry, ...]:
    """``dpctl/dump-conntrack [zone=N]``: one connection a line."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if ",orig=(" not in line:
            continue
        proto = line.split(",", 1)[0]
        groups = {k: v for k, v in _CT_GROUP.findall(line)}
        if "orig" not in groups or "reply" not in groups:
            continue
        rest = dict(p.split("=", 1) for p in _CT_GROUP.sub("", line).split(",") if "=" in p)
        state = None
        if "protoinfo" in groups:
            info = dict(p.split("=", 1) for p in groups["protoinfo"].split(",") if "=" in p)
            state = info.get("state")
        zone = rest.get("zone", "0")
        mark = rest.get("mark")
        out.append(CtEntry(proto=proto, orig=_ct_tuple(groups["orig"]),
                           reply=_ct_tuple(groups["reply"]),
                           zone=int(zone) if zone.isdigit() else 0, state=state,
                           mark=int(mark, 0) if mark and mark.isdigit() else None,
                           labels=rest.get("labels")))
    return tuple(out)


# --------------------------------------------------------------------------
# bond/show

_BOND_HEAD = re.compile(r"^---- (.+) ----$")
_MEMBER = re.compile(r"^(?:member|slave) (\S+): (enabled|disabled)$")


def parse_bond_show(text: str) -> tuple[Bond, ...]:
    """``bond/show``: each bond's mode, LACP status and members (OVS < 2.15 says "slave")."""
    out: list[Bond] = []
    cur: dict | None = None

    def flush() -> None:
        if cur is not None:
            out.append(Bond(cur["name"], cur.get("mode"), cur.get("lacp"),
                            tuple(BondMember(**m) for m in cur["members"])))

    for raw in text.splitlines():
        line = raw.rstrip()
        m = _BOND_HEAD.match(line)
        if m:
            flush()
            cur = {"name": m.group(1), "members": []}
            continue
        if cur is None:
            continue
        s = line.strip()
        if (m := _MEMBER.match(line)):
            cur["members"].append({"name": m.group(1), "enabled": m.group(2) == "enabled"})
        elif s in ("active member", "active slave") and cur["members"]:
            cur["members"][-1]["active"] = True
        elif s.startswith("may_enable:") and cur["members"] and line.startswith("  "):
            cur["members"][-1]["may_enable"] = s.split(":", 1)[1].strip() == "true"
        elif s.startswith("bond_mode:"):
            cur["mode"] = s.split(":", 1)[1].strip()
        elif s.startswith("lacp_status:"):
            cur["lacp"] = s.split(":", 1)[1].strip()
    flush()
    return tuple(out)
