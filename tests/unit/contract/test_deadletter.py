"""Dead-letter headers: what failed, where, when, and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from impulse_stream.contract import topics
from impulse_stream.contract.codec import decode
from impulse_stream.contract.deadletter import (
    MAX_DETAIL_BYTES,
    DeadLetter,
    dead_letter_headers,
    key_hash,
    parse_dead_letter_headers,
    truncate_utf8,
)
from impulse_stream.errors import DeadLetterHeaderError, DecodeFailure

from .conftest import committed_schema

FAILED_AT = datetime(2026, 11, 23, 10, 7, 0, 417000, tzinfo=UTC)


def headers(**changes: object) -> list[tuple[str, bytes]]:
    args: dict[str, object] = {
        "reason": "schema_violation",
        "detail": "schema violation at $.status: Invalid enum value 'aborted'",
        "topic": "t1234.orders.flow",
        "partition": 3,
        "offset": 18234,
        "stage": "decode",
        "failed_at": FAILED_AT,
    }
    args.update(changes)
    return dead_letter_headers(**args)  # type: ignore[arg-type]


def test_headers_of_a_refused_order_step() -> None:
    assert headers(key=b"c-1001") == [
        ("dlq_reason", b"schema_violation"),
        ("dlq_detail", b"schema violation at $.status: Invalid enum value 'aborted'"),
        ("dlq_topic", b"t1234.orders.flow"),
        ("dlq_partition", b"3"),
        ("dlq_offset", b"18234"),
        ("dlq_stage", b"decode"),
        ("dlq_failed_at", b"2026-11-23T10:07:00.417000Z"),
        ("dlq_key_hash", key_hash(b"c-1001").encode()),
    ]
    assert b"c-1001" not in b"".join(v for _, v in headers(key=b"c-1001"))


def test_parse_reads_back_what_was_written() -> None:
    parsed = parse_dead_letter_headers([("traceparent", b"00-ab"), *headers(key=b"c-1001")])
    assert parsed == DeadLetter(
        reason="schema_violation",
        detail="schema violation at $.status: Invalid enum value 'aborted'",
        topic="t1234.orders.flow",
        partition=3,
        offset=18234,
        stage="decode",
        failed_at=FAILED_AT,
        key_hash=key_hash(b"c-1001"),
    )
    assert parse_dead_letter_headers(headers()).key_hash is None


def test_a_codec_failure_becomes_a_valid_dead_letter() -> None:
    with pytest.raises(DecodeFailure) as info:
        decode(topics.CLICKS, b"c-1001", b"\xff\xfe")
    written = headers(reason=info.value.reason, detail=str(info.value), key=b"c-1001")
    schema = committed_schema(f"{topics.DEAD_LETTERS}.schema.json")
    Draft202012Validator(schema).validate({n: v.decode() for n, v in written})
    assert parse_dead_letter_headers(written).reason == "invalid_encoding"


def test_failed_at_keeps_its_offset() -> None:
    cet = datetime(2026, 11, 23, 11, 7, tzinfo=timezone(timedelta(hours=1)))
    assert dict(headers(failed_at=cet))["dlq_failed_at"] == b"2026-11-23T11:07:00+01:00"
    assert parse_dead_letter_headers(headers(failed_at=cet)).failed_at == cet


def test_detail_is_cut_to_1_kib_at_a_character_boundary() -> None:
    detail = dict(headers(detail="ä" * 2000))["dlq_detail"]
    assert len(detail) <= MAX_DETAIL_BYTES
    text = detail.decode("utf-8")  # still valid UTF-8
    assert text.endswith("…") and set(text[:-1]) == {"ä"}
    assert dict(headers(detail="short"))["dlq_detail"] == b"short"


@given(st.text(max_size=1500), st.integers(min_value=4, max_value=1100))
def test_truncation_always_gives_valid_utf8_within_the_limit(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit)
    assert len(cut) <= limit
    cut.decode("utf-8")


@pytest.mark.parametrize(
    "changes",
    [
        {"stage": "publish"},
        {"reason": "Schema Violation"},
        {"reason": ""},
        {"failed_at": datetime(2026, 11, 23, 10, 7)},
    ],
)
def test_bad_arguments_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        headers(**changes)


def _replace(name: str, value: bytes | None) -> list[tuple[str, bytes | None]]:
    return [(n, value if n == name else v) for n, v in headers(key=b"c-1001")]


@pytest.mark.parametrize(
    ("given_headers", "message"),
    [
        ([], "missing header"),
        ([h for h in headers() if h[0] != "dlq_offset"], "dlq_offset"),
        (_replace("dlq_partition", b"-1"), "dlq_partition"),
        (_replace("dlq_offset", b"12a"), "dlq_offset"),
        (_replace("dlq_stage", b"publish"), "dlq_stage"),
        (_replace("dlq_reason", b"BAD"), "dlq_reason"),
        (_replace("dlq_failed_at", b"yesterday"), "dlq_failed_at"),
        (_replace("dlq_failed_at", b"2026-11-23T10:07:00"), "offset"),
        (_replace("dlq_key_hash", b"xyz"), "dlq_key_hash"),
        (_replace("dlq_detail", b"\xff"), "not UTF-8"),
    ],
)
def test_malformed_headers_are_refused_with_the_header_named(
    given_headers: list[tuple[str, bytes | None]], message: str
) -> None:
    with pytest.raises(DeadLetterHeaderError, match=message):
        parse_dead_letter_headers(given_headers)
