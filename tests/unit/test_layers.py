"""The data path is the folder order: collectors (sources) -> model (the
pure picture) -> node (the refresh cycle) -> widgets -> tui. Scripts,
`snapshot --json` and the exporter use the lower layers without pulling in
Textual, and no layer reaches up into one above it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
UI_PACKAGES = ("textual", "tui", "widgets")
# what each UI-free package may import of the project's own
ALLOWED = {
    "model": {"model"},
    "collectors": {"collectors", "model"},
    "node": {"node", "collectors", "model"},
    "lab": {"lab", "collectors", "model"},
    "exporter": {"exporter", "node", "collectors", "model"},
}
OWN = {"collectors", "model", "node", "lab", "exporter", "widgets", "tui", "bench"}


def modules_of(package: str) -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in (ROOT / package).rglob("*.py"))


def _imports(module: str):
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, [node.module]


def test_importing_every_ui_free_module_loads_no_ui_module():
    modules = [m for package in ALLOWED for m in modules_of(package)]
    assert {"model.join", "node.session", "node.sources", "collectors.ovsdb",
            "collectors.openflow", "collectors.openflow.stats", "lab.run"} <= set(modules)
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert set(modules) <= set(loaded)
    assert [m for m in loaded if m.split(".")[0] in UI_PACKAGES] == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_layer_imports_one_above_it_even_inside_a_function(package):
    offenders = [f"{module}:{line} imports {target}"
                 for module in modules_of(package)
                 for line, targets in _imports(module)
                 for target in targets
                 if target.split(".")[0] in OWN and target.split(".")[0] not in ALLOWED[package]]
    assert offenders == []
