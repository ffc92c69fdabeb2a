"""The state codec: compact msgpack, a round trip, a clear error on bad bytes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from impulse_stream.core.codec import StateDecodeError, decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Card, Consents, InputEvent
from impulse_stream.core.state import CustomerState, new_state

from .conftest import T0, at, booking, click, contact, order, profile, replay


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
