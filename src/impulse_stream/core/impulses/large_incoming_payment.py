"""Large incoming payment: a single non-income credit of at least ``min_amount``."""

from __future__ import annotations

from decimal import Decimal

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection

KIND = "large_incoming_payment"


class LargeIncomingPaymentDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule, income_categories: tuple[str, ...]) -> None:
        self.min_amount = Decimal(str(rule.number("min_amount")))
        self.income_categories = income_categories

    def detect(self, tx: Transaction) -> Detection | None:
        if tx.direction != "credit" or tx.category in self.income_categories:
            return None
        if tx.amount < self.min_amount:
            return None
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key="large_incoming_payment",
            source_event_id=tx.event_id,
            evidence=(("amount", str(tx.amount)), ("from", tx.counterparty.name[:80])),
        )
