"""Command line: the TUI (default), ``snapshot``, ``exporter`` and the ``lab`` commands."""

from __future__ import annotations

import argparse
import gc
import grp
import os
import pwd
import stat
import sys
from pathlib import Path

from collectors.endpoints import Endpoints
from collectors.saved.result import SavedError
from lab.run import LabError, check_name  # lab.node (~20-40 ms to import) only for a lab


class _Parser(argparse.ArgumentParser):
    """One line on a usage error, exit status 2: scripts and humans both cope.

    No abbreviated flags: which flags were given is read from the arguments
    (see refuse_unused), and a prefix that means one flag today may mean
    another once a flag is added."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"interval must be between 0.1 and 3600 seconds, not {text}")
    return value


def _rates_window(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.5 <= value <= 300:
        raise argparse.ArgumentTypeError(f"--rates must be between 0.5 and 300 seconds, not {text}")
    return value


def _trace_proto(text: str) -> str:
    from model.trace import TraceInputError, parse_proto

    try:
        parse_proto(text)
    except TraceInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _ipv4(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from None


def _db_remote(text: str) -> str:
    """Only active remotes: a typo must never make us listen (punix:, ptcp:)."""
    for remote in text.split(","):
        kind, _, rest = remote.partition(":")
        if kind not in ("unix", "tcp", "ssl") or not rest:
            raise argparse.ArgumentTypeError(
                f"not an OVSDB remote: {remote!r} (use unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)")
    return text


def _lab_name(text: str) -> str:
    try:
        return check_name(text)
    except LabError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _whole_number(what: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}, not {text}")
        return value
    return parse


_count = _whole_number("count", 1, 1_000_000)
_top_flows = _whole_number("top flows", 0, 1000)


def _listen(text: str):
    from exporter.server import ListenError, parse_listen

    try:
        return parse_listen(text)
    except ListenError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _connection_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The same flags on the main parser and each subcommand.

    Subcommands get SUPPRESS defaults so a flag given before the subcommand
    name is not reset by the subparser.
    """
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("connection")
    g.add_argument("--db", type=_db_remote, default=d(None), metavar="URL",
                   help="OVSDB remote (default: unix:$OVS_RUNDIR/db.sock, OVS_RUNDIR defaulting "
                        "to /var/run/openvswitch)")
    g.add_argument("--ovs-rundir", default=d(None), metavar="DIR",
                   help="OVS run directory holding <bridge>.mgmt for ovs-ofctl "
                        "(default: $OVS_RUNDIR or /var/run/openvswitch)")
    g.add_argument("--libvirt", default=d(None), metavar="URI",
                   help="libvirt URI, opened read-only (default: qemu:///system)")
    g.add_argument("--netns", default=d(None), metavar="NAME",
                   help="network namespace holding the node's taps (default: this one)")
    g.add_argument("--lab", action="store_true", default=d(False),
                   help="use the built-in lab (brought up first if needed; root only)")
    g.add_argument("--lab-name", type=_lab_name, default=d("lab"), metavar="NAME",
                   help="which lab --lab and the lab commands use (default: lab)")
    g.add_argument("--interval", type=_interval, default=d(None), metavar="SECONDS",
                   help="counter refresh interval (default: 1; exporter: 5)")
    g.add_argument("--from", dest="from_path", default=d(None), metavar="PATH",
                   help="read a saved node instead of this one: a sosreport (directory or "
                        "tarball), a directory of command outputs, or a saved snapshot --json")


LIVE_FLAGS = (("db", "--db"), ("ovs_rundir", "--ovs-rundir"), ("libvirt", "--libvirt"),
              ("netns", "--netns"), ("lab", "--lab"))


def check_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--from reads files: a live connection flag beside it would be silently ignored."""
    if getattr(args, "from_path", None) is None:
        return
    if args.command not in (None, "snapshot"):  # trace asks the running switch; lab, exporter
        parser.error(f"--from reads a saved node; {args.command} works on a live one only")
    given = [flag for dest, flag in LIVE_FLAGS if getattr(args, dest, None)]
    if given:
        parser.error(f"--from reads a saved node; it cannot be combined with {', '.join(given)}")


# The one exit-status rule of `snapshot`, for every source (also in the README).
SNAPSHOT_EXIT = ("exit status: 0 every source (ovsdb, openflow, libvirt, netlink) was read; "
                 "1 a source could not be read (one line on stderr for each, saying why; "
                 "the output still has what was read); 2 usage error")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ovsvlan-tui",
                description="Live view of Open vSwitch VLAN networking on an OpenStack compute node.",
                epilog="snapshot " + SNAPSHOT_EXIT)
    _connection_flags(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    snap = sub.add_parser("snapshot", help="print the joined node model once and exit",
                          epilog=SNAPSHOT_EXIT)
    snap.add_argument("--json", action="store_true",
                      help="one JSON object (schema ovsvlan-tui/snapshot/1) instead of a tree, "
                           "on one line")
    snap.add_argument("--pretty", action="store_true",
                      help="with --json: indented by 2 for a reader (slower on a busy node)")
    snap.add_argument("--rates", type=_rates_window, default=None, metavar="SECONDS",
                      help="read the node twice, SECONDS apart: drops get rates, each vNIC's "
                           "path is measured")
    _connection_flags(snap, suppress=True)

    exp = sub.add_parser(
        "exporter", help="serve the node's VLAN health as Prometheus metrics on /metrics",
        epilog="Exit status: 0 when stopped (SIGTERM, SIGINT); 1 when the address cannot be "
               "listened on (in use, or not an address of this machine); 2 for a usage error.")
    exp.add_argument("--listen", type=_listen, default=None, metavar="HOST:PORT",
                     help="where to serve (default: 127.0.0.1:9479, this machine only; any "
                          "other address must be written out, e.g. 0.0.0.0:9479)")
    exp.add_argument("--top-flows", type=_top_flows, default=0, metavar="N",
                     help="also export the N busiest flows' counters (default: 0, none: "
                          "series per flow are opt-in)")
    _connection_flags(exp, suppress=True)
    tr = sub.add_parser("trace", help="trace one packet from a vNIC (ofproto/trace, read-only)")
    tr.add_argument("--port", required=True, metavar="TAP",
                    help="the vNIC's tap, OVS port or MAC")
    tr.add_argument("--to", required=True, type=_ipv4, metavar="IP",
                    help="destination (e.g. the gateway)")
    tr.add_argument("--proto", default="icmp", type=_trace_proto, metavar="icmp|arp|tcp:N|udp:N",
                    help="what to send (default: icmp echo)")
    tr.add_argument("--from-wire", action="store_true",
                    help="the reverse direction: from the NIC on the provider VLAN toward the vNIC")
    tr.add_argument("--src", type=_ipv4, metavar="IP",
                    help="the vNIC's IP (default: from its firewall flows)")
    tr.add_argument("--to-mac", metavar="MAC",
                    help="destination MAC (default: broadcast, as before ARP resolves it)")
    tr.add_argument("--json", action="store_true", help="one JSON object (ovsvlan-tui/trace/1)")
    _connection_flags(tr, suppress=True)

    lab = sub.add_parser("lab", help="a real OVS + libvirt compute node in namespaces (root only)")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True,
                                 parser_class=_Parser)
    for name, text in (("up", "build the lab (idempotent)"),
                       ("down", "remove the lab: processes, namespaces, files"),
                       ("status", "say whether it is up and how to connect to it")):
        a = lab_sub.add_parser(name, help=text)
        a.add_argument("--lab-name", type=_lab_name, default=argparse.SUPPRESS, metavar="NAME")
        if name == "up":
            kind = a.add_mutually_exclusive_group()
            kind.add_argument("--ovn", action="store_true",
                              help="an ML2/OVN chassis (real OVN NB/SB, northd, ovn-controller) "
                                   "instead of the ML2/OVS agent's node")
            kind.add_argument("--tunnels", action="store_true",
                              help="grown: a second node joined by VXLAN (br-tun), a tenant VXLAN "
                                   "network with an instance on each node, router and DHCP ports, "
                                   "a Nova 1.0 domain, a bonded NIC")
    sos = lab_sub.add_parser("sos", help="write the running lab as a sosreport-shaped directory "
                                         "(then read it with --from DIR)")
    sos.add_argument("dir", metavar="DIR", help="a new or empty directory")
    sos.add_argument("--lab-name", type=_lab_name, default=argparse.SUPPRESS, metavar="NAME")
    ping = lab_sub.add_parser("ping", help="ping instance01's gateway (VLAN 2 -> 100 and back)")
    ping.add_argument("--continuous", action="store_true", help="keep pinging until interrupted")
    ping.add_argument("--count", type=_count, default=3, help="pings to send (default: 3)")
    ping.add_argument("--vxlan", action="store_true",
                      help="instead: instance02 pings instance03 on node 2 across VXLAN "
                           "(a lab up with --tunnels)")
    ping.add_argument("--lab-name", type=_lab_name, default=argparse.SUPPRESS, metavar="NAME")
    return p


def endpoint_flags(endpoints: Endpoints) -> list[str]:
    """The flags that point ``ovsvlan-tui`` at ``endpoints`` (what resolve_endpoints reads)."""
    return endpoints.flags()


# The connection flags each command reads; any other one given is refused
# (it would do nothing, and the operator would believe it did something).
CONNECTION_FLAGS = ("--db", "--ovs-rundir", "--libvirt", "--netns", "--lab", "--lab-name",
                    "--interval")
USES = {
    None: set(CONNECTION_FLAGS),  # the TUI
    "snapshot": set(CONNECTION_FLAGS) - {"--interval"},  # reads once: no interval
    "trace": set(CONNECTION_FLAGS) - {"--interval"},  # traces once
    "exporter": set(CONNECTION_FLAGS),
    "lab": {"--lab-name"},
}


def refuse_unused(parser: argparse.ArgumentParser, args: argparse.Namespace,
                  argv: list[str]) -> None:
    """A usage error (one line, exit 2) for a flag the command does not use."""
    given = []
    for token in argv:
        if token == "--":
            break
        flag = token.split("=", 1)[0]
        if flag in CONNECTION_FLAGS and flag not in given:
            given.append(flag)
    unused = [f for f in given if f not in USES[args.command]]
    if unused:
        what = f"ovsvlan-tui {args.command}" if args.command else "the TUI"
        parser.error(f"{', '.join(unused)} does nothing for {what}: leave it out")


def resolve_endpoints(args: argparse.Namespace) -> Endpoints:
    """Flags, then the environment, then the defaults of a real node."""
    if args.lab:
        from lab import node as labmod

        lab = labmod.Lab(args.lab_name)
        labmod.up(lab)
        e = lab.endpoints()
        # an explicit flag still wins, e.g. --lab --libvirt test:///default
        return Endpoints(db=args.db or e.db, ovs_rundir=args.ovs_rundir or e.ovs_rundir,
                         libvirt=args.libvirt or e.libvirt, netns=args.netns or e.netns)
    rundir = args.ovs_rundir or os.environ.get("OVS_RUNDIR") or "/var/run/openvswitch"
    return Endpoints(
        db=args.db or f"unix:{rundir}/db.sock",
        ovs_rundir=rundir,
        libvirt=args.libvirt or "qemu:///system",
        netns=args.netns,
    )


def _socket_access(path: Path, shown: str) -> str | None:
    """What connecting to a unix socket needs, when this user lacks it."""
    if os.access(path, os.R_OK | os.W_OK) or (
            not path.exists() and os.access(path.parent, os.X_OK)):
        return None  # allowed, or nothing listens there (the source itself says so)
    try:
        st = path.stat()
        owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
        how = f"{owner}:{group} {stat.filemode(st.st_mode)}"
    except (OSError, KeyError):
        how = f"{path.parent} is not open to this user"
    return f"write access to {shown} ({how})"


def missing_privileges(endpoints: Endpoints) -> list[str]:
    """Which source needs which privilege this user lacks, one phrase per source.

    Checked up front so an operator who forgot sudo reads one sentence
    instead of working it out from three failing sources.
    """
    if os.geteuid() == 0:
        return []
    out = []
    if endpoints.db.startswith("unix:") and "," not in endpoints.db:
        need = _socket_access(Path(endpoints.db[5:]), endpoints.db[5:])
        if need:
            out.append(f"ovsdb needs {need}")
    rundir = Path(endpoints.ovs_rundir)
    try:
        mgmt = min(rundir.glob("*.mgmt"))
    except (OSError, ValueError):  # unreadable, or no bridge yet
        mgmt = rundir / "br-int.mgmt"
    need = _socket_access(mgmt, str(rundir / "<bridge>.mgmt"))
    if need:
        out.append(f"openflow (ovs-ofctl) needs {need}")
    if endpoints.netns:
        out.append(f"netlink needs root (CAP_SYS_ADMIN) to enter network namespace "
                   f"{endpoints.netns!r}")
    return out


def privilege_message(missing: list[str]) -> str:
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        user = f"uid {os.geteuid()}"
    return (f"ovsvlan-tui: running as {user}: " + "; ".join(missing)
            + ". The other sources still work; run with sudo to see everything.")


def end_now(status: int) -> int:
    """End the process here, its output written: the interpreter's own ending
    frees and collects a 50k-flow reading's million objects one by one first
    (0.12 s median of 8 runs on the bench node, up to 0.25 s), for nobody."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `snapshot | head`: as main says it
        status = 1
    os._exit(status)


def _saved(args: argparse.Namespace) -> int:
    if args.command == "snapshot":
        from tui.snapshot import run_saved_snapshot

        return run_saved_snapshot(args.from_path, as_json=args.json, pretty=args.pretty)
    from tui.app import run_saved_app

    return run_saved_app(args.from_path)


def main(argv: list[str] | None = None) -> int:
    """``argv`` None: this process's own command line; a snapshot then ends the
    process once its output is written (see end_now)."""
    own = argv is None
    argv = sys.argv[1:] if own else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    check_from(parser, args)
    refuse_unused(parser, args, argv)
    try:
        if args.command == "lab":
            from tui.lab_command import run_lab_command

            return run_lab_command(args)
        if args.from_path is not None:
            return _saved(args)
        endpoints = resolve_endpoints(args)
        missing = missing_privileges(endpoints)
        if missing:
            # Before the TUI takes the screen: it is still there when the TUI exits.
            print(privilege_message(missing), file=sys.stderr)
        if args.command == "snapshot":
            # One reading, then the process ends: the cyclic GC would only walk
            # what it builds, which all lives to the end (~0.1-0.25 s of CPU at
            # 50k flows, loaded 2-core machine).
            gc.disable()
            from tui.snapshot import run_snapshot

            status = run_snapshot(endpoints, as_json=args.json, pretty=args.pretty,
                                  rates=args.rates)
            return end_now(status) if own else status
        if args.command == "exporter":
            from exporter.server import DEFAULT_INTERVAL, DEFAULT_LISTEN, run_exporter

            return run_exporter(endpoints, args.listen or DEFAULT_LISTEN,
                                interval=args.interval or DEFAULT_INTERVAL,
                                top_flows=args.top_flows)
        if args.command == "trace":
            from tui.trace_command import run_trace

            return run_trace(endpoints, port=args.port, to=args.to, proto=args.proto,
                             from_wire=args.from_wire, src=args.src, to_mac=args.to_mac,
                             as_json=args.json)
        # The cyclic GC waits until the first refresh with flows is on screen
        # (the app turns it on again): each collection walks every object, and
        # what starting makes (textual's widgets, 50k flows) all lives on:
        # collections took 0.36-0.42 s of CPU before the first frame with the
        # flows' counters at 50k flows.
        gc.disable()
        from node.live import LiveBackend

        backend = LiveBackend(endpoints)
        from tui.app import run_app

        gc.freeze()  # what the imports made lives as long as the process: never walked again
        return run_app(endpoints, interval=args.interval or 1.0, backend=backend,
                       gc_paused=True)
    except LabError as e:
        print(f"ovsvlan-tui: {e}", file=sys.stderr)
        return 1
    except SavedError as e:
        print(f"ovsvlan-tui: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `snapshot | head`: the reader left; say nothing more, as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
