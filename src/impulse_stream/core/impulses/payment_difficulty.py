"""A missed loan instalment or an overdraft past its limit: an early, friendly
collection contact instead of a dunning letter (service)."""

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
from impulse_stream.core.impulses.params import CODES

KIND = "payment_difficulty"


class PaymentDifficultyDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {"missed_instalment_categories": CODES}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.missed_categories = rule.strings("missed_instalment_categories")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        if tx.category in self.missed_categories:
            reason = "missed_instalment"
        elif (
            tx.balance_after is not None
            and tx.overdraft_limit is not None
            and tx.balance_after < -abs(tx.overdraft_limit)
        ):
            reason = "overdraft_past_limit"
        else:
            return ()
        evidence = [("reason", reason), ("amount", str(tx.amount))]
        if tx.balance_after is not None:
            evidence.append(("balance", str(tx.balance_after)))
        return (of_booking(KIND, tx, key=reason, evidence=tuple(evidence)),)
