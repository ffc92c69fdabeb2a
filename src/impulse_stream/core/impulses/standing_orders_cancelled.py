"""Sign of leaving: standing orders cancelled (retention).

Core banking reports the customer's active standing orders on the profile
(``standing_orders``); no booking is made when one is cancelled. Fires when a
profile update shows at least ``min_cancelled`` fewer than the profile before.
A first profile, or one without the count, says nothing about a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "standing_orders_cancelled"


class StandingOrdersCancelledDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (CustomerProfile,)
    params: ClassVar[ParamSchemas] = {
        "min_cancelled": {"type": "integer", "minimum": 1, "maximum": 100},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.min_cancelled = rule.integer("min_cancelled")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event, old, new = seen.event, seen.before.profile, seen.after.profile
        if not isinstance(event, CustomerProfile) or not old.known:
            return ()
        before, now = old.standing_orders, new.standing_orders
        if before is None or now is None or before - now < self.min_cancelled:
            return ()
        at = event.updated_at
        return (
            Detection(
                kind=KIND,
                occurred_at=at,
                trigger=f"standing_orders:{before}:{now}:{at.isoformat()}",
                key="standing_orders_cancelled",
                evidence=(("standing_orders_before", str(before)), ("standing_orders", str(now))),
            ),
        )
