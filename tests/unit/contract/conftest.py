"""Shared fixtures of the contract tests: the generator script and the committed schemas."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas" / "topics"


def load_generator() -> ModuleType:
    """``scripts/gen_schemas.py`` as a module (scripts/ is not a package)."""
    name = "impulse_stream_gen_schemas"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "gen_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def committed_schema(file_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return load_generator()
