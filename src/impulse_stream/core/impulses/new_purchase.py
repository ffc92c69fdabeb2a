"""A purchase or a new membership: a personal thank-you and onboarding.

Fires when an order completes (not again on a repeated delivery of the
completion), and when a profile update shows a product that was not held
before (e.g. a membership signed in the branch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile, OrderStep
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "new_purchase"


class NewPurchaseDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (OrderStep, CustomerProfile)
    params: ClassVar[ParamSchemas] = {}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        del rule, catalogue  # no parameters

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event = seen.event
        if isinstance(event, OrderStep):
            return self._completed(seen, event)
        if isinstance(event, CustomerProfile):
            return self._new_products(seen, event)
        return ()

    def _completed(self, seen: Observed, step: OrderStep) -> Sequence[Detection]:
        if step.status != "completed":
            return ()
        known = next((o for o in seen.before.orders if o.order_id == step.order_id), None)
        if known is not None and known.status == "completed":
            return ()  # a repeated delivery
        return (
            Detection(
                kind=KIND,
                occurred_at=step.occurred_at,
                trigger=f"order:{step.order_id}",
                key=f"order:{step.order_id}",
                product=step.product,
                source_event_id=step.event_id,
                evidence=(
                    ("product", step.product),
                    ("order_id", step.order_id),
                    ("channel", step.channel),
                ),
            ),
        )

    def _new_products(self, seen: Observed, event: CustomerProfile) -> Sequence[Detection]:
        old, new = seen.before.profile, seen.after.profile
        if not old.known:
            return ()
        updated_at = event.updated_at
        return tuple(
            Detection(
                kind=KIND,
                occurred_at=updated_at,
                trigger=f"profile:{product}:{updated_at.isoformat()}",
                key=f"product:{product}",
                product=product,
                evidence=(("product", product), ("source", "profile")),
            )
            for product in new.products
            if product not in old.products
        )
