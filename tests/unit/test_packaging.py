"""`make setup` installs the project without setuptools deprecation warnings
(it printed "project.license as a TOML table is deprecated" several times)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_the_package_builds_without_deprecation_warnings(tmp_path):
    # the same isolated build `pip install -e .` runs in scripts/setup
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w",
                           str(tmp_path), str(REPO)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "deprecated" not in (proc.stdout + proc.stderr).lower()
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
