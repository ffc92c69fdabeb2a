"""The outbound selector: open opportunities -> the day's call list, letters, e-mails, SMS.

It watches the published opportunities (latest revision per opportunity) and,
when event time closes a day, admits the day's candidates in
``core.outbound.admission_order`` (priority, then opportunity id) through a
daily capacity counter per channel that every worker shares in Redis. A
candidate tries its outbound channels in its published order; the first with
capacity left takes it (``fallback`` when it was not the first). A candidate no
channel admits waits for the next day (``carried_over`` + 1), until its
validity ends or ``max_carry_days`` pass. Each admitted contact is returned as
an ``OutboundContact`` (topic ``opportunities.outbound``, with the texts) and
the ``channel.contacts`` event that records the send for the contact policy.

The counter is ``<prefix>capacity:<channel>:<day>``: an atomic ``INCR`` in a
Lua script with a TTL, never above the catalogue's
``contact_policy.daily_capacity``. Admission is idempotent: a marker per
contact and channel makes a replay of the same day admit the same contacts
again without counting them twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from impulse_stream.contract import codec, topics
from impulse_stream.core.events import Channel, ChannelContact, Opportunity, OutboundContact
from impulse_stream.core.outbound import (
    Candidate,
    admission_order,
    contact_id,
    outbound_contact,
    sent_event,
)

if TYPE_CHECKING:
    import faust

    from impulse_stream.streaming.processor import OutboundMessage, Publisher

# KEYS[1] the day's counter, KEYS[2] this contact's marker; ARGV[1] limit, ARGV[2] TTL seconds.
ADMIT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if used > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return 1
"""
KEY_TTL = timedelta(days=3)  # a day's counter outlives the day for replays and audits


class DailyCapacity:
    """The daily volume per outbound channel, shared by every worker through Redis."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        limits: Mapping[Channel, int],
        prefix: str = "impulse:",
    ) -> None:
        self.client = client
        self.limits = dict(limits)
        self.prefix = prefix
        self._admit = client.register_script(ADMIT_SCRIPT)

    def key(self, channel: Channel, day: date) -> str:
        return f"{self.prefix}capacity:{channel}:{day.isoformat()}"

    async def admit(self, channel: Channel, day: date, contact: str) -> bool:
        """One more contact on ``channel`` on ``day``; a channel without a limit always fits."""
        limit = self.limits.get(channel)
        if limit is None:
            return True
        marker = f"{self.prefix}capacity:{channel}:{day.isoformat()}:{contact}"
        ttl = int(KEY_TTL.total_seconds())
        return bool(await self._admit(keys=[self.key(channel, day), marker], args=[limit, ttl]))

    async def used(self, channel: Channel, day: date) -> int:
        value = await self.client.get(self.key(channel, day))
        return int(value or 0)


@dataclass
class Admitted:
    contact: OutboundContact
    recorded: ChannelContact


@dataclass
class OutboundSelector:
    capacity: DailyCapacity
    max_carry_days: int = 7
    pending: dict[str, Candidate] = field(default_factory=dict)
    closed_day: date | None = None

    def observe(self, opportunity: Opportunity) -> None:
        """Take in a published opportunity (any revision; the latest one counts)."""
        current = self.pending.get(opportunity.opportunity_id)
        if current is not None and current.opportunity.revision > opportunity.revision:
            return
        if opportunity.status != "open" or not Candidate(opportunity).channels:
            self.pending.pop(opportunity.opportunity_id, None)  # closed, or no outbound channel
            return
        carried = current.carried_over if current is not None else 0
        self.pending[opportunity.opportunity_id] = Candidate(opportunity, carried)

    async def select(self, day: date) -> list[Admitted]:
        """Admit the candidates of ``day`` within capacity; the others wait for tomorrow."""
        at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        admitted: list[Admitted] = []
        for cand in admission_order(c for c in self.pending.values() if c.due_on(day)):
            opp_id = cand.opportunity.opportunity_id
            contact = contact_id(opp_id, day)
            chosen = None
            for i, channel in enumerate(cand.channels):
                if await self.capacity.admit(channel, day, contact):
                    chosen = outbound_contact(cand, channel, day, fallback=i > 0)
                    break
            if chosen is not None:
                del self.pending[opp_id]
                # Recorded at the end of the day it was admitted for (event time).
                admitted.append(Admitted(chosen, sent_event(chosen, at - timedelta(seconds=1))))
            elif cand.carried_over + 1 > self.max_carry_days:
                del self.pending[opp_id]
            else:
                self.pending[opp_id] = Candidate(cand.opportunity, cand.carried_over + 1)
        self.pending = {k: c for k, c in self.pending.items() if c.opportunity.valid_until > at}
        self.closed_day = day
        return admitted

    async def advance_to(self, watermark: datetime) -> list[Admitted]:
        """Select every day that event time (``watermark``) has closed since the last one."""
        today = watermark.astimezone(UTC).date()
        out: list[Admitted] = []
        if self.closed_day is None:
            firsts = [
                c.opportunity.created_at.astimezone(UTC).date() for c in self.pending.values()
            ]
            if not firsts:
                return out
            self.closed_day = min(firsts) - timedelta(days=1)
        day = self.closed_day + timedelta(days=1)
        while day < today:
            out += await self.select(day)
            day += timedelta(days=1)
        return out


@dataclass
class OutboundFeed:
    """Feeds the selector from the ``opportunities`` topic and publishes what it admits.

    Event time is the newest ``created_at`` seen: when it passes midnight, the days
    before are selected. Admitted contacts go to ``opportunities.outbound``; the sends
    go to ``channel.contacts``, so the worker records them for the contact policy.
    """

    selector: OutboundSelector
    publisher: Publisher
    topic_prefix: str = ""
    watermark: datetime | None = None

    async def on_opportunity(self, value: bytes) -> list[Admitted]:
        record = codec.decode_output(topics.OPPORTUNITIES, value)
        if not isinstance(record, Opportunity):
            return []
        self.selector.observe(record)
        if self.watermark is None or record.created_at > self.watermark:
            self.watermark = record.created_at
        admitted = await self.selector.advance_to(self.watermark)
        if admitted:
            await self.publisher.publish(self.messages(admitted))
        return admitted

    def messages(self, admitted: list[Admitted]) -> list[OutboundMessage]:
        from impulse_stream.streaming.processor import OutboundMessage

        out = []
        for a in admitted:
            key = a.contact.customer_id.encode()
            out.append(
                OutboundMessage(self.topic_prefix + topics.OUTBOUND, key, codec.encode(a.contact))
            )
            out.append(
                OutboundMessage(self.topic_prefix + topics.CONTACTS, key, codec.encode(a.recorded))
            )
        return out


def register_outbound(app: faust.App, feed: OutboundFeed, topic_prefix: str) -> Any:
    """The Faust agent ``outbound`` on the ``opportunities`` topic (a worker's own partitions)."""
    source = app.topic(
        topic_prefix + topics.OPPORTUNITIES,
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(source, name="outbound")
    async def outbound(stream: Any) -> None:
        async for value in stream:
            await feed.on_opportunity(value)

    return outbound
