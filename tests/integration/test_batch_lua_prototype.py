"""The bench's batch-Lua prototype store (bench/prototypes/batch_lua.py) keeps RedisStore's
semantics: the store contract suite passes on it, and the same writes leave the same keys
and values in Redis as RedisStore's pipelines do."""

from __future__ import annotations

import random

import pytest
import redis
from bench.prototypes.batch_lua import BatchLuaStore
from bench.prototypes.measure import redis_contents

from impulse_stream.store.base import CustomerWrite, Delivered
from impulse_stream.store.redis import RedisStore
from tests.store_contract import *  # noqa: F403

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(redis_url, redis_prefix):
    s = BatchLuaStore(redis_url, prefix=redis_prefix)
    yield s
    await s.wipe()
    await s.close()


def _writes(rng: random.Random, versions: dict[str, int], round_: int) -> list[CustomerWrite]:
    """Writes of random customers: most on the version read, some stale, some fenced."""
    writes = []
    for cid in rng.sample(sorted(versions), 12):
        stale = rng.random() < 0.15
        offset = round_ * 10 + (0 if rng.random() < 0.1 else rng.randrange(1, 9))
        outbox = rng.random() < 0.5
        wake = rng.choice([None, 1_796_000_000_000 + rng.randrange(10**9)])
        writes.append(
            CustomerWrite(
                customer_id=cid,
                partition=rng.randrange(3),
                expected_version=versions[cid] - (1 if stale else 0),
                state=rng.randbytes(rng.randrange(1, 400)),
                fences={f"bank.transactions:{rng.randrange(3)}": offset, "orders.flow:1": offset},
                outbox_id=str(round_) if outbox else "",
                outbox=rng.randbytes(50) if outbox else b"",
                wakeup_ms=wake,
            )
        )
    return writes


async def test_the_same_writes_leave_the_same_keys_and_values_as_redis_store(
    redis_url, redis_prefix
):
    reference = RedisStore(redis_url, prefix=redis_prefix + "ref:")
    prototype = BatchLuaStore(redis_url, prefix=redis_prefix + "pro:")
    rng = random.Random(14)
    customers = [f"c-{i}" for i in range(30)]
    versions = dict.fromkeys(customers, 0)
    delivered: list[Delivered] = []
    try:
        for round_ in range(1, 8):
            loaded = [await s.load(customers, delivered) for s in (reference, prototype)]
            assert loaded[0] == loaded[1]
            versions = {cid: c.version for cid, c in loaded[0].items()}
            writes = _writes(rng, versions, round_)
            marks = {0: {"bank.transactions:0": round_ * 10}}
            refused = [await s.commit(writes, marks) for s in (reference, prototype)]
            assert refused[0] == refused[1]
            delivered = [
                Delivered(w.customer_id, w.partition, w.outbox_id)
                for w in writes
                if w.outbox_id and w.customer_id not in refused[0]
            ]
        assert any(refused), "some writes were refused: the fence and the version were tried"
        client = redis.Redis.from_url(redis_url)
        try:
            ours = redis_contents(client, redis_prefix + "pro:")
            theirs = redis_contents(client, redis_prefix + "ref:")
        finally:
            client.close()
        assert ours == theirs
        assert len(ours) > 1000  # customers, outboxes, timers and pending sets were compared
    finally:
        for s in (reference, prototype):
            await s.wipe()
            await s.close()
