"""The calendar sweep: date-based impulses, at most once per customer and day.

The engine sweeps a day when the event-time watermark passes its midnight
(UTC) and ``next_day`` says some calendar detector could fire on it. The
detectors run in registry order, each on the state the previous one left;
detections are dated at the day's midnight, so the outcome does not depend on
when in the day the runtime calls ``advance``.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from impulse_stream.core.impulses.base import CalendarDetector
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState

_MEMO_SIZE = 8192  # customers whose answer is kept; cleared when full (a batch's worth)


class CalendarAnswer:
    """One customer's memoised ``next_day``: the fields it was found from, the ``after``
    it was asked for and the day it gave."""

    def __init__(self, state: CustomerState, asked: date, day: date | None) -> None:
        self.profile = state.profile
        self.seen = state.seen
        self.last_salary_on: Final = state.aggregates.last_salary_on
        self.salary_months: Final = state.aggregates.salary_months
        self.asked: Final = asked
        self.day: Final = day

    def holds_for(self, state: CustomerState, after: date) -> bool:
        if not (self.asked <= after and (self.day is None or after < self.day)):
            return False
        agg = state.aggregates
        if self.last_salary_on != agg.last_salary_on or self.salary_months != agg.salary_months:
            return False
        # Identity first: within one engine call, and from one call to the next, the
        # customer's profile and dedupe keys are mostly the very same objects; equal
        # ones (a state decoded anew) are adopted so that the next asks compare by
        # identity.
        if self.profile is not state.profile:
            if self.profile != state.profile:
                return False
            self.profile = state.profile
        if self.seen is not state.seen:
            if self.seen != state.seen:
                return False
            self.seen = state.seen
        return True


class CalendarMemo:
    """``next_day`` answers, one per customer, valid over an interval of ``after``.

    A calendar detector answers "the first day after ``after`` on which I
    could fire" from the customer's profile, reported triggers (``seen``) and
    salary dates alone, so an answer ``d`` found for ``after = a`` holds for
    every ``a <= after < d`` (and ``None`` for every ``after >= a``) while
    those fields stay equal: the moving clock re-asks with later days and hits
    until the answer's day has come. A customer whose fields changed replaces
    its answer. One memo serves every engine built from the same detectors
    (``DecisionEngine.with_statistics`` shares it).
    """

    def __init__(self) -> None:
        self.answers: dict[str, CalendarAnswer] = {}

    def get(self, state: CustomerState, after: date) -> tuple[bool, date | None]:
        found = self.answers.get(state.customer_id)
        if found is not None and found.holds_for(state, after):
            return True, found.day
        return False, None

    def put(self, state: CustomerState, after: date, day: date | None) -> None:
        if len(self.answers) >= _MEMO_SIZE and state.customer_id not in self.answers:
            self.answers.clear()
        self.answers[state.customer_id] = CalendarAnswer(state, after, day)


class CalendarSweep:
    def __init__(self, detectors: tuple[CalendarDetector, ...]) -> None:
        self.detectors = detectors
        self.memo = CalendarMemo()

    def next_day(self, state: CustomerState, after: date) -> date | None:
        """The first day after ``after`` on which some date rule could fire.

        Memoised: the engine asks several times per event, and the answer
        depends only on the customer's master data, reported triggers and
        salary dates, which most events leave unchanged.
        """
        if not state.profile.known:
            return None
        hit, day = self.memo.get(state, after)
        if hit:
            return day
        day = self._next_day(state, after)
        self.memo.put(state, after, day)
        return day

    def _next_day(self, state: CustomerState, after: date) -> date | None:
        days = [d.next_day(state, after) for d in self.detectors]
        return min((d for d in days if d is not None), default=None)

    def sweep(self, run: DecisionRun, day: date) -> None:
        for detector in self.detectors:
            fired = detector.detect(run.state, day, run.rules)
            run.state = fired.state
            for detection in fired.detections:
                run.report(detection)
