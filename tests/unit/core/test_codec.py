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
    PACKED_FORMAT,
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
from impulse_stream.core.recent_events import (
    MAX_RECENT_EVENTS,
    Seen,
    fingerprint,
    remember,
    seen_before,
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
    assert blob[:3] == bytes([PACKED_FORMAT, 2, 0])  # dictionary 2, no remembered event
    assert len(blob) <= 425, len(blob)  # format 3 needed 448, zlib 626


def test_even_a_new_customer_is_stored_smaller_with_the_dictionary() -> None:
    blob = encode_state(new_state("c-1"))
    assert blob[0] == PACKED_FORMAT
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
    with pytest.raises(StateDecodeError, match="format-4 header of 2 bytes"):
        decode_state(b"\x04\x02")
    with pytest.raises(StateDecodeError, match="8 remembered events need 67 bytes"):
        decode_state(b"\x04\x02\x08" + bytes(40))
    with pytest.raises(StateDecodeError, match="unknown state dictionary 9"):
        decode_state(b"\x04\x09" + encode_state(new_state("c-1"))[2:])
    with pytest.raises(StateDecodeError, match="corrupt"):
        decode_state(b"\x04\x02\x00not zstd")


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
            assert rewritten[0] == PACKED_FORMAT and len(rewritten) < len(blob), name


def _workload_events() -> list[InputEvent]:
    """The events of ``remembering_states(3000, seed=5)`` in the order it applies them."""
    from bench.reference import decoded, merged
    from bench.workload import build_workload

    return decoded(merged(build_workload(3000, 5)))


def _stored_in_format_3() -> dict[str, bytes]:
    """States with their recent-event memory, encoded by the codec of format 3, by name."""
    lines = (DATA / "states_v3.txt").read_text(encoding="utf-8").splitlines()
    return {name: bytes.fromhex(blob) for name, blob in (line.split() for line in lines)}


def test_states_written_in_format_3_decode_with_their_event_memory_cut_to_format_4() -> None:
    """The migration: every stored format-3 state (dictionary 1, 64- and 32-bit
    digests) decodes to the state this build computes for the same events, whose
    digests are the leading 48 and 16 bits of the old ones; rewritten, it is format 4
    and smaller."""
    from bench.reference import remembering_states

    stored = _stored_in_format_3()
    assert {blob[:2] for blob in stored.values()} == {bytes([ZSTD_FORMAT, 1])}
    expected = {"new_state": new_state("c-1")}
    for n, state in enumerate(remembering_states(3000, seed=5)):
        if n % 60 == 0:
            expected[f"bench_3000_seed_5_state_{n}"] = state
    assert sorted(stored) == sorted(expected)
    full = [name for name, state in expected.items() if len(state.recent) == MAX_RECENT_EVENTS]
    assert len(full) >= 10  # the memory is what changed: many stored states hold a full one
    for name, blob in stored.items():
        state = decode_state(blob)
        assert state == expected[name], name
        assert all(m.event < 1 << 48 and m.content < 1 << 16 for m in state.recent), name
        rewritten = encode_state(state)
        assert rewritten[:3] == bytes([PACKED_FORMAT, 2, len(state.recent)]), name
        assert decode_state(rewritten) == state, name
        assert len(rewritten) < len(blob), name


def _with_other_content(event: InputEvent) -> InputEvent:
    """The same ``event_id`` and customer, one text field changed."""
    for f in msgspec.structs.fields(event):
        value = getattr(event, f.name)
        if f.name not in ("event_id", "customer_id") and isinstance(value, str):
            return msgspec.structs.replace(event, **{f.name: value + "-changed"})
    raise AssertionError(f"{type(event).__name__} has no text field to change")


def test_a_format_3_state_still_knows_its_events_repeats_and_conflicts() -> None:
    """Duplicate detection across the migration: the event a stored format-3 state
    took in last is a repeat for the decoded state, the same id with other content a
    conflict, an event it never saw new."""
    events = _workload_events()
    stored = _stored_in_format_3()
    checked = 0
    for name, blob in stored.items():
        if not name.startswith("bench_"):
            continue
        event = events[int(name.rsplit("_", 1)[1])]
        mark = fingerprint(event)
        if mark is None:  # a profile: no event_id to remember
            continue
        state = decode_state(blob)
        assert state.customer_id == event.customer_id
        assert seen_before(state, mark) is Seen.REPEAT, name
        assert seen_before(state, fingerprint(_with_other_content(event))) is Seen.CONFLICT, name
        unseen = msgspec.structs.replace(event, event_id=f"{event.event_id}-never-sent")
        assert seen_before(state, fingerprint(unseen)) is Seen.NEW, name
        checked += 1
    assert checked >= 30


def test_format_4_stores_each_remembered_event_in_eight_bytes() -> None:
    """The digests sit beside the zstd frame, fixed-width: eight remembered events
    add exactly 64 bytes to the blob, and a full window round-trips."""
    events = [e for e in _workload_events() if getattr(e, "event_id", None)]
    state = new_state(events[0].customer_id)
    for event in events[:MAX_RECENT_EVENTS]:
        state = remember(state, fingerprint(event))
    assert len(state.recent) == MAX_RECENT_EVENTS
    empty = msgspec.structs.replace(state, recent=())
    assert len(encode_state(state)) - len(encode_state(empty)) == 8 * MAX_RECENT_EVENTS
    assert decode_state(encode_state(state)) == state
    assert remember(state, fingerprint(events[MAX_RECENT_EVENTS])).recent[:-1] == state.recent[1:]
