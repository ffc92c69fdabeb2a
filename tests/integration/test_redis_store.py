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
