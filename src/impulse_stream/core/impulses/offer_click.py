"""Offer clicked but order never started.

A ``banner_click`` naming a product starts a wait of ``window_hours``; an order
for the product started in that time ends it quietly, otherwise the impulse
fires at the deadline (event time). Lateness policy: an order start that
arrives after the deadline fired but happened before it withdraws the
opportunity the impulse opened (``order_flow.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import ClassVar

import msgspec

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.events import Click, OrderStep
from impulse_stream.core.impulses.base import (
    Detection,
    Fired,
    Listens,
    Observed,
    ParamSchemas,
    Trigger,
)
from impulse_stream.core.orders import find_order
from impulse_stream.core.state import MAX_CLICKS, CustomerState, PendingClick

KIND = "offer_clicked_not_ordered"


class OfferClickedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.DEADLINE
    listens_to: ClassVar[Listens] = (Click, OrderStep)
    params: ClassVar[ParamSchemas] = {
        "window_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 720}
    }
    deadline_kind: ClassVar[DeadlineKind] = DeadlineKind.OFFER_NOT_ORDERED

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.window = timedelta(hours=rule.number("window_hours"))

    def observe(self, seen: Observed) -> CustomerState:
        event, state = seen.event, seen.after
        if isinstance(event, Click):
            return self._wait(state, event)
        if isinstance(event, OrderStep) and event.status in ("started", "step_completed"):
            known = find_order(seen.before, event.order_id)
            if known is not None and known.status in ("completed", "cancelled"):
                return state
            # The clicked offer led to an order: it is no longer "clicked but never started".
            clicks = tuple(c for c in state.clicks if c.product != event.product)
            return msgspec.structs.replace(state, clicks=clicks[-MAX_CLICKS:])
        return state

    def _wait(self, state: CustomerState, click: Click) -> CustomerState:
        if click.kind != "banner_click" or click.product is None:
            return state
        product = click.product
        if state.profile.holds(product) or any(c.product == product for c in state.clicks):
            return state
        if any(o.product == product and o.status == "open" for o in state.orders):
            return state
        pending = PendingClick(
            product, click.occurred_at, click.occurred_at + self.window, click.event_id
        )
        clicks = sorted((*state.clicks, pending), key=lambda c: (c.clicked_at, c.event_id))
        return msgspec.structs.replace(state, clicks=tuple(clicks[-MAX_CLICKS:]))

    def deadlines(self, state: CustomerState) -> Iterable[Deadline]:
        return [Deadline(c.deadline, self.deadline_kind, c.event_id) for c in state.clicks]

    def fire(self, state: CustomerState, deadline: Deadline) -> Fired:
        click = next((c for c in state.clicks if c.event_id == deadline.ref), None)
        state = msgspec.structs.replace(
            state, clicks=tuple(c for c in state.clicks if c.event_id != deadline.ref)
        )
        if click is None:
            return Fired(state)
        detection = Detection(
            kind=KIND,
            occurred_at=click.deadline,
            trigger=f"click:{click.event_id}",
            key=f"product:{click.product}",
            product=click.product,
            source_event_id=click.event_id,
            evidence=(("product", click.product), ("clicked_at", click.clicked_at.isoformat())),
        )
        return Fired(state, (detection,))
