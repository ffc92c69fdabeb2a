"""Coming of age: the customer turned ``age`` (18) within ``window_days``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import anniversary
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import first_free_day, on_day
from impulse_stream.core.state import CustomerState

KIND = "coming_of_age"


class ComingOfAgeDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {
        "age": {"type": "integer", "minimum": 14, "maximum": 21},
        "window_days": {"type": "integer", "minimum": 1, "maximum": 366},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.age = rule.integer("age")
        self.window = timedelta(days=rule.integer("window_days"))

    def _window(self, state: CustomerState) -> tuple[date, date] | None:
        birth = state.profile.birth_date
        if birth is None:
            return None
        start = anniversary(birth, birth.year + self.age)
        return start, start + self.window

    def next_day(self, state: CustomerState, after: date) -> date | None:
        window = self._window(state)
        if window is None:
            return None
        return first_free_day(state, KIND, KIND, after, *window)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        window = self._window(state)
        if window is None or not window[0] <= day <= window[1]:
            return Fired(state)
        return Fired(state, (on_day(KIND, day, KIND, (("age", str(self.age)),)),))
