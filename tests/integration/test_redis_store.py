"""The store contract suite on a real redis-server, plus Redis-only behaviour."""

import pytest

from impulse_stream.store.redis import RedisStore
from tests.store_contract import *  # noqa: F403
from tests.store_contract import write

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(redis_url, redis_prefix):
    s = RedisStore(redis_url, prefix=redis_prefix)
    yield s
    await s.close()


async def test_customer_keys_carry_a_cluster_hash_tag(store):
    assert store.customer_key("c-42").endswith("c:{c-42}")


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
