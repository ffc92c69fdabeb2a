"""The outbound selector of a backtest: its Redis counters in memory, and what it did per
day and channel.

``MemoryCapacity`` and ``MemoryHouseholds`` follow the Redis scripts of
``streaming/outbound.py`` (``ADMIT_SCRIPT``, ``RELEASE_SCRIPT``) step by step,
on the same key names: a slot is taken once per contact marker (a replay of a
day admits the same contact again without counting it twice), a counter never
goes above its limit, and a release gives a slot back only if the marker was
set. Keys do not expire: a backtest never comes back to a day after its
counters' TTL. ``tests/integration/test_outbound_capacity_model.py`` drives the
same random sequences through the scripts on a real redis-server and through
these and compares every answer.

``CountingSelector`` is the live ``OutboundSelector`` that also counts, per day
it selects and per channel, the contacts admitted (of which on a fallback
channel), the candidates carried over to the next day and those dropped (their
validity ended, or ``max_carry_days`` passed). A candidate that no channel
admitted counts on its first outbound channel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from impulse_stream.contract import topics
from impulse_stream.core.catalogue import Catalogue, HouseholdCap
from impulse_stream.core.events import Channel, ChannelContact, OutboundContact
from impulse_stream.core.outbound import branch_limit
from impulse_stream.datatools.feedback import Feedback
from impulse_stream.streaming.messages import CollectingPublisher, OutboundMessage
from impulse_stream.streaming.outbound import (
    Admitted,
    CapacityKeys,
    HouseholdKeys,
    OutboundFeed,
    OutboundSelector,
)
from impulse_stream.streaming.processor import BatchProcessor

VOLUMES = ("admitted", "fallback", "carried_over", "dropped")


class MemoryCounters:
    """Counters and contact markers: the two Lua scripts on a dict and a set."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.markers: set[str] = set()

    def admit(self, counter: str, marker: str, limit: int) -> bool:
        """``ADMIT_SCRIPT``: True if the marker is set already or the counter has room."""
        if marker in self.markers:
            return True
        used = self.counts.get(counter, 0) + 1
        if used > limit:
            return False
        self.counts[counter] = used
        self.markers.add(marker)
        return True

    def release(self, counter: str, marker: str) -> None:
        """``RELEASE_SCRIPT``: give the marker's slot back, if it took one."""
        if marker in self.markers:
            self.markers.remove(marker)
            self.counts[counter] = self.counts.get(counter, 0) - 1

    def get(self, counter: str) -> int:
        return self.counts.get(counter, 0)


class MemoryCapacity(CapacityKeys):
    """``DailyCapacity`` in memory: per channel and day, and per channel, branch and day."""

    def __init__(
        self,
        limits: Mapping[Channel, int],
        prefix: str = "impulse:",
        branch_limits: Mapping[str, Mapping[Channel, int]] | None = None,
        counters: MemoryCounters | None = None,
    ) -> None:
        self.limits = dict(limits)
        self.branch_limits = dict(branch_limits or {})
        self.prefix = prefix
        self.counters = counters if counters is not None else MemoryCounters()

    async def admit(
        self, channel: Channel, day: date, contact: str, branch_id: str | None = None
    ) -> bool:
        """``DailyCapacity.admit``: the branch's counter first (if it has a limit), then the
        channel's; a branch slot the channel then refuses is given back."""
        in_branch = branch_limit(self.branch_limits, branch_id, channel)
        branch_keys: tuple[str, str] | None = None
        if in_branch is not None and branch_id is not None:
            counter = self.branch_key(channel, branch_id, day)
            branch_keys = (counter, f"{counter}:{contact}")
            if not self.counters.admit(*branch_keys, in_branch):
                return False
        limit = self.limits.get(channel)
        if limit is None:
            return True
        if self.counters.admit(self.key(channel, day), self.marker(channel, day, contact), limit):
            return True
        if branch_keys is not None:
            self.counters.release(*branch_keys)
        return False

    async def used(self, channel: Channel, day: date, branch_id: str | None = None) -> int:
        return self.counters.get(self.counter(channel, day, branch_id))


class MemoryHouseholds(HouseholdKeys):
    """``HouseholdContacts`` in memory: contacts per household and period."""

    def __init__(
        self, cap: HouseholdCap, prefix: str = "impulse:", counters: MemoryCounters | None = None
    ) -> None:
        self.cap = cap
        self.prefix = prefix
        self.counters = counters if counters is not None else MemoryCounters()

    async def admit(self, household_id: str, day: date, contact: str) -> bool:
        counter = self.key(household_id, day)
        return self.counters.admit(counter, f"{counter}:{contact}", self.cap.max_contacts)

    async def release(self, household_id: str, day: date, contact: str) -> None:
        counter = self.key(household_id, day)
        self.counters.release(counter, f"{counter}:{contact}")

    async def used(self, household_id: str, day: date) -> int:
        return self.counters.get(self.key(household_id, day))


@dataclass
class CountingSelector(OutboundSelector):
    """``OutboundSelector`` that counts what each selected day did, per channel."""

    volumes: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # day -> channel -> admitted | fallback | carried_over | dropped

    async def select(self, day: date) -> list[Admitted]:
        before = dict(self.pending)
        admitted = await super().select(day)
        counts = self.volumes[day.isoformat()]

        def add(channel: str, what: str) -> None:
            per = counts.setdefault(channel, dict.fromkeys(VOLUMES, 0))
            per[what] += 1

        taken = set()
        for a in admitted:
            taken.add(a.contact.opportunity_id)
            add(a.contact.channel, "admitted")
            if a.contact.fallback:
                add(a.contact.channel, "fallback")
        for opp_id, cand in before.items():
            if opp_id in taken:
                continue
            after = self.pending.get(opp_id)
            if after is None:
                add(cand.channels[0], "dropped")
            elif after.carried_over > cand.carried_over:
                add(cand.channels[0], "carried_over")
        return admitted


def memory_selector(catalogue: Catalogue) -> CountingSelector:
    """The selector ``impulse-stream outbound`` builds for ``catalogue`` (its daily
    capacities per channel and branch, its household cap), on counters in memory."""
    policy = catalogue.policy
    capacity = MemoryCapacity(policy.daily_capacity, branch_limits=policy.branch_capacity)
    households = (
        MemoryHouseholds(policy.household_cap) if policy.household_cap is not None else None
    )
    return CountingSelector(capacity, households=households)


class OutboundFeedback(Feedback):
    """Feeds every opportunity revision a batch published to the outbound agent (an
    ``OutboundFeed``: event time is the newest ``created_at``, each day it closes is
    selected), and the ``channel.contacts`` sends it records back into the batch path,
    each on its customer's partition at its own event time."""

    listens = topics.OPPORTUNITIES
    answers = topics.CONTACTS

    def __init__(
        self, processor: BatchProcessor, publisher: CollectingPublisher, selector: CountingSelector
    ) -> None:
        super().__init__(processor, publisher)
        self.selector = selector
        self.contacts: list[OutboundContact] = []  # every admitted contact
        self.sent = CollectingPublisher()
        self.feed = OutboundFeed(selector, self.sent, processor.prefix)

    async def answer(self, message: OutboundMessage) -> list[ChannelContact]:
        assert message.value is not None
        admitted = await self.feed.on_opportunity(message.value)
        self.contacts += [a.contact for a in admitted]
        return [a.recorded for a in admitted]
