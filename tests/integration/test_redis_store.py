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


async def test_a_customer_costs_well_under_a_kibibyte(store):
    state = bytes(range(256)) * 2  # a 512-byte encoded state
    await store.commit([write("m", state=state, fences={f"t{i}:3": 10**9 for i in range(6)})])
    used = await store.redis.memory_usage(store.customer_key("m"))
    assert used < 1024, used
