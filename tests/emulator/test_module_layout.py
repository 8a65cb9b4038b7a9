"""The emulator's modules depend on each other one way: no import circle, so each part can be
read and tested on its own (the runtime owns its collaborators; none imports the runtime)."""

from __future__ import annotations

import ast
from pathlib import Path

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in EMULATOR.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emulator"):
                if node.module == "emulator":
                    found |= {alias.name for alias in node.names}
                else:
                    found.add(str(node.module).split(".")[1])
        graph[path.stem] = found
    return graph


def test_no_module_imports_itself_back() -> None:
    graph = _imports()
    circles = []

    def walk(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            else:
                walk(target, [*path, target])

    for module in sorted(graph):
        walk(module, [module])
    assert circles == []


def test_only_the_composition_roots_import_the_runtime() -> None:
    importers = sorted(name for name, targets in _imports().items() if "runtime" in targets)
    assert importers == ["host"]
