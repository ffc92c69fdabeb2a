"""Employer clusters: customers counted per salary payer, across workers and partitions.

The core names each customer's employer (``core/employers.py``) and reports an
``EmployerMembership`` when it changes; the worker publishes it to
``employers.members`` keyed by ``employer_id``, so every membership of one
employer lands on one partition and one worker at a time counts the cluster.
This module is that count, the Faust agent ``employers`` of the worker, one of
the two uses of the group memberships in Redis (``store/groups.py``, the
agent's plumbing in ``memberships.py``; the other is ``households.py``):

* one Redis hash per employer, ``<prefix>employer:{<employer_id>}``: the
  members' latest ``since``, the ``count``, who was told;
* a membership applies only if it is newer than the one stored for the
  customer, so a replay, a redelivered outbox or a restart counts nothing
  twice, and a customer who changed employer leaves the old count;
* when the count is at the catalogue's ``cluster_size``
  (``detectors.salary_project_member.params``), every member not yet told gets
  an ``EmployerCluster`` notice on ``employers.clusters``, keyed by customer:
  the worker's decision agent reads it like any input, so the
  ``salary_project_member`` impulse goes through bundling, the contact policy
  and routing. Later members are told when they join. A member is marked told
  only after Kafka acknowledged the notice; a crash in between tells again, and
  the core reports the impulse once (same impulse id, ``repeat_after_days``).

A membership that cannot be decoded is dead-lettered with its reason; Redis or
Kafka being away is retried until they are back. Logs name employers and
customers by pseudonym only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from impulse_stream.contract import codec, topics
from impulse_stream.core.events import EmployerCluster, EmployerMembership
from impulse_stream.core.ids import stable_id
from impulse_stream.pseudonym import pseudonym
from impulse_stream.store.groups import GroupMembers
from impulse_stream.streaming.memberships import MembershipFeed
from impulse_stream.streaming.messages import OutboundMessage

log = logging.getLogger(__name__)


def employer_clusters(client: Any, cluster_size: int, prefix: str = "impulse:") -> GroupMembers:
    """The employers' hashes: members told once a cluster has ``cluster_size`` members."""
    return GroupMembers(client, "employer", size=cluster_size, prefix=prefix)


def notice(m: EmployerMembership, customer_id: str, members: int) -> EmployerCluster:
    """The notice for one member: the same membership and count give the same event."""
    return EmployerCluster(
        event_id=stable_id("cl", m.employer_id, customer_id, str(members), m.membership_id),
        customer_id=customer_id,
        employer_id=m.employer_id,
        members=members,
        occurred_at=m.since,
        employer_name=m.employer_name,
    )


class EmployerFeed(MembershipFeed[EmployerMembership, EmployerCluster]):
    """Counts the memberships of ``employers.members`` and publishes the notices."""

    topic = topics.EMPLOYER_MEMBERS
    agent = "employers"

    @property
    def clusters(self) -> GroupMembers:
        return self.groups

    def decode(self, key: bytes | None, value: bytes | None) -> EmployerMembership:
        return codec.decode_membership(key, value)

    async def apply(self, m: EmployerMembership) -> list[EmployerCluster]:
        if m.status == "erased":
            counted = await self.groups.erase(m.employer_id, m.customer_id)
        else:
            counted = await self.groups.apply(
                m.employer_id, m.customer_id, m.since, m.status == "joined"
            )
        outcome = m.status if counted.applied else "stale"
        self.metrics.employer_memberships.labels(outcome).inc()
        if not counted.tell:
            return []
        if counted.full_scan:
            log.info(
                "employer %s reached %d members: telling %d",
                pseudonym(m.employer_id),
                counted.members,
                len(counted.tell),
            )
        notices = [notice(m, c, counted.members) for c in counted.tell]
        await self.publisher.publish(self.messages(notices))
        await self.groups.mark_told(m.employer_id, counted.tell, counted.full_scan)
        self.metrics.employer_notices.inc(len(notices))
        return notices

    def messages(self, notices: Sequence[EmployerCluster]) -> list[OutboundMessage]:
        topic = self.topic_prefix + topics.EMPLOYER_CLUSTERS
        return [OutboundMessage(topic, n.customer_id.encode(), codec.encode(n)) for n in notices]


__all__ = ["EmployerFeed", "employer_clusters", "notice"]
