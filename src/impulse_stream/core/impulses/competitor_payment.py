"""Payments to a competitor: loan instalments, insurance premiums,
building-society savings elsewhere (a switching offer).

Recognised from the booking category (``categories`` maps it to the product
the impulse is about) and the counterparty: a configured competitor name
(case-insensitive, contained in the name) or an IBAN prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from impulse_stream.core.impulses.params import CODE

KIND = "competitor_payment"


class CompetitorPaymentDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "names": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
        },
        "iban_prefixes": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Z]{2}[0-9A-Z]*$"},
            "uniqueItems": True,
        },
        "categories": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z0-9_]+$"},
            "additionalProperties": CODE,
        },
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.names = tuple((n, n.lower()) for n in rule.strings("names"))
        self.iban_prefixes = rule.strings("iban_prefixes")
        self.categories = rule.mapping("categories")

    def competitor(self, tx: Transaction) -> str | None:
        name = tx.counterparty.name.lower()
        for original, lowered in self.names:
            if lowered and lowered in name:
                return original
        iban = tx.counterparty.iban or ""
        for prefix in self.iban_prefixes:
            if iban.startswith(prefix):
                return prefix
        return None

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        if tx.direction != "debit" or tx.category not in self.categories:
            return ()
        competitor = self.competitor(tx)
        if competitor is None:
            return ()
        product = self.categories[tx.category]
        return (
            of_booking(
                KIND,
                tx,
                key=f"{tx.category}:{competitor.lower()}",
                product=product,
                evidence=(
                    ("competitor", competitor),
                    ("category", tx.category),
                    ("product", product),
                    ("amount", str(tx.amount)),
                ),
            ),
        )
