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
    last = _padded(affinity.last_day, i + 1)
    uses = _padded(affinity.uses, i + 1)
    last[i] = max(last[i], day)
    uses[i] = min(_AFFINITY_CAP, uses[i] + 1)
    return Affinity(tuple(last), tuple(uses))


def _padded(values: tuple[int, ...], size: int) -> list[int]:
    """Per-channel values, at least ``size`` long (later channels start unused)."""
    return [*values, *(0,) * (size - len(values))]


def last_used(affinity: Affinity, channel: Channel) -> int:
    i = CHANNELS.index(channel)
    return affinity.last_day[i] if i < len(affinity.last_day) else 0


def uses_of(affinity: Affinity, channel: Channel) -> int:
    i = CHANNELS.index(channel)
    return affinity.uses[i] if i < len(affinity.uses) else 0


def used_within(
    affinity: Affinity, channels: tuple[Channel, ...], now: datetime, days: int
) -> bool:
    horizon = utc_day(now - timedelta(days=days)).toordinal()
    return any(last_used(affinity, c) >= horizon for c in channels)


def preferred_channels(affinity: Affinity) -> tuple[Channel, ...]:
    """Channels the customer used, most used first (ties in ``CHANNELS`` order)."""
    used = [(-n, i) for i, n in enumerate(affinity.uses[: len(CHANNELS)]) if n > 0]
    return tuple(CHANNELS[i] for _, i in sorted(used))


def by_affinity(affinity: Affinity, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
    """``channels`` with the customer's most used first, most recent on a tie, then as given."""
    return tuple(
        sorted(
            channels,
            key=lambda c: (-uses_of(affinity, c), -last_used(affinity, c), channels.index(c)),
        )
    )
