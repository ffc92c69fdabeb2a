"""Balance well above usual: reserve or investment potential.

Fires when ``balance_after`` is at least ``min_ratio`` x the usual balance and
at least ``min_excess`` above it, once the usual balance rests on
``min_samples`` bookings.
"""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.dates import month_index
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Aggregates

KIND = "balance_above_usual"


class BalanceAboveUsualDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.min_ratio = rule.number("min_ratio")
        self.min_excess_cents = round(rule.number("min_excess") * 100)
        self.min_samples = rule.integer("min_samples")

    def detect(self, before: Aggregates, after: Aggregates, tx: Transaction) -> Detection | None:
        usual = before.usual_balance
        balance = after.last_balance
        if tx.balance_after is None or usual is None or balance is None:
            return None
        if before.balance_samples < self.min_samples or usual <= 0:
            return None
        if balance < usual * self.min_ratio or balance - usual < self.min_excess_cents:
            return None
        month = month_index(tx.booked_at)
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key=f"month:{month}",
            source_event_id=tx.event_id,
            evidence=(("balance", f"{balance / 100:.2f}"), ("usual", f"{usual / 100:.2f}")),
        )
