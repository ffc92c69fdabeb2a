"""Recurring overdraft use: overdrawn on ``min_days`` distinct days spread over
``min_months`` calendar months within ``lookback_days`` (instalment loan,
budgeting service)."""

from __future__ import annotations

from datetime import date

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Aggregates

KIND = "recurring_overdraft"


class RecurringOverdraftDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.min_days = rule.integer("min_days")
        self.lookback_days = rule.integer("lookback_days")
        self.min_months = rule.integer("min_months")

    def detect(self, after: Aggregates, tx: Transaction) -> Detection | None:
        if tx.balance_after is None or tx.balance_after >= 0:
            return None
        today = utc_day(tx.booked_at).toordinal()
        recent = [d for d in after.overdraft_days if today - self.lookback_days < d <= today]
        months = {(date.fromordinal(d).year, date.fromordinal(d).month) for d in recent}
        if len(recent) < self.min_days or len(months) < self.min_months:
            return None
        return Detection(
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
        )
