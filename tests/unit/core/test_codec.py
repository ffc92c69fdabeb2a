"""The state codec: compact msgpack, a round trip, a clear error on bad bytes, and
every format ever written still read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.codec import (
    STATE_FORMAT,
    ZLIB_FORMAT,
    ZSTD_FORMAT,
    decode_state,
    encode_state,
)
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    Card,
    ChannelContact,
    Click,
    Consents,
    CustomerProfile,
    InputEvent,
    OpportunityResponse,
    OrderStep,
    Transaction,
)
from impulse_stream.core.state import CustomerState, new_state
from impulse_stream.errors import StateDecodeError

from .conftest import T0, at, booking, click, contact, order, profile, replay

DATA = Path(__file__).resolve().parent / "data"


def typical_customer(engine: DecisionEngine) -> CustomerState:
    """Six months of a salaried customer: bookings, logins, a call, a card order."""
    events: list[InputEvent] = [
        profile(
            T0 - timedelta(days=200),
            birth=date(1984, 2, 11),
            consents=Consents(phone=True, online_banking=True),
            products=("current_account", "debit_card", "membership"),
            cards=(Card(card_id="card-77", expires_on=date(2028, 5, 31)),),
        )
    ]
    for month in range(6, 12):
        first = T0.replace(month=month, day=1, hour=6)
        events.append(booking(first, "3100", category="salary", name="Acme GmbH", balance="4200"))
        events.append(
            booking(first + timedelta(days=2), "950", "debit", name="Landlord", balance="3250")
        )
        events.append(
            booking(first + timedelta(days=9), "120", "debit", name="Stadtwerke", balance="3130")
        )
        events.append(click(first + timedelta(days=3), "login"))
    events += [
        contact(T0 - timedelta(days=40), "call_centre", "inbound_call", "standing order"),
        contact(T0 - timedelta(days=20), "online_banking", "message", "new terms"),
        order("started", at(0), step=1),
        order("step_completed", at(4), step=2),
    ]
    state, _ = replay(engine, events, until=at(40))
    return state


def test_state_round_trips(engine: DecisionEngine) -> None:
    state = typical_customer(engine)
    assert decode_state(encode_state(state)) == state
    assert decode_state(encode_state(new_state("c-1"))) == new_state("c-1")


def test_a_typical_customer_fits_in_one_kilobyte(engine: DecisionEngine) -> None:
    blob = encode_state(typical_customer(engine))
    assert blob[:2] == bytes([ZSTD_FORMAT, 1])  # zstd with dictionary 1
    # zlib needed 626: room for the fences in Redis. 448 before OpportunityState's 16th
    # field (channel_order) turned each opportunity's msgpack array header from 1 to 3 bytes.
    assert len(blob) <= 460, len(blob)


def test_even_a_new_customer_is_stored_smaller_with_the_dictionary() -> None:
    blob = encode_state(new_state("c-1"))
    assert blob[0] == ZSTD_FORMAT
    assert len(blob) < 1 + len(msgspec.msgpack.encode(new_state("c-1")))
    assert decode_state(blob) == new_state("c-1")


def test_corrupt_or_foreign_bytes_are_rejected_with_a_reason() -> None:
    with pytest.raises(StateDecodeError, match="format"):
        decode_state(b"")
    with pytest.raises(StateDecodeError, match="format"):
        decode_state(b"\x07abc")
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x01\xc1")
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x02not zlib")
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x03\x01not zstd")
    with pytest.raises(StateDecodeError, match="unknown state dictionary 9"):
        decode_state(b"\x03\x09" + encode_state(new_state("c-1"))[2:])
    with pytest.raises(StateDecodeError, match="unknown state dictionary None"):
        decode_state(b"\x03")


def _worked_example_events() -> list[InputEvent]:
    from impulse_stream import worked_example
    from impulse_stream.contract import topics

    types: dict[str, type[InputEvent]] = {
        topics.TRANSACTIONS: Transaction,
        topics.CLICKS: Click,
        topics.ORDERS: OrderStep,
        topics.PROFILES: CustomerProfile,
        topics.CONTACTS: ChannelContact,
        topics.RESPONSES: OpportunityResponse,
    }
    return [
        msgspec.json.decode(msgspec.json.encode(event), type=types[topic])
        for topic, event in worked_example.events("c-golden", GOLDEN_NOW)
    ]


GOLDEN_NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_a_state_stored_by_an_earlier_release_decodes_re_encodes_and_advances(
    catalogue: Catalogue,
) -> None:
    """Encoded by the engine before the detector registry, before abandonment was dated
    from an order's last step and before journeys existed (compared with an engine
    running the catalogue without them; test_journeys.py shows a stored state entering
    its journeys): it still decodes, survives a round trip unchanged, and the engine
    advances it like any state of its own."""
    engine = DecisionEngine(dataclasses.replace(catalogue, journeys=()))
    stored = bytes.fromhex((DATA / "worked_example_state.hex").read_text(encoding="utf-8"))
    old = decode_state(stored)
    assert old.customer_id == "c-golden" and old.clock == GOLDEN_NOW
    assert [o.order_id for o in old.orders] == ["ord-c-golden"]
    assert {i.kind for i in old.impulses} >= {"salary_increase", "order_abandoned"}
    assert decode_state(encode_state(old)) == old
    later = GOLDEN_NOW + timedelta(days=8)
    first, again = (
        engine.advance(old, later),
        engine.advance(decode_state(encode_state(old)), later),
    )
    assert first.outputs and msgspec.json.encode(first.outputs) == msgspec.json.encode(
        again.outputs
    )
    state, _ = replay(engine, _worked_example_events(), until=GOLDEN_NOW)
    assert {i.impulse_id for i in old.impulses} == {i.impulse_id for i in state.impulses}


def _stored_before_zstd() -> dict[str, bytes]:
    """States encoded by the codec before zstd (formats 1 and 2), by name."""
    lines = (DATA / "states_v1_v2.txt").read_text(encoding="utf-8").splitlines()
    return {name: bytes.fromhex(blob) for name, blob in (line.split() for line in lines)}


def _reference_states() -> dict[str, CustomerState]:
    """The same states, computed again (the generator in tests/unit/core/data/README.md)."""
    from bench.reference import written_states

    engine = DecisionEngine(load_catalogue())
    demo, _ = replay(engine, _worked_example_events(), until=GOLDEN_NOW)
    states = {
        "new_state": new_state("c-1"),
        "demo_worked_example": demo,
        "demo_worked_example_8_days_later": engine.advance(
            demo, GOLDEN_NOW + timedelta(days=8)
        ).state,
    }
    for n, state in enumerate(written_states(3000, seed=5)):
        if n % 60 == 0:
            states[f"bench_3000_seed_5_state_{n}"] = state
    return states


def test_states_written_by_the_zlib_codec_decode_to_the_same_state() -> None:
    stored = _stored_before_zstd()
    assert {blob[0] for blob in stored.values()} == {STATE_FORMAT, ZLIB_FORMAT}
    # The stored states predate the employer (issue 13): they decode without one, and the
    # next salary booking names it.
    expected = {
        name: msgspec.structs.replace(state, employer=0, employer_since=0)
        for name, state in _reference_states().items()
    }
    assert sorted(stored) == sorted(expected)
    for name, blob in stored.items():
        state = decode_state(blob)
        assert state == expected[name], name
        rewritten = encode_state(state)
        assert decode_state(rewritten) == state, name
        if blob[0] == ZLIB_FORMAT:
            assert rewritten[0] == ZSTD_FORMAT and len(rewritten) < len(blob), name
