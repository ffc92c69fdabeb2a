"""The calendar sweep: date-based impulses, at most once per customer and day.

The engine sweeps a day when the event-time watermark passes its midnight
(UTC) and ``next_day`` says some calendar detector could fire on it. The
detectors run in registry order, each on the state the previous one left;
detections are dated at the day's midnight, so the outcome does not depend on
when in the day the runtime calls ``advance``.
"""

from __future__ import annotations

from datetime import date

from impulse_stream.core.impulses.base import CalendarDetector
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState, Profile, Seen

_MEMO_SIZE = 8192  # customers' answers kept; cleared when full (a batch's worth)

MemoKey = tuple[str, Profile, tuple[Seen, ...], date | None, int]


class CalendarMemo:
    """``next_day`` answers per customer, valid over an interval of ``after``.

    A calendar detector answers "the first day after ``after`` on which I
    could fire" from the memo key's fields alone, so an answer ``d`` found for
    ``after = a`` holds for every ``a <= after < d`` (and ``None`` for every
    ``after >= a``): the moving clock re-asks with later days and hits until
    the answer's day has come. One memo serves every engine built from the
    same detectors (``DecisionEngine.with_statistics`` shares it).
    """

    def __init__(self) -> None:
        self.answers: dict[MemoKey, tuple[date, date | None]] = {}

    def get(self, key: MemoKey, after: date) -> tuple[bool, date | None]:
        found = self.answers.get(key)
        if found is None:
            return False, None
        asked, day = found
        if asked <= after and (day is None or after < day):
            return True, day
        return False, None

    def put(self, key: MemoKey, after: date, day: date | None) -> None:
        if len(self.answers) >= _MEMO_SIZE:
            self.answers.clear()
        self.answers[key] = (after, day)


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
        agg = state.aggregates
        key = (state.customer_id, state.profile, state.seen, agg.last_salary_on, agg.salary_months)
        hit, day = self.memo.get(key, after)
        if hit:
            return day
        day = self._next_day(state, after)
        self.memo.put(key, after, day)
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
