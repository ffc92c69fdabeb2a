"""A held contract (life insurance, fixed deposit) matures within ``days_ahead``."""

from __future__ import annotations

from datetime import date, timedelta

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.impulses.calendar_base import ONE_DAY, first_free_day, on_day
from impulse_stream.core.state import CustomerState

KIND = "product_maturing"


class ProductMaturingDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.ahead = timedelta(days=rule.integer("days_ahead"))

    def next_day(self, state: CustomerState, after: date) -> date | None:
        days = [
            first_free_day(
                state,
                KIND,
                f"{c.contract_id}:{c.matures_on}",
                after,
                c.matures_on - self.ahead,
                c.matures_on - ONE_DAY,
            )
            for c in state.profile.contracts
            if c.matures_on is not None
        ]
        return min((d for d in days if d is not None), default=None)

    def detect(self, state: CustomerState, day: date) -> list[Detection]:
        return [
            on_day(
                KIND,
                day,
                f"{c.contract_id}:{c.matures_on}",
                (
                    ("contract_id", c.contract_id),
                    ("product", c.product),
                    ("matures_on", c.matures_on.isoformat()),
                ),
            )
            for c in state.profile.contracts
            if c.matures_on is not None and c.matures_on - self.ahead <= day < c.matures_on
        ]
