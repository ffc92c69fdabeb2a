"""The same month of six topics, produced interleaved or with the clicks and bookings
entirely before the order steps, gives the same opportunity topic: as a backfill
(everything written before the worker reads it: no wait needed, the consumer's lag says
what is still to come) and live (a caught-up topic then has to hold the clock for
``IMPULSE_STREAM_CAUGHT_UP_IDLE_SECONDS`` while the late topic's records arrive)."""

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


def opportunities_after(kafka_bootstrap, redis_url, prefix, tmp_path, rows, backfill, **env):
    """Start a worker on its own topics and keys, send ``rows`` (before it starts: a
    backfill), return its settled outputs."""

    class Run:
        bootstrap = kafka_bootstrap

    Run.prefix = prefix
    if backfill:
        asyncio.run(send(kafka_bootstrap, prefix, rows))
    w = WorkerProcess(
        kafka_bootstrap, redis_url, prefix, prefix.replace(".", ":"), tmp_path, prefix, **env
    ).start()
    try:
        w.wait_ready()
        if not backfill:
            asyncio.run(send(kafka_bootstrap, prefix, rows))
        return settled(Run)
    finally:
        w.kill()


# No wall-time wait for a topic whose end the batch path cannot tell: only the topics
# read to their end (live: after CAUGHT_UP_IDLE_SECONDS without records) move the clock.
# Nor does the wall clock move a quiet partition's clock (IDLE_ADVANCE_SECONDS): a run
# slowed down past a minute would expire opportunities the others do not.
NO_IDLE_WAIT = {
    "IMPULSE_STREAM_TOPIC_IDLE_SECONDS": "600",
    "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "0",
}
RUNS = {
    "interleaved, live": (interleaved, False, NO_IDLE_WAIT),
    "clicks and bookings first, a backfill": (clicks_and_bookings_first, True, NO_IDLE_WAIT),
    # live, the order steps seconds behind the clicks: a caught-up topic holds up to 10 s
    "clicks and bookings first, live": (
        clicks_and_bookings_first,
        False,
        {**NO_IDLE_WAIT, "IMPULSE_STREAM_CAUGHT_UP_IDLE_SECONDS": "10"},
    ),
}


def test_the_opportunities_do_not_depend_on_the_order_the_topics_arrive_in(
    kafka_bootstrap, redis_url, topic_prefix, make_topics, tmp_path
):
    results = {}
    for n, (name, (arrival, backfill, env)) in enumerate(RUNS.items()):
        prefix = f"{topic_prefix}{n}."
        make_topics(prefix, 6)
        results[name] = opportunities_after(
            kafka_bootstrap, redis_url, prefix, tmp_path, arrival(), backfill, **env
        )
    first = results["interleaved, live"]
    assert any(t == topics.OPPORTUNITIES for t, _ in first)
    for name, outputs in results.items():
        kinds = {
            orjson.loads(v)["kind"]
            for (t, _), vs in outputs.items()
            if t == topics.IMPULSES
            for v in vs
        }
        assert "order_abandoned" in kinds, name
        assert "offer_clicked_not_ordered" not in kinds, name  # each order a minute later
        assert outputs == first, name  # every output, byte for byte, with the same ids
