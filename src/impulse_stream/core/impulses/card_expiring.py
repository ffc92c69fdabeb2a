"""A card expires within ``days_ahead`` (service: replacement, address check)."""

from __future__ import annotations

from datetime import date, timedelta

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.impulses.calendar_base import ONE_DAY, first_free_day, on_day
from impulse_stream.core.state import CustomerState

KIND = "card_expiring"


class CardExpiringDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.ahead = timedelta(days=rule.integer("days_ahead"))

    def next_day(self, state: CustomerState, after: date) -> date | None:
        days = [
            first_free_day(
                state,
                KIND,
                f"{c.card_id}:{c.expires_on}",
                after,
                c.expires_on - self.ahead,
                c.expires_on - ONE_DAY,
            )
            for c in state.profile.cards
            if c.expires_on is not None and not c.blocked
        ]
        return min((d for d in days if d is not None), default=None)

    def detect(self, state: CustomerState, day: date) -> list[Detection]:
        return [
            on_day(
                KIND,
                day,
                f"{c.card_id}:{c.expires_on}",
                (("card_id", c.card_id), ("expires_on", c.expires_on.isoformat())),
                product="card_service",
            )
            for c in state.profile.cards
            if c.expires_on is not None
            and not c.blocked
            and c.expires_on - self.ahead <= day < c.expires_on
        ]
