"""Is this event new, a repeat of one the state took in, or a conflicting repeat?

Producers retry, and a retried message lands at a new offset, where the
offset fences cannot see it. The contract names every event (``event_id``):
the state remembers the last :data:`MAX_RECENT_EVENTS` events it took in, as a
64-bit digest of the id and a 32-bit digest of the content (the record
encoded canonically), so that

* the same ``event_id`` with the same content is a *repeat*: skipped, it
  changes nothing (idempotent);
* the same ``event_id`` with other content is a *conflict*: the runtime
  dead-letters it (``conflicting_duplicate``) and the state keeps the first;
* anything else is *new*.

Profiles carry no ``event_id``: a profile is the customer's latest master
record and applying it twice is harmless. A repeat older than the window is
not recognised.
"""

from __future__ import annotations

import hashlib
from enum import Enum

import msgspec

from impulse_stream.core.events import InputEvent
from impulse_stream.core.state import CustomerState, RecentEvent

MAX_RECENT_EVENTS = 8

_CANONICAL = msgspec.json.Encoder(decimal_format="string", order="deterministic")


class Seen(Enum):
    NEW = "new"
    REPEAT = "repeat"
    CONFLICT = "conflict"


def fingerprint(event: InputEvent) -> RecentEvent | None:
    """Digests of the event's id and content; None for events without an ``event_id``."""
    event_id: str | None = getattr(event, "event_id", None)
    if event_id is None:
        return None
    ident = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    content = hashlib.blake2b(_CANONICAL.encode(event), digest_size=4).digest()
    return RecentEvent(int.from_bytes(ident, "big"), int.from_bytes(content, "big"))


def seen_before(state: CustomerState | None, mark: RecentEvent | None) -> Seen:
    if state is None or mark is None:
        return Seen.NEW
    for known in state.recent:
        if known.event == mark.event:
            return Seen.REPEAT if known.content == mark.content else Seen.CONFLICT
    return Seen.NEW


def remember(state: CustomerState, mark: RecentEvent | None) -> CustomerState:
    """``state`` with ``mark`` as its newest remembered event (oldest ones age out)."""
    if mark is None:
        return state
    kept = (*state.recent, mark)[-MAX_RECENT_EVENTS:]
    return msgspec.structs.replace(state, recent=kept)
