"""A held contract (life insurance, fixed deposit) matures within ``days_ahead``."""

from __future__ import annotations

from typing import ClassVar

from impulse_stream.core.impulses.base import ParamSchemas
from impulse_stream.core.impulses.calendar_base import DaysAheadDetector, DueDate
from impulse_stream.core.state import CustomerState

KIND = "product_maturing"


class ProductMaturingDetector(DaysAheadDetector):
    kind: ClassVar[str] = KIND
    params: ClassVar[ParamSchemas] = {
        "days_ahead": {"type": "integer", "minimum": 1, "maximum": 3650}
    }

    def due_dates(self, state: CustomerState) -> list[DueDate]:
        return [
            DueDate(
                f"{c.contract_id}:{c.matures_on}",
                c.matures_on,
                (
                    ("contract_id", c.contract_id),
                    ("product", c.product),
                    ("matures_on", c.matures_on.isoformat()),
                ),
            )
            for c in state.profile.contracts
            if c.matures_on is not None
        ]
