"""Running order processes (``orders.flow``): steps, completion, cancellation.

An order is tracked from its first event. It is abandoned when there was no
activity on it for ``window_minutes`` (event time): its deadline is the last
step's time plus the window, not the start's. When the order completes, the
sale is credited (``attribution.py``), every open sales opportunity for the
product is withdrawn and the product counts as held. Then the detectors that
listen to orders run (``new_purchase``; the clicked offer's wait ends).

Lateness policy: a ``completed``/``cancelled`` step that arrives after the
abandonment fired withdraws the "finish the order" opportunity (revision + 1)
instead of being dropped; a late ``started``/``step_completed`` only updates
the step shown to the agent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from impulse_stream.core.attribution import credit_sale
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.detection import Detectors
from impulse_stream.core.events import OrderStep
from impulse_stream.core.impulses.abandoned_order import KIND as ABANDONED
from impulse_stream.core.impulses.abandoned_order import AbandonedOrderDetector
from impulse_stream.core.impulses.offer_click import KIND as CLICKED
from impulse_stream.core.orders import find_order, keep_order
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import MAX_PRODUCTS, OrderProcess
from impulse_stream.core.timeline import touch_channel

ENDED_ORDER_RETENTION = timedelta(days=30)


class OrderFlow:
    """Keeps the running orders; an order is tracked for abandonment only while
    the ``order_abandoned`` detector is enabled (it dates the deadline)."""

    def __init__(self, catalogue: Catalogue, detectors: Detectors) -> None:
        self.catalogue = catalogue
        self.detectors = detectors
        self.abandonment = detectors.find(ABANDONED, AbandonedOrderDetector)

    def on_order_step(self, run: DecisionRun, step: OrderStep) -> None:
        before = run.state
        run.update(affinity=touch_channel(run.state.affinity, step.channel, step.occurred_at))
        if step.status in ("started", "step_completed"):
            self._progress(run, step)
        elif step.status == "completed":
            _complete(run, step, self.catalogue)
        else:
            _cancel(run, step, self.catalogue)
        self.detectors.on_event(run, step, before)

    def _progress(self, run: DecisionRun, step: OrderStep) -> None:
        order = find_order(run.state, step.order_id)
        if order is None:
            order = self._started(step)
        elif order.status in ("completed", "cancelled"):
            return
        else:
            started = min(order.started_at, step.occurred_at)
            newer = order.updated_at is None or step.occurred_at >= order.updated_at
            last = max(order.updated_at or step.occurred_at, step.occurred_at)
            order = msgspec.structs.replace(
                order,
                started_at=started,
                deadline=self._deadline(last) if order.status == "open" else order.deadline,
                step=max(order.step, step.step),
                total_steps=max(order.total_steps, step.total_steps),
                last_event_id=step.event_id if newer else order.last_event_id,
                updated_at=max(order.updated_at or step.occurred_at, step.occurred_at),
            )
        if find_order(run.state, step.order_id) is None:
            _correct_clicked_offer(run, step)
        run.state = keep_order(run.state, order)

    def _deadline(self, last_activity: datetime) -> datetime:
        if self.abandonment is None:
            return last_activity
        return self.abandonment.deadline(last_activity)

    def _started(self, step: OrderStep) -> OrderProcess:
        return OrderProcess(
            order_id=step.order_id,
            product=step.product,
            channel=step.channel,
            started_at=step.occurred_at,
            deadline=self._deadline(step.occurred_at),
            status="open" if self.abandonment is not None else "untracked",
            step=step.step,
            total_steps=step.total_steps,
            last_event_id=step.event_id,
            updated_at=step.occurred_at,
        )


def _correct_clicked_offer(run: DecisionRun, step: OrderStep) -> None:
    """Lateness: an order that started before the click deadline fired (but arrived
    after it) means the click was not left without an order."""
    fired = {
        i.impulse_id
        for i in run.state.impulses
        if i.kind == CLICKED and i.product == step.product and i.occurred_at > step.occurred_at
    }
    if not fired:
        return
    at = max(step.occurred_at, run.state.clock or step.occurred_at)
    for opp in run.state.open_opportunities():
        if opp.reasons and all(r.impulse_id in fired for r in opp.reasons):
            run.close(opp, "withdrawn", "order_started", at)


def _complete(run: DecisionRun, step: OrderStep, catalogue: Catalogue) -> None:
    order = find_order(run.state, step.order_id)
    if order is not None and order.status == "completed":
        return  # a repeated delivery
    if order is None:
        order = OrderProcess(
            order_id=step.order_id,
            product=step.product,
            channel=step.channel,
            started_at=step.occurred_at,
            deadline=step.occurred_at,
            step=step.step,
            total_steps=step.total_steps,
        )
    run.state = keep_order(
        run.state,
        msgspec.structs.replace(
            order,
            status="completed",
            step=max(order.step, step.step),
            last_event_id=step.event_id,
            updated_at=step.occurred_at,
        ),
    )
    attribution, _ = credit_sale(catalogue, run.state, step)
    at = max(step.occurred_at, run.state.clock or step.occurred_at)
    for opp in run.state.open_opportunities():
        action = catalogue.action(opp.action_id)
        if action is not None and action.product == step.product and action.kind == "sales":
            run.close(opp, "withdrawn", "order_completed", at)
    run.outputs.append(attribution)
    products = run.state.profile.products
    if step.product not in products:
        products = tuple(sorted((*products, step.product)))[:MAX_PRODUCTS]
        run.update(profile=msgspec.structs.replace(run.state.profile, products=products))


def _cancel(run: DecisionRun, step: OrderStep, catalogue: Catalogue) -> None:
    order = find_order(run.state, step.order_id)
    if order is not None and order.status in ("completed", "cancelled"):
        return
    base = order or OrderProcess(
        order_id=step.order_id,
        product=step.product,
        channel=step.channel,
        started_at=step.occurred_at,
        deadline=step.occurred_at,
    )
    run.state = keep_order(
        run.state,
        msgspec.structs.replace(
            base, status="cancelled", last_event_id=step.event_id, updated_at=step.occurred_at
        ),
    )
    at = max(step.occurred_at, run.state.clock or step.occurred_at)
    abandoned = {
        i.impulse_id
        for i in run.state.impulses
        if i.kind == ABANDONED and ("order_id", step.order_id) in i.evidence
    }
    for opp in run.state.open_opportunities():
        action = catalogue.action(opp.action_id)
        if (
            action is not None
            and action.product == step.product
            and any(r.impulse_id in abandoned for r in opp.reasons)
        ):
            run.close(opp, "withdrawn", "order_cancelled", at)
