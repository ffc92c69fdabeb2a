"""Offer clicked but order never started.

A ``banner_click`` naming a product starts a wait of ``window_hours``; an order
for the product started in that time ends it quietly, otherwise the impulse
fires at the deadline (event time). Lateness policy: an order start that
arrives after the deadline fired but happened before it withdraws the
opportunity the impulse opened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Click
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import MAX_CLICKS, PendingClick

KIND = "offer_clicked_not_ordered"


class OfferClickedDetector:
    def __init__(self, rule: DetectorRule) -> None:
        self.window = timedelta(hours=rule.number("window_hours"))

    def on_click(self, run: DecisionRun, click: Click) -> None:
        if click.kind != "banner_click" or click.product is None:
            return
        product = click.product
        state = run.state
        if state.profile.holds(product) or any(c.product == product for c in state.clicks):
            return
        if any(o.product == product and o.status == "open" for o in state.orders):
            return
        pending = PendingClick(
            product, click.occurred_at, click.occurred_at + self.window, click.event_id
        )
        clicks = sorted((*state.clicks, pending), key=lambda c: (c.clicked_at, c.event_id))
        run.update(clicks=tuple(clicks[-MAX_CLICKS:]))

    def on_deadline(self, run: DecisionRun, event_id: str, at: datetime) -> None:
        click = next((c for c in run.state.clicks if c.event_id == event_id), None)
        run.update(clicks=tuple(c for c in run.state.clicks if c.event_id != event_id))
        if click is None:
            return
        run.report(
            Detection(
                kind=KIND,
                occurred_at=click.deadline,
                trigger=f"click:{click.event_id}",
                key=f"product:{click.product}",
                product=click.product,
                source_event_id=click.event_id,
                evidence=(("product", click.product), ("clicked_at", click.clicked_at.isoformat())),
            )
        )
