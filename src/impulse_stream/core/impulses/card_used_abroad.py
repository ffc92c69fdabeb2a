"""Card used abroad: travel insurance, card limits for the trip."""

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

KIND = "card_used_abroad"


class CardUsedAbroadDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        del rule, catalogue  # no parameters

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        if tx.direction != "debit" or tx.card_id is None or tx.country is None:
            return ()
        if tx.country == seen.before.profile.home_country:
            return ()
        return (
            of_booking(
                KIND,
                tx,
                key=f"country:{tx.country}",
                evidence=(("country", tx.country), ("card_id", tx.card_id)),
            ),
        )
