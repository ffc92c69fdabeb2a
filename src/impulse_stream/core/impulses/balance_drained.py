"""Sign of leaving: one large debit leaves the account nearly empty compared to
its usual balance (retention)."""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Aggregates

KIND = "balance_drained"


class BalanceDrainedDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.max_remaining_ratio = rule.number("max_remaining_ratio")
        self.min_usual_cents = round(rule.number("min_usual_balance") * 100)
        self.min_amount_cents = round(rule.number("min_amount") * 100)

    def detect(self, before: Aggregates, after: Aggregates, tx: Transaction) -> Detection | None:
        usual, balance = before.usual_balance, after.last_balance
        if tx.direction != "debit" or tx.balance_after is None or usual is None or balance is None:
            return None
        if usual < self.min_usual_cents or tx.amount * 100 < self.min_amount_cents:
            return None
        if balance > usual * self.max_remaining_ratio:
            return None
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key="balance_drained",
            source_event_id=tx.event_id,
            evidence=(("usual", f"{usual / 100:.2f}"), ("balance", f"{balance / 100:.2f}")),
        )
