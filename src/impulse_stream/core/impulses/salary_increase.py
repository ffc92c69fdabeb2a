"""Salary or regular income increased.

Fires when this month's income (categories ``aggregates.income_categories``)
first reaches ``(1 + min_increase)`` x the average of the previous
``baseline_months`` months; every baseline month must have income.
"""

from __future__ import annotations

from impulse_stream.core.aggregates import income_of
from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.dates import month_index
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Aggregates

KIND = "salary_increase"


class SalaryIncreaseDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.min_increase = rule.number("min_increase")
        self.baseline_months = rule.integer("baseline_months")

    def detect(self, before: Aggregates, after: Aggregates, tx: Transaction) -> Detection | None:
        month = month_index(tx.booked_at)
        current = income_of(after, month)
        baseline = [income_of(after, month - k) for k in range(1, self.baseline_months + 1)]
        if current is None or any(b is None for b in baseline):
            return None
        average = sum(b for b in baseline if b is not None) / len(baseline)
        threshold = average * (1 + self.min_increase)
        previous = income_of(before, month) or 0
        if average <= 0 or current < threshold or previous >= threshold:
            return None
        return Detection(
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
        )
