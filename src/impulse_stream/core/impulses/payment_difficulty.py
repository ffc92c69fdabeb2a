"""A missed loan instalment or an overdraft past its limit: an early, friendly
collection contact instead of a dunning letter (service)."""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection

KIND = "payment_difficulty"


class PaymentDifficultyDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.missed_categories = rule.strings("missed_instalment_categories")

    def detect(self, tx: Transaction) -> Detection | None:
        if tx.category in self.missed_categories:
            reason = "missed_instalment"
        elif (
            tx.balance_after is not None
            and tx.overdraft_limit is not None
            and tx.balance_after < -abs(tx.overdraft_limit)
        ):
            reason = "overdraft_past_limit"
        else:
            return None
        evidence = [("reason", reason), ("amount", str(tx.amount))]
        if tx.balance_after is not None:
            evidence.append(("balance", str(tx.balance_after)))
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key=reason,
            source_event_id=tx.event_id,
            evidence=tuple(evidence),
        )
