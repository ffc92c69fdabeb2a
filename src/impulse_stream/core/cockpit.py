"""The 360-degree cockpit: what the agent's or advisor's screen shows.

A read-only view built from the state (timeline, running processes, active
impulses, bundle predictions) plus the ranked opportunities for the asking
channel. Pure, like the rest of the core; the API serialises it with msgspec.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Channel, Opportunity
from impulse_stream.core.state import CustomerState, JourneyProgress


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    channel: str
    kind: str
    action_id: str | None = None
    agent_id: str | None = None


class RunningProcess(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # order | appointment
    ref: str
    product_or_action: str
    status: str
    at: datetime
    step: int | None = None
    total_steps: int | None = None


class ActiveImpulseView(msgspec.Struct, frozen=True, kw_only=True):
    impulse_id: str
    kind: str
    category: str
    occurred_at: datetime
    evidence: dict[str, str]


class JourneyView(msgspec.Struct, frozen=True, kw_only=True):
    """Where the customer stands in one journey."""

    journey: str
    version: int
    status: str  # active | completed | exited
    entered_on: date
    next_step: str | None  # the step due next (active journeys)
    due_on: date | None
    contacts: int
    last_channel: str | None
    last_contact_on: date | None
    declines: int
    reason: str | None  # why it ended


class CustomerView(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: str
    advisor_id: str | None
    segment: str
    held_products: tuple[str, ...]
    timeline: tuple[TimelineEntry, ...]
    running_processes: tuple[RunningProcess, ...]
    impulses: tuple[ActiveImpulseView, ...]
    predictions: dict[str, float]
    opportunities: tuple[Opportunity, ...]
    rules_version: str
    journeys: tuple[JourneyView, ...] = ()


def customer_view(
    engine: DecisionEngine,
    state: CustomerState,
    channel: Channel,
    now: datetime,
    minutes: float | None = None,
) -> CustomerView:
    """Everything the cockpit on ``channel`` shows for this customer at ``now``;
    with ``minutes`` left in the call, only the actions that fit into them."""
    processes = [
        RunningProcess(
            kind="order",
            ref=o.order_id,
            product_or_action=o.product,
            status=o.status,
            at=o.updated_at or o.started_at,
            step=o.step,
            total_steps=o.total_steps,
        )
        for o in state.orders
        if o.status in ("open", "abandoned")
    ]
    processes += [
        RunningProcess(
            kind="appointment",
            ref=a.opportunity_id,
            product_or_action=a.action_id,
            status="booked",
            at=a.at,
        )
        for a in state.appointments
    ]
    return CustomerView(
        customer_id=state.customer_id,
        advisor_id=state.profile.advisor_id,
        segment=state.profile.segment,
        held_products=state.profile.products,
        timeline=tuple(
            TimelineEntry(
                at=c.at, channel=c.channel, kind=c.kind, action_id=c.action_id, agent_id=c.agent_id
            )
            for c in reversed(state.contacts)
        ),
        running_processes=tuple(sorted(processes, key=lambda p: (p.at, p.ref))),
        impulses=tuple(
            ActiveImpulseView(
                impulse_id=i.impulse_id,
                kind=i.kind,
                category=i.category,
                occurred_at=i.occurred_at,
                evidence=dict(i.evidence),
            )
            for i in state.impulses
            if i.expires_at > now
        ),
        predictions=dict(engine.bundle_predictions(state, now)),
        opportunities=tuple(engine.next_best_actions(state, channel, now, minutes=minutes)),
        rules_version=engine.rules_version,
        journeys=tuple(_journey_view(engine, p) for p in state.journeys),
    )


def _journey_view(engine: DecisionEngine, p: JourneyProgress) -> JourneyView:
    journey = engine.catalogue.journey(p.journey)
    active = p.status == "active"
    step = journey.steps[p.step].id if active and journey is not None else None
    return JourneyView(
        journey=p.journey,
        version=p.version,
        status=p.status,
        entered_on=date.fromordinal(p.entered_day),
        next_step=step,
        due_on=date.fromordinal(p.due_day) if active else None,
        contacts=p.contacts,
        last_channel=p.last_channel,
        last_contact_on=date.fromordinal(p.last_day) if p.last_day else None,
        declines=p.declines,
        reason=p.reason,
    )
