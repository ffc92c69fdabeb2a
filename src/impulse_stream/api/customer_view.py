"""The customer 360 as the API serves it: the core's cockpit view plus master data.

Pure: built from a customer's state, the engine and ``now``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from impulse_stream.core.cockpit import customer_view
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Channel
from impulse_stream.core.state import CONSENT_BITS, CustomerState


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def customer_360(
    engine: DecisionEngine, state: CustomerState, now: datetime, channel: Channel = "advisor"
) -> dict[str, Any]:
    """Profile, timeline, running processes, impulses, predictions and opportunities.

    ``opportunities`` are what ``channel`` may show now (policy-filtered, ranked);
    ``open_opportunities`` are all open ones in rank order, for the cockpit's list.
    """
    view: dict[str, Any] = msgspec.to_builtins(customer_view(engine, state, channel, now))
    p = state.profile
    view["profile"] = {
        "known": p.known,
        "age": age_on(p.birth_date, now.date()),
        "advisor_id": p.advisor_id,
        "branch_id": p.branch_id,
        "segment": p.segment,
        "consents": {name: p.has_consent(name) for name in CONSENT_BITS},
        "products": list(p.products),
    }
    view["open_opportunities"] = [
        {
            "opportunity_id": o.opportunity_id,
            "action_id": o.action_id,
            "priority": o.priority,
            "rank": rank,
            "valid_until": o.valid_until,
            "channels": list(o.channels),
            "snoozed_until": o.snoozed_until,
        }
        for rank, o in enumerate(
            sorted(state.open_opportunities(), key=lambda o: (-o.priority, o.opportunity_id)), 1
        )
    ]
    view["channel"] = channel
    return view
