"""A data engineer replays a range of the input topics into a namespace of its own: the
same messages, byte for byte, as the live worker published, and the live state untouched."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from impulse_stream.contract import topics
from impulse_stream.store.redis import RedisStore
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, inbound_call, order_stream
from tests.support.worker_process import run_replay

pytestmark = pytest.mark.integration

OUTPUTS = (topics.IMPULSES, topics.OPPORTUNITIES, topics.ATTRIBUTIONS)


def outputs(bootstrap: str, prefix: str) -> dict[tuple[str, str], set[bytes]]:
    got: dict[tuple[str, str], set[bytes]] = {}
    for topic in OUTPUTS:
        for r in asyncio.run(read_all(bootstrap, prefix + topic, settle=1.0, timeout=60)):
            got.setdefault((topic, r.headers["ce_id"].decode()), set()).add(r.value or b"")
    return got


def settled(workers) -> dict[tuple[str, str], set[bytes]]:
    """The live outputs once the worker has processed everything (nothing new for 5 s)."""
    before: dict[tuple[str, str], set[bytes]] = {}
    deadline = time.monotonic() + 120
    while True:
        now = outputs(workers.bootstrap, workers.prefix)
        if now and now == before:
            return now
        assert time.monotonic() < deadline, "the live worker did not settle"
        before = now
        time.sleep(5)


def test_a_replayed_range_publishes_what_the_live_worker_did_byte_for_byte(
    workers, redis_url, redis_prefix
):
    w = workers.start()
    orders = list(order_stream(150, seed=31))
    calls = [
        inbound_call(e["customer_id"], T0 + timedelta(hours=2))
        for e in orders
        if e["status"] == "started"
    ][::3]
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.ORDERS, orders))
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.CONTACTS, calls))
    live = settled(workers)
    assert live
    live_keys = asyncio.run(_keys(redis_url, redis_prefix))

    env = {**w.env, "PYTHONUNBUFFERED": "1"}
    first = run_replay(env, "r1", "--from", "2020-01-01", "--to", "2100-01-01", timeout=180)
    assert first.returncode == 0, first.stderr
    assert f"replayed {len(orders) + len(calls):,} events" in first.stdout
    replayed = outputs(workers.bootstrap, "replay-r1." + workers.prefix)
    assert {k: v for k, v in replayed.items()} == {k: v for k, v in live.items()}
    assert all(len(v) == 1 for v in replayed.values())  # one content per id

    again = run_replay(env, "r1", "--from", "0", "--to", "100000", timeout=180)
    assert again.returncode == 0, again.stderr
    twice = outputs(workers.bootstrap, "replay-r1." + workers.prefix)
    assert twice == replayed  # byte-identical the second time (same ids, same bytes)

    # the live namespace is untouched
    assert asyncio.run(_keys(redis_url, redis_prefix)) == live_keys
    assert outputs(workers.bootstrap, workers.prefix) == live


async def _keys(redis_url: str, prefix: str) -> list[bytes]:
    store = RedisStore(redis_url, prefix=prefix)
    try:
        found = [k async for k in store.redis.scan_iter(match=prefix + "*")]
        return sorted(k for k in found if not k.startswith((prefix + "replay-").encode()))
    finally:
        await store.close()


def test_replay_refuses_a_bad_name_range_or_workers_in_one_line(workers):
    w = workers.start(ready=False)
    for args in (
        ["--name", "Bad Name", "--from", "0", "--to", "10"],
        ["--name", "ok", "--from", "0"],
        ["--name", "ok", "--from", "yesterday", "--to", "10"],
        ["--name", "ok", "--from", "10", "--to", "5"],
        ["--name", "ok", "--from", "0", "--to", "10", "--topics", "nope"],
        ["--name", "ok", "--from", "0", "--to", "10", "--workers", "0"],
        ["--name", "ok", "--from", "0", "--to", "10", "--workers", "-2"],
        ["--name", "ok", "--from", "0", "--to", "10", "--workers", "two"],
        ["--name", "ok", "--from", "0", "--to", "10", "--workers", "1.5"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "impulse_stream.cli", "replay", *args],
            env={**os.environ, **w.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        if "--workers" in args:
            assert "--workers" in result.stderr and "at least 1" in result.stderr
