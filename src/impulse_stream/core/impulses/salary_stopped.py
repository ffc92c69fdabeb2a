"""Sign of leaving: a regular salary (``min_salary_months`` months) has not
arrived for ``missing_days`` (retention)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import first_free_day, on_day
from impulse_stream.core.state import CustomerState

KIND = "salary_stopped"


class SalaryStoppedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {
        "missing_days": {"type": "integer", "minimum": 28, "maximum": 366},
        "min_salary_months": {"type": "integer", "minimum": 1, "maximum": 6},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.missing = timedelta(days=rule.integer("missing_days"))
        self.min_months = rule.integer("min_salary_months")

    def _due(self, state: CustomerState) -> tuple[date, str] | None:
        agg = state.aggregates
        if agg.last_salary_on is None or agg.salary_months < self.min_months:
            return None
        return agg.last_salary_on + self.missing, f"since:{agg.last_salary_on.isoformat()}"

    def next_day(self, state: CustomerState, after: date) -> date | None:
        due = self._due(state)
        return None if due is None else first_free_day(state, KIND, due[1], after, due[0], date.max)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        due = self._due(state)
        if due is None or day < due[0]:
            return Fired(state)
        last = state.aggregates.last_salary_on
        return Fired(state, (on_day(KIND, day, due[1], (("last_salary_on", str(last)),)),))
