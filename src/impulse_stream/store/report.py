"""Redis counters of the omnichannel report, written once per event.

Layout (``<p>`` is the worker's key prefix; the ``{report}`` hash tag keeps
every key in one Redis Cluster slot, so the Lua script may touch them all):

* ``<p>{report}:days`` set: the days (``YYYY-MM-DD``) that have counts;
* ``<p>{report}:<day>`` hash: counter name -> count (names in
  :mod:`impulse_stream.desk.report`);
* ``<p>{report}:seen:<day>`` set: the ids of the events counted for that day.
  A redelivered event (same id) is not counted again; the set expires after
  :data:`SEEN_DAYS` days;
* ``<p>{report}:orders`` hash: online order id -> ``<day>|<product>`` of its
  start, so that a completion on any channel counts for the day it started.

The counters are not customer state: ``rebuild`` leaves them, and a replay of
the topics counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from impulse_stream.errors import StoreUnavailable

SEEN_DAYS = 45

_COUNT_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('SADD', KEYS[3], ARGV[3])
for i = 4, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
return 1
"""


@dataclass(frozen=True)
class Tally:
    """Counters to raise by one for the event ``event_id`` of ``day``."""

    event_id: str
    day: str
    counters: tuple[str, ...]


class ReportStore:
    def __init__(self, client: aioredis.Redis | RedisCluster, prefix: str = "is:") -> None:
        self.redis = client
        self.base = f"{prefix}{{report}}:"
        self._count_once = client.register_script(_COUNT_ONCE)

    def day_key(self, day: str) -> str:
        return f"{self.base}{day}"

    async def add(self, tallies: Sequence[Tally]) -> int:
        """Count each tally once; returns how many were new."""
        if not tallies:
            return 0
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for t in tallies:
                    await self._count_once(
                        keys=[f"{self.base}seen:{t.day}", self.day_key(t.day), f"{self.base}days"],
                        args=[t.event_id, SEEN_DAYS * 86400, t.day, *t.counters],
                        # redis-py queues a script on a pipeline; its annotation names clients only.
                        client=pipe,  # type: ignore[arg-type]
                    )
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"redis report write failed: {exc}") from exc
        return sum(int(r) for r in replies)

    async def remember_orders(self, started: Sequence[tuple[str, str, str]]) -> None:
        """``(order_id, day, product)`` of online orders that started (the first start wins)."""
        if not started:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for order_id, day, product in started:
                    pipe.hsetnx(f"{self.base}orders", order_id, f"{day}|{product}")
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"redis report write failed: {exc}") from exc

    async def order_starts(self, order_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The ``(day, product)`` of the online start of each known order."""
        if not order_ids:
            return {}
        try:
            values = cast(
                "list[bytes | None]",
                await self.redis.hmget(f"{self.base}orders", list(order_ids)),
            )
        except RedisError as exc:
            raise StoreUnavailable(f"redis report read failed: {exc}") from exc
        out: dict[str, tuple[str, str]] = {}
        for order_id, value in zip(order_ids, values, strict=True):
            if value is not None:
                day, _, product = value.decode().partition("|")
                out[order_id] = (day, product)
        return out

    async def days(self) -> list[str]:
        try:
            days = cast("set[bytes]", await self.redis.smembers(f"{self.base}days"))
        except RedisError as exc:
            raise StoreUnavailable(f"redis report read failed: {exc}") from exc
        return sorted(d.decode() for d in days)

    async def counts(self, days: Sequence[str]) -> dict[str, dict[str, int]]:
        """Day -> counter -> count."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(self.day_key(day))
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"redis report read failed: {exc}") from exc
        return {
            day: {k.decode(): int(v) for k, v in reply.items()}
            for day, reply in zip(days, replies, strict=True)
        }
