"""Employer clusters: customers counted per salary payer, across workers and partitions.

The core names each customer's employer (``core/employers.py``) and reports an
``EmployerMembership`` when it changes; the worker publishes it to
``employers.members`` keyed by ``employer_id``, so every membership of one
employer lands on one partition and one worker at a time counts the cluster.
This module is that count, the Faust agent ``employers`` of the worker:

* one Redis hash per employer, ``<prefix>employer:{<employer_id>}`` (one hash
  slot on a Redis Cluster): ``m:<customer>`` holds the ``since`` time (ms) of
  the customer's latest membership, positive while a member, negative after
  leaving; ``count`` the members; ``n:<customer>`` marks a member told; ``open``
  that every member was told at the current size;
* a Lua script applies a membership only if it is newer than the one stored
  for the customer, so a replay, a redelivered outbox or a restart counts
  nothing twice, and a customer who changed employer leaves the old count;
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

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from redis.exceptions import RedisError

from impulse_stream.contract import codec, topics
from impulse_stream.contract.deadletter import dead_letter_headers
from impulse_stream.core.events import EmployerCluster, EmployerMembership
from impulse_stream.core.ids import stable_id
from impulse_stream.errors import DecodeFailure, PublishFailed
from impulse_stream.pseudonym import pseudonym
from impulse_stream.streaming.messages import OutboundMessage, Publisher
from impulse_stream.streaming.metrics import Metrics

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# KEYS[1] the employer's hash; ARGV[1] customer, ARGV[2] since (ms), ARGV[3] 1 joined / 0 left,
# ARGV[4] cluster size. Returns {applied (1/0), count, full (1/0), customer, since, ...}: the
# members to tell now (all untold members when the cluster is at its size and not yet open,
# else this customer if it is an untold member of an open cluster).
COUNT_SCRIPT = """
local key = KEYS[1]
local field = 'm:' .. ARGV[1]
local since = tonumber(ARGV[2])
local current = redis.call('HGET', key, field)
local applied = 0
if current == false or math.abs(tonumber(current)) < since then
  applied = 1
  local was = current ~= false and tonumber(current) > 0
  if ARGV[3] == '1' then
    redis.call('HSET', key, field, since)
    if not was then redis.call('HINCRBY', key, 'count', 1) end
  else
    redis.call('HSET', key, field, -since)
    if was then redis.call('HINCRBY', key, 'count', -1) end
  end
end
local count = tonumber(redis.call('HGET', key, 'count') or '0')
local out = {applied, count, 0}
if count < tonumber(ARGV[4]) then
  redis.call('HDEL', key, 'open')
  return out
end
if redis.call('HEXISTS', key, 'open') == 0 then
  out[3] = 1
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'm:' and tonumber(all[i + 1]) > 0 then
      local c = string.sub(f, 3)
      if redis.call('HEXISTS', key, 'n:' .. c) == 0 then
        table.insert(out, c)
        table.insert(out, all[i + 1])
      end
    end
  end
elseif ARGV[3] == '1' then
  local mine = tonumber(redis.call('HGET', key, field))
  if mine > 0 and redis.call('HEXISTS', key, 'n:' .. ARGV[1]) == 0 then
    table.insert(out, ARGV[1])
    table.insert(out, tostring(mine))
  end
end
return out
"""


@dataclass(frozen=True)
class Counted:
    """What one membership did to its cluster."""

    applied: bool  # False: not newer than what the cluster knew of the customer (a replay)
    members: int
    full_scan: bool  # the cluster reached its size now: every untold member is in ``tell``
    tell: tuple[str, ...]  # customers to notify, sorted


class EmployerClusters:
    """Distinct customers per employer in Redis, shared by every worker."""

    def __init__(self, client: Any, cluster_size: int, prefix: str = "impulse:") -> None:
        self.client = client
        self.cluster_size = cluster_size
        self.prefix = prefix
        self._count = client.register_script(COUNT_SCRIPT)

    def key(self, employer_id: str) -> str:
        return f"{self.prefix}employer:{{{employer_id}}}"

    async def count(self, m: EmployerMembership) -> Counted:
        since = int(m.since.timestamp() * 1000)
        reply = await self._count(
            keys=[self.key(m.employer_id)],
            args=[m.customer_id, since, 1 if m.status == "joined" else 0, self.cluster_size],
        )
        applied, members, full = (int(v) for v in reply[:3])
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in reply[3::2]]
        return Counted(bool(applied), members, bool(full), tuple(sorted(names)))

    async def mark_told(self, employer_id: str, customers: Sequence[str], full: bool) -> None:
        fields: dict[str, int] = {f"n:{c}": 1 for c in customers}
        if full:
            fields["open"] = 1
        if fields:
            await self.client.hset(self.key(employer_id), mapping=fields)

    async def members(self, employer_id: str) -> int:
        value = await self.client.hget(self.key(employer_id), "count")
        return int(value or 0)


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


@dataclass
class EmployerFeed:
    """Counts the memberships of ``employers.members`` and publishes the notices."""

    clusters: EmployerClusters
    publisher: Publisher
    topic_prefix: str = ""
    metrics: Metrics | None = None
    wall_clock: Callable[[], float] = lambda: datetime.now(UTC).timestamp()
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def on_message(
        self, key: bytes | None, value: bytes | None, partition: int = 0, offset: int = 0
    ) -> list[EmployerCluster]:
        """One message of ``employers.members``; returns the notices it published."""
        try:
            membership = codec.decode_membership(key, value)
        except DecodeFailure as failure:
            dead = self._dead(key, value, failure, partition, offset)
            await self._retry(self.publisher.publish, [dead])
            return []
        return await self._retry(self._count_and_tell, membership)

    async def _count_and_tell(self, m: EmployerMembership) -> list[EmployerCluster]:
        counted = await self.clusters.count(m)
        if self.metrics is not None:
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
        await self.clusters.mark_told(m.employer_id, counted.tell, counted.full_scan)
        if self.metrics is not None:
            self.metrics.employer_notices.inc(len(notices))
        return notices

    def messages(self, notices: Sequence[EmployerCluster]) -> list[OutboundMessage]:
        topic = self.topic_prefix + topics.EMPLOYER_CLUSTERS
        return [OutboundMessage(topic, n.customer_id.encode(), codec.encode(n)) for n in notices]

    def _dead(
        self, key: bytes | None, value: bytes | None, failure: DecodeFailure,
        partition: int, offset: int,
    ) -> OutboundMessage:  # fmt: skip
        if self.metrics is not None:
            self.metrics.dead_letters.labels(failure.reason, topics.EMPLOYER_MEMBERS).inc()
        headers = dead_letter_headers(
            reason=failure.reason,
            detail=str(failure),
            topic=self.topic_prefix + topics.EMPLOYER_MEMBERS,
            partition=partition,
            offset=offset,
            stage="decode",
            failed_at=datetime.fromtimestamp(self.wall_clock(), UTC),
        )
        return OutboundMessage(self.topic_prefix + topics.DEAD_LETTERS, key, value, tuple(headers))

    async def _retry(self, call: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
        delay = 0.05
        while True:
            try:
                return await call(*args, **kwargs)
            except (RedisError, OSError, PublishFailed) as exc:
                log.warning("employer clusters: %r, retrying in %.2fs", exc, delay)
                await self.sleep(delay)
                delay = min(delay * 2, 2.0)


def register_employers(app: faust.App, feed: EmployerFeed, topic_prefix: str) -> Any:
    """The Faust agent ``employers`` on ``employers.members`` (the worker's own partitions)."""
    source = app.topic(
        topic_prefix + topics.EMPLOYER_MEMBERS,
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(source, name="employers")
    async def employers(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            await feed.on_message(m.key, m.value, m.partition, m.offset)

    return employers


__all__ = ["EmployerClusters", "EmployerFeed", "notice", "register_employers"]
