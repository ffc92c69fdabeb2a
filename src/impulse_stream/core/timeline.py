"""The contact history (timeline) and the channel affinity learned from it."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import CHANNELS, Channel
from impulse_stream.core.state import MAX_CONTACTS, Affinity, Contact, CustomerState

_AFFINITY_CAP = 9999
# Contacts the customer made or answered; bank-initiated sends say nothing about
# which channels the customer actually uses.
CUSTOMER_ACTIVE_KINDS = frozenset(
    {"inbound_call", "appointment", "accepted", "declined", "not_now", "no_time"}
)


def record_contact(state: CustomerState, contact: Contact) -> CustomerState:
    """Add a contact in time order, keep the newest ``MAX_CONTACTS``, learn affinity."""
    contacts = sorted(
        (*state.contacts, contact), key=lambda c: (c.at, c.channel, c.kind, c.action_id or "")
    )
    affinity = state.affinity
    if contact.kind in CUSTOMER_ACTIVE_KINDS:
        affinity = touch_channel(affinity, contact.channel, contact.at)
    return msgspec.structs.replace(
        state, contacts=tuple(contacts[-MAX_CONTACTS:]), affinity=affinity
    )


def touch_channel(affinity: Affinity, channel: str, at: datetime) -> Affinity:
    """The customer used ``channel`` at ``at`` (a login, a call, an order step)."""
    if channel not in CHANNELS:
        return affinity
    i = CHANNELS.index(channel)
    day = utc_day(at).toordinal()
    last = list(affinity.last_day)
    uses = list(affinity.uses)
    last[i] = max(last[i], day)
    uses[i] = min(_AFFINITY_CAP, uses[i] + 1)
    return Affinity(tuple(last), tuple(uses))


def last_used(affinity: Affinity, channel: Channel) -> int:
    return affinity.last_day[CHANNELS.index(channel)]


def used_within(
    affinity: Affinity, channels: tuple[Channel, ...], now: datetime, days: int
) -> bool:
    horizon = utc_day(now - timedelta(days=days)).toordinal()
    return any(last_used(affinity, c) >= horizon for c in channels)


def preferred_channels(affinity: Affinity) -> tuple[Channel, ...]:
    """Channels the customer used, most used first (ties in ``CHANNELS`` order)."""
    used = [(-affinity.uses[i], i) for i in range(len(CHANNELS)) if affinity.uses[i] > 0]
    return tuple(CHANNELS[i] for _, i in sorted(used))


def by_affinity(
    channels: tuple[Channel, ...], affinity: Affinity, preference: tuple[Channel, ...]
) -> tuple[Channel, ...]:
    """``channels`` best first: most used by the customer, then most recently used,
    then in the order of ``preference`` (the action's channels in the catalogue)."""

    def key(channel: Channel) -> tuple[int, int, int]:
        i = CHANNELS.index(channel)
        rank = preference.index(channel) if channel in preference else len(preference)
        return (-affinity.uses[i], -affinity.last_day[i], rank)

    return tuple(sorted(channels, key=key))
