"""A data engineer rebuilds the state from the topics: same state, same outputs."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from impulse_stream.store.redis import RedisStore
from tests.integration.test_worker_e2e import abandoned_then_called, card_offers, read, send
from tests.support.scenarios import T0

pytestmark = pytest.mark.integration

CUSTOMERS = ["c-501", "c-502", "c-503"]


async def states(redis_url, prefix):
    store = RedisStore(redis_url, prefix=prefix)
    try:
        loaded = await store.load(CUSTOMERS)
        return {cid: s.state for cid, s in loaded.items()}, await store.redis.dbsize()
    finally:
        await store.close()


def test_rebuild_from_the_topics_gives_the_same_state_and_outputs(workers, redis_url, redis_prefix):
    w = workers.start()
    for cid in CUSTOMERS:
        events = abandoned_then_called(cid, T0)
        send(workers, "orders.flow", events[:-1])
        send(workers, "channel.contacts", events[-1:])
    read(workers, "opportunities", lambda r: len(card_offers(r)) >= 3)
    before, _ = asyncio.run(states(redis_url, redis_prefix))
    assert all(before.values())
    views = {cid: w.get(f"/customers/{cid}?at=2026-11-24T09:00:00Z") for cid in CUSTOMERS}
    assert all(status == 200 for status, _ in views.values())
    assert w.stop() == 0

    result = subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", "rebuild", "--yes"],
        env=w.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "rewound 36 input partitions" in result.stdout
    emptied, _ = asyncio.run(states(redis_url, redis_prefix))
    assert not any(emptied.values())

    w2 = workers.start("w2")
    records = read(workers, "opportunities", lambda r: len(card_offers(r)) >= 6, timeout=90)
    by_id: dict[str, set[bytes]] = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"].decode(), set()).add(r.value)
    assert all(len(values) == 1 for values in by_id.values())  # republished byte for byte
    after, _ = asyncio.run(states(redis_url, redis_prefix))
    assert after == before
    for cid in CUSTOMERS:  # every customer's 360 view as before the wipe
        assert w2.get(f"/customers/{cid}?at=2026-11-24T09:00:00Z") == views[cid]


def test_rebuild_asks_for_confirmation(workers):
    w = workers.start(ready=False)
    result = subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", "rebuild"],
        env=w.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--yes" in result.stderr
