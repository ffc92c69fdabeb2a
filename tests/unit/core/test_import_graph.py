"""The modules of core/ import each other without a circle.

Every import counts, also those under ``if TYPE_CHECKING:``: a circle hidden
from the interpreter is still a circle for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import impulse_stream.core

CORE = Path(impulse_stream.core.__file__).resolve().parent
PACKAGE = "impulse_stream.core"


def module_name(root: Path, package: str, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (submodules named in
    ``from pkg import mod`` count as the submodule)."""
    files = {module_name(root, package, p): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.append(sub if sub in files else node.module)
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (first module repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                found = visit(nxt)
                if found is not None:
                    return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found is not None:
                return found
    return None


def test_core_modules_import_each_other_without_a_circle() -> None:
    graph = import_graph(CORE, PACKAGE)
    assert len(graph) > 40
    assert "impulse_stream.core.impulses.registry" in graph["impulse_stream.core.engine"]
    assert find_cycle(graph) is None


def test_a_circle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "engine.py").write_text("from pkg.run import DecisionRun\n")
    (tmp_path / "run.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from pkg import ids\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.engine import DecisionEngine\n"
    )
    (tmp_path / "ids.py").write_text("import hashlib\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.run"] == {"pkg.engine", "pkg.ids"}
    assert find_cycle(graph) == ["pkg.engine", "pkg.run", "pkg.engine"]
