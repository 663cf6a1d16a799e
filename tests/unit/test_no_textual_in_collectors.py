"""The collectors stay UI-free: scripts, `snapshot --json` and other front ends
use them without pulling in Textual, and nothing in them reaches up into the
UI layers (tui/, widgets/)."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import collectors

ROOT = Path(__file__).parent.parent.parent
UI_PACKAGES = ("textual", "tui", "widgets")


def collector_modules() -> list[str]:
    return sorted(f"collectors.{m.name}" for m in pkgutil.iter_modules(collectors.__path__))


def _is_ui(module: str) -> bool:
    return module.split(".")[0] in UI_PACKAGES


def test_importing_every_collector_loads_no_ui_module():
    modules = collector_modules()
    assert {"collectors.model", "collectors.session", "collectors.ovsdb"} <= set(modules)
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert set(modules) <= set(loaded)
    assert "textual" not in loaded
    assert [m for m in loaded if _is_ui(m)] == []


def test_no_collector_imports_the_ui_even_inside_a_function():
    """Also the imports that only run when a function is called."""
    offenders = []
    for name in collector_modules():
        path = ROOT / (name.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            else:
                continue
            offenders += [f"{name}:{node.lineno} imports {t}" for t in targets if _is_ui(t)]
    assert offenders == []
