"""Global daily volume limits per channel (e.g. the call centre's capacity).

These limits span all customers, so they cannot be decided inside one
customer's pure state. ``ChannelCapacity`` is a pure value the runtime holds per
day: ask ``admit(channel, day)`` before handing an outbound opportunity to a
channel; it returns whether it fits and the new counter value. A new day
starts from zero. Inbound contacts (the customer calls) are not limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.events import Channel


@dataclass(frozen=True, slots=True)
class ChannelCapacity:
    limits: Mapping[Channel, int]
    day: date | None = None
    used: Mapping[Channel, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> ChannelCapacity:
        return cls(limits=catalogue.policy.daily_capacity)

    def remaining(self, channel: Channel, day: date) -> int | None:
        limit = self.limits.get(channel)
        if limit is None:
            return None
        used = self.used.get(channel, 0) if day == self.day else 0
        return max(0, limit - used)

    def admit(self, channel: Channel, day: date) -> tuple[bool, ChannelCapacity]:
        """Whether one more contact fits on ``channel`` on ``day``, and the updated counter."""
        remaining = self.remaining(channel, day)
        if remaining is None:
            return True, self
        if remaining == 0:
            return False, self if day == self.day else ChannelCapacity(self.limits, day)
        used = dict(self.used) if day == self.day else {}
        used[channel] = used.get(channel, 0) + 1
        return True, ChannelCapacity(self.limits, day, MappingProxyType(used))
