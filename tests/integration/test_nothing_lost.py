"""Nothing lost on the real worker: the regression corpus of the poison messages that once
made valid events vanish, state loss after a Redis restart without its data, a rebuild
that cannot destroy."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time

import orjson
import pytest

from impulse_stream.contract import topics
from impulse_stream.store.redis import RedisStore
from tests.integration.test_faults import send_chunks, verify, wait_for_outputs
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, iso, order_step, order_stream, profile

pytestmark = pytest.mark.integration


def transaction(cid: str, **kw: object) -> dict:
    return {
        "event_id": f"tx-{cid}",
        "customer_id": cid,
        "account_id": "acc-1",
        "booked_at": iso(T0),
        "amount": "3250.00",
        "currency": "EUR",
        "direction": "credit",
        "category": "salary",
        "counterparty": {"name": "Employer GmbH", "iban": "DE02120300000000202051"},
        **kw,
    }


def corpus(cids: list[str], originals: dict[str, dict]) -> list[tuple[str, str, bytes, str]]:
    """(logical topic, key, value, expected reason): every case that once broke a batch."""
    a, b, c, d = cids[:4]
    deep = b'{"customer_id":"' + a.encode() + b'","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    duplicate = {**originals[d], "step": 3}  # the same event_id, other content
    number = orjson.dumps(transaction(b)).replace(b'"amount":"3250.00"', b'"amount":1e309')
    y1900, y2036 = T0.replace(year=1900), T0.replace(year=2036)
    end_of_time = "9999-12-31T23:59:59-01:00"
    j = orjson.dumps
    return [
        (topics.ORDERS, a, deep, "invalid_json"),
        (topics.ORDERS, a, j(order_step(a, "o-1900", "started", 0, y1900)), "schema_violation"),
        (topics.ORDERS, b, j(order_step(b, "o-2036", "started", 0, y2036)), "from_the_future"),
        (
            topics.ORDERS,
            c,
            j({**order_step(c, "o-9999", "started", 0, T0), "occurred_at": end_of_time}),
            "schema_violation",
        ),
        (topics.ORDERS, d, j(duplicate), "conflicting_duplicate"),
        (topics.TRANSACTIONS, a, j(transaction(a, balance_after="1e20")), "schema_violation"),
        (topics.TRANSACTIONS, b, number, "schema_violation"),
        (topics.TRANSACTIONS, c, j(transaction(c, amount="-500.00")), "schema_violation"),
        (topics.PROFILES, a, j({**profile(a), "updated_at": end_of_time}), "schema_violation"),
        (topics.PROFILES, b, j(profile(b, at=y2036)), "from_the_future"),
        (topics.PROFILES, c, j(profile(c, birth_date="2030-01-01")), "schema_violation"),
    ]


def test_the_poison_corpus_loses_no_valid_event_and_dead_letters_every_bad_one(
    workers, redis_url, redis_prefix
):
    w = workers.start()
    valid = list(order_stream(400, seed=21))
    cids = sorted({e["customer_id"] for e in valid})[:4]
    originals = {e["customer_id"]: e for e in valid if e["status"] == "step_completed"}
    cases = corpus(cids, originals)
    half = len(valid) // 2
    orders: list[tuple[bytes, bytes]] = [
        (e["customer_id"].encode(), orjson.dumps(e)) for e in valid[:half]
    ]
    orders += [(k.encode(), v) for topic, k, v, _ in cases if topic == topics.ORDERS]
    orders += [(e["customer_id"].encode(), orjson.dumps(e)) for e in valid[half:]]
    keys = iter(k for k, _ in orders)
    asyncio.run(
        produce(
            workers.bootstrap,
            workers.prefix + topics.ORDERS,
            [v for _, v in orders],
            key=lambda _: next(keys),
        )
    )
    for topic in (topics.TRANSACTIONS, topics.PROFILES):
        mine = [(k.encode(), v) for t, k, v, _ in cases if t == topic]
        ks = iter(k for k, _ in mine)
        asyncio.run(
            produce(
                workers.bootstrap,
                workers.prefix + topic,
                [v for _, v in mine],
                key=lambda _, ks=ks: next(ks),
            )
        )
    dead = asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + topics.DEAD_LETTERS,
            until=lambda r: len(r) >= len(cases),
            timeout=120,
        )
    )
    got = sorted(
        (
            d.headers["dlq_topic"].decode().removeprefix(workers.prefix),
            d.headers["dlq_reason"].decode(),
        )
        for d in dead
    )
    assert got == sorted((t, reason) for t, _, _, reason in cases)
    for d in dead:
        assert d.headers["dlq_partition"] and d.headers["dlq_offset"] and d.headers["dlq_detail"]
    verify(workers, redis_url, redis_prefix, len(orders))  # every valid event, as the model
    assert w.alive
    status, body = w.get("/healthz")
    assert status == 200, body
    _, metrics = w.get("/metrics")
    assert b'impulse_stream_dead_letters_total{reason="from_the_future"' in metrics


def test_redis_restarted_without_its_data_stops_the_partitions_until_rebuilt(
    workers, stack, redis_url, redis_prefix
):
    events = list(order_stream(600, seed=22))
    w = workers.start()

    def fault(i: int) -> None:
        if i == 1:
            wait_for_outputs(workers, 20)
            time.sleep(2)  # the worker is idle: nothing in flight
            stack.kill_redis(hard=True)
            shutil.rmtree(stack.settings.data_dir / "redis" / "appendonlydir")
            stack.start_redis()

    send_chunks(workers, events, 3, fault)
    deadline = time.monotonic() + 60
    while True:
        status, body = w.get("/healthz")
        if status == 503:
            break
        assert time.monotonic() < deadline, f"/healthz stayed {status}: {body!r}"
        time.sleep(0.5)
    health = orjson.loads(body)
    assert health["status"] == "blocked"
    assert all("state_lost" in p and "rebuild" in p for p in health["problems"])
    assert w.get("/readyz")[0] == 503
    _, metrics = w.get("/metrics")
    assert re.search(
        rb'impulse_stream_partition_blocked\{partition="\d",reason="state_lost"\} 1\.0', metrics
    )

    # a rebuild with the worker still running is refused and changes nothing
    sentinel = redis_prefix + "c:{sentinel}"
    asyncio.run(redis_call(redis_url, "set", sentinel, b"x"))
    refused = rebuild(w.env)
    assert refused.returncode == 2
    assert "live member" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert asyncio.run(redis_call(redis_url, "get", sentinel)) == b"x"

    assert w.stop() == 0
    done = rebuild(w.env)
    assert done.returncode == 0, done.stderr
    assert asyncio.run(redis_call(redis_url, "get", sentinel)) is None
    w2 = workers.start("w2")
    verify(workers, redis_url, redis_prefix, len(events))  # whole again, equal to the model
    assert w2.get("/healthz")[0] == 200


async def redis_call(redis_url: str, command: str, *args: object) -> object:
    store = RedisStore(redis_url)
    try:
        return await getattr(store.redis, command)(*args)
    finally:
        await store.close()


def rebuild(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", "rebuild", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_rebuild_never_prints_the_redis_password(workers, redis_url):
    w = workers.start(ready=False)
    secret_url = redis_url.replace("redis://", "redis://app:hunter2@")
    result = rebuild({**w.env, "REDIS_URL": secret_url})
    assert result.returncode == 2
    assert "hunter2" not in result.stderr + result.stdout
    assert "app:***@" in result.stderr and len(result.stderr.strip().splitlines()) == 1
