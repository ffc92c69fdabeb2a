"""The third-party packages src/impulse_stream imports are exactly the declared ones."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "impulse_stream"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(package: Path) -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere under ``package`` -> the files."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in {"__future__", package.name}:
                    continue
                found.setdefault(top, set()).add(path.relative_to(package).as_posix())
    return found


def imported_distributions(package: Path) -> dict[str, set[str]]:
    """The distributions providing those modules (an unknown module stands for itself)."""
    providers = packages_distributions()
    found: dict[str, set[str]] = {}
    for module, files in imported_modules(package).items():
        for dist in providers.get(module, [module]):
            found.setdefault(_normalise(dist), set()).update(files)
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normalise(re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0]) for d in project["dependencies"]}


def test_every_imported_third_party_package_is_a_declared_dependency() -> None:
    undeclared = {
        dist: sorted(files)
        for dist, files in imported_distributions(PACKAGE).items()
        if dist not in declared_distributions()
    }
    assert undeclared == {}


def test_every_declared_dependency_is_imported_by_the_package() -> None:
    assert declared_distributions() - set(imported_distributions(PACKAGE)) == set()


def test_the_check_sees_an_undeclared_import_a_from_import_and_skips_stdlib(
    tmp_path: Path,
) -> None:
    package = tmp_path / "impulse_stream"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("import json\nimport yaml.nodes\n", encoding="utf-8")
    (package / "sub" / "b.py").write_text(
        "from __future__ import annotations\nfrom hypothesis import given\n"
        "from impulse_stream.core import engine\nfrom . import a\n",
        encoding="utf-8",
    )
    assert imported_distributions(package) == {"pyyaml": {"a.py"}, "hypothesis": {"sub/b.py"}}
    assert "hypothesis" not in declared_distributions()
