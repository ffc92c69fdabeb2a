"""Shared pieces of the date-based detectors run by the calendar sweep.

Each one answers two questions: ``next_day(state, after)`` - the first day
after ``after`` on which it could fire (so that ``next_wakeup`` does not wake
every customer every day), and ``detect(state, day, reach)``. Detections are
dated at the day's midnight (``on_day``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, timedelta
from typing import ClassVar, NamedTuple

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import day_start
from impulse_stream.core.impulses.base import (
    Detection,
    Fired,
    Listens,
    Reach,
    Trigger,
    seen_until,
)
from impulse_stream.core.state import CustomerState

ONE_DAY = timedelta(days=1)


def first_free_day(
    state: CustomerState, kind: str, key: str, after: date, start: date, end: date
) -> date | None:
    """The first day in ``[start, end]`` after ``after`` on which ``key`` is not a repeat."""
    seen = seen_until(state, kind, key)
    candidate = max(after + ONE_DAY, start)
    if seen:
        candidate = max(candidate, date.fromordinal(seen) + ONE_DAY)
    return candidate if candidate <= end else None


def on_day(
    kind: str,
    day: date,
    key: str,
    evidence: tuple[tuple[str, str], ...],
    *,
    product: str | None = None,
) -> Detection:
    return Detection(
        kind=kind,
        occurred_at=day_start(day),
        trigger=f"{key}:{day.isoformat()}",
        key=key,
        evidence=evidence,
        product=product,
    )


class DueDate(NamedTuple):
    """Something the customer holds that falls due on ``on`` (a card's expiry,
    a contract's maturity); ``key`` names it for the repeat check."""

    key: str
    on: date
    evidence: tuple[tuple[str, str], ...]


class DaysAheadDetector(ABC):
    """Detects a due date on each of the ``days_ahead`` days before it (the
    due day itself excluded); the report drops repeats of its key."""

    kind: ClassVar[str]
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    product: ClassVar[str | None] = None

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.ahead = timedelta(days=rule.integer("days_ahead"))

    @abstractmethod
    def due_dates(self, state: CustomerState) -> list[DueDate]: ...

    def next_day(self, state: CustomerState, after: date) -> date | None:
        days = [
            first_free_day(state, self.kind, due.key, after, due.on - self.ahead, due.on - ONE_DAY)
            for due in self.due_dates(state)
        ]
        return min((d for d in days if d is not None), default=None)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        found = tuple(
            on_day(self.kind, day, due.key, due.evidence, product=self.product)
            for due in self.due_dates(state)
            if due.on - self.ahead <= day < due.on
        )
        return Fired(state, found)
