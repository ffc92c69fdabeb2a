"""A purchase or a new membership: a personal thank-you and onboarding.

Fires when an order completes, and when the profile shows a product that was
not held before (e.g. a membership signed in the branch).
"""

from __future__ import annotations

from datetime import datetime

from impulse_stream.core.events import OrderStep
from impulse_stream.core.impulses.base import Detection

KIND = "new_purchase"


def from_order(step: OrderStep) -> Detection:
    return Detection(
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
    )


def from_profile(product: str, updated_at: datetime) -> Detection:
    return Detection(
        kind=KIND,
        occurred_at=updated_at,
        trigger=f"profile:{product}:{updated_at.isoformat()}",
        key=f"product:{product}",
        product=product,
        evidence=(("product", product), ("source", "profile")),
    )
