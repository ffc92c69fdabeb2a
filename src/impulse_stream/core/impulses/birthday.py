"""Birthday: a personal greeting (29 February is celebrated on 28 February)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import age_on, anniversary, next_anniversary
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import on_day
from impulse_stream.core.state import CustomerState

KIND = "birthday"


class BirthdayDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        del rule, catalogue  # no parameters

    def next_day(self, state: CustomerState, after: date) -> date | None:
        birth = state.profile.birth_date
        return None if birth is None else next_anniversary(birth, after)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        birth = state.profile.birth_date
        if birth is None or anniversary(birth, day.year) != day or day <= birth:
            return Fired(state)
        age = str(age_on(birth, day))
        return Fired(state, (on_day(KIND, day, f"year:{day.year}", (("age", age),)),))
