"""Sign of leaving: one large debit leaves the account nearly empty compared to
its usual balance (retention)."""

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

KIND = "balance_drained"


class BalanceDrainedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "max_remaining_ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "min_usual_balance": {"type": "number", "minimum": 0},
        "min_amount": {"type": "number", "minimum": 0},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.max_remaining_ratio = rule.number("max_remaining_ratio")
        self.min_usual_cents = round(rule.number("min_usual_balance") * 100)
        self.min_amount_cents = round(rule.number("min_amount") * 100)

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        usual, balance = seen.before.aggregates.usual_balance, seen.after.aggregates.last_balance
        if tx.direction != "debit" or tx.balance_after is None or usual is None or balance is None:
            return ()
        if usual < self.min_usual_cents or tx.amount * 100 < self.min_amount_cents:
            return ()
        if balance > usual * self.max_remaining_ratio:
            return ()
        return (
            of_booking(
                KIND,
                tx,
                key="balance_drained",
                evidence=(("usual", f"{usual / 100:.2f}"), ("balance", f"{balance / 100:.2f}")),
            ),
        )
