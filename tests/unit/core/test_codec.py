"""The state codec: compact msgpack, a round trip, a clear error on bad bytes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from impulse_stream.core.codec import StateDecodeError, decode_state, encode_state
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
    size = len(encode_state(typical_customer(engine)))
    assert size <= 700, size  # compressed: leaves room for the record's fences in Redis


def test_a_small_state_is_stored_uncompressed() -> None:
    assert encode_state(new_state("c-1"))[0] == 1


def test_corrupt_or_foreign_bytes_are_rejected_with_a_reason() -> None:
    with pytest.raises(StateDecodeError, match="format"):
        decode_state(b"")
    with pytest.raises(StateDecodeError, match="format"):
        decode_state(b"\x07abc")
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x01\xc1")
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x02not zlib")


def _worked_example_events() -> list[InputEvent]:
    from impulse_stream.contract import topics
    from impulse_stream.demo import worked_example

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
        for topic, event in worked_example("c-golden", GOLDEN_NOW)
    ]


GOLDEN_NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_a_state_stored_before_the_detector_registry_decodes_and_advances_the_same(
    engine: DecisionEngine,
) -> None:
    # Encoded by the engine before the detectors moved behind the registry.
    stored = bytes.fromhex((DATA / "worked_example_state.hex").read_text(encoding="utf-8"))
    state, _ = replay(engine, _worked_example_events(), until=GOLDEN_NOW)
    assert decode_state(stored) == state
    assert decode_state(encode_state(decode_state(stored))) == state
    later = GOLDEN_NOW + timedelta(days=8)
    old, new = engine.advance(decode_state(stored), later), engine.advance(state, later)
    assert old.outputs and msgspec.json.encode(old.outputs) == msgspec.json.encode(new.outputs)
    assert encode_state(old.state) == encode_state(new.state)
