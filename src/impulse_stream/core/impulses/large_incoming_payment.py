"""Large incoming payment: a single non-income credit of at least ``min_amount``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import (
    Detection,
    Listens,
    Observed,
    ParamSchemas,
    Trigger,
    of_booking,
)

KIND = "large_incoming_payment"


class LargeIncomingPaymentDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {"min_amount": {"type": "number", "exclusiveMinimum": 0}}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.min_amount = Decimal(str(rule.number("min_amount")))
        self.income_categories = catalogue.aggregates.income_categories

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        if tx.direction != "credit" or tx.category in self.income_categories:
            return ()
        if tx.amount < self.min_amount:
            return ()
        return (
            of_booking(
                KIND,
                tx,
                key="large_incoming_payment",
                evidence=(("amount", str(tx.amount)), ("from", tx.counterparty.name[:80])),
            ),
        )
