"""The customer 360 projection: what the agent's or advisor's cockpit shows.

Pure: built from a customer's state, the engine and ``now``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Channel, Opportunity
from impulse_stream.core.state import CONSENT_BITS, CustomerState


def _age(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def customer_360(engine: DecisionEngine, state: CustomerState, now: datetime) -> dict[str, Any]:
    p = state.profile
    return {
        "customer_id": state.customer_id,
        "profile": {
            "known": p.known,
            "age": _age(p.birth_date, now.date()),
            "advisor_id": p.advisor_id,
            "branch_id": p.branch_id,
            "segment": p.segment,
            "consents": {name: p.has_consent(name) for name in CONSENT_BITS},
            "products": list(p.products),
        },
        "timeline": [
            {
                "at": c.at,
                "channel": c.channel,
                "kind": c.kind,
                "action_id": c.action_id,
                "agent_id": c.agent_id,
            }
            for c in sorted(state.contacts, key=lambda c: c.at, reverse=True)
        ],
        "running_processes": [
            {
                "kind": "order",
                "order_id": o.order_id,
                "product": o.product,
                "channel": o.channel,
                "status": o.status,
                "step": o.step,
                "total_steps": o.total_steps,
                "started_at": o.started_at,
            }
            for o in state.orders
            if o.status in ("open", "abandoned")
        ]
        + [
            {
                "kind": "appointment",
                "at": a.at,
                "action_id": a.action_id,
                "opportunity_id": a.opportunity_id,
                "channel": a.channel,
            }
            for a in state.appointments
        ],
        "impulses": [
            {
                "impulse_id": i.impulse_id,
                "kind": i.kind,
                "category": i.category,
                "occurred_at": i.occurred_at,
                "expires_at": i.expires_at,
                "evidence": dict(i.evidence),
            }
            for i in sorted(state.impulses, key=lambda i: i.occurred_at, reverse=True)
            if i.expires_at > now
        ],
        "opportunities": [
            {
                "opportunity_id": o.opportunity_id,
                "action_id": o.action_id,
                "priority": o.priority,
                "rank": n,
                "valid_until": o.valid_until,
                "channels": list(o.channels),
                "snoozed_until": o.snoozed_until,
            }
            for n, o in enumerate(
                sorted(
                    state.open_opportunities(),
                    key=lambda o: (-o.priority, o.opportunity_id),
                ),
                1,
            )
        ],
    }


def next_best_actions(
    engine: DecisionEngine, state: CustomerState, channel: Channel, now: datetime, limit: int
) -> list[Opportunity]:
    return engine.next_best_actions(state, channel, now, limit)
