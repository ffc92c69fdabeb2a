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


class CalendarSweep:
    def __init__(self, detectors: tuple[CalendarDetector, ...]) -> None:
        self.detectors = detectors
        self._next_days: dict[
            tuple[str, Profile, tuple[Seen, ...], date | None, int, date], date | None
        ] = {}

    def next_day(self, state: CustomerState, after: date) -> date | None:
        """The first day after ``after`` on which some date rule could fire.

        Memoised: the engine asks several times per event, and the answer
        depends only on the customer's master data, reported triggers and
        salary dates, which most events leave unchanged.
        """
        if not state.profile.known:
            return None
        agg = state.aggregates
        key = (
            state.customer_id,
            state.profile,
            state.seen,
            agg.last_salary_on,
            agg.salary_months,
            after,
        )
        try:
            return self._next_days[key]
        except KeyError:
            pass
        if len(self._next_days) >= _MEMO_SIZE:
            self._next_days.clear()
        day = self._next_day(state, after)
        self._next_days[key] = day
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
