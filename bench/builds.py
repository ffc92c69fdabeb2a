"""The two builds of the decision core, side by side.

``compiled``: the package as ``make venv`` installs it, the core modules
compiled by mypyc (``setup.py``). ``interpreted``: the same sources run as
Python: a copy of ``src/impulse_stream`` without the extension modules, put in
front of the installed package through ``PYTHONPATH``. Both read the same
catalogue and schemas, so outputs must be byte-identical and only the CPU time
may differ.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BUILDS = ("interpreted", "compiled")


def core_modules() -> list[str]:
    """Every module of ``impulse_stream.core`` (packages' ``__init__`` left out)."""
    core = SRC / "impulse_stream" / "core"
    return sorted(
        p.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
        for p in core.rglob("*.py")
        if p.name != "__init__.py"
    )


def interpreted_by_design() -> set[str]:
    """The core modules the build leaves interpreted (pyproject.toml, with reasons)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(config["tool"]["impulse-stream"]["mypyc"]["interpreted"])


def is_compiled(module: str) -> bool:
    path = importlib.import_module(module).__file__ or ""
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def interpreted_tree(dest: Path) -> Path:
    """A copy of the package without extension modules, under ``dest``; returns the
    directory to put first on ``PYTHONPATH``."""
    src = dest / "src"
    shutil.copytree(
        SRC / "impulse_stream",
        src / "impulse_stream",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    (dest / "schemas").symlink_to(ROOT / "schemas")  # the catalogue loader looks beside src/
    return src


def environment(build: str, tree: Path | None) -> dict[str, str]:
    """The environment of a process running ``build`` (``tree``: from ``interpreted_tree``)."""
    env = dict(os.environ)
    paths = [str(ROOT)]
    if build == "interpreted":
        if tree is None:
            raise ValueError("the interpreted build needs a tree from interpreted_tree()")
        paths.insert(0, str(tree))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
