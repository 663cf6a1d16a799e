"""``ovsvlan-tui snapshot``: the joined model once, as JSON or a rich tree.

A snapshot is a short-lived process run by scripts: it imports only what it
needs (rich for the tree, the saved-output readers for ``--from``) and
writes the JSON encoded by orjson in one write. At 50k flows (11 MB) that is
0.04 s, against 0.33 s for the standard library's C encoder and ~3.6 s for
``json.dump(..., indent=2)``, whose pure-Python encoder writes two million
small pieces.

Measured on the bench node (50k flows, 200 ports), what else a snapshot
does not do: python-ovs's IDL (OVSDB is read once by collectors.ovsdb_once),
pyroute2 (collectors.rtnetlink), flow statistics and the flow table's
bookkeeping for a next refresh (refresh_table(once=True)), the cyclic GC
(tui.cli); and ``dpctl/show -s`` runs beside the reading, not after it.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Callable

from collectors.endpoints import Endpoints
from node.once import collect_once

# The model's modules are imported where used: a snapshot's flow dumps start
# before them (node.once), so ovs-ofctl prints while they load.
if TYPE_CHECKING:
    from rich.tree import Tree

    from collectors.saved.result import SavedNode
    from model.join import NodeModel
    from node.session import NodeSession
    from node.sources import SavedSources


def run_snapshot(endpoints: Endpoints, *, as_json: bool, pretty: bool = False,
                 rates: float | None = None) -> int:
    """One reading; with ``rates``, two that many seconds apart: drops get rates and each
    vNIC's path is measured (without, drops have totals only and no path is drawn)."""
    if rates is None:
        datapaths = _datapaths_started(endpoints)
        model = collect_once(endpoints)
        return print_model(model, as_json=as_json, pretty=pretty,
                           extra=packet_report(model, None, datapaths(model), (), 0.0))
    import time

    from node.once import opened

    with opened(endpoints) as session:
        then = session.refresh().model
        dps_then, started = _datapaths(endpoints, then), time.monotonic()
        time.sleep(rates)
        links_changed = getattr(session.sources, "links_changed", None)
        if links_changed is not None:  # netlink is read every few seconds: read it again now
            links_changed()
        model = session.refresh().model
        seconds = time.monotonic() - started
    return print_model(model, as_json=as_json, pretty=pretty,
                       extra=packet_report(model, then, _datapaths(endpoints, model), dps_then,
                                           seconds))


def _datapaths(endpoints: Endpoints, model: NodeModel) -> tuple:
    """``dpctl/show -s`` (lost upcalls, datapath port drops); none when it cannot be read,
    or when the switch's flows could not be read either."""
    if not _datapaths_count(model):
        return ()
    return _datapaths_read(_dpctl_show(endpoints))


def _datapaths_started(endpoints: Endpoints) -> Callable[[NodeModel], tuple]:
    """_datapaths with ``dpctl/show -s`` run now, beside the node's reading (an
    ovs-appctl process: ~0.05 s, more on a busy machine, that a snapshot used to
    wait for after it); the model given later says whether its answer counts."""
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(_dpctl_show(endpoints)),
                              name="dpctl/show", daemon=True)
    thread.start()

    def datapaths(model: NodeModel) -> tuple:
        if not _datapaths_count(model):
            return ()  # not waited for: its ovs-appctl ends within its own timeout
        thread.join()
        return _datapaths_read(answer[0])

    return datapaths


def _datapaths_count(model: NodeModel) -> bool:
    """Whether datapath counters are read: the sources already say what is down
    (one cause, one line)."""
    openflow = next((x for x in model.sources if x.source == "openflow"), None)
    return bool(model.bridges) and openflow is not None and openflow.status == "live"


def _dpctl_show(endpoints: Endpoints):
    """Its text, or the AppctlError saying why not."""
    from collectors import appctl

    try:
        return appctl.run(endpoints.ovs_rundir, "dpctl/show", "-s")
    except appctl.AppctlError as e:
        return e


def _datapaths_read(answer) -> tuple:
    from collectors import appctl

    if isinstance(answer, appctl.AppctlError):
        print(f"ovsvlan-tui: datapath counters not read: {answer}", file=sys.stderr)
        return ()
    return appctl.parse_dpctl_show(answer)


def packet_report(model: NodeModel, then: NodeModel | None, datapaths, dps_then,
                  seconds: float) -> dict:
    """What ``snapshot`` adds for "where does my packet die": the drops, and with two
    readings each vNIC's path (a path costs a scan of br-int's flows: not for one reading)."""
    from model import drops

    now_counters = drops.counters(model, datapaths)
    then_totals = drops.totals(drops.counters(then, dps_then)) if then is not None else None
    paths = []
    if then is not None:
        from model import path as pathmod

        paths = [pathmod.path_between(then, model, vv.port.name, seconds)
                 for inst in model.instances for vv in inst.vnics if vv.port is not None]
    return {"drops": drops.rank(now_counters, then_totals, seconds), "paths": paths,
            "seconds": seconds}


def run_saved_snapshot(path: str, *, as_json: bool, pretty: bool = False) -> int:
    """``snapshot --from PATH``: what was read as what goes to stderr, the model to stdout."""
    from collectors.saved.read import read_saved

    saved = read_saved(path)
    for line in saved.report():
        print(line, file=sys.stderr)
    return print_model(saved_session(saved).refresh().model, as_json=as_json, pretty=pretty)


def saved_sources(saved: SavedNode) -> SavedSources:
    """The saved records as a session reads a node (recorded at the files' time)."""
    from node.saved import recorded_at
    from node.sources import SavedSources

    return SavedSources(saved.observation, recorded_at(saved))


def saved_session(saved: SavedNode) -> NodeSession:
    """The same session a live node gets, over the saved records."""
    from node.session import NodeSession

    return NodeSession(saved_sources(saved), hostname=saved.observation.hostname)


def contract_json(model: NodeModel, *, pretty: bool = False, extra: dict | None = None) -> bytes:
    """The contract as one UTF-8 JSON text: compact, or indented by 2 for a reader."""
    from model.contract import to_contract

    doc = to_contract(model)
    if extra is not None:
        from model.drops import drop_dict

        doc["rates_seconds"] = round(extra["seconds"], 3) if extra["seconds"] else None
        doc["drops"] = [drop_dict(d) for d in extra["drops"]]
        doc["paths"] = []
        if extra["paths"]:
            from model.path import path_dict

            doc["paths"] = [path_dict(p) for p in extra["paths"]]
    return encode_json(doc, pretty=pretty)


def encode_json(doc: dict, *, pretty: bool = False) -> bytes:
    """orjson, or the standard encoder for what orjson refuses (an integer wider
    than 64 bits, a key that is not a string): the same JSON either way."""
    import orjson

    try:
        return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE
                            | (orjson.OPT_INDENT_2 if pretty else 0))
    except orjson.JSONEncodeError:
        import json

        text = json.dumps(doc, indent=2 if pretty else None, ensure_ascii=False,
                          separators=None if pretty else (",", ":"))
        return (text + "\n").encode()


def print_model(model: NodeModel, *, as_json: bool, pretty: bool = False,
                extra: dict | None = None) -> int:
    if as_json:
        sys.stdout.flush()
        sys.stdout.buffer.write(contract_json(model, pretty=pretty, extra=extra))
        sys.stdout.buffer.flush()
    else:
        from rich.console import Console

        console = Console()
        console.print(render_tree(model))
        if extra is not None:
            from widgets.drops import drops_text
            from widgets.path import render_path

            for p in extra["paths"]:
                console.print()
                console.print(render_path(p, console.width))
            if not extra["paths"]:
                console.print("\n(paths and drop rates: snapshot --rates SECONDS reads twice)",
                              style="dim")
            console.print()
            console.print(drops_text(extra["drops"]))
    return exit_status(model)


def exit_status(model: NodeModel) -> int:
    """0 when every source was read; else 1, with one line per source on stderr
    (the rule is tui.cli.SNAPSHOT_EXIT, for every source alike)."""
    unread = [s for s in model.sources if s.status not in ("live", "saved")]
    ovsdb_down = any(s.source == "ovsdb" for s in unread)
    for s in unread:
        # flows are not read without OVSDB's bridge list: one cause, one line
        if not (s.source == "openflow" and ovsdb_down):
            print(f"ovsvlan-tui: {s.source}: {s.status}: {s.detail or 'not read'}",
                  file=sys.stderr)
    return 1 if unread else 0


def render_tree(model: NodeModel) -> Tree:
    """The model as an operator reads it: instances first, then VLANs, bridges, problems."""
    from rich.markup import escape
    from rich.tree import Tree

    from model.problems import verdict
    from model.words import display_name, vlan_pair
    from widgets.format import addresses, status_colour

    root = Tree(f"[bold]{model.hostname}[/]  OVS {model.ovs_version or '?'}")
    states = root.add("sources")
    for s in model.sources:
        colour = status_colour(s.status)
        states.add(f"{s.source}: [{colour}]{s.status}[/] {s.detail}")

    inst_node = root.add(f"instances ({len(model.instances)})")
    for inst in model.instances:
        d = inst.domain
        node = inst_node.add(f"[bold]{display_name(d)}[/] ({d.name}, {d.state}"
                             + (f", project {d.project}" if d.project else "") + ")")
        for vv in inst.vnics:
            where = (f"ofport {vv.port.ofport} on {vv.port.bridge}" if vv.port
                     else "[red]on no OVS bridge[/]")
            ips = addresses(vv.fixed_ips, vv.fixed_ips_from)
            v = node.add(f"vNIC {vv.vnic.mac}" + (f" {ips}" if ips else "")
                         + f" -> {vv.vnic.target} ({where}, {vv.link_state or '?'})")
            if vv.port:
                facts = [f"physnet {vv.physical_network!r}"] if vv.physical_network else []
                facts += [f"NIC {', '.join(vv.nics)}"] if vv.nics else []
                v.add(vlan_pair(vv.local_vlan, vv.network_type, vv.segmentation_id, vv.datapath_key)
                      + (f" on {vv.physical_bridge or vv.tunnel_bridge}"
                         if vv.physical_bridge or vv.tunnel_bridge else "")
                      + (f" ({', '.join(facts)})" if facts else ""))

    vlan_node = root.add(f"VLANs ({len(model.vlans)})")
    for vl in model.vlans:
        out_by = (f" on {vl.tunnel_bridge} via {', '.join(vl.tunnel_ports) or '?'}"
                  + (f" to {', '.join(vl.remote_ips)}" if vl.remote_ips else "")
                  if vl.tunnel_bridge else f" on {vl.physical_bridge or '?'}")
        n = vlan_node.add(vlan_pair(vl.local_vlan, vl.network_type, vl.segmentation_id, vl.datapath_key)
                          + f"{out_by} ports {', '.join(vl.ports) or '-'}")
        for f in vl.duplicate_flows:
            n.add(f"[red]also[/]: {f.bridge} t{f.table} {f.match} -> {f.actions}  {f.n_packets} pkts")
        for label, f in (("egress", vl.egress_flow), ("ingress", vl.ingress_flow)):
            if f is None:
                n.add(f"{label}: [red]no translation flow[/]")
            else:
                n.add(f"{label}: {f.bridge} t{f.table} {f.match} -> {f.actions}  "
                      f"{f.n_packets} pkts")

    br_node = root.add(f"bridges ({len(model.bridges)})")
    for b in model.bridges:
        bn = br_node.add(f"[bold]{b.name}[/] ({b.datapath_type or 'system'}, "
                         f"fail_mode {b.fail_mode or '-'}, {len(model.flows.get(b.name).flows) if model.flows.get(b.name) else 0} flows)")
        for pv in model.ports:
            if pv.bridge != b.name:
                continue
            # whose it is, where its type does not say so already
            extra = ([pv.owner] if pv.owner in ("router", "gateway", "dhcp", "nic")
                     else ["veth pair"] if pv.owner == "patch" and pv.type != "patch" else [])
            if pv.port.tag is not None:
                extra.append(f"tag {pv.port.tag}")
            if pv.port.trunks:
                extra.append(f"trunks {','.join(map(str, pv.port.trunks))}")
            if pv.type:
                extra.append(pv.type)
            if pv.interface and pv.interface.peer:
                extra.append(f"peer {pv.interface.peer}")
            if pv.link_state:
                extra.append(pv.link_state)
            if len(pv.port.interfaces) > 1:
                extra.append("bond of " + ", ".join(f"{i.name} {i.link_state or '?'}"
                                                    for i in pv.port.interfaces))
            bn.add(f"{pv.ofport if pv.ofport is not None else '?'}: {pv.name} "
                   f"({', '.join(extra)})")

    said, _clean = verdict(model)
    prob = root.add(f"problems ({len(model.problems)}): {escape(said)}")
    for p in model.problems:
        prob.add(f"[red]{p.kind}[/] {escape(p.subject)}: {escape(p.detail)}")
    for c in model.checks:
        if c.status != "ran":
            prob.add(f"[yellow]check {c.kind} {c.status}[/]: {escape(c.why)}")
    return root
