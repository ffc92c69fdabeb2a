"""Households: the members of each household, across workers and partitions.

The core keeps each customer's household from the profile (``core/households.py``)
and reports a ``HouseholdMembership`` when it changes; the worker publishes it
to ``households.members`` keyed by ``household_id``, so every membership of one
household lands on one partition and one worker at a time applies it. This
module is the Faust agent ``households`` of the worker, the second use of the
group memberships in Redis (``store/groups.py``; the first is ``employers.py``):
one hash per household, ``<prefix>household:{<household_id>}``, with each
member's latest ``since`` and the ``count``. A membership applies only if it is
newer than the one stored for the customer: replays count nothing twice, a
customer who moved leaves the old household. An ``erased`` membership (the
worker erased the customer) deletes the customer's field from the hash and
counts them out.

The customer 360 (``api/``) reads the hash to show the other members; the
outbound selector caps the household's contacts with its own counter
(``outbound.py``). A membership that cannot be decoded is dead-lettered with its
reason; Redis or Kafka being away is retried until they are back.
"""

from __future__ import annotations

from typing import Any

from impulse_stream.contract import codec, topics
from impulse_stream.core.events import HouseholdMembership
from impulse_stream.store.groups import Applied, GroupMembers
from impulse_stream.streaming.memberships import MembershipFeed


def household_members(client: Any, prefix: str = "impulse:") -> GroupMembers:
    """The households' hashes (no size: nobody is told)."""
    return GroupMembers(client, "household", prefix=prefix)


class HouseholdFeed(MembershipFeed[HouseholdMembership, Applied]):
    """Applies the memberships of ``households.members`` to the households' hashes."""

    topic = topics.HOUSEHOLD_MEMBERS
    agent = "households"

    def decode(self, key: bytes | None, value: bytes | None) -> HouseholdMembership:
        return codec.decode_household_membership(key, value)

    async def apply(self, m: HouseholdMembership) -> list[Applied]:
        if m.status == "erased":
            applied = await self.groups.erase(m.household_id, m.customer_id)
        else:
            applied = await self.groups.apply(
                m.household_id, m.customer_id, m.since, m.status == "joined"
            )
        self.metrics.household_memberships.labels(m.status if applied.applied else "stale").inc()
        return [applied]


__all__ = ["HouseholdFeed", "household_members"]
