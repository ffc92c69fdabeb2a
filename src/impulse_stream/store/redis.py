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
* ``<p>timers:{<partition>}:<S>:<shard>`` sorted sets, ``shard`` 0 to S - 1: the
  partition's timer index, customer -> next wake-up (event-time ms), in S shards
  (``timer_shards``, default :data:`DEFAULT_TIMER_SHARDS`). A customer's shard is
  :func:`timer_shard` of its id: the same in every process and release. A shard
  stays a compact listpack up to ``zset-max-listpack-entries`` (128) members, one
  set of thousands is a skiplist (about 100 B more per customer, bench/RESULTS.md).
  ``<p>timers:{<partition>}`` string: S, the layout the partition's timers are in.
  The ``{<partition>}`` hash tag keeps a partition's shards and layout in one slot, so
  that ``due.lua`` reads all shards in one script on a cluster too. The first
  ``due`` that finds the layout missing or of another S reshards the partition
  (:meth:`RedisStore.reshard`, ``reshard.lua``): after a change of S each
  partition moves to the new layout as a worker with the new S reads it, and a
  partition of the releases before the shards, in the single set
  ``<p>timers:<partition>``, is moved into them and that set deleted.
* ``<p>outbox:<partition>`` set: customers with unacknowledged outbox entries.
* ``<p>checkpoint:<partition>`` hash: ``<topic>:<partition>`` -> the last offset
  whose effects are stored (raised only, by ``checkpoint.lua``).
* ``<p>{acceptance}:<day>`` hash: ``action|segment|channel|a`` (accepted) and
  ``...|d`` (declined) counts of one event-time day; ``<p>{acceptance}:days``
  sorted set: the days that have counts. The ``{acceptance}`` hash tag keeps
  them in one slot, so that a day's update is one MULTI/EXEC also on a cluster.

On a cluster the pending set and the checkpoint of a partition are each touched
only by single-key commands, so they need no hash tag: each lives in the slot of
its whole name; a customer's wake-up is one shard, a single-key command too. The
timers and the pending set are indexes. The
pending set is added *before* the customer's write: Redis runs a pipeline in
order, so an interrupted pipeline never leaves an outbox entry that the index
misses. A cluster runs the commands of one pipeline on several
nodes in no defined order, so there the store sends the index additions in a
round trip of their own and the customers' writes only once those are
acknowledged, and sets the applied writes' exact wake-ups in a third (two extra
round trips per commit, on a cluster only).

A wake-up changes only with an applied write: on one server ``commit.lua`` sets
it in the same script, so a zombie's refused write never moves or removes the
wake-up the partition's owner stored.

``url`` is ``redis://…`` for one server or ``redis+cluster://host:port[,…]`` for a
Redis Cluster (:mod:`impulse_stream.redis_address`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from impulse_stream.errors import StateLost, StoreUnavailable
from impulse_stream.redis_address import is_cluster_url, parse_cluster_url
from impulse_stream.store.base import (
    AcceptanceCounts,
    CustomerStore,
    CustomerWrite,
    Delivered,
    DueTimers,
    StoredCustomer,
)
from impulse_stream.store.nonce import WriteNonces

COMMIT_SCRIPT = resources.files("impulse_stream.store").joinpath("commit.lua").read_text()
COMMIT_SHA = hashlib.sha1(COMMIT_SCRIPT.encode()).hexdigest()
DUE_SCRIPT = resources.files("impulse_stream.store").joinpath("due.lua").read_text()
RESHARD_SCRIPT = resources.files("impulse_stream.store").joinpath("reshard.lua").read_text()
# The shards of each partition's timer index (settings.timer_shards, docs/settings.md).
DEFAULT_TIMER_SHARDS = 64
MAX_TIMER_SHARDS = 4096
CHECKPOINT_SCRIPT = resources.files("impulse_stream.store").joinpath("checkpoint.lua").read_text()
log = logging.getLogger(__name__)
# A cluster client also raises RedisClusterException (not a RedisError), e.g. while a
# node is down and its slots are not covered.
_ERRORS = (RedisError, RedisClusterException)

if TYPE_CHECKING:
    from impulse_stream.security import RedisSecurity

# redis-py's own retry of a command or pipeline after a dropped connection or a
# timeout: 3 more attempts, 50 ms doubling up to 500 ms, each drawn at random up
# to that bound (jitter: many workers do not reconnect in lockstep). A retried
# commit pipeline is safe: a write that did land the first time carries the
# same nonce on the second and is answered as the success it was (commit.lua).
RETRIES = 3


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), RETRIES)


def timer_shard(customer_id: str, shards: int) -> int:
    """The timer shard of a customer: the first 32 bits of SHA-1 of its UTF-8 id, modulo
    ``shards``. Stable across processes and releases (``reshard.lua`` computes the same)."""
    digest = hashlib.sha1(customer_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % shards


def check_timer_shards(shards: object) -> int:
    """``shards`` if it is a valid shard count (1 to :data:`MAX_TIMER_SHARDS`), else ValueError."""
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise ValueError(f"timer shards {shards!r}: expected an integer")
    if not 1 <= shards <= MAX_TIMER_SHARDS:
        raise ValueError(f"timer shards {shards}: expected 1 to {MAX_TIMER_SHARDS}")
    return shards


def redis_client(
    url: str, security: RedisSecurity | None = None, **options: Any
) -> aioredis.Redis | RedisCluster:
    """The one way the project builds a Redis client: URL + ACL credentials + TLS + retries.

    ``redis://``, ``rediss://`` and ``unix://`` give a client of one server;
    ``redis+cluster://`` a Redis Cluster client. Credentials in the URL win
    over ``REDIS_USERNAME`` / ``REDIS_PASSWORD``, as redis-py does for one server.
    """
    from impulse_stream.security import RedisSecurity

    kwargs = (security or RedisSecurity()).redis_kwargs(url)
    if not is_cluster_url(url):
        return aioredis.Redis.from_url(
            url,
            decode_responses=False,
            retry=_retry(),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            **kwargs,
            **options,
        )
    address = parse_cluster_url(url)
    if address.username is not None:
        kwargs["username"] = address.username
    if address.password is not None:
        kwargs["password"] = address.password
    # The cluster client retries connection errors, timeouts and a cluster that is
    # down (a failover) itself, re-reading the slot map between attempts.
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        decode_responses=False,
        retry=_retry(),
        **kwargs,
        **options,
    )


class RedisStore(CustomerStore):
    def __init__(
        self,
        url: str,
        prefix: str = "is:",
        client: aioredis.Redis | RedisCluster | None = None,
        security: RedisSecurity | None = None,
        timer_shards: int = DEFAULT_TIMER_SHARDS,
    ):
        if "{" in prefix or "}" in prefix:
            # A brace in the prefix would become the keys' hash tag on a cluster.
            raise ValueError(f"the Redis key prefix {prefix!r} must not contain braces")
        self.prefix = prefix
        self.redis: aioredis.Redis | RedisCluster = client or redis_client(url, security)
        self.cluster = isinstance(self.redis, RedisCluster)
        self.round_trips = 0
        self.nonces = WriteNonces()
        self.timer_shards = check_timer_shards(timer_shards)
        self._shard_keys: dict[tuple[int, int], list[str]] = {}
        self._due = self.redis.register_script(DUE_SCRIPT)
        self._reshard = self.redis.register_script(RESHARD_SCRIPT)

    def customer_key(self, customer_id: str) -> str:
        return f"{self.prefix}c:{{{customer_id}}}"

    def outbox_entries_key(self, customer_id: str) -> str:
        return f"{self.prefix}o:{{{customer_id}}}"

    def timer_layout_key(self, partition: int) -> str:
        """The shard count S the partition's timers are stored in (a string)."""
        return f"{self.prefix}timers:{{{partition}}}"

    def timer_shard_keys(self, partition: int, shards: int | None = None) -> list[str]:
        """The partition's timer shards of a layout of ``shards`` (default: this store's)."""
        s = self.timer_shards if shards is None else shards
        keys = self._shard_keys.get((partition, s))
        if keys is None:  # built once per partition: due sends them with every call
            keys = [f"{self.prefix}timers:{{{partition}}}:{s}:{i}" for i in range(s)]
            self._shard_keys[(partition, s)] = keys
        return list(keys)

    def timers_key(self, partition: int, customer_id: str, shards: int | None = None) -> str:
        """The timer shard that holds ``customer_id``'s wake-up."""
        s = self.timer_shards if shards is None else shards
        return f"{self.prefix}timers:{{{partition}}}:{s}:{timer_shard(customer_id, s)}"

    def legacy_timers_key(self, partition: int) -> str:
        """The partition's single timer set of the releases before the shards."""
        return f"{self.prefix}timers:{partition}"

    def outbox_key(self, partition: int) -> str:
        return f"{self.prefix}outbox:{partition}"

    def checkpoint_key(self, partition: int) -> str:
        return f"{self.prefix}checkpoint:{partition}"

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

    async def commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]] | None = None,
        expected: Collection[int] = (),
    ) -> set[str]:
        if not writes and not marks:
            return set()
        nonces = self.nonces.assign(writes)
        marks = marks or {}
        try:
            results, raised = await self._run_commit(writes, marks, expected, nonces)
        except NoScriptError:
            # A new or restarted Redis has no script cache: load the script and send again.
            # No customer was written (every EVALSHA failed); the index commands that ran
            # are idempotent and run again.
            try:
                await self.redis.script_load(COMMIT_SCRIPT)
                results, raised = await self._run_commit(writes, marks, expected, nonces)
            except _ERRORS as exc:
                raise StoreUnavailable(f"redis commit failed: {exc}") from exc
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis commit failed: {exc}") from exc
        finally:
            self.round_trips += 1
        for p, ok in zip(sorted(marks), raised, strict=True):
            if not ok:
                raise StateLost(p, f"checkpoint {self.checkpoint_key(p)} was written and is gone")
        return {w.customer_id for w, ok in zip(writes, results, strict=True) if not ok}

    async def _run_commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]],
        expected: Collection[int],
        nonces: list[bytes],
    ) -> tuple[list[int], list[int]]:
        """The writes' replies (1 written, 0 refused) and, per partition of ``marks`` in
        order, whether its checkpoint was raised."""
        if self.cluster:
            return await self._run_cluster_commit(writes, marks, expected, nonces)
        async with self.redis.pipeline(transaction=False) as pipe:
            self._queue_marks(pipe, marks, expected)
            for w, nonce in zip(writes, nonces, strict=True):
                if w.outbox_id:
                    pipe.sadd(self.outbox_key(w.partition), w.customer_id)
                fences: list[str | int] = []
                for tp, offset in w.fences.items():
                    fences += [tp, offset]
                # The wake-up is set inside the script, only when the write applies.
                pipe.evalsha(
                    COMMIT_SHA,
                    3,
                    self.customer_key(w.customer_id),
                    self.outbox_entries_key(w.customer_id),
                    self.timers_key(w.partition, w.customer_id),
                    w.expected_version,
                    w.state,
                    w.outbox_id,
                    w.outbox,
                    len(w.fences),
                    *fences,
                    nonce,
                    w.customer_id,
                    "" if w.wakeup_ms is None else w.wakeup_ms,
                )
            replies = await pipe.execute()
        results = []
        i = len(marks)
        for w in writes:
            if w.outbox_id:
                i += 1
            results.append(int(replies[i]))
            i += 1
        return results, [int(r) for r in replies[: len(marks)]]

    def _queue_marks(
        self, pipe: Any, marks: Mapping[int, Mapping[str, int]], expected: Collection[int]
    ) -> None:
        """One single-key EVAL of ``checkpoint.lua`` per partition (its own slot on a cluster)."""
        for p, entries in sorted(marks.items()):
            args: list[str | int] = [1 if p in expected else 0]
            for tp, offset in sorted(entries.items()):
                args += [tp, offset]
            pipe.eval(CHECKPOINT_SCRIPT, 1, self.checkpoint_key(p), *args)

    async def _run_cluster_commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]],
        expected: Collection[int],
        nonces: list[bytes],
    ) -> tuple[list[int], list[int]]:
        """Indexes first, acknowledged, then the writes: the nodes of a cluster pipeline
        run in no defined order, and a worker killed in between must leave every
        outbox entry in the pending index and every wake-up in the timers.

        The checkpoints are raised in the first round trip, with the indexes:
        ahead of the writes, as on one server, and always before the caller
        commits the offsets to Kafka. Only the second round trip's replies are
        read for the writes; the first trip's checkpoint replies say whether each was
        raised (a refused one skips the writes: the store lost the partition).

        A wake-up is added ahead of the write only if it is earlier than the stored
        one (``ZADD LT``): a write that then does not happen (a crash, or a zombie's
        refused write) leaves at most an early wake-up, which the owner's processor
        finds not due and corrects. The exact wake-up (or its removal) of each
        *applied* write is set in a third round trip, after the writes' replies, so
        a refused write never moves a wake-up later or removes it. A crash before
        the third trip leaves the early wake-up or a stale entry; either fires, finds
        nothing due and is corrected by that customer's write.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            self._queue_marks(pipe, marks, expected)
            for w in writes:
                if w.outbox_id:
                    pipe.sadd(self.outbox_key(w.partition), w.customer_id)
                if w.wakeup_ms is not None:
                    pipe.zadd(
                        self.timers_key(w.partition, w.customer_id),
                        {w.customer_id: w.wakeup_ms},
                        lt=True,
                    )
            first = await pipe.execute()
        raised = [int(r) for r in first[: len(marks)]]
        if not writes or not all(raised):
            return [0] * len(writes), raised
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
            replies = await pipe.execute()
        results = [int(r) for r in replies]
        applied = [w for w, ok in zip(writes, results, strict=True) if ok]
        if applied:
            async with self.redis.pipeline(transaction=False) as pipe:
                for w in applied:
                    key = self.timers_key(w.partition, w.customer_id)
                    if w.wakeup_ms is None:
                        pipe.zrem(key, w.customer_id)
                    else:
                        pipe.zadd(key, {w.customer_id: w.wakeup_ms})
                await pipe.execute()
        return results, raised

    async def due_and_next(self, partition: int, until_ms: int, limit: int) -> DueTimers:
        """All S shards in one script (``due.lua``): the members and order of one sorted
        set's ``ZRANGEBYSCORE -inf until_ms LIMIT 0 limit`` (score, then member bytes),
        and the smallest score of the partition's other members.

        A partition whose stored layout is not this store's S is resharded first
        (:meth:`reshard`, a few more round trips, once per partition and change).
        """
        try:
            reply = await self._due_once(partition, until_ms, limit)
            if reply[0] == 0:
                moved = await self.reshard(partition, reply[1])
                log.info(
                    "timers of partition %d: %d wake-ups moved into %d shards (from %s)",
                    partition,
                    moved,
                    self.timer_shards,
                    f"{reply[1].decode()} shards" if reply[1] else "the single set, if any",
                )
                reply = await self._due_once(partition, until_ms, limit)
                if reply[0] == 0:  # another worker's S moved it meanwhile: try again later
                    raise StoreUnavailable(
                        f"the timers of partition {partition} are being resharded to "
                        f"{reply[1].decode() or '?'} shards by another worker "
                        f"(this one has {self.timer_shards})"
                    )
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis timers failed: {exc}") from exc
        finally:
            self.round_trips += 1
        later = float(reply[1]) if reply[1] is not None else None
        flat = reply[2:]
        found = sorted(
            (float(score), member) for member, score in zip(flat[0::2], flat[1::2], strict=True)
        )
        if 0 <= limit < len(found):
            cut = found[limit][0]
            later = cut if later is None else min(later, cut)
            found = found[:limit]
        return DueTimers(
            [member.decode() for _, member in found], int(later) if later is not None else None
        )

    async def _due_once(self, partition: int, until_ms: int, limit: int) -> list[Any]:
        keys = [self.timer_layout_key(partition), *self.timer_shard_keys(partition)]
        return cast(
            "list[Any]",
            await self._due(keys=keys, args=[self.timer_shards, until_ms, limit]),
        )

    async def reshard(self, partition: int, stored: bytes | str = b"") -> int:
        """Move the partition's timers into this store's layout of S shards and record S.

        ``stored`` is the layout found (the shard count, empty for none). With a
        layout of another S, its shards are moved in one script (``reshard.lua``).
        Without one the partition's single set of the releases before the shards
        (``<prefix>timers:<partition>``) is moved: on one server in the same
        script; on a cluster, where that set lives in another slot, its members
        are read first, moved, the set deleted and only then the layout recorded,
        so that a worker stopped in between moves them again. A wake-up the new
        layout already holds is newer and stays. Returns how many were moved.
        """
        text = stored.decode() if isinstance(stored, bytes) else stored
        old = int(text) if text.isdigit() and int(text) != self.timer_shards else 0
        keys = [self.timer_layout_key(partition), *self.timer_shard_keys(partition)]
        keys += self.timer_shard_keys(partition, old) if old else []
        base = [self.timer_shards, len(keys) - 1 - self.timer_shards]
        legacy = self.legacy_timers_key(partition)
        if old or not self.cluster:
            args = [*base, 0 if old else 1, 1]
            return int(await self._reshard(keys=keys + ([] if old else [legacy]), args=args))
        pairs = cast(
            "list[tuple[bytes, float]]", await self.redis.zrange(legacy, 0, -1, withscores=True)
        )
        moved = 0
        if pairs:
            flat: list[bytes | int] = []
            for member, score in pairs:
                flat += [member, int(score)]
            moved = int(await self._reshard(keys=keys, args=[*base, 0, 0, *flat]))
            await self.redis.delete(legacy)
        await self._reshard(keys=keys, args=[*base, 0, 1])
        return moved

    async def _hgetall_many(self, keys: Sequence[str], what: str) -> list[dict[bytes, bytes]]:
        """Every hash of ``keys`` in one pipelined round trip."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                replies: list[dict[bytes, bytes]] = await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis {what} read failed: {exc}") from exc
        finally:
            self.round_trips += 1
        return replies

    async def outboxes(self, customer_ids: Sequence[str]) -> dict[str, dict[str, bytes]]:
        if not customer_ids:
            return {}
        replies = await self._hgetall_many(
            [self.outbox_entries_key(cid) for cid in customer_ids], "outbox"
        )
        return {
            cid: {k.decode(): v for k, v in h.items()}
            for cid, h in zip(customer_ids, replies, strict=True)
        }

    async def pending(self, partition: int) -> list[str]:
        try:
            members = cast("set[bytes]", await self.redis.smembers(self.outbox_key(partition)))
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
        self,
        pipe: aioredis.client.Pipeline | ClusterPipeline,
        delivered: Sequence[Delivered],
    ) -> None:
        for d in delivered:
            pipe.hdel(self.outbox_entries_key(d.customer_id), d.outbox_id)
            pipe.srem(self.outbox_key(d.partition), d.customer_id)

    async def erase(self, customers: Sequence[tuple[str, int]]) -> None:
        if not customers:
            return
        try:
            # The wake-up is in this store's layout, or in the one a worker with another
            # S recorded (it has not resharded yet), or in the single set of before.
            partitions = sorted({p for _, p in customers})
            async with self.redis.pipeline(transaction=False) as pipe:
                for p in partitions:
                    pipe.get(self.timer_layout_key(p))
                replies = await pipe.execute()
            self.round_trips += 1
            layouts = {
                p: {self.timer_shards} | ({int(r)} if r and r.isdigit() else set())
                for p, r in zip(partitions, replies, strict=True)
            }
            async with self.redis.pipeline(transaction=False) as pipe:
                for cid, partition in customers:
                    pipe.delete(self.customer_key(cid), self.outbox_entries_key(cid))
                    for shards in sorted(layouts[partition]):
                        pipe.zrem(self.timers_key(partition, cid, shards), cid)
                    pipe.zrem(self.legacy_timers_key(partition), cid)
                    pipe.srem(self.outbox_key(partition), cid)
                await pipe.execute()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis erase failed: {exc}") from exc
        finally:
            self.round_trips += 1

    async def checkpoints(self, partitions: Sequence[int]) -> dict[int, dict[str, int]]:
        if not partitions:
            return {}
        replies = await self._hgetall_many(
            [self.checkpoint_key(p) for p in partitions], "checkpoint"
        )
        return {
            p: {k.decode(): int(v) for k, v in h.items()}
            for p, h in zip(partitions, replies, strict=True)
        }

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
            days = cast(
                "list[bytes]",
                await self.redis.zrangebyscore(
                    self.acceptance_key("days"), "-inf", day.toordinal() - 1
                ),
            )
            async with self.redis.pipeline(transaction=False) as pipe:
                for day_key in days:
                    pipe.hgetall(self.acceptance_key(day_key.decode()))
                hashes: list[dict[bytes, bytes]] = await pipe.execute()
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

    def key_families(self) -> tuple[str, ...]:
        """The beginnings of every key this store writes (its layout, above)."""
        p = self.prefix
        return (
            f"{p}c:{{",
            f"{p}o:{{",
            f"{p}timers:",
            f"{p}outbox:",
            f"{p}checkpoint:",
            f"{p}{{acceptance}}:",
        )

    async def wipe(self) -> int:
        """Delete the keys of this store's layout under its exact prefix, and nothing else.

        SCAN's glob is given the prefix with its glob characters escaped, and
        every key found is checked again against the key families, so that a
        prefix ``gl`` never touches another deployment's ``gl2:`` or ``glx``.

        On a cluster SCAN sees one node's keys only: redis-py's cluster
        ``scan_iter`` runs it on every master, each with its own cursor, and
        ``unlink`` sends one UNLINK per slot.
        """
        families = self.key_families()
        deleted = 0
        try:
            for family in families:
                batch: list[bytes] = []
                async for key in self.redis.scan_iter(match=_glob_escape(family) + "*", count=1000):
                    if key.decode("utf-8", "replace").startswith(family):
                        batch.append(key)
                    if len(batch) >= 1000:
                        deleted += await self.redis.unlink(*batch)
                        batch = []
                if batch:
                    deleted += await self.redis.unlink(*batch)
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis wipe failed: {exc}") from exc
        return deleted

    async def ping(self) -> float:
        started = time.perf_counter()
        try:
            await self.redis.ping()
        except _ERRORS as exc:
            raise StoreUnavailable(f"redis does not answer: {exc}") from exc
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.redis.aclose()


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _parse(h: dict[bytes, bytes]) -> StoredCustomer:
    if not h:
        return StoredCustomer(state=None, version=0)
    fences = {name[2:].decode(): int(value) for name, value in h.items() if name.startswith(b"f:")}
    return StoredCustomer(state=h.get(b"s"), version=int(h.get(b"v", b"0")), fences=fences)
