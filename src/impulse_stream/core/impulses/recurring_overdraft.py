"""Recurring overdraft use: overdrawn on ``min_days`` distinct days spread over
``min_months`` calendar months within ``lookback_days`` (instalment loan,
budgeting service)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "recurring_overdraft"


class RecurringOverdraftDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "min_days": {"type": "integer", "minimum": 1, "maximum": 31},
        "lookback_days": {"type": "integer", "minimum": 1, "maximum": 366},
        "min_months": {"type": "integer", "minimum": 1, "maximum": 12},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.min_days = rule.integer("min_days")
        self.lookback_days = rule.integer("lookback_days")
        self.min_months = rule.integer("min_months")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        if tx.balance_after is None or tx.balance_after >= 0:
            return ()
        today = utc_day(tx.booked_at).toordinal()
        days = seen.after.aggregates.overdraft_days
        recent = [d for d in days if today - self.lookback_days < d <= today]
        months = {(date.fromordinal(d).year, date.fromordinal(d).month) for d in recent}
        if len(recent) < self.min_days or len(months) < self.min_months:
            return ()
        return (
            Detection(
                kind=KIND,
                occurred_at=tx.booked_at,
                trigger=f"day:{today}",
                key="recurring_overdraft",
                source_event_id=tx.event_id,
                evidence=(
                    ("overdraft_days", str(len(recent))),
                    ("months", str(len(months))),
                    ("lookback_days", str(self.lookback_days)),
                ),
            ),
        )
