"""Birthday: a personal greeting (29 February is celebrated on 28 February)."""

from __future__ import annotations

from datetime import date

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.dates import age_on, anniversary, next_anniversary
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.impulses.calendar_base import on_day
from impulse_stream.core.state import CustomerState

KIND = "birthday"


class BirthdayDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        del rule

    def next_day(self, state: CustomerState, after: date) -> date | None:
        birth = state.profile.birth_date
        return None if birth is None else next_anniversary(birth, after)

    def detect(self, state: CustomerState, day: date) -> list[Detection]:
        birth = state.profile.birth_date
        if birth is None or anniversary(birth, day.year) != day or day <= birth:
            return []
        age = str(age_on(birth, day))
        return [on_day(KIND, day, f"year:{day.year}", (("age", age),))]
