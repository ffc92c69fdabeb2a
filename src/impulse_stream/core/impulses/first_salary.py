"""End of education / first salary: the first salary of a young customer, or of
one whose occupation says they are still in education."""

from __future__ import annotations

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.dates import age_on, utc_day
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Aggregates, Profile

KIND = "first_salary"


class FirstSalaryDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.max_age = rule.integer("max_age")
        self.occupations = rule.strings("occupations")

    def detect(self, profile: Profile, before: Aggregates, tx: Transaction) -> Detection | None:
        if tx.direction != "credit" or tx.category != "salary" or before.salary_months > 0:
            return None
        young = profile.birth_date is not None and (
            age_on(profile.birth_date, utc_day(tx.booked_at)) <= self.max_age
        )
        in_education = profile.occupation in self.occupations
        if not (young or in_education):
            return None
        return Detection(
            kind=KIND,
            occurred_at=tx.booked_at,
            trigger=f"tx:{tx.event_id}",
            key="first_salary",
            source_event_id=tx.event_id,
            evidence=(("amount", str(tx.amount)), ("employer", tx.counterparty.name[:80])),
        )
