"""Poison input mixed with valid events: every bad one is a dead letter with its reason,
every valid one is processed, the worker never restarts."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from impulse_stream.contract import topics
from tests.integration.test_faults import verify
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, order_step, order_stream

pytestmark = pytest.mark.integration


def poison(cid: str) -> list[tuple[bytes, str]]:
    """(raw value, expected dead-letter reason) for customer ``cid``."""
    good = order_step(cid, "o-x", "started", 0, T0)
    return [
        (b'{"customer_id": "' + cid.encode() + b'", ', "invalid_json"),
        (orjson.dumps({**good, "step": "two"}), "schema_violation"),
        (orjson.dumps({k: v for k, v in good.items() if k != "order_id"}), "schema_violation"),
        (orjson.dumps({**good, "status": "paused"}), "schema_violation"),
        (orjson.dumps({**good, "occurred_at": "2026-11-23T09:00:00"}), "schema_violation"),
        (orjson.dumps({**good, "purpose": "x" * 70_000}), "too_large"),
        (orjson.dumps(good).replace(b'"step":0', b'"step":' + b"9" * 40), "schema_violation"),
        (
            ('{"customer_id": "' + cid + '", "page": "Übersicht"}').encode("latin-1"),
            "invalid_encoding",
        ),
        (orjson.dumps({**good, "customer_id": "someone-else"}), "key_mismatch"),
    ]


def test_poison_mixed_with_valid_events(workers, redis_url, redis_prefix):
    w = workers.start()
    valid = list(order_stream(300, seed=9))
    mixed: list[tuple[bytes, bytes]] = []  # (key, value); poison carries its customer's key
    bad: dict[int, str] = {}
    for n, event in enumerate(valid):
        key = event["customer_id"].encode()
        mixed.append((key, orjson.dumps(event)))
        if n % 60 == 0:
            for raw, reason in poison(event["customer_id"]):
                bad[len(mixed)] = reason
                mixed.append((key, raw))
    keys = iter(k for k, _ in mixed)
    asyncio.run(
        produce(
            workers.bootstrap,
            workers.prefix + topics.ORDERS,
            [v for _, v in mixed],
            key=lambda _: next(keys),
        )
    )
    dead = asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + topics.DEAD_LETTERS,
            until=lambda r: len(r) >= len(bad),
            timeout=90,
        )
    )
    assert len(dead) == len(bad)
    reasons = sorted(d.headers["dlq_reason"].decode() for d in dead)
    assert reasons == sorted(bad.values())
    for d in dead:
        assert d.headers["dlq_topic"] == (workers.prefix + topics.ORDERS).encode()
        assert d.headers["dlq_partition"] and d.headers["dlq_offset"] and d.headers["dlq_detail"]
    verify(workers, redis_url, redis_prefix, len(mixed))
    assert w.alive
    status, _ = w.get("/healthz")
    assert status == 200
