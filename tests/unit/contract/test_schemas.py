"""The published JSON Schemas and the msgspec records agree, and never drift apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import ModuleType
from typing import Annotated, Any

import pytest
from jsonschema import Draft202012Validator
from msgspec import Meta

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import codec, topics
from impulse_stream.contract.cloudevents import cloudevent_headers
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Opportunity, OutputRecord, Record
from impulse_stream.errors import SchemaViolation

from .conftest import ROOT, SCHEMAS, committed_schema

ALL_TOPICS = topics.INPUT_TOPICS + topics.OUTPUT_TOPICS
RECORD_TOPICS = {**codec.INPUT_RECORDS, **codec.OUTPUT_RECORDS}


def validator(file_name: str) -> Draft202012Validator:
    schema = committed_schema(file_name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def topic_validator(topic: str) -> Draft202012Validator:
    return validator(f"{topic}.schema.json")


def decode_any(topic: str, message: dict[str, Any]) -> object:
    value = json.dumps(message).encode()
    if topic in topics.INPUT_TOPICS:
        return codec.decode(topic, str(message.get("customer_id", "")).encode(), value)
    return codec.decode_output(topic, value)


def test_committed_files_are_what_the_generator_makes(generator: ModuleType) -> None:
    stale = generator.stale(ROOT)
    assert not stale, f"run `python scripts/gen_schemas.py` and commit: {stale}"


def test_every_topic_of_the_contract_has_a_schema() -> None:
    names = {p.name for p in SCHEMAS.glob("*.schema.json")}
    for topic in (*ALL_TOPICS, topics.DEAD_LETTERS):
        assert f"{topic}.schema.json" in names
    assert set(RECORD_TOPICS) == set(ALL_TOPICS)


@pytest.mark.parametrize("file_name", sorted(p.name for p in SCHEMAS.glob("*.schema.json")))
def test_schema_is_a_good_public_schema(file_name: str) -> None:
    schema = committed_schema(file_name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + file_name)
    assert schema["title"] and schema["description"]
    assert schema["examples"]


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_examples_validate_and_decode_to_the_record(topic: str) -> None:
    check = topic_validator(topic)
    for example in committed_schema(f"{topic}.schema.json")["examples"]:
        check.validate(example)
        record = decode_any(topic, example)
        assert isinstance(record, RECORD_TOPICS[topic])
        assert json.loads(codec.encode(record)) == example  # nothing lost, nothing added


@pytest.mark.parametrize("topic", ALL_TOPICS)
def test_times_are_date_time_and_amounts_decimal_strings(topic: str) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert node.get("format") != "decimal"
            if node.get("format") == "date-time":
                assert node["type"] == "string" and node["pattern"].endswith(":[0-9]{2})$")
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    schema = committed_schema(f"{topic}.schema.json")
    walk(schema)
    if topic == topics.TRANSACTIONS:
        assert schema["properties"]["amount"] == {
            "type": "string",
            "pattern": codec.UNSIGNED_AMOUNT,
            "description": schema["properties"]["amount"]["description"],
        }


def _mutate(topic: str, **changes: Any) -> dict[str, Any]:
    example = dict(committed_schema(f"{topic}.schema.json")["examples"][0])
    for name, value in changes.items():
        if value is _DROP:
            del example[name]
        else:
            example[name] = value
    return example


_DROP = object()

INVALID = [
    pytest.param(topics.TRANSACTIONS, {"amount": "12,50"}, id="amount-with-decimal-comma"),
    pytest.param(topics.TRANSACTIONS, {"amount": "NaN"}, id="amount-not-a-number"),
    pytest.param(topics.TRANSACTIONS, {"currency": "eur"}, id="currency-lower-case"),
    pytest.param(topics.CLICKS, {"occurred_at": "2026-11-23T10:58:12"}, id="time-without-offset"),
    pytest.param(topics.CLICKS, {"kind": "double_click"}, id="unknown-click-kind"),
    pytest.param(topics.ORDERS, {"status": "aborted"}, id="unknown-order-status"),
    pytest.param(topics.ORDERS, {"order_id": _DROP}, id="missing-order-id"),
    pytest.param(topics.ORDERS, {"step": 1001}, id="step-out-of-range"),
    pytest.param(topics.PROFILES, {"customer_id": ""}, id="empty-customer-id"),
    pytest.param(topics.PROFILES, {"birth_date": "01.06.1975"}, id="german-date-format"),
    pytest.param(topics.CONTACTS, {"channel": "fax"}, id="unknown-channel"),
    pytest.param(topics.RESPONSES, {"response": "maybe"}, id="unknown-response"),
    pytest.param(topics.IMPULSES, {"kind": "Order Abandoned"}, id="kind-not-a-code"),
    pytest.param(topics.OPPORTUNITIES, {"revision": -1}, id="negative-revision"),
    pytest.param(topics.ATTRIBUTIONS, {"advisor_id": _DROP}, id="missing-nullable-field"),
]


@pytest.mark.parametrize(("topic", "changes"), INVALID)
def test_invalid_messages_are_rejected_by_schema_and_decoder(
    topic: str, changes: dict[str, Any]
) -> None:
    message = _mutate(topic, **changes)
    assert not topic_validator(topic).is_valid(message)
    with pytest.raises(SchemaViolation):
        decode_any(topic, message)


def test_the_decoder_refuses_json_numbers_for_amounts_as_the_schema_does() -> None:
    """``1e309`` as a number once opened a large-payment impulse; the contract says strings."""
    for amount in (3250.5, 1e308, 15):
        message = _mutate(topics.TRANSACTIONS, amount=amount)
        assert not topic_validator(topics.TRANSACTIONS).is_valid(message)
        with pytest.raises(SchemaViolation) as failure:
            decode_any(topics.TRANSACTIONS, message)
        assert failure.value.path == "$.amount"


def test_unknown_fields_are_allowed_by_schema_and_decoder() -> None:
    message = _mutate(topics.CLICKS, campaign="xmas-2026")
    topic_validator(topics.CLICKS).validate(message)
    decode_any(topics.CLICKS, message)


def test_outputs_of_the_worked_example_meet_the_published_contract() -> None:
    """The core, fed the schema examples, publishes messages the schemas accept."""
    engine = DecisionEngine(load_catalogue())
    inputs = [
        (topic, codec.decode(topic, e["customer_id"].encode(), json.dumps(e).encode()))
        for topic in topics.INPUT_TOPICS
        for e in committed_schema(f"{topic}.schema.json")["examples"]
    ]
    events = sorted((e for _, e in inputs), key=lambda e: e.occurred_at)
    outputs: list[OutputRecord] = []
    state = None
    for event in events:
        if event.customer_id != "c-1001":
            continue
        now = event.occurred_at.astimezone(UTC)
        if state is not None:
            decision = engine.advance(state, now)
            state = decision.state
            outputs += decision.outputs
        decision = engine.apply(state, event, now)
        state = decision.state
        outputs += decision.outputs

    assert any(
        isinstance(o, Opportunity) and o.action_id == "finish_credit_card_order" for o in outputs
    )
    ce = validator("cloudevents-headers.schema.json")
    for record in outputs:
        topic = codec.output_topic(record)
        topic_validator(topic).validate(json.loads(codec.encode(record)))
        ce.validate({name: value.decode() for name, value in cloudevent_headers(record)})
    assert {codec.output_topic(r) for r in outputs} == set(topics.OUTPUT_TOPICS)


def test_generator_refuses_a_field_without_description(generator: ModuleType) -> None:
    class Undocumented(Record, frozen=True):
        """A record one of whose fields says nothing."""

        event_id: Annotated[str, Meta(description="Documented.")]
        page: str = ""

    with pytest.raises(SystemExit, match=r"Undocumented\.page has no Meta\(description"):
        generator.topic_schema(topics.CLICKS, Undocumented, [])


def test_generator_refuses_a_record_without_docstring(generator: ModuleType) -> None:
    class Bare(Record, frozen=True):
        page: Annotated[str, Meta(description="Documented.")] = ""

    with pytest.raises(SystemExit, match=r"Bare has no docstring"):
        generator.topic_schema(topics.CLICKS, Bare, [])


def test_dead_letter_examples_carry_the_codecs_real_texts() -> None:
    example = committed_schema(f"{topics.DEAD_LETTERS}.schema.json")["examples"][0]
    validator(f"{topics.DEAD_LETTERS}.schema.json").validate(example)
    assert example["dlq_reason"] == "schema_violation"
    assert "$.status" in example["dlq_detail"]
    assert datetime.fromisoformat(example["dlq_failed_at"]).tzinfo is not None
