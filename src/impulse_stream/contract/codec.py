"""Raw Kafka values to contract records and back.

Decoding is strict about the contract (UTF-8 JSON object, the topic's record
type, key = ``customer_id``) and tells precisely why a message was refused, so
that the worker can dead-letter it with a machine-readable reason. One
``msgspec.json.Decoder`` per topic is built once at import.

Exception hierarchy, every class with its ``reason`` code::

    DecodeFailure            (ImpulseStreamError, ValueError)
    ├── UnknownTopic         unknown_topic     the topic is not part of the contract
    ├── MessageTooLarge      too_large         the value exceeds the configured maximum
    ├── Tombstone            tombstone         the value is null (a compaction tombstone)
    ├── InvalidEncoding      invalid_encoding  the value is not UTF-8
    ├── InvalidJson          invalid_json      the value is not well-formed JSON
    ├── SchemaViolation      schema_violation  valid JSON that breaks the topic's schema;
    │                                          ``path`` (e.g. ``$.occurred_at``) and
    │                                          ``message`` say where and why
    └── KeyMismatch          key_mismatch      the message key is missing or is not the
                                               record's ``customer_id``

Beyond the types, the decoder enforces the contract's value rules (each a
``SchemaViolation`` with its path): amounts are decimal strings (a JSON number
is refused, ``1e309`` included) of at most 15 integer and 6 fraction digits,
unsigned except ``balance_after`` (``direction`` gives the sign); every time
lies between :data:`EARLIEST_TIME` and :data:`LATEST_TIME`; a birth date lies
between 1900-01-01 and the profile's ``updated_at``; contract and card dates
lie between 1900 and 2200. A value nested too deeply for the parser is
``invalid_json``; any other failure inside the parser is ``schema_violation``:
no input makes :meth:`Decoder.decode` raise anything but a ``DecodeFailure``.

Messages of a failure never quote the key, and quote from the value only what
msgspec reports (a field path, at most an offending enum value).

Input topics may carry a prefix (tests isolate runs as ``t1234.orders.flow``);
:func:`logical_topic` strips it, and the decoders take the logical name.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from impulse_stream.contract import topics
from impulse_stream.core.events import (
    Attribution,
    ChannelContact,
    Click,
    CustomerProfile,
    EmployerCluster,
    EmployerMembership,
    HouseholdMembership,
    Impulse,
    InputEvent,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    OutputRecord,
    Record,
    Transaction,
)
from impulse_stream.errors import (
    InvalidEncoding,
    InvalidJson,
    KeyMismatch,
    MessageTooLarge,
    SchemaViolation,
    Tombstone,
    UnknownTopic,
)

Meta = msgspec.Meta

DEFAULT_MAX_BYTES = 64 * 1024
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
"""No event of the contract happened before this (an order "of 1900" is a bad default)."""
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
"""Nor after this; the worker also refuses events too far ahead of its wall clock."""
EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 1, 1)
_EARLIEST_S = EARLIEST_TIME.timestamp()
_LATEST_S = LATEST_TIME.timestamp()

INPUT_RECORDS: Mapping[str, type[InputEvent]] = {
    topics.TRANSACTIONS: Transaction,
    topics.CLICKS: Click,
    topics.ORDERS: OrderStep,
    topics.PROFILES: CustomerProfile,
    topics.CONTACTS: ChannelContact,
    topics.RESPONSES: OpportunityResponse,
}
OUTPUT_RECORDS: Mapping[str, type[OutputRecord]] = {
    topics.IMPULSES: Impulse,
    topics.OPPORTUNITIES: Opportunity,
    topics.ATTRIBUTIONS: Attribution,
}
_OUTPUT_TOPIC: Mapping[type[Record], str] = {cls: t for t, cls in OUTPUT_RECORDS.items()}
# The internal topics of the employer clusters (``streaming/employers.py``).
INTERNAL_RECORDS: Mapping[str, type[Record]] = {
    topics.EMPLOYER_MEMBERS: EmployerMembership,
    topics.EMPLOYER_CLUSTERS: EmployerCluster,
    topics.HOUSEHOLD_MEMBERS: HouseholdMembership,
}


REASONS: tuple[str, ...] = tuple(
    c.reason
    for c in (
        UnknownTopic,
        MessageTooLarge,
        Tombstone,
        InvalidEncoding,
        InvalidJson,
        SchemaViolation,
        KeyMismatch,
    )
)
"""Every decode reason code (a bounded label set for metrics)."""


def _decimal_fields(cls: type[Record]) -> tuple[str, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        name
        for name in cls.__struct_fields__
        if hints[name] is Decimal or Decimal in typing.get_args(hints[name])
    )


_INPUT_DECODERS: dict[str, msgspec.json.Decoder[typing.Any]] = {
    t: msgspec.json.Decoder(cls)
    for t, cls in {**INPUT_RECORDS, topics.EMPLOYER_CLUSTERS: EmployerCluster}.items()
}
_MEMBERSHIP_DECODER = msgspec.json.Decoder(EmployerMembership)
_HOUSEHOLD_DECODER = msgspec.json.Decoder(HouseholdMembership)
_OUTPUT_DECODERS: dict[str, msgspec.json.Decoder[typing.Any]] = {
    t: msgspec.json.Decoder(cls) for t, cls in OUTPUT_RECORDS.items()
}
# msgspec accepts "NaN" and "Infinity" for Decimal; money is always finite.
_DECIMALS: dict[str, tuple[str, ...]] = {
    t: fields for t, cls in INPUT_RECORDS.items() if (fields := _decimal_fields(cls))
}
_ENCODER = msgspec.json.Encoder(decimal_format="string", order="deterministic")

UNSIGNED_AMOUNT = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
SIGNED_AMOUNT = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"
_Unsigned = Annotated[str, Meta(pattern=UNSIGNED_AMOUNT)]
_Signed = Annotated[str, Meta(pattern=SIGNED_AMOUNT)]


class _TransactionAmounts(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    """The wire form of a booking's amounts: strings only (msgspec's Decimal takes numbers).

    One per booking decoded; ``gc=False``: strings and None only, never part of a cycle.
    """

    amount: _Unsigned
    balance_after: _Signed | None = None
    overdraft_limit: _Unsigned | None = None


_AMOUNT_CHECKS: dict[str, msgspec.json.Decoder[typing.Any]] = {
    topics.TRANSACTIONS: msgspec.json.Decoder(_TransactionAmounts),
}
_AT_PATH = re.compile(r"^(?P<message>.*?) - at `(?P<path>\$[^`]*)`$", re.DOTALL)


def logical_topic(name: str, prefix: str = "") -> str:
    """The contract name of a physical topic: ``t1234.orders.flow`` -> ``orders.flow``."""
    if prefix and name.startswith(prefix):
        return name[len(prefix) :]
    return name


class Decoder:
    """Decodes input messages of every contract topic; build one per worker.

    ``max_bytes`` bounds a value's size (``IMPULSE_STREAM_MAX_MESSAGE_BYTES``).
    """

    __slots__ = ("max_bytes",)

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes

    def decode(self, topic: str, key: bytes | None, value: bytes | None) -> InputEvent:
        """Decode one message of the logical input ``topic``; raises a :class:`DecodeFailure`."""
        decoder = _INPUT_DECODERS.get(topic)
        if decoder is None:
            raise UnknownTopic(
                f"topic {topic!r} is not an input topic of the contract "
                f"({', '.join(topics.INPUT_TOPICS)}); strip a test prefix with logical_topic()",
                topic=topic,
            )
        event: InputEvent = _decode_value(decoder, topic, value, self.max_bytes)
        amounts = _AMOUNT_CHECKS.get(topic)
        if amounts is not None:
            _decode_value(amounts, topic, value, None)
        for name in _DECIMALS.get(topic, ()):
            amount = getattr(event, name)
            if amount is not None and not amount.is_finite():
                raise SchemaViolation(
                    "Expected a finite decimal string", topic=topic, path=f"$.{name}"
                )
        _check_times(topic, event)
        if key is None:
            raise KeyMismatch(
                "message has no key; the contract keys every message by customer_id",
                topic=topic,
            )
        if key != event.customer_id.encode():
            raise KeyMismatch("message key differs from the record's customer_id", topic=topic)
        return event


_DEFAULT = Decoder()


def decode(topic: str, key: bytes | None, value: bytes | None) -> InputEvent:
    """Decode one input message with the default size limit (64 KiB)."""
    return _DEFAULT.decode(topic, key, value)


def _check_time(topic: str, path: str, at: datetime | None) -> None:
    # timestamp() cannot overflow where astimezone() would (9999-12-31T23:59:59-01:00)
    if at is not None and not _EARLIEST_S <= at.timestamp() < _LATEST_S:
        raise SchemaViolation(
            f"Expected a time from {EARLIEST_TIME.date()} to {LATEST_TIME.date()}",
            topic=topic,
            path=path,
        )


def _check_date(topic: str, path: str, day: date | None, earliest: date, latest: date) -> None:
    if day is not None and not earliest <= day < latest:
        raise SchemaViolation(
            f"Expected a date from {earliest} to {latest}", topic=topic, path=path
        )


def _check_times(topic: str, event: InputEvent) -> None:
    """Times and dates within sane ranges per field; raises :class:`SchemaViolation`."""
    if isinstance(event, Transaction):
        _check_time(topic, "$.booked_at", event.booked_at)
        return
    if isinstance(event, CustomerProfile):
        _check_time(topic, "$.updated_at", event.updated_at)
        if event.birth_date is not None:
            updated = datetime.fromtimestamp(event.updated_at.timestamp(), UTC).date()
            if not EARLIEST_BIRTH <= event.birth_date <= updated:
                raise SchemaViolation(
                    f"Expected a birth date from {EARLIEST_BIRTH} to the profile's updated_at",
                    topic=topic,
                    path="$.birth_date",
                )
        for n, contract in enumerate(event.contracts):
            _check_date(
                topic,
                f"$.contracts[{n}].matures_on",
                contract.matures_on,
                EARLIEST_DATE,
                LATEST_DATE,
            )
        for n, card in enumerate(event.cards):
            _check_date(
                topic, f"$.cards[{n}].expires_on", card.expires_on, EARLIEST_DATE, LATEST_DATE
            )
        return
    _check_time(topic, "$.occurred_at", event.occurred_at)
    if isinstance(event, OpportunityResponse):
        _check_time(topic, "$.appointment_at", event.appointment_at)


def decode_output(topic: str, value: bytes) -> OutputRecord:
    """Decode a message of an output topic (replays, comparisons, frontends' tests)."""
    decoder = _OUTPUT_DECODERS.get(topic)
    if decoder is None:
        raise UnknownTopic(
            f"topic {topic!r} is not an output topic of the contract "
            f"({', '.join(topics.OUTPUT_TOPICS)})",
            topic=topic,
        )
    record: OutputRecord = _decode_value(decoder, topic, value, None)
    return record


def decode_membership(key: bytes | None, value: bytes | None) -> EmployerMembership:
    """Decode a message of ``employers.members``; the key must be its ``employer_id``."""
    topic = topics.EMPLOYER_MEMBERS
    record: EmployerMembership = _decode_value(_MEMBERSHIP_DECODER, topic, value, DEFAULT_MAX_BYTES)
    _check_time(topic, "$.since", record.since)
    if key != record.employer_id.encode():
        raise KeyMismatch("message key differs from the record's employer_id", topic=topic)
    return record


def decode_household_membership(key: bytes | None, value: bytes | None) -> HouseholdMembership:
    """Decode a message of ``households.members``; the key must be its ``household_id``."""
    topic = topics.HOUSEHOLD_MEMBERS
    record: HouseholdMembership = _decode_value(_HOUSEHOLD_DECODER, topic, value, DEFAULT_MAX_BYTES)
    _check_time(topic, "$.since", record.since)
    if key != record.household_id.encode():
        raise KeyMismatch("message key differs from the record's household_id", topic=topic)
    return record


def encode(record: Record) -> bytes:
    """UTF-8 JSON of a record; the same record always gives the same bytes."""
    return _ENCODER.encode(record)


def output_topic(record: OutputRecord) -> str:
    """The logical topic an output record is published to."""
    return _OUTPUT_TOPIC[type(record)]


def _decode_value(
    decoder: msgspec.json.Decoder[typing.Any],
    topic: str,
    value: bytes | None,
    max_bytes: int | None,
) -> typing.Any:
    if value is None:
        raise Tombstone(
            "message value is null (a tombstone); every contract message is a JSON object",
            topic=topic,
        )
    if max_bytes is not None and len(value) > max_bytes:
        raise MessageTooLarge(
            f"message value has {len(value)} bytes, more than the maximum of {max_bytes}",
            topic=topic,
        )
    # msgspec checks UTF-8 only inside the strings it keeps; the contract says the
    # whole value is UTF-8. Most values are ASCII, which needs no decode at all.
    if not value.isascii():
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEncoding(
                f"message value is not UTF-8 (byte {exc.start}: {exc.reason})", topic=topic
            ) from None
    try:
        return decoder.decode(value)
    except RecursionError:
        raise InvalidJson("message value is nested too deeply to parse", topic=topic) from None
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT_PATH.match(text)
        if match is None:
            raise SchemaViolation(text, topic=topic, path="$") from None
        raise SchemaViolation(match["message"], topic=topic, path=match["path"]) from None
    except msgspec.DecodeError as exc:
        raise InvalidJson(f"message value is not valid JSON: {exc}", topic=topic) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a value msgspec cannot represent
        raise SchemaViolation(
            f"value cannot be represented ({type(exc).__name__})", topic=topic, path="$"
        ) from None
