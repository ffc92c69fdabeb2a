"""The same month of six topics, produced interleaved or with the clicks and bookings
entirely before the order steps (a backfill), gives the same opportunity topic."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from impulse_stream.contract import topics
from tests.integration.test_replay import settled
from tests.support.worker_process import WorkerProcess
from tests.unit.streaming.test_event_time import MONTH

pytestmark = pytest.mark.integration

TIME = {topics.PROFILES: "updated_at", topics.TRANSACTIONS: "booked_at"}


def interleaved() -> list[tuple[str, dict]]:
    rows = [(t, e) for t, events in MONTH.items() for e in events]
    return sorted(rows, key=lambda r: r[1][TIME.get(r[0], "occurred_at")])


def clicks_and_bookings_first() -> list[tuple[str, dict]]:
    ahead = (topics.CLICKS, topics.TRANSACTIONS)
    rows = [(t, e) for t in ahead for e in MONTH[t]]
    return rows + [(t, e) for t, e in interleaved() if t not in ahead]


async def send(bootstrap: str, prefix: str, rows: list[tuple[str, dict]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in rows:  # one producer: the order of the rows is the order sent
            await producer.send_and_wait(
                prefix + topic, orjson.dumps(event), key=event["customer_id"].encode()
            )
    finally:
        await producer.stop()


def opportunities_after(kafka_bootstrap, redis_url, prefix, tmp_path, rows):
    """Start a worker on its own topics and keys, send ``rows``, return its settled outputs."""

    class Run:
        bootstrap = kafka_bootstrap

    Run.prefix = prefix
    # A backfill: each topic holds the clock for up to 10 s while its records arrive.
    w = WorkerProcess(
        kafka_bootstrap,
        redis_url,
        prefix,
        prefix.replace(".", ":"),
        tmp_path,
        prefix,
        IMPULSE_STREAM_TOPIC_IDLE_SECONDS="10",
    ).start()
    try:
        w.wait_ready()
        asyncio.run(send(kafka_bootstrap, prefix, rows))
        return settled(Run)
    finally:
        w.kill()


def test_the_opportunities_do_not_depend_on_the_order_the_topics_arrive_in(
    kafka_bootstrap, redis_url, topic_prefix, make_topics, tmp_path
):
    results = []
    for n, arrival in enumerate((interleaved, clicks_and_bookings_first)):
        prefix = f"{topic_prefix}{n}."
        make_topics(prefix, 6)
        results.append(opportunities_after(kafka_bootstrap, redis_url, prefix, tmp_path, arrival()))
    first, second = results
    assert any(t == topics.OPPORTUNITIES for t, _ in first)
    kinds = {
        orjson.loads(v)["kind"] for (t, _), vs in second.items() if t == topics.IMPULSES for v in vs
    }
    assert "order_abandoned" in kinds
    assert "offer_clicked_not_ordered" not in kinds  # each order came a minute after its click
    assert first == second  # every output, byte for byte, with the same ids
