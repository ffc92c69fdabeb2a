"""scripts/core_fingerprint.py sees a change of behaviour and nothing else."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.engine import DecisionEngine

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "impulse_stream_core_fingerprint", ROOT / "scripts" / "core_fingerprint.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fingerprint_repeats_and_changes_with_the_rules(catalogue: Catalogue) -> None:
    script = _script()
    first = script.property_stories(DecisionEngine(catalogue), 30)
    assert first == script.property_stories(DecisionEngine(catalogue), 30)
    assert script.demo_worked_example(DecisionEngine(catalogue)) == script.demo_worked_example(
        DecisionEngine(catalogue)
    )
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace(
        "params: {window_minutes: 30}", "params: {window_minutes: 45}"
    )
    slower = DecisionEngine(parse_catalogue_text(text, "bank.yaml"))
    assert script.demo_worked_example(slower) != script.demo_worked_example(
        DecisionEngine(catalogue)
    )
    assert script.property_stories(slower, 30) != first
