"""The calendar sweep's memo changes nothing but the work: same outputs with and
without it, one answer per customer while the clock moves, shared by the
per-day engines."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from impulse_stream.core.calendar_sweep import CalendarSweep
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.impulses.base import Fired, Reach
from impulse_stream.core.learning import AcceptanceStatistics
from impulse_stream.core.state import CustomerState

from .conftest import replay
from .test_worked_example import _history


class Forgetful(dict):  # type: ignore[type-arg]
    def __setitem__(self, key: object, value: object) -> None:
        return None


class CountingBirthday:
    """A calendar detector firing on the 1st of June, counting its ``next_day`` calls."""

    kind = "counting_birthday"

    def __init__(self) -> None:
        self.calls = 0

    def next_day(self, state: CustomerState, after: date) -> date | None:
        self.calls += 1
        june = date(after.year, 6, 1)
        return june if june > after else date(after.year + 1, 6, 1)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        return Fired(state)


def test_outputs_are_identical_without_the_memo(engine: DecisionEngine) -> None:
    events = _history()
    remembered = replay(engine, events)
    fresh = DecisionEngine(engine.catalogue)
    fresh.calendar.memo.answers = Forgetful()
    forgotten = replay(fresh, events)
    assert msgspec.json.encode(remembered[1]) == msgspec.json.encode(forgotten[1])
    assert remembered[0] == forgotten[0]


def test_a_moving_clock_asks_the_detectors_once_until_the_answer_day(
    engine: DecisionEngine,
) -> None:
    state, _ = replay(engine, _history())
    detector = CountingBirthday()
    sweep = CalendarSweep((detector,))
    answers = [sweep.next_day(state, date(2026, 1, 1) + timedelta(days=n)) for n in range(151)]
    assert set(answers) == {date(2026, 6, 1)}
    assert detector.calls == 1
    assert sweep.next_day(state, date(2026, 6, 1)) == date(2027, 6, 1)
    assert sweep.next_day(state, date(2026, 5, 1)) == date(2026, 6, 1)  # earlier: asked again
    assert detector.calls == 3


def test_memoised_answers_equal_fresh_answers_on_every_day_of_a_year(
    engine: DecisionEngine,
) -> None:
    state, _ = replay(engine, _history())
    sweep = engine.calendar
    for n in range(400):
        after = date(2026, 11, 1) + timedelta(days=n)
        uncached = CalendarSweep(sweep.detectors)
        uncached.memo.answers = Forgetful()
        assert sweep.next_day(state, after) == uncached.next_day(state, after), after


def test_the_per_day_engines_share_one_calendar_memo(engine: DecisionEngine) -> None:
    tomorrow = engine.with_statistics(AcceptanceStatistics())
    assert tomorrow.calendar.memo is engine.calendar.memo
    assert tomorrow.statistics is not engine.statistics
    state, _ = replay(engine, _history())
    after = date(2027, 1, 1)
    answer = engine.next_wakeup(state)
    size = len(engine.calendar.memo.answers)
    assert tomorrow.next_wakeup(state) == answer
    assert tomorrow.calendar.next_day(state, after) == engine.calendar.next_day(state, after)
    assert len(engine.calendar.memo.answers) == size


def test_advancing_to_the_same_instant_with_nothing_due_keeps_the_state_object(
    engine: DecisionEngine,
) -> None:
    state, _ = replay(engine, _history())
    assert state.clock is not None
    assert engine.advance(state, state.clock).state is state
