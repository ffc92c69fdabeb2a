"""The catalogue: versioned YAML, validated at load time with a precise error."""

from __future__ import annotations

from pathlib import Path

import pytest

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, load_catalogue, parse_catalogue_text
from impulse_stream.core.catalogue import Catalogue, ImpulseMatch
from impulse_stream.errors import CatalogueError

DEFAULT = DEFAULT_CATALOGUE.read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_default_catalogue_loads_with_its_version(catalogue: Catalogue) -> None:
    assert catalogue.version == "2026.11.1"
    finish = catalogue.action("finish_credit_card_order")
    assert finish is not None and finish.product == "credit_card" and finish.kind == "sales"
    assert finish.texts.instruction and finish.texts.argument and finish.texts.objections
    assert finish.texts.info_url.startswith("https://")
    assert catalogue.detector("order_abandoned") is not None
    assert catalogue.detector("order_abandoned").integer("window_minutes") == 30  # type: ignore[union-attr]


def test_every_action_is_reachable_from_a_detector(catalogue: Catalogue) -> None:
    for action in catalogue.actions:
        for trigger in action.triggers:
            assert trigger.kind in catalogue.detectors


def test_a_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    bad = DEFAULT.replace("params: {window_minutes: 30}", "params: {window_minutes: soon}")
    file = tmp_path / "bank.yaml"
    file.write_text(bad, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(file)
    err = caught.value
    assert err.source == str(file)
    assert err.json_path == "$.detectors.order_abandoned.params.window_minutes"
    assert err.line == _line_of(bad, "window_minutes: soon")
    assert f"{file}:{err.line}: $.detectors.order_abandoned.params.window_minutes" in str(err)


def test_a_missing_action_text_is_reported_at_the_action() -> None:
    argument = next(line for line in DEFAULT.splitlines(True) if "Worldwide acceptance" in line)
    bad = DEFAULT.replace(argument, "")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue_text(bad, "bank.yaml")
    assert caught.value.path == ("actions", 0, "texts")
    assert "argument" in caught.value.message
    assert caught.value.line == _line_of(bad, "instruction: >-")


def test_a_trigger_naming_an_unknown_impulse_is_rejected() -> None:
    bad = DEFAULT.replace("triggers: [card_used_abroad]", "triggers: [card_used_on_mars]")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue_text(bad, "bank.yaml")
    assert "card_used_on_mars" in caught.value.message
    assert caught.value.path[0] == "actions" and caught.value.path[-2:] == ("triggers", 0)
    assert caught.value.line == _line_of(bad, "card_used_on_mars")


def test_duplicate_action_ids_are_rejected() -> None:
    bad = DEFAULT.replace("- id: finish_current_account_order", "- id: finish_credit_card_order")
    with pytest.raises(CatalogueError, match="duplicate action id"):
        parse_catalogue_text(bad, "bank.yaml")


def test_an_unknown_detector_is_rejected() -> None:
    bad = DEFAULT.replace("  birthday:\n", "  name_day:\n")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue_text(bad, "bank.yaml")
    assert caught.value.path == ("detectors",)
    assert "name_day" in caught.value.message


def test_invalid_yaml_reports_the_line() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue_text("version: '1'\nactions: [\n", "broken.yaml")
    assert caught.value.line is not None and "not valid YAML" in caught.value.message


def test_impulse_match_with_and_without_product() -> None:
    assert ImpulseMatch.parse("order_abandoned").matches("order_abandoned", "credit_card")
    card = ImpulseMatch.parse("order_abandoned:credit_card")
    assert card.matches("order_abandoned", "credit_card")
    assert not card.matches("order_abandoned", "savings_plan")
