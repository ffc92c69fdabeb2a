"""Abandoned order or application: no activity on it for the window.

Detected on event time: an order that is neither completed nor cancelled and
had no step for ``window_minutes`` is abandoned when the clock passes that
deadline (the last step's time plus the window). The order flow
(``order_flow.py``) keeps the running orders and dates their deadline with
``deadline()``; this detector fires on it. Lateness
policy: a ``completed`` or ``cancelled`` step that arrives after the deadline
fired is not dropped; it corrects the outcome (the opportunity is withdrawn, a
completed order is credited).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import ClassVar

import msgspec

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.events import OrderStep
from impulse_stream.core.impulses.base import (
    Detection,
    Fired,
    Listens,
    Observed,
    ParamSchemas,
    Trigger,
)
from impulse_stream.core.orders import find_order, keep_order
from impulse_stream.core.state import CustomerState, OrderProcess

KIND = "order_abandoned"


class AbandonedOrderDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.DEADLINE
    listens_to: ClassVar[Listens] = (OrderStep,)
    params: ClassVar[ParamSchemas] = {
        "window_minutes": {"type": "integer", "minimum": 1, "maximum": 10080}
    }
    deadline_kind: ClassVar[DeadlineKind] = DeadlineKind.ORDER_ABANDONED

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.window = timedelta(minutes=rule.integer("window_minutes"))

    def deadline(self, last_activity: datetime) -> datetime:
        return last_activity + self.window

    def observe(self, seen: Observed) -> CustomerState:
        return seen.after  # the order flow has already dated the order's deadline

    def deadlines(self, state: CustomerState) -> Iterable[Deadline]:
        kind = self.deadline_kind
        return [Deadline(o.deadline, kind, o.order_id) for o in state.orders if o.status == "open"]

    def fire(self, state: CustomerState, deadline: Deadline) -> Fired:
        order = find_order(state, deadline.ref)
        if order is None:
            return Fired(state)
        state = keep_order(state, msgspec.structs.replace(order, status="abandoned"))
        return Fired(state, (self.detection(order),))

    def detection(self, order: OrderProcess) -> Detection:
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
