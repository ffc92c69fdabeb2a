"""The sharded timer index of RedisStore on a real redis-server and a real Redis Cluster:
``due`` over the shards answers as one sorted set did, the single set of the releases
before is moved into the shards, a change of the shard count reshards, erasure finds
the wake-up in any layout."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impulse_stream.store.redis import RedisStore, timer_shard
from tests.store_contract import write

pytestmark = pytest.mark.integration

URLS = ["redis_url", "redis_cluster_url"]

# Ids whose UTF-8 bytes order differently from their code points would in a locale:
# upper and lower case, digits, accents, a character of three bytes.
MEMBERS = st.text(alphabet="aAbB09_-éßÿ€", min_size=1, max_size=6)


async def _due_both_ways(
    url: str, wakeups: dict[str, int], shards: int, until: int, limit: int
) -> tuple[list[str], list[str]]:
    """``due`` of a store of ``shards`` shards holding ``wakeups`` (written by ``commit``),
    and ZRANGEBYSCORE of one sorted set holding the same."""
    prefix = f"h{uuid.uuid4().hex[:8]}:"
    store = RedisStore(url, prefix=prefix, timer_shards=shards)
    single = f"{prefix}single"
    try:
        await store.commit([write(cid, wakeup_ms=at) for cid, at in wakeups.items()])
        if wakeups:
            await store.redis.zadd(single, wakeups)
        got = await store.due(0, until, limit)
        want = await store.redis.zrangebyscore(single, "-inf", until, start=0, num=limit)
        return got, [m.decode() for m in want]
    finally:
        await store.redis.delete(single)
        await store.wipe()
        await store.close()


@pytest.mark.parametrize("url_fixture", URLS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    wakeups=st.dictionaries(MEMBERS, st.integers(0, 40), max_size=40),
    shards=st.sampled_from([1, 2, 3, 7, 64]),
    until=st.integers(-1, 45),
    limit=st.integers(-1, 45),
)
def test_due_over_the_shards_is_zrangebyscore_of_one_sorted_set(
    request, url_fixture, wakeups, shards, until, limit
):
    url = request.getfixturevalue(url_fixture)
    got, want = asyncio.run(_due_both_ways(url, wakeups, shards, until, limit))
    assert got == want


async def _moved_and_due(
    url: str,
    old: dict[str, int],
    before: dict[str, int],
    after: dict[str, int],
    shards: tuple[int, int],
    until: int,
) -> tuple[list[str], list[str]]:
    """``old`` in the single set of before, ``before`` written by a store of ``shards[0]``
    shards (its layout recorded), ``after`` by one of ``shards[1]`` that then reads the
    due timers; and what one sorted set holding the newest wake-up of each says."""
    prefix = f"h{uuid.uuid4().hex[:8]}:"
    first = RedisStore(url, prefix=prefix, timer_shards=shards[0])
    second = RedisStore(url, prefix=prefix, timer_shards=shards[1])
    single = f"{prefix}single"
    versions: dict[str, int] = {}

    async def commit(store: RedisStore, wakeups: dict[str, int]) -> None:
        writes = []
        for cid, at in wakeups.items():
            writes.append(
                write(
                    cid,
                    version=versions.get(cid, 0),
                    offset=10 + versions.get(cid, 0),
                    wakeup_ms=at,
                )
            )
            versions[cid] = versions.get(cid, 0) + 1
        assert await store.commit(writes) == set()

    try:
        if old:
            await first.redis.zadd(first.legacy_timers_key(0), old)
        await commit(first, before)
        await first.due(0, -1, 0)  # moves the single set, records shards[0]
        await commit(second, after)
        got = await second.due(0, until, -1)
        newest = {**old, **before, **after}
        if newest:
            await first.redis.zadd(single, newest)
        want = await first.redis.zrangebyscore(single, "-inf", until)
        return got, [m.decode() for m in want]
    finally:
        await first.redis.delete(single)
        await first.wipe()
        await first.close()
        await second.close()


WAKEUPS = st.dictionaries(MEMBERS, st.integers(0, 40), max_size=25)


@pytest.mark.parametrize("url_fixture", URLS)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    old=WAKEUPS,
    before=WAKEUPS,
    after=WAKEUPS,
    shards=st.tuples(st.sampled_from([1, 3, 64]), st.sampled_from([1, 2, 64])),
    until=st.integers(-1, 45),
)
def test_moving_the_single_set_and_changing_the_shard_count_keep_the_newest_wake_ups(
    request, url_fixture, old, before, after, shards, until
):
    url = request.getfixturevalue(url_fixture)
    got, want = asyncio.run(_moved_and_due(url, old, before, after, shards, until))
    assert got == want


@pytest.fixture(params=URLS)
def url(request) -> str:
    return str(request.getfixturevalue(request.param))


async def _keys(store: RedisStore, prefix: str) -> set[str]:
    """Every key under ``prefix`` (on a cluster: on every master)."""
    return {k.decode() async for k in store.redis.scan_iter(match=prefix + "*", count=1000)}


async def test_every_timer_key_of_a_partition_shares_its_slot_and_names_its_layout(url):
    store = RedisStore(url, prefix="p:", timer_shards=16)
    try:
        keys = [store.timer_layout_key(3), *store.timer_shard_keys(3)]
        assert keys[:3] == ["p:timers:{3}", "p:timers:{3}:16:0", "p:timers:{3}:16:1"]
        assert len(keys) == 17
        if store.cluster:
            assert len({store.redis.keyslot(k) for k in keys}) == 1
        assert store.timers_key(3, "c-1") == f"p:timers:{{3}}:16:{timer_shard('c-1', 16)}"
    finally:
        await store.close()


async def test_the_single_timer_set_of_before_is_moved_into_the_shards_by_the_first_due(
    url, redis_prefix, caplog
):
    caplog.set_level(logging.INFO, logger="impulse_stream.store.redis")
    store = RedisStore(url, prefix=redis_prefix, timer_shards=8)
    try:
        old = {f"c-{i}": 1000 + i for i in range(30)}
        # A release before the shards: one sorted set per partition, no layout key.
        await store.redis.zadd(store.legacy_timers_key(0), {**old, "newer": 10})
        await store.redis.zadd(store.legacy_timers_key(1), {"other-partition": 5})
        # This release wrote "newer" already (a later wake-up): its own entry stays.
        await store.commit([write("newer", wakeup_ms=5000)])
        assert await store.due(0, 2000, 100) == list(old)  # in wake-up order
        assert "timers of partition 0: 30 wake-ups moved into 8 shards" in caplog.text
        assert "c-1" not in caplog.text  # counts only, no customer id
        assert not await store.redis.exists(store.legacy_timers_key(0))
        assert await store.redis.get(store.timer_layout_key(0)) == b"8"
        for cid, at in old.items():
            assert await store.redis.zscore(store.timers_key(0, cid), cid) == at
        assert await store.due(0, 5000, 100) == [*old, "newer"]
        assert await store.redis.exists(store.legacy_timers_key(1))  # partition 1 not yet
        assert await store.due(1, 10, 10) == ["other-partition"]
        assert not await store.redis.exists(store.legacy_timers_key(1))
    finally:
        await store.wipe()
        await store.close()


async def test_a_changed_shard_count_reshards_each_partition_on_its_first_due(url, redis_prefix):
    four = RedisStore(url, prefix=redis_prefix, timer_shards=4)
    eight = RedisStore(url, prefix=redis_prefix, timer_shards=8)
    try:
        wakeups = {f"c-{i:02d}": 100 * (i % 7) for i in range(40)}
        await four.commit([write(cid, wakeup_ms=at) for cid, at in wakeups.items()])
        expected = await four.due(0, 10_000, 1000)
        assert len(expected) == 40
        assert await eight.due(0, 10_000, 1000) == expected
        assert await eight.redis.get(eight.timer_layout_key(0)) == b"8"
        keys = await _keys(eight, redis_prefix + "timers:")
        assert not [k for k in keys if k.startswith(f"{redis_prefix}timers:{{0}}:4:")]
        assert await four.due(0, 300, 10) == expected[:10]  # and back again
        assert await four.redis.get(four.timer_layout_key(0)) == b"4"
    finally:
        await four.wipe()
        await four.close()
        await eight.close()


async def test_a_wake_up_written_before_the_reshard_wins_over_the_old_layouts(url, redis_prefix):
    four = RedisStore(url, prefix=redis_prefix, timer_shards=4)
    eight = RedisStore(url, prefix=redis_prefix, timer_shards=8)
    try:
        await four.commit([write("c1", wakeup_ms=1000), write("c2", wakeup_ms=1000)])
        assert await four.due(0, 1000, 10) == ["c1", "c2"]
        # The new owner (8 shards) writes c1 before it reads the partition's timers.
        await eight.commit([write("c1", version=1, offset=11, wakeup_ms=3000)])
        assert await eight.due(0, 2000, 10) == ["c2"]
        assert await eight.due(0, 3000, 10) == ["c2", "c1"]
    finally:
        await four.wipe()
        await four.close()
        await eight.close()


async def test_erasure_removes_the_wake_up_from_the_recorded_layout_and_the_old_single_set(
    url, redis_prefix
):
    four = RedisStore(url, prefix=redis_prefix, timer_shards=4)
    eight = RedisStore(url, prefix=redis_prefix, timer_shards=8)
    try:
        await four.commit([write("c1", wakeup_ms=1000), write("c2", wakeup_ms=1000)])
        assert await four.due(0, 1000, 10) == ["c1", "c2"]  # layout 4 recorded
        await eight.redis.zadd(eight.legacy_timers_key(1), {"c3": 5, "c4": 5})
        await eight.erase([("c1", 0), ("c3", 1)])  # a store of another S erases
        assert await four.due(0, 1000, 10) == ["c2"]
        assert await eight.due(0, 1000, 10) == ["c2"]
        assert await eight.due(1, 10, 10) == ["c4"]
        members = set()
        for key in await _keys(eight, redis_prefix + "timers:"):
            if await eight.redis.type(key) == b"zset":
                members |= {m.decode() for m in await eight.redis.zrange(key, 0, -1)}
        assert members == {"c2", "c4"}
    finally:
        await four.wipe()
        await four.close()
        await eight.close()


async def test_shards_of_up_to_128_customers_stay_listpacks_and_one_set_of_more_does_not(
    url, redis_prefix
):
    sharded = RedisStore(url, prefix=redis_prefix, timer_shards=8)
    single = RedisStore(url, prefix=redis_prefix + "s:", timer_shards=1)
    try:
        customers = [f"c-{i:04d}" for i in range(600)]  # 75 per shard on average
        for store in (sharded, single):
            await store.commit([write(cid, wakeup_ms=i) for i, cid in enumerate(customers)])
            assert await store.due(0, 10**6, -1) == customers
        sizes = [await sharded.redis.zcard(k) for k in sharded.timer_shard_keys(0)]
        assert sum(sizes) == 600 and max(sizes) <= 128
        for key in sharded.timer_shard_keys(0):
            assert await sharded.redis.object("encoding", key) == b"listpack"
        (key,) = single.timer_shard_keys(0)
        assert await single.redis.object("encoding", key) == b"skiplist"
    finally:
        for store in (sharded, single):
            await store.wipe()
            await store.close()
