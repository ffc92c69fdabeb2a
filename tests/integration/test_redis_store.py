"""The store contract suite on a real redis-server and on a real Redis Cluster of three
masters, plus Redis-only behaviour on both."""

import shutil
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.errors import StateLost, StoreUnavailable
from impulse_stream.infra import Stack
from impulse_stream.store.redis import RedisStore
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    RetryPolicy,
)
from tests.store_contract import *  # noqa: F403
from tests.store_contract import write
from tests.support.scenarios import T0, abandoned_card_order

pytestmark = pytest.mark.integration


@pytest.fixture(params=["server", "cluster"])
async def store(request, redis_prefix):
    url = request.getfixturevalue("redis_url" if request.param == "server" else "redis_cluster_url")
    s = RedisStore(url, prefix=redis_prefix)
    assert s.cluster == (request.param == "cluster")
    yield s
    await s.close()


async def test_customer_keys_carry_a_cluster_hash_tag(store):
    assert store.customer_key("c-42").endswith("c:{c-42}")


async def test_every_write_touches_one_slot_and_customers_spread_over_the_masters(
    redis_cluster_url, redis_prefix
):
    store = RedisStore(redis_cluster_url, prefix=redis_prefix)
    try:
        customers = [f"c-{i:04d}" for i in range(60)]
        await store.commit([write(cid, outbox_id="1", outbox=b"x") for cid in customers])
        slots = {
            cid: {store.redis.keyslot(store.customer_key(cid)),
                  store.redis.keyslot(store.outbox_entries_key(cid))}
            for cid in customers
        }  # fmt: skip
        assert all(len(s) == 1 for s in slots.values())
        owners = {store.redis.get_node_from_key(store.customer_key(cid)).name for cid in customers}
        assert len(owners) == 3
        days = {store.redis.keyslot(store.acceptance_key(d)) for d in ("days", "2026-11-23")}
        assert len(days) == 1
        assert await store.pending(0) == sorted(customers)
    finally:
        await store.close()


async def _own_keys_on(node: tuple[str, int], prefix: str) -> int:
    """Keys under ``prefix`` (not the neighbour's ``prefix + 'x:'``) on one node, read by a
    client of that node alone."""
    client = aioredis.Redis(host=node[0], port=node[1])
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
    finally:
        await client.aclose()
    return sum(not k.decode().startswith(prefix + "x:") for k in keys)


async def test_wipe_on_a_cluster_deletes_the_stores_keys_on_every_master(
    redis_cluster_url, redis_prefix
):
    store = RedisStore(redis_cluster_url, prefix=redis_prefix)
    other = RedisStore(redis_cluster_url, prefix=redis_prefix + "x:")
    try:
        customers = [f"c-{i:04d}" for i in range(60)]
        marks = {p: {f"2:{p}": 10 + p} for p in range(6)}
        await store.commit(
            [write(cid, outbox_id="1", outbox=b"x", wakeup_ms=5) for cid in customers], marks
        )
        await other.commit([write("kept")])

        masters = [(n.host, n.port) for n in store.redis.get_primaries()]
        assert len(masters) == 3
        before = [await _own_keys_on(node, redis_prefix) for node in masters]
        assert all(before), before  # every master holds some of the store's keys
        deleted = await store.wipe()
        # 60 records, 60 outbox hashes, the timer shards that hold them, the pending
        # set, 6 checkpoints
        shards = {store.timers_key(0, cid) for cid in customers}
        assert deleted == 60 + 60 + len(shards) + 1 + 6
        assert [await _own_keys_on(node, redis_prefix) for node in masters] == [0, 0, 0]
        assert (await other.load(["kept"]))["kept"].version == 1  # prefix "…x:" untouched
    finally:
        await other.wipe()
        await other.close()
        await store.close()


async def test_a_cluster_url_with_a_bad_node_list_is_a_config_error():
    from impulse_stream.errors import ConfigError

    with pytest.raises(ConfigError, match="REDIS_URL"):
        RedisStore("redis+cluster://127.0.0.1:notaport")


async def test_write_survives_a_lost_script_cache(store):
    await store.commit([write("a")])
    await store.redis.script_flush()
    assert await store.commit([write("a", version=1, offset=11)]) == set()
    assert (await store.load(["a"]))["a"].version == 2


async def test_a_large_outbox_entry_keeps_the_customer_record_a_listpack(store):
    await store.commit([write("big", outbox_id="1", outbox=b"m" * 9000)])
    assert await store.redis.object("encoding", store.customer_key("big")) == b"listpack"


async def test_a_typical_customer_costs_less_than_a_kibibyte(store):
    from impulse_stream.catalogue_loader import load_catalogue
    from impulse_stream.core.codec import encode_state
    from impulse_stream.core.engine import DecisionEngine
    from tests.unit.core.test_codec import typical_customer

    state = encode_state(typical_customer(DecisionEngine(load_catalogue())))
    fences = {f"{topic}:3": 10**9 + topic for topic in range(6)}  # one per input topic
    await store.commit([write("c-typical-0001", state=state, fences=fences, wakeup_ms=10**12)])
    used = await store.redis.memory_usage(store.customer_key("c-typical-0001"))
    assert used < 1024, used


async def test_wipe_deletes_only_its_own_prefix_whatever_glob_characters_it_holds(redis_url):
    neighbours = ["gl2:c:{x}", "glx", "gl:c:{y}", "k[1]x:c:{z}", "k1:c:{z}", "kx:c:{z}"]
    base = RedisStore(redis_url, prefix="")
    try:
        for key in neighbours:
            await base.redis.set(key, b"keep")
        for prefix in ("gl", "k[1]:"):
            mine = RedisStore(redis_url, prefix=prefix)
            await mine.commit([write("c1")], {0: {"2:0": 1}})
            assert await mine.wipe() == 2  # the customer's record and the checkpoint
            assert (await mine.load(["c1"]))["c1"].state is None
            await mine.close()
        assert [await base.redis.get(k) for k in neighbours] == [b"keep"] * len(neighbours)
    finally:
        await base.redis.delete(*neighbours)
        await base.close()


class _RestartedEmptyAfterTheCommit(RedisStore):
    """A real Redis that, once armed, dies right after it ran a commit pipeline and
    comes back without its data: the worker sees an error and sends the commit again."""

    def __init__(self, url: str, prefix: str, stack: Stack) -> None:
        super().__init__(url, prefix=prefix)
        self.stack = stack
        self.armed = False
        self.restarts = 0

    async def _run_commit(self, *args: Any) -> Any:
        replies = await super()._run_commit(*args)
        if self.armed:
            self.armed = False
            self.stack.kill_redis(hard=True)
            shutil.rmtree(self.stack.settings.data_dir / "redis" / "appendonlydir")
            self.stack.start_redis()
            self.restarts += 1
            raise StoreUnavailable("redis commit failed: connection lost before the reply")
        return replies


def _orders(events: list[dict[str, Any]], start: int) -> list[InboundMessage]:
    return [
        InboundMessage("orders.flow", 0, start + n, e["customer_id"].encode(), orjson.dumps(e))
        for n, e in enumerate(events)
    ]


async def test_redis_back_empty_during_the_commit_stops_the_partition_on_the_retried_commit(
    stack, redis_url, redis_prefix
):
    # One input topic on the partition: the retried pipeline would raise every entry of
    # the checkpoint again, and the next check would find nothing missing.
    store = _RestartedEmptyAfterTheCommit(redis_url, redis_prefix, stack)
    processor = BatchProcessor(
        DecisionEngine(load_catalogue()),
        store,
        CollectingPublisher(),
        retry=RetryPolicy(first_delay=0.05, max_delay=0.2),
        wall_clock=lambda: (T0 + timedelta(days=2)).timestamp(),
    )
    events = abandoned_card_order("c1")
    try:
        await processor.process(_orders(events[:2], 0))
        store.armed = True
        with pytest.raises(StateLost, match=r"partition 0: .*is gone.*rebuild"):
            await processor.process(_orders(events[2:], 2))
        assert store.restarts == 1
        assert await store.checkpoints([0]) == {0: {}}  # not created again
    finally:
        await store.close()
