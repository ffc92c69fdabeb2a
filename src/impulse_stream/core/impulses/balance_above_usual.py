"""Balance well above usual: reserve or investment potential.

Fires when ``balance_after`` is at least ``min_ratio`` x the usual balance and
at least ``min_excess`` above it, once the usual balance rests on
``min_samples`` bookings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import month_index
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import (
    Detection,
    Listens,
    Observed,
    ParamSchemas,
    Trigger,
    of_booking,
)

KIND = "balance_above_usual"


class BalanceAboveUsualDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "min_ratio": {"type": "number", "minimum": 1},
        "min_excess": {"type": "number", "minimum": 0},
        "min_samples": {"type": "integer", "minimum": 1},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.min_ratio = rule.number("min_ratio")
        self.min_excess_cents = round(rule.number("min_excess") * 100)
        self.min_samples = rule.integer("min_samples")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        before = seen.before.aggregates
        usual = before.usual_balance
        balance = seen.after.aggregates.last_balance
        if tx.balance_after is None or usual is None or balance is None:
            return ()
        if before.balance_samples < self.min_samples or usual <= 0:
            return ()
        if balance < usual * self.min_ratio or balance - usual < self.min_excess_cents:
            return ()
        month = month_index(tx.booked_at)
        return (
            of_booking(
                KIND,
                tx,
                key=f"month:{month}",
                evidence=(("balance", f"{balance / 100:.2f}"), ("usual", f"{usual / 100:.2f}")),
            ),
        )
