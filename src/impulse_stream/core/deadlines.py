"""Deadlines: the event-time instants at which ``advance`` has work.

A deadline is derived from the state each time (an open order's abandonment
deadline, a clicked offer's wait, a snooze or validity end, the next calendar
day); the state itself stores only the instants on its records
(``OrderProcess.deadline``, ``PendingClick.deadline``, ...), so the msgpack
layout does not depend on this type.

Deadlines fire in ``(at, kind, ref)`` order: the kind's value breaks ties at
the same instant, so the values below are part of the engine's behaviour.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

import msgspec


class DeadlineKind(IntEnum):
    ORDER_ABANDONED = 0  # an open order's abandonment window ends
    OFFER_NOT_ORDERED = 1  # a clicked offer's wait for an order ends
    SNOOZE_ENDED = 2  # a snoozed opportunity wakes up
    VALIDITY_ENDED = 3  # an open opportunity expires
    CALENDAR_DAY = 4  # the calendar sweep of a day (ref: the ISO date)
    JOURNEY_DUE = 5  # a journey step is due, or a time-based entry (ref: the journey id)


class Deadline(msgspec.Struct, frozen=True, order=True, gc=False):
    """Ordered field by field; a msgspec struct because the engine builds several
    per call and compares them (a dataclass costs four times as much)."""

    at: datetime
    kind: DeadlineKind
    ref: str  # what is due: an order id, a click's event id, an opportunity id, a day
