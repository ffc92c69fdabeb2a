"""The detector registry: one contract, one entry per impulse kind, dispatch by interest."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest
import yaml

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, SCHEMA_PATH, parse_catalogue_text
from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.deadlines import DeadlineKind
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    ChannelContact,
    Click,
    CustomerProfile,
    Impulse,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    Transaction,
)
from impulse_stream.core.impulses.base import (
    Detection,
    DetectorClass,
    Listens,
    Observed,
    ParamSchemas,
    Trigger,
)
from impulse_stream.core.impulses.registry import DEFAULT_REGISTRY, Registry
from impulse_stream.core.impulses.schema import with_detectors
from impulse_stream.errors import CatalogueError

from .conftest import T0, at, booking, click, contact, profile, replay

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "core.md"
TESTS = Path(__file__).resolve().parent


def kinds_in_tests(exclude: str) -> set[str]:
    """String constants inside ``test_*`` functions of the core's test files."""
    found: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name == exclude:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_"):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        found.add(node.value.partition(":")[0])
    return found


TOPICS = {
    Transaction: "bank.transactions",
    Click: "ebanking.clicks",
    OrderStep: "orders.flow",
    CustomerProfile: "customers.profile",
    ChannelContact: "channel.contacts",
    OpportunityResponse: "opportunities.responses",
}


def trigger_text(detector: DetectorClass) -> str:
    """The docs table's trigger column for a detector."""
    if detector.trigger is Trigger.CALENDAR:
        return "calendar day"
    topics = ", ".join(f"`{TOPICS[t]}`" for t in detector.listens_to)
    return f"deadline, armed by {topics}" if detector.trigger is Trigger.DEADLINE else topics


def coverage_problems(registry: Registry, catalogue_text: str, docs: str) -> list[str]:
    """What a registered detector lacks: a catalogue entry, a docs row, a test."""
    configured = yaml.safe_load(catalogue_text)["detectors"]
    rows = dict(
        re.findall(r"^\| `([a-z0-9_]+)`(?: \([a-z]+\))? \| ([^|]+) \|", docs, flags=re.MULTILINE)
    )
    tested = kinds_in_tests(exclude=Path(__file__).name)
    problems = []
    for detector in registry:
        kind = detector.kind
        if kind not in configured:
            problems.append(f"{kind}: no entry under detectors in {DEFAULT_CATALOGUE.name}")
        if kind not in rows:
            problems.append(f"{kind}: no row in docs/core.md")
        elif rows[kind] != trigger_text(detector):
            problems.append(f"{kind}: docs/core.md says it runs on {rows[kind]!r}")
        if kind not in tested:
            problems.append(f"{kind}: no test in tests/unit/core names it")
    return problems


# --- a toy detector, as a bank's engineer would add one ---------------------------------


class ComplaintCallDetector:
    """An inbound call whose subject names a complaint word: a service impulse."""

    kind: ClassVar[str] = "complaint_call"
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (ChannelContact,)
    params: ClassVar[ParamSchemas] = {
        "words": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
    }
    calls: ClassVar[list[str]] = []

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.words = rule.strings("words")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event = seen.event
        if not isinstance(event, ChannelContact):
            return ()
        self.calls.append(event.event_id)
        if event.kind != "inbound_call" or not any(w in event.subject for w in self.words):
            return ()
        return (
            Detection(
                kind=self.kind,
                occurred_at=event.occurred_at,
                trigger=f"call:{event.event_id}",
                key=f"call:{event.event_id}",
                source_event_id=event.event_id,
                evidence=(("subject", event.subject),),
            ),
        )


TOY_ENTRY = """
  complaint_call:
    category: service
    ttl_days: 7
    repeat_after_days: 0
    params: {words: [complaint, fees]}
"""
TOY_ACTION = """
  - id: resolve_complaint
    product: complaint_service
    kind: service
    channels: [call_centre, advisor]
    texts:
      instruction: The customer called with a complaint. Call back within a day.
      argument: A quick answer keeps the customer.
      objections: none
      info_url: https://bank.example/complaints
    value: 30
    validity_days: 3
    triggers: [complaint_call]
"""


def toy_catalogue_text() -> str:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    text = text.replace("\ndetectors:\n", "\ndetectors:" + TOY_ENTRY, 1)
    return text.replace("\nactions:\n", "\nactions:" + TOY_ACTION, 1)


# --- tests -----------------------------------------------------------------------------


def test_every_registered_detector_has_a_catalogue_entry_a_docs_row_and_a_test() -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    docs = DOCS.read_text(encoding="utf-8")
    assert len(DEFAULT_REGISTRY) == 21
    assert coverage_problems(DEFAULT_REGISTRY, text, docs) == []


def test_a_detector_without_entry_docs_row_or_test_or_with_a_wrong_trigger_is_reported() -> None:
    registry = DEFAULT_REGISTRY.with_detector(ComplaintCallDetector)
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    docs = DOCS.read_text(encoding="utf-8").replace(
        "| `birthday` (service) | calendar day |", "| `birthday` (service) | `customers.profile` |"
    )
    assert coverage_problems(registry, text, docs) == [
        "birthday: docs/core.md says it runs on '`customers.profile`'",
        "complaint_call: no entry under detectors in default.yaml",
        "complaint_call: no row in docs/core.md",
        "complaint_call: no test in tests/unit/core names it",
    ]


def test_the_committed_catalogue_schema_is_generated_from_the_registry() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == with_detectors(committed, DEFAULT_REGISTRY)
    section = committed["properties"]["detectors"]["properties"]
    assert list(section) == list(DEFAULT_REGISTRY.kinds())
    assert {entry["$ref"] for entry in section.values()} == {"#/$defs/detector"}
    assert section["salary_increase"]["properties"]["params"]["required"] == [
        "baseline_months",
        "min_increase",
    ]


def test_a_toy_detector_in_a_temporary_catalogue_and_registry_fires() -> None:
    registry = DEFAULT_REGISTRY.with_detector(ComplaintCallDetector)
    catalogue = parse_catalogue_text(toy_catalogue_text(), "bank.yaml", registry)
    engine = DecisionEngine(catalogue, registry=registry)
    call = contact(at(5), "call_centre", "inbound_call", "complaint about fees")
    _, outputs = replay(engine, [profile(T0 - timedelta(days=3)), call])
    impulses = [o for o in outputs if isinstance(o, Impulse)]
    assert [(i.kind, i.category, i.source_event_id) for i in impulses] == [
        ("complaint_call", "service", call.event_id)
    ]
    (opened,) = [o for o in outputs if isinstance(o, Opportunity)]
    assert opened.action_id == "resolve_complaint"
    assert opened.reasons[0].impulse_id == impulses[0].impulse_id
    assert "subject=complaint about fees" in opened.explanation


def test_the_default_schema_rejects_a_detector_the_registry_does_not_know() -> None:
    with pytest.raises(CatalogueError, match=r"\$\.detectors: .*complaint_call"):
        parse_catalogue_text(toy_catalogue_text(), "bank.yaml")


def test_an_engine_refuses_a_catalogue_configuring_an_unregistered_detector() -> None:
    registry = DEFAULT_REGISTRY.with_detector(ComplaintCallDetector)
    catalogue = parse_catalogue_text(toy_catalogue_text(), "bank.yaml", registry)
    with pytest.raises(CatalogueError, match=r"detectors\.complaint_call: no detector"):
        DecisionEngine(catalogue)


def test_only_the_detectors_listening_to_an_event_run() -> None:
    registry = DEFAULT_REGISTRY.with_detector(ComplaintCallDetector)
    engine = DecisionEngine(
        parse_catalogue_text(toy_catalogue_text(), "bank.yaml", registry), registry=registry
    )
    ComplaintCallDetector.calls.clear()
    state = engine.apply(None, profile(T0), T0).state
    state = engine.apply(state, booking(at(1), "50", "debit", balance="100"), at(1)).state
    state = engine.apply(state, click(at(2), "login"), at(2)).state
    assert ComplaintCallDetector.calls == []
    call = contact(at(3), "call_centre", "inbound_call", "address change")
    engine.apply(state, call, at(3))
    assert ComplaintCallDetector.calls == [call.event_id]


def test_two_detectors_of_one_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="two detectors for impulse kind 'complaint_call'"):
        Registry((ComplaintCallDetector, ComplaintCallDetector))


def test_every_detector_declares_its_trigger_events_and_parameters() -> None:
    catalogue_params = {
        kind: set(spec.get("params", {}))
        for kind, spec in yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))[
            "detectors"
        ].items()
    }
    for detector in DEFAULT_REGISTRY:
        assert isinstance(detector.trigger, Trigger)
        assert set(detector.params) == catalogue_params[detector.kind], detector.kind
        if detector.trigger is Trigger.CALENDAR:
            assert detector.listens_to == ()
        else:
            assert detector.listens_to, detector.kind
    clicked = DEFAULT_REGISTRY.get("offer_clicked_not_ordered")
    assert clicked is not None and Click in clicked.listens_to


class SecondOrderTimer(ComplaintCallDetector):
    """A deadline detector that claims the abandoned order's deadline kind."""

    kind: ClassVar[str] = "second_order_timer"
    trigger: ClassVar[Trigger] = Trigger.DEADLINE
    deadline_kind: ClassVar[DeadlineKind] = DeadlineKind.ORDER_ABANDONED


def test_two_deadline_detectors_on_one_deadline_kind_are_refused() -> None:
    registry = DEFAULT_REGISTRY.with_detector(SecondOrderTimer)
    entry = TOY_ENTRY.replace("complaint_call:", "second_order_timer:")
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace(
        "\ndetectors:\n", "\ndetectors:" + entry, 1
    )
    catalogue = parse_catalogue_text(text, "bank.yaml", registry)
    with pytest.raises(ValueError, match="two detectors fire on ORDER_ABANDONED"):
        DecisionEngine(catalogue, registry=registry)


def _schema_script() -> ModuleType:
    """``scripts/gen_catalogue_schema.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "impulse_stream_gen_catalogue_schema", ROOT / "scripts" / "gen_catalogue_schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_schema_script_finds_a_stale_detector_section_and_regenerates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _schema_script()
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    stale = json.loads(committed)
    del stale["properties"]["detectors"]["properties"]["birthday"]
    path = tmp_path / "catalogue.schema.json"
    path.write_text(json.dumps(stale, indent=2) + "\n", encoding="utf-8")
    assert script.main(["--check"], path) == 1
    assert "catalogue.schema.json is stale" in capsys.readouterr().out
    assert script.main([], path) == 0
    assert path.read_text(encoding="utf-8") == committed
    assert script.main(["--check"], path) == 0
