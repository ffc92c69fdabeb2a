"""The engine's memos change nothing but the work: the journeys' plans, the calendar's
one answer per customer, the last wake-up, the ready hashers and the channel sets
give what a fresh computation gives, and stay one entry per customer."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import msgspec
from bench.reference import written_states

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import CHANNELS
from impulse_stream.core.ids import blake2b
from impulse_stream.core.journeys import Journeys
from impulse_stream.core.learning import AcceptanceStatistics
from impulse_stream.core.state import channels_of

from .test_calendar_memo import Forgetful

STATES = 3000


def _forgetful_journeys(engine: DecisionEngine) -> Journeys:
    journeys = Journeys(engine.rules)
    journeys.plans.plans = Forgetful()
    return journeys


def test_journey_deadlines_from_the_plans_equal_fresh_ones_on_every_state_of_a_workload(
    catalogue: Catalogue,
) -> None:
    engine = DecisionEngine(catalogue)
    fresh = _forgetful_journeys(engine)
    with_journeys = 0
    for state in written_states(STATES, seed=11):
        assert engine.journeys.deadlines(state) == fresh.deadlines(state)
        with_journeys += bool(state.journeys)
    assert with_journeys > 0  # the workload runs customers through journeys
    assert fresh.plans.plans == {}


def test_a_moving_clock_keeps_the_plan_and_gives_fresh_deadlines_on_every_day(
    catalogue: Catalogue,
) -> None:
    engine = DecisionEngine(catalogue)
    fresh = _forgetful_journeys(engine)
    states = [s for s in written_states(STATES, seed=11) if s.journeys and s.clock is not None]
    assert states
    state = states[-1]
    assert state.clock is not None
    for n in range(0, 800, 3):
        later = msgspec.structs.replace(state, clock=state.clock + timedelta(days=n))
        assert engine.journeys.deadlines(later) == fresh.deadlines(later), n
    assert list(engine.journeys.plans.plans) == [state.customer_id]


def test_one_plan_and_one_calendar_answer_per_customer_shared_by_the_per_day_engines(
    catalogue: Catalogue,
) -> None:
    engine = DecisionEngine(catalogue)
    customers = set()
    for state in written_states(STATES, seed=11):
        engine.next_wakeup(state)
        customers.add(state.customer_id)
    plans = engine.journeys.plans.plans
    assert set(plans) <= customers and len(plans) > 0
    assert set(engine.calendar.memo.answers) <= customers
    tomorrow = engine.with_statistics(AcceptanceStatistics())
    assert tomorrow.journeys.plans is engine.journeys.plans
    assert tomorrow.calendar.memo is engine.calendar.memo


def test_the_last_wake_up_is_kept_for_the_same_state_and_equals_a_fresh_engines(
    catalogue: Catalogue,
) -> None:
    engine = DecisionEngine(catalogue)
    for n, state in enumerate(written_states(STATES, seed=11)):
        first = engine.next_wakeup(state)
        assert engine.next_wakeup(state) == first
        if n % 50 == 0:
            assert DecisionEngine(catalogue).next_wakeup(state) == first


def test_the_ready_hashers_give_hashlibs_digests() -> None:
    for size in (4, 8, 10):
        for data in (b"", b"evt-1", "kunde-ä".encode(), bytes(range(256)) * 3):
            assert blake2b(data, size) == hashlib.blake2b(data, digest_size=size).digest()


def test_the_kept_channel_sets_are_those_of_the_mask_bits() -> None:
    for mask in range(1 << len(CHANNELS)):
        expected = tuple(c for i, c in enumerate(CHANNELS) if mask & (1 << i))
        assert channels_of(mask) == expected
        assert channels_of(mask | (1 << (len(CHANNELS) + 3))) == expected
