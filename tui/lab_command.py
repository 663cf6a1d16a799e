"""The ``lab`` commands of the CLI: build, remove, describe, save and ping a lab."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from lab import node as labmod
from lab import ovn as labovn
from lab import tunnels as labtun


def run_lab_command(args: argparse.Namespace) -> int:
    """``ovsvlan-tui lab up|down|status|sos|ping``."""
    lab = labmod.Lab(args.lab_name)
    action = args.lab_command
    if action == "up":
        built_as = ("an OVN chassis" if labovn.is_ovn(lab) else
                    "a grown lab (--tunnels)" if labtun.is_grown(lab) else None)
        if args.ovn:
            repaired = labovn.up(lab)
        elif args.tunnels:
            repaired = labtun.up(lab)
        elif built_as and labmod.is_up(lab):
            raise labmod.LabError(f"lab {lab.name!r} is up as {built_as}: "
                                  f"`{labmod.command(lab, 'down')}` first, or give the same option")
        else:
            repaired = labmod.up(lab)
        if repaired:
            print(f"lab {lab.name!r} was damaged ({'; '.join(repaired)}): rebuilt it; a "
                  f"running `{labmod.command(lab, 'ping --continuous')}` follows the new one")
        print(labtun.status(lab))
    elif action == "down":
        labtun.down(lab)
        print(f"lab {lab.name!r} is down")
    elif action == "status":
        print(labtun.status(lab))
        return 0 if labmod.is_up(lab) else 1
    elif action == "sos":
        from lab.sos import write_sos

        written = write_sos(lab, Path(args.dir))
        print(f"wrote {len(written)} files of lab {lab.name!r} under {args.dir}; "
              f"read them with: ovsvlan-tui --from {args.dir}")
    elif action == "ping":
        labmod.require_root("ping")
        if not labmod.is_up(lab):
            raise labmod.LabError(f"lab {lab.name!r} is down: run `{labmod.command(lab, 'up')}` "
                                  "first")
        if args.vxlan and not labtun.is_up(lab):
            raise labmod.LabError(f"lab {lab.name!r} has no VXLAN network: run "
                                  f"`{labmod.command(lab, 'down')}` and "
                                  f"`{labmod.command(lab, 'up --tunnels')}`")
        ping = labtun.ping_command if args.vxlan else labmod.ping_command
        if args.continuous:
            return follow_ping(lab, ping)
        try:
            return subprocess.run(ping(lab, count=args.count)).returncode
        except KeyboardInterrupt:
            return 0
    return 0


REBUILD_WAIT = 60.0  # seconds a continuous ping waits for its lab to come back


def follow_ping(lab, ping=labmod.ping_command) -> int:
    """``lab ping --continuous`` (``ping``'s command line) that notices its lab
    was rebuilt (a new generation) and follows it, instead of pinging into a
    namespace that is gone."""
    gen = labmod.generation(lab)
    proc = subprocess.Popen(ping(lab, continuous=True))
    try:
        while True:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
            # the build's token: the same while the lab stands (a daemon stopped and
            # started again is the same lab), another once it was rebuilt, None
            # while it is down or being rebuilt
            now = labmod.generation(lab)
            if now == gen:
                if proc.returncode is None:
                    continue
                return proc.returncode  # ping ended on its own, the lab unchanged
            if proc.returncode is None:
                proc.terminate()
                proc.wait()
            deadline = time.monotonic() + REBUILD_WAIT
            while (now is None or not labmod.is_up(lab)) and time.monotonic() < deadline:
                time.sleep(1.0)
                now = labmod.generation(lab)
            if now is not None and not labmod.is_up(lab):
                now = None
            if now is None:
                print(f"ovsvlan-tui: lab {lab.name!r} is down: ping stopped "
                      f"(start it with: {labmod.command(lab, 'up')})", file=sys.stderr)
                return 1
            print(f"ovsvlan-tui: lab {lab.name!r} was rebuilt: pinging in the new one",
                  file=sys.stderr, flush=True)
            gen = now
            proc = subprocess.Popen(ping(lab, continuous=True))
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.returncode is None:
            proc.terminate()
            proc.wait()
