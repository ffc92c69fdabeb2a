"""The C-customer pool journey: customers without an assigned advisor are
contacted every ``interval_days`` (120 days: three times a year), each time on
the next channel of the rotation that can reach them (consent, affinity).

Each customer has a fixed phase derived from a hash of the id, so the pool's
contacts spread evenly over the days instead of all landing on one date. The
rotation's position lives in the state (``pool_turn``, ``pool_last_day``).
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from functools import lru_cache
from typing import ClassVar

import msgspec

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import day_start
from impulse_stream.core.events import Channel
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import on_day
from impulse_stream.core.impulses.params import CHANNEL_LIST, CODES
from impulse_stream.core.state import CustomerState

KIND = "c_pool_contact_due"


@lru_cache(maxsize=8192)
def _id_hash(customer_id: str) -> int:
    """A stable number per customer (cached: asked on every sweep and wake-up)."""
    return int.from_bytes(hashlib.blake2b(customer_id.encode(), digest_size=4).digest(), "big")


class CCustomerPoolDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {
        "segments": CODES,
        "interval_days": {"type": "integer", "minimum": 60, "maximum": 366},
        "channels": CHANNEL_LIST,
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.segments = rule.strings("segments")
        self.interval = rule.integer("interval_days")
        self.channels: tuple[Channel, ...] = tuple(rule.strings("channels"))  # type: ignore[arg-type]

    def in_pool(self, state: CustomerState) -> bool:
        p = state.profile
        return p.known and p.advisor_id is None and p.segment in self.segments

    def phase(self, customer_id: str) -> int:
        return _id_hash(customer_id) % self.interval

    def next_day(self, state: CustomerState, after: date) -> date | None:
        if not self.in_pool(state):
            return None
        offset = (self.phase(state.customer_id) - (after.toordinal() + 1)) % self.interval
        return after + timedelta(days=1 + offset)

    def due_on(self, state: CustomerState, day: date) -> bool:
        return self.in_pool(state) and day.toordinal() % self.interval == self.phase(
            state.customer_id
        )

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        if not self.due_on(state, day):
            return Fired(state)
        n = len(self.channels)
        for k in range(n):
            channel = self.channels[(state.pool_turn + k) % n]
            if reach.can_contact(state, channel, day_start(day)):
                turned = msgspec.structs.replace(
                    state, pool_turn=(state.pool_turn + k + 1) % n, pool_last_day=day.toordinal()
                )
                detection = on_day(KIND, day, f"pool:{day.isoformat()}", (("channel", channel),))
                return Fired(turned, (detection,))
        return Fired(state)
