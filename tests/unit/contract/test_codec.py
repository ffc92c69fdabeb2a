"""Decoding raw Kafka values: every refusal has its own reason, nothing else escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impulse_stream.contract import codec, topics
from impulse_stream.contract.codec import (
    Decoder,
    decode,
    decode_output,
    encode,
    logical_topic,
    output_topic,
)
from impulse_stream.core.events import OrderStep, Transaction
from impulse_stream.errors import (
    DecodeFailure,
    ImpulseStreamError,
    InvalidEncoding,
    InvalidJson,
    KeyMismatch,
    MessageTooLarge,
    SchemaViolation,
    Tombstone,
    UnknownTopic,
)

from .conftest import committed_schema

KEY = b"c-1001"


def example(topic: str, index: int = 0) -> dict[str, Any]:
    value: dict[str, Any] = committed_schema(f"{topic}.schema.json")["examples"][index]
    return value


def raw(topic: str, **changes: Any) -> bytes:
    return json.dumps({**example(topic), **changes}).encode()


def reason_of(topic: str, key: bytes | None, value: bytes | None) -> str:
    with pytest.raises(DecodeFailure) as info:
        decode(topic, key, value)
    return info.value.reason


def test_step_two_of_the_card_order_decodes_to_an_order_step() -> None:
    step = decode(topics.ORDERS, KEY, json.dumps(example(topics.ORDERS, 1)).encode())
    assert isinstance(step, OrderStep)
    assert (step.product, step.status, step.step, step.total_steps) == (
        "credit_card",
        "step_completed",
        2,
        4,
    )
    assert step.occurred_at.utcoffset() is not None


def test_every_reason_has_its_own_exception_and_code() -> None:
    assert set(codec.REASONS) == {
        "unknown_topic",
        "too_large",
        "tombstone",
        "invalid_encoding",
        "invalid_json",
        "schema_violation",
        "key_mismatch",
    }
    for cls in (UnknownTopic, MessageTooLarge, Tombstone, InvalidEncoding, InvalidJson):
        assert issubclass(cls, DecodeFailure)
    assert issubclass(DecodeFailure, ImpulseStreamError) and issubclass(DecodeFailure, ValueError)


def test_a_topic_outside_the_contract_is_unknown() -> None:
    assert reason_of("orders.flow.v2", KEY, raw(topics.ORDERS)) == "unknown_topic"
    # an output topic is not something the worker decodes as input
    assert reason_of(topics.OPPORTUNITIES, KEY, raw(topics.ORDERS)) == "unknown_topic"


def test_a_prefixed_test_topic_decodes_after_logical_topic() -> None:
    physical = "t1234.orders.flow"
    assert reason_of(physical, KEY, raw(topics.ORDERS)) == "unknown_topic"
    assert isinstance(decode(logical_topic(physical, "t1234."), KEY, raw(topics.ORDERS)), OrderStep)


def test_logical_topic_leaves_other_names_alone() -> None:
    assert logical_topic("orders.flow", "") == "orders.flow"
    assert logical_topic("orders.flow", "t9.") == "orders.flow"
    assert logical_topic("t9.impulse-stream.dlq", "t9.") == "impulse-stream.dlq"


def test_size_limit_is_configurable_and_defaults_to_64_kib() -> None:
    padded = raw(topics.CONTACTS, notes="x" * (64 * 1024))
    assert reason_of(topics.CONTACTS, KEY, padded) == "too_large"
    assert Decoder(max_bytes=200 * 1024).decode(topics.CONTACTS, KEY, padded)
    small = Decoder(max_bytes=100)
    with pytest.raises(MessageTooLarge, match="more than the maximum of 100"):
        small.decode(topics.CONTACTS, KEY, raw(topics.CONTACTS))
    with pytest.raises(ValueError):
        Decoder(max_bytes=0)


def test_a_null_value_is_a_tombstone() -> None:
    assert reason_of(topics.PROFILES, KEY, None) == "tombstone"


@pytest.mark.parametrize(
    "value",
    [
        b'{"event_id": "\xff"}',
        "{}".encode("utf-16"),
        # invalid UTF-8 in a field the record does not keep is still not UTF-8
        raw(topics.CLICKS)[:-1] + b', "junk": "\xc3\x28"}',
    ],
)
def test_bytes_that_are_not_utf8_are_an_encoding_error(value: bytes) -> None:
    assert reason_of(topics.CLICKS, KEY, value) == "invalid_encoding"


@pytest.mark.parametrize(
    "value", [b"", b"{", b"not json", b'{"a": 1,}', b"\xef\xbb\xbf{}", raw(topics.CLICKS) + b"}"]
)
def test_malformed_json_is_invalid_json(value: bytes) -> None:
    assert reason_of(topics.CLICKS, KEY, value) == "invalid_json"


def test_schema_violation_names_the_field_and_keeps_msgspecs_message() -> None:
    with pytest.raises(SchemaViolation) as info:
        decode(topics.CLICKS, KEY, raw(topics.CLICKS, occurred_at="2026-11-23T10:58:12"))
    assert info.value.path == "$.occurred_at"
    assert "timezone" in info.value.message
    assert str(info.value).startswith("schema violation at $.occurred_at: ")
    assert info.value.topic == topics.CLICKS


def test_a_nested_violation_has_the_nested_path() -> None:
    profile = example(topics.PROFILES)
    profile["cards"] = [{"card_id": "card-5521", "status": "lost"}]
    with pytest.raises(SchemaViolation) as info:
        decode(topics.PROFILES, KEY, json.dumps(profile).encode())
    assert info.value.path == "$.cards[0].status"


def test_a_json_array_is_a_schema_violation_at_the_root() -> None:
    with pytest.raises(SchemaViolation) as info:
        decode(topics.CLICKS, KEY, b"[1, 2]")
    assert info.value.path == "$"


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amounts_are_refused(amount: str) -> None:
    with pytest.raises(SchemaViolation) as info:
        decode(topics.TRANSACTIONS, KEY, raw(topics.TRANSACTIONS, amount=amount))
    assert info.value.path == "$.amount"
    with pytest.raises(SchemaViolation) as info:
        decode(topics.TRANSACTIONS, KEY, raw(topics.TRANSACTIONS, balance_after=amount))
    assert info.value.path == "$.balance_after"


def test_amounts_keep_every_digit() -> None:
    tx = decode(topics.TRANSACTIONS, KEY, raw(topics.TRANSACTIONS, amount="0.10"))
    assert isinstance(tx, Transaction) and str(tx.amount) == "0.10"
    assert json.loads(encode(tx))["amount"] == "0.10"


def test_the_key_must_be_the_customer_id() -> None:
    with pytest.raises(KeyMismatch) as info:
        decode(topics.ORDERS, b"c-2002", raw(topics.ORDERS))
    assert "c-2002" not in str(info.value) and "c-1001" not in str(info.value)
    assert reason_of(topics.ORDERS, None, raw(topics.ORDERS)) == "key_mismatch"
    assert reason_of(topics.ORDERS, b"", raw(topics.ORDERS)) == "key_mismatch"


def test_a_broken_value_is_reported_before_the_key() -> None:
    """The value's defect is the more useful reason for whoever fixes the producer."""
    assert reason_of(topics.ORDERS, b"c-2002", b"{") == "invalid_json"


@pytest.mark.parametrize("topic", topics.OUTPUT_TOPICS)
def test_outputs_round_trip_byte_for_byte(topic: str) -> None:
    for message in committed_schema(f"{topic}.schema.json")["examples"]:
        record = decode_output(topic, json.dumps(message).encode())
        assert output_topic(record) == topic
        first = encode(record)
        assert encode(decode_output(topic, first)) == first
        assert json.loads(first) == message


def test_decode_output_refuses_input_topics() -> None:
    with pytest.raises(UnknownTopic):
        decode_output(topics.ORDERS, raw(topics.ORDERS))


def test_encoding_is_compact_utf8_json() -> None:
    record = decode(topics.CONTACTS, KEY, raw(topics.CONTACTS, subject="Überweisung prüfen"))
    data = encode(record)
    assert "Überweisung prüfen".encode() in data
    assert b": " not in data and b", " not in data


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_a_decode_failure(value: bytes) -> None:
    try:
        decode(topics.ORDERS, KEY, value)
    except DecodeFailure as failure:
        assert failure.reason in codec.REASONS


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.sampled_from(topics.INPUT_TOPICS), st.dictionaries(st.text(max_size=15), _JSON))
def test_arbitrary_json_objects_are_decoded_or_refused_with_a_reason(
    topic: str, fields: dict[str, Any]
) -> None:
    merged = {**example(topic), **fields}
    try:
        decode(topic, KEY, json.dumps(merged).encode())
    except DecodeFailure as failure:
        assert failure.reason in codec.REASONS


@pytest.mark.parametrize("status", ["joined", "left", "erased"])
def test_memberships_as_written_before_and_the_erased_ones_decode_on_both_group_topics(
    status: str,
) -> None:
    employer = (
        '{"membership_id":"mem-1","employer_id":"emp-00000000000000a1","customer_id":"c-1",'
        f'"status":"{status}","since":"2026-11-02T06:00:00+00:00","employer_name":""}}'
    ).encode()
    household = (
        '{"membership_id":"hhm-1","household_id":"hh-1","customer_id":"c-1",'
        f'"status":"{status}","since":"2026-11-02T06:00:00+00:00"}}'
    ).encode()
    assert codec.decode_membership(b"emp-00000000000000a1", employer).status == status
    assert codec.decode_household_membership(b"hh-1", household).status == status


def test_a_membership_of_an_unknown_status_is_a_schema_violation() -> None:
    value = (
        b'{"membership_id":"hhm-1","household_id":"hh-1","customer_id":"c-1",'
        b'"status":"forgotten","since":"2026-11-02T06:00:00+00:00"}'
    )
    with pytest.raises(SchemaViolation):
        codec.decode_household_membership(b"hh-1", value)
