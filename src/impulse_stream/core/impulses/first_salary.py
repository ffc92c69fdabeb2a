"""End of education / first salary: the first salary of a young customer, or of
one whose occupation says they are still in education."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import age_on, utc_day
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

KIND = "first_salary"


class FirstSalaryDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (Transaction,)
    params: ClassVar[ParamSchemas] = {
        "max_age": {"type": "integer", "minimum": 14, "maximum": 99},
        "occupations": CODES,
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.max_age = rule.integer("max_age")
        self.occupations = rule.strings("occupations")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        tx = seen.event
        if not isinstance(tx, Transaction):
            return ()
        profile = seen.before.profile
        if tx.direction != "credit" or tx.category != "salary":
            return ()
        if seen.before.aggregates.salary_months > 0:
            return ()
        young = profile.birth_date is not None and (
            age_on(profile.birth_date, utc_day(tx.booked_at)) <= self.max_age
        )
        in_education = profile.occupation in self.occupations
        if not (young or in_education):
            return ()
        return (
            of_booking(
                KIND,
                tx,
                key="first_salary",
                evidence=(("amount", str(tx.amount)), ("employer", tx.counterparty.name[:80])),
            ),
        )
