"""Salary or regular income increased.

Fires when this month's income (categories ``aggregates.income_categories``)
first reaches ``(1 + min_increase)`` x the average of the previous
``baseline_months`` months; every baseline month must have income.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.aggregates import income_of
from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import month_index
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "salary_increase"


class SalaryIncreaseDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "min_increase": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
        "baseline_months": {"type": "integer", "minimum": 1, "maximum": 6},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.min_increase = rule.number("min_increase")
        self.baseline_months = rule.integer("baseline_months")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        before, after = seen.before.aggregates, seen.after.aggregates
        month = month_index(tx.booked_at)
        current = income_of(after, month)
        baseline = [income_of(after, month - k) for k in range(1, self.baseline_months + 1)]
        if current is None or any(b is None for b in baseline):
            return ()
        average = sum(b for b in baseline if b is not None) / len(baseline)
        threshold = average * (1 + self.min_increase)
        previous = income_of(before, month) or 0
        if average <= 0 or current < threshold or previous >= threshold:
            return ()
        return (
            Detection(
                kind=KIND,
                occurred_at=tx.booked_at,
                trigger=f"month:{month}",
                key=f"month:{month}",
                source_event_id=tx.event_id,
                evidence=(
                    ("previous_average", f"{average / 100:.2f}"),
                    ("this_month", f"{current / 100:.2f}"),
                    ("increase", f"{(current / average - 1) * 100:.1f} %"),
                ),
            ),
        )
