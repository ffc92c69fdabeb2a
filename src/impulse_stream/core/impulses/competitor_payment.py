"""Payments to a competitor: loan instalments, insurance premiums,
building-society savings elsewhere (a switching offer).

Recognised from the booking category (``categories`` maps it to the product
the impulse is about) and the counterparty: a configured competitor name
(case-insensitive, contained in the name) or an IBAN prefix.
"""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection

KIND = "competitor_payment"


class CompetitorPaymentDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
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

    def detect(self, tx: Transaction) -> Detection | None:
        if tx.direction != "debit" or tx.category not in self.categories:
            return None
        competitor = self.competitor(tx)
        if competitor is None:
            return None
        product = self.categories[tx.category]
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key=f"{tx.category}:{competitor.lower()}",
            product=product,
            source_event_id=tx.event_id,
            evidence=(
                ("competitor", competitor),
                ("category", tx.category),
                ("product", product),
                ("amount", str(tx.amount)),
            ),
        )
