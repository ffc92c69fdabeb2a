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

Two more counters, both with the same script and markers:

* per channel, branch and day, ``<prefix>capacity:{<channel>:<branch>:<day>}``,
  when ``contact_policy.branch_capacity`` limits the customer's branch
  (``core.outbound.branch_limit``): a channel admits a contact only if both its
  branch's and its own daily counter have room (a branch's slot taken for a
  contact the channel then refuses is given back);
* per household and period, ``<prefix>household-cap:{<household>}:<first day>``,
  when ``contact_policy.household_cap`` is set and the opportunity names a
  household: a contact needs a slot there before it tries its channels (and
  gives it back if no channel admits it). A capped candidate waits like one
  without capacity, so it goes out in the household's next period if it is
  still valid and within ``max_carry_days``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from impulse_stream.contract import codec, topics
from impulse_stream.core.catalogue import HouseholdCap
from impulse_stream.core.events import Channel, ChannelContact, Opportunity, OutboundContact
from impulse_stream.core.outbound import (
    Candidate,
    admission_order,
    branch_limit,
    contact_id,
    household_period,
    outbound_contact,
    sent_event,
)
from impulse_stream.streaming.messages import OutboundMessage, Publisher, raw_topic

if TYPE_CHECKING:
    import faust

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
# KEYS[1] a counter, KEYS[2] the contact's marker: a slot taken for a contact given back.
RELEASE_SCRIPT = """
if redis.call('DEL', KEYS[2]) == 1 then redis.call('DECR', KEYS[1]) end
return 1
"""
KEY_TTL = timedelta(days=3)  # a day's counter outlives the day for replays and audits


class ChannelCapacity(Protocol):
    """The daily capacity the selector admits through: ``DailyCapacity`` on Redis, or the
    backtest's ``datatools.outbound_memory.MemoryCapacity``."""

    async def admit(
        self, channel: Channel, day: date, contact: str, branch_id: str | None = None
    ) -> bool: ...


class HouseholdCounter(Protocol):
    """The household cap the selector admits through: ``HouseholdContacts`` on Redis, or
    the backtest's ``datatools.outbound_memory.MemoryHouseholds``."""

    async def admit(self, household_id: str, day: date, contact: str) -> bool: ...

    async def release(self, household_id: str, day: date, contact: str) -> None: ...


class CapacityKeys:
    """The Redis names of the daily capacity's counters and markers (``prefix`` set by the
    class using it); the in-memory model of the backtest names the same ones."""

    prefix: str

    def key(self, channel: Channel, day: date) -> str:
        return f"{self.prefix}capacity:{channel}:{day.isoformat()}"

    def branch_key(self, channel: Channel, branch_id: str, day: date) -> str:
        return f"{self.prefix}capacity:{{{channel}:{branch_id}:{day.isoformat()}}}"

    def marker(self, channel: Channel, day: date, contact: str) -> str:
        return f"{self.key(channel, day)}:{contact}"

    def counter(self, channel: Channel, day: date, branch_id: str | None) -> str:
        """The channel's counter of ``day``, or the branch's when ``branch_id`` is given."""
        return (
            self.key(channel, day)
            if branch_id is None
            else self.branch_key(channel, branch_id, day)
        )


class HouseholdKeys:
    """The Redis name of a household's contact counter per period (``prefix`` and ``cap``
    set by the class using it)."""

    prefix: str
    cap: HouseholdCap

    def key(self, household_id: str, day: date) -> str:
        start = household_period(day, self.cap.period_days)
        return f"{self.prefix}household-cap:{{{household_id}}}:{start.isoformat()}"


class DailyCapacity(CapacityKeys):
    """The daily volume per outbound channel, shared by every worker through Redis."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        limits: Mapping[Channel, int],
        prefix: str = "impulse:",
        branch_limits: Mapping[str, Mapping[Channel, int]] | None = None,
    ) -> None:
        self.client = client
        self.limits = dict(limits)
        self.branch_limits = dict(branch_limits or {})
        self.prefix = prefix
        self._admit = client.register_script(ADMIT_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    async def admit(
        self, channel: Channel, day: date, contact: str, branch_id: str | None = None
    ) -> bool:
        """One more contact on ``channel`` on ``day`` (in ``branch_id``'s capacity too, if the
        branch has a limit for the channel); a channel without a limit always fits."""
        ttl = int(KEY_TTL.total_seconds())
        in_branch = branch_limit(self.branch_limits, branch_id, channel)
        branch_keys: list[str] = []
        if in_branch is not None and branch_id is not None:
            counter = self.branch_key(channel, branch_id, day)
            branch_keys = [counter, f"{counter}:{contact}"]
            if not await self._admit(keys=branch_keys, args=[in_branch, ttl]):
                return False
        limit = self.limits.get(channel)
        if limit is None:
            return True
        marker = self.marker(channel, day, contact)
        if await self._admit(keys=[self.key(channel, day), marker], args=[limit, ttl]):
            return True
        if branch_keys:
            await self._release(keys=branch_keys, args=[])
        return False

    async def used(self, channel: Channel, day: date, branch_id: str | None = None) -> int:
        """Contacts admitted on ``channel`` on ``day`` (in ``branch_id`` only, if given)."""
        value = await self.client.get(self.counter(channel, day, branch_id))
        return int(value or 0)


class HouseholdContacts(HouseholdKeys):
    """The outbound contacts per household and period (``contact_policy.household_cap``),
    shared by every worker through Redis; idempotent per contact like the daily capacity."""

    def __init__(
        self, client: aioredis.Redis | RedisCluster, cap: HouseholdCap, prefix: str = "impulse:"
    ) -> None:
        self.client = client
        self.cap = cap
        self.prefix = prefix
        self._admit = client.register_script(ADMIT_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    def _ttl(self) -> int:
        return int((timedelta(days=self.cap.period_days) + KEY_TTL).total_seconds())

    async def admit(self, household_id: str, day: date, contact: str) -> bool:
        """One more contact of the household in the period of ``day``."""
        counter = self.key(household_id, day)
        keys = [counter, f"{counter}:{contact}"]
        return bool(await self._admit(keys=keys, args=[self.cap.max_contacts, self._ttl()]))

    async def release(self, household_id: str, day: date, contact: str) -> None:
        """Give back the slot ``admit`` took for ``contact`` (no channel admitted it)."""
        counter = self.key(household_id, day)
        await self._release(keys=[counter, f"{counter}:{contact}"], args=[])

    async def used(self, household_id: str, day: date) -> int:
        value = await self.client.get(self.key(household_id, day))
        return int(value or 0)


@dataclass
class Admitted:
    contact: OutboundContact
    recorded: ChannelContact


@dataclass
class OutboundSelector:
    capacity: ChannelCapacity
    max_carry_days: int = 7
    pending: dict[str, Candidate] = field(default_factory=dict)
    closed_day: date | None = None
    households: HouseholdCounter | None = None  # the household cap, if the catalogue has one

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
            household = cand.opportunity.household_id if self.households is not None else None
            chosen = None
            if household is None or await self._household_admits(household, day, contact):
                branch = cand.opportunity.branch_id
                for i, channel in enumerate(cand.channels):
                    if await self.capacity.admit(channel, day, contact, branch):
                        chosen = outbound_contact(cand, channel, day, fallback=i > 0)
                        break
                if chosen is None and household is not None:
                    await self._household_release(household, day, contact)
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

    async def _household_admits(self, household: str, day: date, contact: str) -> bool:
        assert self.households is not None
        return await self.households.admit(household, day, contact)

    async def _household_release(self, household: str, day: date, contact: str) -> None:
        assert self.households is not None
        await self.households.release(household, day, contact)

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
    source = raw_topic(app, topic_prefix + topics.OPPORTUNITIES)

    @app.agent(source, name="outbound")
    async def outbound(stream: Any) -> None:
        async for value in stream:
            await feed.on_opportunity(value)

    return outbound
