"""Retirement approaching: aged ``from_age`` to ``to_age`` without any of the
``provision_products`` (held product or contract)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import age_on, anniversary
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import ONE_DAY, first_free_day, on_day
from impulse_stream.core.impulses.params import CODES
from impulse_stream.core.state import CustomerState

KIND = "retirement_approaching"


class RetirementApproachingDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {
        "from_age": {"type": "integer", "minimum": 40, "maximum": 80},
        "to_age": {"type": "integer", "minimum": 40, "maximum": 90},
        "provision_products": CODES,
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.from_age = rule.integer("from_age")
        self.to_age = rule.integer("to_age")
        self.provision = frozenset(rule.strings("provision_products"))

    def _window(self, state: CustomerState) -> tuple[date, date] | None:
        p = state.profile
        if p.birth_date is None:
            return None
        held = set(p.products) | {c.product for c in p.contracts}
        if held & self.provision:
            return None
        start = anniversary(p.birth_date, p.birth_date.year + self.from_age)
        end = anniversary(p.birth_date, p.birth_date.year + self.to_age + 1) - ONE_DAY
        return start, end

    def next_day(self, state: CustomerState, after: date) -> date | None:
        window = self._window(state)
        return None if window is None else first_free_day(state, KIND, KIND, after, *window)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        window = self._window(state)
        birth = state.profile.birth_date
        if window is None or birth is None or not window[0] <= day <= window[1]:
            return Fired(state)
        evidence = (("age", str(age_on(birth, day))), ("provision", "none held"))
        return Fired(state, (on_day(KIND, day, KIND, evidence),))
