"""Shared shape of the date-based detectors run by the calendar sweep.

Each one answers two questions: ``next_day(state, after)`` - the first day
after ``after`` on which it could fire (so that ``next_wakeup`` does not wake
every customer every day), and ``detect(state, day)``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

from impulse_stream.core.dates import day_start
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.run import seen_until
from impulse_stream.core.state import CustomerState

ONE_DAY = timedelta(days=1)


class CalendarDetector(Protocol):
    kind: str

    def next_day(self, state: CustomerState, after: date) -> date | None: ...

    def detect(self, state: CustomerState, day: date) -> list[Detection]: ...


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
    kind: str, day: date, key: str, evidence: tuple[tuple[str, str], ...], **kw: str
) -> Detection:
    return Detection(
        kind=kind,
        occurred_at=day_start(day),
        trigger=f"{key}:{day.isoformat()}",
        key=key,
        evidence=evidence,
        product=kw.get("product"),
    )
