"""Redis implementation of :class:`CustomerStore`.

Layout (``<p>`` is the key prefix, default ``is:``):

* ``<p>c:{<customer>}`` hash: ``s`` state, ``v`` version, ``w`` the nonce of the
  last write (tells a resent write from another writer's), ``f:<topic>:<partition>``
  fences. Small values only, so that it stays a compact listpack.
* ``<p>o:{<customer>}`` hash: outbox entries ``<id>`` -> encoded messages, present
  only between a write and Kafka's acknowledgement (an entry can be several KiB;
  in the customer's hash it would turn that hash into a hash table for good).
  The ``{customer}`` hash tag keeps both keys a write touches in one slot, so
  the Lua write works on Redis Cluster.
* ``<p>timers:<partition>`` sorted set: customer -> next wake-up (event-time ms).
* ``<p>outbox:<partition>`` set: customers with unacknowledged outbox entries.
* ``<p>{acceptance}:<day>`` hash: ``action|segment|channel|a`` (accepted) and
  ``...|d`` (declined) counts of one event-time day; ``<p>{acceptance}:days``
  sorted set: the days that have counts. The ``{acceptance}`` hash tag keeps
  them in one slot, so that a day's update is one MULTI/EXEC also on a cluster.

The two per-partition keys are indexes, each touched only by single-key
commands (so they need no hash tag on a cluster: each lives in the slot of its
whole name). The pending set is added *before* the customer's write: Redis runs
a pipeline in order, so an interrupted pipeline never leaves an outbox entry
that the index misses. A cluster runs the commands of one pipeline on several
nodes in no defined order, so there the store sends the index additions in a
round trip of their own and the customers' writes only once those are
acknowledged (one extra round trip per commit, on a cluster only).

``url`` is ``redis://…`` for one server or ``redis+cluster://host:port[,…]`` for a
Redis Cluster (:mod:`impulse_stream.redis_address`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import resources

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from impulse_stream.redis_address import is_cluster_url, parse_cluster_url
from impulse_stream.store.base import (
    AcceptanceCounts,
    CustomerStore,
    CustomerWrite,
    Delivered,
    StoredCustomer,
    StoreUnavailable,
)
from impulse_stream.store.nonce import WriteNonces

COMMIT_SCRIPT = resources.files("impulse_stream.store").joinpath("commit.lua").read_text()
COMMIT_SHA = hashlib.sha1(COMMIT_SCRIPT.encode()).hexdigest()
# A cluster client also raises RedisClusterException (not a RedisError), e.g. while a
# node is down and its slots are not covered.
_ERRORS = (RedisError, RedisClusterException)


def connect(url: str) -> aioredis.Redis | RedisCluster:
    """A client for one server (``redis://``) or a Redis Cluster (``redis+cluster://``)."""
    if not is_cluster_url(url):
        return aioredis.Redis.from_url(url, decode_responses=False)
    address = parse_cluster_url(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        username=address.username,
        password=address.password,
        decode_responses=False,
    )


class RedisStore(CustomerStore):
    def __init__(
        self, url: str, prefix: str = "is:", client: aioredis.Redis | RedisCluster | None = None
    ):
        if "{" in prefix or "}" in prefix:
            # A brace in the prefix would become the keys' hash tag on a cluster.
            raise ValueError(f"the Redis key prefix {prefix!r} must not contain braces")
        self.prefix = prefix
        self.redis: aioredis.Redis | RedisCluster = client or connect(url)
        self.cluster = isinstance(self.redis, RedisCluster)
        self.round_trips = 0
        self.nonces = WriteNonces()

    def customer_key(self, customer_id: str) -> str:
        return f"{self.prefix}c:{{{customer_id}}}"

    def outbox_entries_key(self, customer_id: str) -> str:
        return f"{self.prefix}o:{{{customer_id}}}"

    def timers_key(self, partition: int) -> str:
        return f"{self.prefix}timers:{partition}"

    def outbox_key(self, partition: int) -> str:
        return f"{self.prefix}outbox:{partition}"

    def acceptance_key(self, day: str) -> str:
        return f"{self.prefix}{{acceptance}}:{day}"

    async def load(
        self, customer_ids: Iterable[str], delivered: Sequence[Delivered] = ()
    ) -> dict[str, StoredCustomer]:
        ids = list(dict.fromkeys(customer_ids))
        if not ids and not delivered:
            return {}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                self._queue_delivered(pipe, delivered)
                for cid in ids:
                    pipe.hgetall(self.customer_key(cid))
                replies = await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis load failed: {exc}") from exc
        finally:
            self.round_trips += 1
        hashes = replies[len(replies) - len(ids) :]
        return {cid: _parse(h) for cid, h in zip(ids, hashes, strict=True)}

    async def commit(self, writes: Sequence[CustomerWrite]) -> set[str]:
        if not writes:
            return set()
        nonces = self.nonces.assign(writes)
        try:
            results = await self._run_commit(writes, nonces)
        except NoScriptError:
            # A new or restarted Redis has no script cache: load the script and send again.
            # No customer was written (every EVALSHA failed); the index commands that ran
            # are idempotent and run again.
            try:
                await self.redis.script_load(COMMIT_SCRIPT)
                results = await self._run_commit(writes, nonces)
            except _ERRORS as exc:
                raise StoreUnavailable(f"redis commit failed: {exc}") from exc
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis commit failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return {w.customer_id for w, ok in zip(writes, results, strict=True) if not ok}

    async def _run_commit(self, writes: Sequence[CustomerWrite], nonces: list[bytes]) -> list[int]:
        if self.cluster:
            return await self._run_cluster_commit(writes, nonces)
        async with self.redis.pipeline(transaction=False) as pipe:
            for w, nonce in zip(writes, nonces, strict=True):
                if w.outbox_id:
                    pipe.sadd(self.outbox_key(w.partition), w.customer_id)
                fences: list[str | int] = []
                for tp, offset in w.fences.items():
                    fences += [tp, offset]
                pipe.evalsha(
                    COMMIT_SHA,
                    2,
                    self.customer_key(w.customer_id),
                    self.outbox_entries_key(w.customer_id),
                    w.expected_version,
                    w.state,
                    w.outbox_id,
                    w.outbox,
                    len(w.fences),
                    *fences,
                    nonce,
                )
                if w.wakeup_ms is None:
                    pipe.zrem(self.timers_key(w.partition), w.customer_id)
                else:
                    pipe.zadd(self.timers_key(w.partition), {w.customer_id: w.wakeup_ms})
            replies = await pipe.execute()
        results = []
        i = 0
        for w in writes:
            if w.outbox_id:
                i += 1
            results.append(int(replies[i]))
            i += 2
        return results

    async def _run_cluster_commit(
        self, writes: Sequence[CustomerWrite], nonces: list[bytes]
    ) -> list[int]:
        """Indexes first, acknowledged, then the writes: the nodes of a cluster pipeline
        run in no defined order, and a worker killed in between must leave every
        outbox entry in the pending index and every wake-up in the timers.

        A wake-up added ahead of a write that then does not happen (a crash) is the
        one the redelivered events compute again. A removal runs beside the writes:
        without its write the events are applied again and give the same state,
        which has no wake-up. A refused write changes the timer as on one server,
        where the ZADD/ZREM runs whatever the script answers.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            for w in writes:
                if w.outbox_id:
                    pipe.sadd(self.outbox_key(w.partition), w.customer_id)
                if w.wakeup_ms is not None:
                    pipe.zadd(self.timers_key(w.partition), {w.customer_id: w.wakeup_ms})
            await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for w, nonce in zip(writes, nonces, strict=True):
                fences: list[str | int] = []
                for tp, offset in w.fences.items():
                    fences += [tp, offset]
                # redis-py's cluster pipeline has no evalsha() (a node may lack the script);
                # the command routes by its first key, and a NoScriptError loads the
                # script on every master (commit) and sends again.
                pipe.execute_command(
                    "EVALSHA",
                    COMMIT_SHA,
                    2,
                    self.customer_key(w.customer_id),
                    self.outbox_entries_key(w.customer_id),
                    w.expected_version,
                    w.state,
                    w.outbox_id,
                    w.outbox,
                    len(w.fences),
                    *fences,
                    nonce,
                )
            for w in writes:
                if w.wakeup_ms is None:
                    pipe.zrem(self.timers_key(w.partition), w.customer_id)
            replies = await pipe.execute()
        return [int(r) for r in replies[: len(writes)]]

    async def due(self, partition: int, until_ms: int, limit: int) -> list[str]:
        try:
            members = await self.redis.zrangebyscore(
                self.timers_key(partition), "-inf", until_ms, start=0, num=limit
            )
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis timers failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return [m.decode() for m in members]

    async def outboxes(self, customer_ids: Sequence[str]) -> dict[str, dict[str, bytes]]:
        if not customer_ids:
            return {}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for cid in customer_ids:
                    pipe.hgetall(self.outbox_entries_key(cid))
                replies = await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis outbox read failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return {
            cid: {k.decode(): v for k, v in h.items()}
            for cid, h in zip(customer_ids, replies, strict=True)
        }

    async def pending(self, partition: int) -> list[str]:
        try:
            members = await self.redis.smembers(self.outbox_key(partition))
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis outbox index failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return sorted(m.decode() for m in members)

    async def mark_delivered(self, delivered: Sequence[Delivered]) -> None:
        if not delivered:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                self._queue_delivered(pipe, delivered)
                await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis outbox cleanup failed: {exc}") from exc
        finally:
            self.round_trips += 1

    def _queue_delivered(
        self, pipe: aioredis.client.Pipeline, delivered: Sequence[Delivered]
    ) -> None:
        for d in delivered:
            pipe.hdel(self.outbox_entries_key(d.customer_id), d.outbox_id)
            pipe.srem(self.outbox_key(d.partition), d.customer_id)

    async def erase(self, customers: Sequence[tuple[str, int]]) -> None:
        if not customers:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for cid, partition in customers:
                    pipe.delete(self.customer_key(cid), self.outbox_entries_key(cid))
                    pipe.zrem(self.timers_key(partition), cid)
                    pipe.srem(self.outbox_key(partition), cid)
                await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis erase failed: {exc}") from exc
        finally:
            self.round_trips += 1

    async def add_acceptance(self, day: date, counts: AcceptanceCounts) -> None:
        if not counts:
            return
        key = self.acceptance_key(day.isoformat())
        try:
            # One slot ({acceptance}), so one MULTI/EXEC: the day and its counts or nothing.
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self.acceptance_key("days"), {day.isoformat(): day.toordinal()})
                for (action, segment, channel), (accepted, declined) in sorted(counts.items()):
                    field = f"{action}|{segment}|{channel}"
                    if accepted:
                        pipe.hincrby(key, field + "|a", accepted)
                    if declined:
                        pipe.hincrby(key, field + "|d", declined)
                await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis acceptance update failed: {exc}") from exc
        finally:
            self.round_trips += 1

    async def acceptance_before(self, day: date) -> AcceptanceCounts:
        try:
            days = await self.redis.zrangebyscore(
                self.acceptance_key("days"), "-inf", day.toordinal() - 1
            )
            async with self.redis.pipeline(transaction=False) as pipe:
                for d in days:
                    pipe.hgetall(self.acceptance_key(d.decode()))
                hashes = await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis acceptance read failed: {exc}") from exc
        finally:
            self.round_trips += 1
        total: AcceptanceCounts = {}
        for h in hashes:
            for name, value in h.items():
                action, segment, channel, kind = name.decode().split("|")
                a, d = total.get((action, segment, channel), (0, 0))
                n = int(value)
                total[(action, segment, channel)] = (a + n, d) if kind == "a" else (a, d + n)
        return total

    async def ping(self) -> float:
        started = time.perf_counter()
        try:
            await self.redis.ping()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis does not answer: {exc}") from exc
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.redis.aclose()


def _parse(h: dict[bytes, bytes]) -> StoredCustomer:
    if not h:
        return StoredCustomer(state=None, version=0)
    fences = {name[2:].decode(): int(value) for name, value in h.items() if name.startswith(b"f:")}
    return StoredCustomer(state=h.get(b"s"), version=int(h.get(b"v", b"0")), fences=fences)
