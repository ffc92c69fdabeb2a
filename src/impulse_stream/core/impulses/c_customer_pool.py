"""The C-customer pool journey: customers without an assigned advisor are
contacted every ``interval_days`` (120 days: three times a year), each time on
the next channel of the rotation that can reach them (consent, affinity).

Each customer has a fixed phase derived from a hash of the id, so the pool's
contacts spread evenly over the days instead of all landing on one date.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from impulse_stream.core.catalogue import DetectorRule
from impulse_stream.core.events import Channel
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.impulses.calendar_base import on_day
from impulse_stream.core.state import CustomerState

KIND = "c_pool_contact_due"


class CCustomerPoolDetector:
    kind = KIND

    def __init__(self, rule: DetectorRule) -> None:
        self.segments = rule.strings("segments")
        self.interval = rule.integer("interval_days")
        self.channels: tuple[Channel, ...] = tuple(rule.strings("channels"))  # type: ignore[arg-type]

    def in_pool(self, state: CustomerState) -> bool:
        p = state.profile
        return p.known and p.advisor_id is None and p.segment in self.segments

    def phase(self, customer_id: str) -> int:
        digest = hashlib.blake2b(customer_id.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % self.interval

    def next_day(self, state: CustomerState, after: date) -> date | None:
        if not self.in_pool(state):
            return None
        offset = (self.phase(state.customer_id) - (after.toordinal() + 1)) % self.interval
        return after + timedelta(days=1 + offset)

    def due_on(self, state: CustomerState, day: date) -> bool:
        return self.in_pool(state) and day.toordinal() % self.interval == self.phase(
            state.customer_id
        )

    def contact(self, state: CustomerState, day: date, channel: Channel) -> Detection:
        return on_day(KIND, day, f"pool:{day.isoformat()}", (("channel", channel),))
