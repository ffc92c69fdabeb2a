"""The native batch call gives byte for byte what the Python reference gives.

``bench/prototypes/native_batch.py`` runs one batch through the native call and
through the worker's Python functions (decode, state codec, recent-event
memory, a booking's aggregates); these properties compare the new states' bytes and every record's
output (customer, verdict, canonical JSON of the decoded record, dead-letter
reason) on batches of the bench workload with the states the Python core wrote
for them, mutated records, repeated and conflicting events, remembered events
and states of an older format.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import msgspec
import orjson
from bench.prototypes import native_batch as nb
from bench.prototypes.native_measure import Batch, core_batches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impulse_stream.contract import topics
from impulse_stream.core.codec import STATE_FORMAT, decode_state, encode_state
from impulse_stream.core.state import RecentEvent

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def batches() -> list[Batch]:
    """1,500 workload events in batches of 100, with the states the core stored before each."""
    return core_batches(1500, 100)


def same(records: list[nb.Record], states: dict[str, bytes | None]) -> None:
    expected_states, expected = nb.python_batch(records, states)
    got_states, got = nb.native_batch(records, states)
    assert got == expected
    assert got_states == expected_states
    assert list(got_states) == list(expected_states)


TIMES = st.sampled_from(
    [
        "2026-10-05T06:00:00+00:00",
        "2026-10-05T06:00:00Z",
        "2026-10-05T06:00:00.5+00:00",
        "2026-10-05T06:00:00+01:00",
        "2026-10-05T06:00:00-00:00",
        "2026-10-05T06:00:00",
        "2026-10-05",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2026-10-05 06:00:00Z",
        "2026-10-05T24:00:00Z",
        "2026-10-05T06:00:60Z",
        "2026-10-05t06:00:00z",
        "+2026-10-05T06:00:00Z",
    ]
) | st.datetimes().map(lambda t: t.isoformat() + "Z")
AMOUNTS = (
    st.from_regex(r"-?0{0,3}[0-9]{1,15}(\.[0-9]{1,6})?", fullmatch=True)
    | st.from_regex(r"-?[0-9]{0,17}(\.[0-9]{0,8})?", fullmatch=True)
    | st.sampled_from(
        [
            *("1e3", "NaN", "Infinity", "+1.00", " 1.00", "1.00\n", "0", "-0", "007.50"),
            *("0.000000", "0.125", "0.135", "-0.005", "-0.015", "2.675", "-12.5"),
            "999999999999999.999999",
        ]
    )
)
TEXTS = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["tx-1\n", 'a"b', "a\\b", "caf\u00e9", "a/b", "x" * 129, "\x7f", "", "DE", "EUR", "debit"]
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-2, 1002)
    | st.integers()
    | st.floats(allow_nan=False)
    | TEXTS
    | TIMES
    | AMOUNTS
    | st.sampled_from([{}, {"name": "x"}, {"iban": "DE12"}, {"iban": "de12"}, [], [1], {"a": 1}])
    | st.sampled_from(["credit", "debit", "online_banking", "completed", "started", "foo"])
)
FIELDS = st.sampled_from(
    [
        "event_id",
        "customer_id",
        "account_id",
        "booked_at",
        "occurred_at",
        "amount",
        "currency",
        "direction",
        "counterparty",
        "purpose",
        "category",
        "balance_after",
        "country",
        "card_id",
        "overdraft_limit",
        "order_id",
        "product",
        "channel",
        "status",
        "step",
        "total_steps",
        "agent_id",
        "session_id",
        "unknown_field",
    ]
)

INTEGERS = st.integers(-2, 1002) | st.sampled_from([True, 1.0, 2**63, -(2**63) - 1, "1"])
FIELD_VALUES = {
    "amount": AMOUNTS,
    "balance_after": AMOUNTS,
    "overdraft_limit": AMOUNTS,
    "booked_at": TIMES,
    "occurred_at": TIMES,
    "step": INTEGERS,
    "total_steps": INTEGERS,
    "counterparty": st.fixed_dictionaries(
        {},
        optional={
            "name": TEXTS
            | st.sampled_from(["  REWE  ", "", " ", "Caf\u00e9 M\u00fcller", "\u00a0Bahn", "IBAN"]),
            "iban": TEXTS | st.from_regex(r"[A-Z]{2}[0-9A-Z]{0,33}", fullmatch=True),
        },
    ),
    "category": st.sampled_from(["salary", "pension", "transfer", "rent", "Salary"]),
    "direction": st.sampled_from(["credit", "debit"]),
}


@st.composite
def mutated(draw: st.DrawFn, record: nb.Record) -> nb.Record:
    topic, key, value = record
    assert value is not None
    how = draw(st.sampled_from(["set", "set", "set", "delete", "key", "raw", "duplicate"]))
    fields: dict[str, Any] = orjson.loads(value)
    if how == "set":
        name = draw(st.sampled_from(sorted(fields)) | FIELDS)  # mostly the record's own
        fields[name] = draw(
            FIELD_VALUES.get(name, TEXTS) | VALUES if draw(st.booleans()) else VALUES
        )
        return topic, key, json.dumps(fields).encode()
    if how == "delete":
        fields.pop(draw(FIELDS), None)
        return topic, key, json.dumps(fields).encode()
    if how == "key":
        return topic, draw(st.sampled_from([None, b"", b"c9999999", key + b" "])), value
    if how == "duplicate":  # the same field twice in one object
        extra = json.dumps({draw(FIELDS): draw(VALUES)}).encode()[1:]
        return topic, key, value[:-1] + b"," + extra
    at = draw(st.integers(0, len(value)))
    return topic, key, draw(st.sampled_from([None, value[:at], value[:at] + b"\xff" + value[at:]]))


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[nb.Record], dict[str, bytes | None]]:
    whole = draw(st.sampled_from(batches()))
    start = draw(st.integers(0, len(whole.records) - 1))
    chosen = whole.records[start : start + draw(st.integers(1, len(whole.records)))]
    batch = Batch(chosen, {k.decode(): whole.states[k.decode()] for _, k, _ in chosen if k})
    records = list(batch.records)
    states = dict(batch.states)
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(0, 10))):
        i = rng.randrange(len(records))
        records[i] = draw(mutated(batch.records[i]))  # the original: a valid record
    for _ in range(draw(st.integers(0, 4))):  # a redelivery: a repeat, or a conflict
        topic, key, value = rng.choice(batch.records)
        if value is not None and draw(st.booleans()):
            fields = orjson.loads(value)
            fields["purpose" if topic == topics.TRANSACTIONS else "session_id"] = "changed"
            value = orjson.dumps(fields)
        records.insert(rng.randrange(len(records) + 1), (topic, key, value))
    for cid in draw(st.lists(st.sampled_from(sorted(states)), max_size=4)):
        blob = states[cid]
        if blob is None:
            continue
        state = decode_state(blob)
        if draw(st.booleans()):  # other remembered events, some of the batch's among them
            marks = draw(
                st.lists(
                    st.tuples(st.integers(0, 2**48 - 1), st.integers(0, 2**16 - 1)), max_size=8
                )
            )
            state = msgspec.structs.replace(state, recent=tuple(RecentEvent(*m) for m in marks))
            states[cid] = encode_state(state)
        else:  # an older format (plain msgpack, 64- and 32-bit digests)
            old = tuple(RecentEvent(m.event << 16 | 0xABCD, m.content << 16) for m in state.recent)
            older = msgspec.structs.replace(state, recent=old)
            states[cid] = bytes([STATE_FORMAT]) + msgspec.msgpack.encode(older)
    return records, states


@EXAMPLES
@given(workloads())
def test_native_batch_equals_the_python_reference_byte_for_byte(
    workload: tuple[list[nb.Record], dict[str, bytes | None]],
) -> None:
    same(*workload)


def test_native_batch_equals_python_on_every_batch_of_the_workload() -> None:
    for batch in batches():
        same(batch.records, batch.states)


def test_native_decodes_the_workloads_bookings_and_order_steps_itself() -> None:
    handed: list[str] = []

    def counting(topic: str, key: bytes | None, value: bytes | None) -> tuple[Any, ...]:
        handed.append(topic)
        return nb.fallback(topic, key, value)

    batch = next(
        b
        for b in batches()
        if {t for t, _, _ in b.records}
        == set(topics.INPUT_TOPICS[:0]) | {topics.PROFILES, topics.TRANSACTIONS, topics.ORDERS}
    )
    nb.native().run_batch(batch.records, batch.states, counting, nb.restate, nb.payee)
    assert handed == [t for t, _, _ in batch.records if t not in nb.NATIVE_TOPICS]
    assert len(handed) < len(batch.records)


def test_repeats_and_conflicts_are_told_apart_as_the_processor_does() -> None:
    tx = next(r for b in batches() for r in b.records if r[0] == topics.TRANSACTIONS)
    fields = orjson.loads(tx[2] or b"")
    conflicting = (tx[0], tx[1], orjson.dumps({**fields, "purpose": "other"}))
    _, outputs = nb.native_batch([tx, tx, conflicting], {})
    assert [o[1] for o in outputs] == ["new", "repeat", "conflict"]


def test_a_bookings_aggregates_match_for_income_overdraft_rounding_and_payees() -> None:
    base = {
        "customer_id": "c1",
        "account_id": "DE1",
        "currency": "EUR",
        "booked_at": "2026-10-01T06:00:00+00:00",
    }
    bookings = [
        {
            "direction": "credit",
            "category": "salary",
            "amount": "3100.125",
            "balance_after": "0.135",
        },
        {
            "direction": "credit",
            "category": "pension",
            "amount": "0.005",
            "booked_at": "2026-11-02T00:00:00Z",
        },
        {
            "direction": "debit",
            "amount": "12.50",
            "balance_after": "-0.015",
            "counterparty": {"name": " Caf\u00e9 M\u00fcller\u00a0"},
        },
        {
            "direction": "debit",
            "amount": "9",
            "balance_after": "-2.675",
            "counterparty": {"name": "  REWE  "},
        },
        {
            "direction": "debit",
            "amount": "1",
            "counterparty": {"name": " ", "iban": "DE02120300000000202051"},
        },
        {"direction": "debit", "amount": "1", "booked_at": "2026-10-01T23:30:00.5-01:00"},
    ]
    records = [
        (topics.TRANSACTIONS, b"c1", orjson.dumps({**base, "event_id": f"tx-{i}", **b}))
        for i, b in enumerate(bookings)
    ]
    states, outputs = nb.python_batch(records, {})
    assert [o[1] for o in outputs] == ["new"] * len(bookings)
    aggregates = decode_state(states["c1"]).aggregates
    assert [m.cents for m in aggregates.income] == [310012, 0]  # half-even: .125 -> 12, .005 -> 0
    assert len(aggregates.payees) == 3 and aggregates.overdraft_days  # the last has neither
    same(records, {})
