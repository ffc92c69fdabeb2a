"""Closed loop: a channel's response to a shown opportunity updates the state.

- shown: the opportunity stays open; the action cools off on every channel;
- accepted: closed (withdrawn, reason ``accepted``), the action cools off, an
  ``appointment_at`` becomes a running process; a success for learning;
- declined: closed (withdrawn, reason ``declined``), the action cools off and a
  sales product rests ``declined_product_days``; a failure for learning;
- not_now / no_time: snoozed for ``snooze_days`` (revision + 1) and re-published
  when the snooze ends; the snooze replaces the cooling-off.

Every response is also an entry of the contact timeline, and counts for the
frequency caps of its channel. A response to an opportunity the state no longer
knows is still recorded on the timeline.
"""

from __future__ import annotations

from datetime import timedelta

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.contact_policy import ContactPolicy
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import OpportunityResponse
from impulse_stream.core.learning import AcceptanceObservation
from impulse_stream.core.outbound_contacts import record_outreach
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import MAX_APPOINTMENTS, Appointment, Contact
from impulse_stream.core.timeline import record_contact


def on_response(
    run: DecisionRun, r: OpportunityResponse, catalogue: Catalogue, policy: ContactPolicy
) -> None:
    opp = run.state.opportunity(r.opportunity_id)
    action = catalogue.action(opp.action_id) if opp is not None else None
    run.state = record_contact(
        run.state,
        Contact(r.occurred_at, r.channel, r.response, action.id if action else None, r.agent_id),
    )
    if opp is None or action is None:
        return
    if action.kind == "sales":
        run.state = record_outreach(run.state, utc_day(r.occurred_at).toordinal(), action.id)
    at = max(r.occurred_at, run.state.clock or r.occurred_at)
    cooling_until = r.occurred_at + policy.cooling_off(action)
    if r.response in ("shown", "accepted", "declined"):
        run.suppress(f"action:{action.id}", cooling_until, r.response)
    if r.response in ("accepted", "declined"):
        run.observations.append(
            AcceptanceObservation(
                action_id=action.id,
                segment=run.state.profile.segment,
                channel=r.channel,
                accepted=r.response == "accepted",
                opportunity_id=opp.opportunity_id,
                at=r.occurred_at,
            )
        )
    if r.response == "accepted":
        if r.appointment_at is not None:
            appointment = Appointment(r.appointment_at, action.id, opp.opportunity_id, r.channel)
            items = sorted(
                (
                    *(a for a in run.state.appointments if a.opportunity_id != opp.opportunity_id),
                    appointment,
                ),
                key=lambda a: (a.at, a.opportunity_id),
            )
            run.update(appointments=tuple(items[-MAX_APPOINTMENTS:]))
        if opp.status == "open":
            run.close(
                opp,
                "withdrawn",
                "accepted",
                at,
                responded_channel=r.channel,
                responded_agent=r.agent_id,
            )
    elif r.response == "declined":
        if action.kind == "sales":
            rest = timedelta(days=catalogue.policy.declined_product_days)
            run.suppress(f"product:{action.product}", r.occurred_at + rest, "declined")
        if opp.status == "open":
            run.close(opp, "withdrawn", "declined", at, responded_channel=r.channel)
    elif r.response in ("not_now", "no_time") and opp.status == "open":
        days = catalogue.policy.snooze_days.get(r.response, 1.0)
        until = r.occurred_at + timedelta(days=days)
        if until > at:
            run.revise(opp, snoozed_until=until)
