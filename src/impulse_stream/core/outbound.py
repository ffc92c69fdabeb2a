"""Outbound contacts: which open opportunities go to the call list, letters, e-mails and SMS.

Pure rules of the outbound selector (``streaming/outbound.py`` runs them): the
outbound channels of an opportunity in the order to try them, the admission
order within a day, the published ``OutboundContact`` and the
``channel.contacts`` event that records the send for the contact policy.

Admission order within one day is by priority (rounded to 6 decimals, highest
first), then opportunity id: the same opportunities on the same day are
admitted in the same order on every replay.

Besides the daily capacity per channel, a contact may need room in its
branch's capacity (``contact_policy.branch_capacity``, :func:`branch_limit`)
and in its household's cap (``contact_policy.household_cap``: contacts per
household and period, :func:`household_period`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from impulse_stream.core.catalogue import ANY_BRANCH
from impulse_stream.core.events import (
    Channel,
    ChannelContact,
    ContactKind,
    Opportunity,
    OutboundContact,
)
from impulse_stream.core.ids import stable_id

OUTBOUND_CHANNELS: tuple[Channel, ...] = ("call_centre", "letter", "email", "sms")
SENT_KIND: dict[Channel, ContactKind] = {
    "call_centre": "outbound_call",
    "letter": "letter_sent",
    "email": "email_sent",
    "sms": "sms_sent",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open opportunity waiting for an outbound slot; ``carried_over`` days so far."""

    opportunity: Opportunity
    carried_over: int = 0

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Its outbound channels in the published order (service: preferred channel first)."""
        return tuple(c for c in self.opportunity.channels if c in OUTBOUND_CHANNELS)

    def due_on(self, day: date) -> bool:
        o = self.opportunity
        start = datetime(day.year, day.month, day.day, tzinfo=o.valid_until.tzinfo)
        snoozed = o.snoozed_until is not None and o.snoozed_until.date() > day
        return (
            o.status == "open"
            and o.created_at.date() <= day
            and o.valid_until > start
            and not snoozed
            and bool(self.channels)
        )


def admission_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(
        candidates,
        key=lambda c: (-round(c.opportunity.priority, 6), c.opportunity.opportunity_id),
    )


def contact_id(opportunity_id: str, day: date) -> str:
    return stable_id("out", opportunity_id, day.isoformat())


def outbound_contact(
    candidate: Candidate, channel: Channel, day: date, *, fallback: bool
) -> OutboundContact:
    o = candidate.opportunity
    return OutboundContact(
        contact_id=contact_id(o.opportunity_id, day),
        opportunity_id=o.opportunity_id,
        customer_id=o.customer_id,
        action_id=o.action_id,
        product=o.product,
        kind=o.kind,
        channel=channel,
        day=day,
        priority=o.priority,
        texts=o.texts,
        advisor_id=o.advisor_id,
        fallback=fallback,
        carried_over=candidate.carried_over,
        rules_version=o.rules_version,
        branch_id=o.branch_id,
        household_id=o.household_id,
    )


def sent_event(contact: OutboundContact, at: datetime) -> ChannelContact:
    """The ``channel.contacts`` event that records the send: it cools the action off on
    every channel and counts for the customer cap."""
    return ChannelContact(
        event_id=contact.contact_id,
        customer_id=contact.customer_id,
        channel=contact.channel,
        kind=SENT_KIND[contact.channel],
        occurred_at=at,
        action_id=contact.action_id,
    )


def household_period(day: date, period_days: int) -> date:
    """The first day of the household cap's period that holds ``day``: periods of
    ``period_days`` days counted from 0001-01-01, so every worker names the same one."""
    start = 1 + (day.toordinal() - 1) // period_days * period_days
    return date.fromordinal(start)


def branch_limit(
    branch_capacity: Mapping[str, Mapping[Channel, int]], branch_id: str | None, channel: Channel
) -> int | None:
    """The daily limit of ``channel`` in the customer's branch: the branch's own, else the
    ``"*"`` entry's; None without a branch or a limit."""
    if branch_id is None:
        return None
    own = branch_capacity.get(branch_id)
    if own is not None and channel in own:
        return own[channel]
    default = branch_capacity.get(ANY_BRANCH)
    if default is not None:
        return default.get(channel)
    return None
