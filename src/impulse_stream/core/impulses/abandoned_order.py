"""Abandoned order or application: started, not finished within the window.

Detected on event time: an order that is neither completed nor cancelled
``window_minutes`` after it started is abandoned when the watermark passes the
deadline. Lateness policy: a ``completed`` or ``cancelled`` step that arrives
after the deadline fired is not dropped; it corrects the outcome (the
opportunity is withdrawn, a completed order is credited).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import OrderProcess

KIND = "order_abandoned"


class AbandonedOrderDetector:
    def __init__(self, rule: DetectorRule) -> None:
        self.window = timedelta(minutes=rule.integer("window_minutes"))

    def deadline(self, started_at: datetime) -> datetime:
        return started_at + self.window

    def on_deadline(self, order: OrderProcess) -> Detection:
        return Detection(
            kind=KIND,
            occurred_at=order.deadline,
            trigger=f"order:{order.order_id}",
            key=f"order:{order.order_id}",
            product=order.product,
            source_event_id=order.last_event_id or None,
            evidence=(
                ("order_id", order.order_id),
                ("product", order.product),
                ("step", str(order.step)),
                ("total_steps", str(order.total_steps)),
                ("channel", order.channel),
            ),
        )
