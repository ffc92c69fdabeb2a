"""The store contract suite on a real redis-server and on a real Redis Cluster of three
masters, plus Redis-only behaviour on both."""

import pytest

from impulse_stream.store.redis import RedisStore
from tests.store_contract import *  # noqa: F403
from tests.store_contract import write

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
