"""Card used abroad: travel insurance, card limits for the trip."""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection

KIND = "card_used_abroad"


class CardUsedAbroadDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        del rule  # no parameters

    def detect(self, home_country: str, tx: Transaction) -> Detection | None:
        if tx.direction != "debit" or tx.card_id is None or tx.country is None:
            return None
        if tx.country == home_country:
            return None
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key=f"country:{tx.country}",
            source_event_id=tx.event_id,
            evidence=(("country", tx.country), ("card_id", tx.card_id)),
        )
