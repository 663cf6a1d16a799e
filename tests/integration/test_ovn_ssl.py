"""An OVN chassis whose ovn-remote is ssl: names still come from the southbound DB.

A real southbound ovsdb-server listening with SSL on loopback inside a lab
namespace (certificates made by ovs-pki in the test's tmp dir), and a node
OVSDB whose SSL table names the chassis' certificates (``ovs-vsctl set-ssl``,
as ovn-controller reads them when its command line gives none). The tool's
own reading runs inside that namespace, as it would on the chassis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import new_lab_name
from tests.integration.test_ovsdb_collector import OvsdbServer

SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")
REPO = Path(__file__).resolve().parents[2]
PORT = 16642

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not SB_SCHEMA.exists()
        or not all(shutil.which(t) for t in ("ovsdb-server", "ovn-sbctl", "ovs-pki")),
        reason="needs root, ovsdb-server, ovn-sbctl, ovs-pki and the southbound schema",
    ),
]

READ = """
import json, sys
from collectors.endpoints import Endpoints
from node.once import opened
with opened(Endpoints(sys.argv[1], sys.argv[2], "test:///default")) as session:
    reading = session.sources.read()
state = next(s for s in reading.states if s.source == "ovn-sb")
print(json.dumps({"status": state.status, "detail": state.detail,
                  "networks": dict(reading.ovn_sb.networks) if reading.ovn_sb else None}))
"""


def _pki(d: Path) -> dict[str, str]:
    """ovs-pki's two CAs: the southbound DB and the chassis signed by its switch CA,
    an "intruder" by its controller CA, which the southbound DB does not trust."""
    pki = ["ovs-pki", f"--dir={d / 'pki'}", f"--log={d / 'pki.log'}"]
    subprocess.run([*pki, "init"], check=True, capture_output=True)
    for name, ca in (("sb", "switch"), ("chassis", "switch"), ("intruder", "controller")):
        subprocess.run([*pki, "req+sign", name, ca], check=True, capture_output=True, cwd=d)
    files = {"ca": str(d / "pki" / "switchca" / "cacert.pem")}
    for name in ("sb", "chassis", "intruder"):
        files[name] = (str(d / f"{name}-privkey.pem"), str(d / f"{name}-cert.pem"))
    return files


def _read_in(netns: str, node: OvsdbServer) -> dict:
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", READ,
                          node.remote, str(node.dir)],
                         check=True, capture_output=True, text=True, cwd=REPO, timeout=60)
    return json.loads(out.stdout)


def test_an_ssl_southbound_is_read_with_the_certificates_of_the_ssl_table(tmp_path):
    netns = f"ovsvlan-{new_lab_name()}-ssl"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    sb = node = None
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        files = _pki(tmp_path)
        (tmp_path / "sb").mkdir()
        sb = OvsdbServer(tmp_path / "sb", SB_SCHEMA, netns=netns, listen=(
            f"--remote=pssl:{PORT}:127.0.0.1", f"--private-key={files['sb'][0]}",
            f"--certificate={files['sb'][1]}", f"--ca-cert={files['ca']}"))
        sb.create()
        sb.start()
        subprocess.run(["ovn-sbctl", f"--db={sb.remote}", "create", "Datapath_Binding",
                        "tunnel_key=7", "external_ids:name2=provider-100"],
                       check=True, capture_output=True)
        (tmp_path / "node").mkdir()
        node = OvsdbServer(tmp_path / "node")
        node.create()
        node.start()
        node.vsctl("init")
        node.vsctl("set", "Open_vSwitch", ".",
                   f"external_ids:ovn-remote=ssl:127.0.0.1:{PORT}")

        # no certificate anywhere: one line saying where they were looked for
        got = _read_in(netns, node)
        assert got["status"] == "error" and "SSL table" in got["detail"]

        node.vsctl("set-ssl", *files["chassis"], files["ca"])
        got = _read_in(netns, node)
        assert got == {"status": "live", "detail": "", "networks": {"7": "provider-100"}}

        # a certificate the southbound DB does not trust: ovn-sbctl's own words, and
        # which certificates were tried
        node.vsctl("set-ssl", *files["intruder"], files["ca"])
        got = _read_in(netns, node)
        assert got["status"] == "error", got
        assert "with the certificates of the local OVSDB's SSL table" in got["detail"], got
    finally:
        for server in (node, sb):
            if server is not None:
                server.stop()
        subprocess.run(["ip", "netns", "delete", netns], check=False)
