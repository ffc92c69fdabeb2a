"""The customer 360 as the API serves it: the core's cockpit view plus master data.

Pure: built from a customer's state, the states of its household's other
members (the views read them), the engine and ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from impulse_stream.core.cockpit import customer_view
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Channel
from impulse_stream.core.state import CONSENT_BITS, CustomerState, OpportunityState


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# The household members the view lists at most (a household hash of bad data stays small).
MAX_HOUSEHOLD_MEMBERS = 20


def ranked_open(state: CustomerState) -> list[OpportunityState]:
    """The open opportunities in rank order: priority, then opportunity id."""
    return sorted(state.open_opportunities(), key=lambda o: (-o.priority, o.opportunity_id))


def household_member(member: CustomerState) -> dict[str, Any]:
    """What the advisor sees of another member: who advises them and what is under way."""
    opens = ranked_open(member)
    top = opens[0] if opens else None
    return {
        "customer_id": member.customer_id,
        "segment": member.profile.segment,
        "advisor_id": member.profile.advisor_id,
        "branch_id": member.profile.branch_id,
        "open_opportunities": len(opens),
        "top_opportunity": (
            None
            if top is None
            else {
                "opportunity_id": top.opportunity_id,
                "action_id": top.action_id,
                "priority": top.priority,
                "valid_until": top.valid_until,
            }
        ),
    }


def household_view(state: CustomerState, members: Sequence[CustomerState]) -> dict[str, Any] | None:
    """The customer's household and its other members (by customer id), or None."""
    if state.household is None:
        return None
    others = sorted(
        (
            m
            for m in members
            if m.customer_id != state.customer_id and m.household == state.household
        ),
        key=lambda m: m.customer_id,
    )
    return {
        "household_id": state.household,
        "members": [household_member(m) for m in others[:MAX_HOUSEHOLD_MEMBERS]],
    }


def customer_360(
    engine: DecisionEngine,
    state: CustomerState,
    now: datetime,
    channel: Channel = "advisor",
    household: Sequence[CustomerState] = (),
) -> dict[str, Any]:
    """Profile, timeline, running processes, impulses, predictions and opportunities.

    ``opportunities`` are what ``channel`` may show now (policy-filtered, ranked);
    ``open_opportunities`` are all open ones in rank order, for the cockpit's list;
    ``household`` the customer's household with the other members' states
    (``household`` the states the views read of its members).
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
        for rank, o in enumerate(ranked_open(state), 1)
    ]
    view["household"] = household_view(state, household)
    view["channel"] = channel
    return view
