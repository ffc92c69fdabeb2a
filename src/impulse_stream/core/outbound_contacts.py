"""Contacts the bank sends count for the contact policy like offers shown.

A ``channel.contacts`` event of a bank-initiated kind (``email_sent``,
``letter_sent``, ``sms_sent``, ``outbound_call``) that names a catalogue action
(``action_id``, or the action id as ``subject``) cools that action off on
every channel for its cooling-off period, and a sales action counts as one
contact of the customer cap. Without a known action the send is only recorded
on the timeline.
"""

from __future__ import annotations

import msgspec

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.contact_policy import ContactPolicy
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import ChannelContact
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import MAX_OUTREACH, Contact, CustomerState, Outreach
from impulse_stream.core.timeline import record_contact

BANK_SENT_KINDS = frozenset({"email_sent", "letter_sent", "sms_sent", "outbound_call"})
# Outreach older than the longest cap period the schema allows is never counted.
OUTREACH_HORIZON_DAYS = 90


def record_outreach(state: CustomerState, day: int, action_id: str) -> CustomerState:
    """Count one sales contact about ``action_id`` on ``day`` (once per day and action)."""
    if any(o.day == day and o.action_id == action_id for o in state.outreach):
        return state
    kept = sorted(
        (
            *(o for o in state.outreach if o.day > day - OUTREACH_HORIZON_DAYS),
            Outreach(day, action_id),
        ),
        key=lambda o: (o.day, o.action_id),
    )
    return msgspec.structs.replace(state, outreach=tuple(kept[-MAX_OUTREACH:]))


def on_contact(
    run: DecisionRun, event: ChannelContact, catalogue: Catalogue, policy: ContactPolicy
) -> None:
    named = event.about_action() if event.kind in BANK_SENT_KINDS else None
    action = catalogue.action(named) if named is not None else None
    run.state = record_contact(
        run.state,
        Contact(
            event.occurred_at,
            event.channel,
            event.kind,
            action.id if action is not None else None,
            event.agent_id,
        ),
    )
    if action is None:
        return
    run.suppress(f"action:{action.id}", event.occurred_at + policy.cooling_off(action), "sent")
    if action.kind == "sales":
        run.state = record_outreach(run.state, utc_day(event.occurred_at).toordinal(), action.id)
