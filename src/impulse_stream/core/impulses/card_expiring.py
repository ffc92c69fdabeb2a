"""A card expires within ``days_ahead`` (service: replacement, address check)."""

from __future__ import annotations

from typing import ClassVar

from impulse_stream.core.impulses.base import ParamSchemas
from impulse_stream.core.impulses.calendar_base import DaysAheadDetector, DueDate
from impulse_stream.core.state import CustomerState

KIND = "card_expiring"


class CardExpiringDetector(DaysAheadDetector):
    kind: ClassVar[str] = KIND
    params: ClassVar[ParamSchemas] = {
        "days_ahead": {"type": "integer", "minimum": 1, "maximum": 366}
    }
    product: ClassVar[str | None] = "card_service"

    def due_dates(self, state: CustomerState) -> list[DueDate]:
        return [
            DueDate(
                f"{c.card_id}:{c.expires_on}",
                c.expires_on,
                (("card_id", c.card_id), ("expires_on", c.expires_on.isoformat())),
            )
            for c in state.profile.cards
            if c.expires_on is not None and not c.blocked
        ]
