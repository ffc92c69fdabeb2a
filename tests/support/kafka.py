"""Producing to and reading back from the real broker in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def json(self) -> dict:
        assert self.value is not None
        return orjson.loads(self.value)


async def produce(
    bootstrap: str, topic: str, events: Iterable[dict | bytes], key: Callable | None = None
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    n = 0
    try:
        futures = []
        for event in events:
            if isinstance(event, bytes | bytearray):
                value, k = bytes(event), (key(event) if key else None)
            else:
                value, k = orjson.dumps(event), (key or (lambda e: e["customer_id"]))(event)
            futures.append(
                await producer.send(topic, value, key=k.encode() if isinstance(k, str) else k)
            )
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def read_all(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Record]], bool] = lambda records: True,
    timeout: float = 60.0,
    settle: float = 1.0,
) -> list[Record]:
    """Every record of ``topic`` from the start, once ``until(records)`` holds and nothing
    new arrived for ``settle`` seconds (or fail after ``timeout``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Record] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for msgs in batch.values():
                for m in msgs:
                    records.append(
                        Record(
                            m.topic,
                            m.partition,
                            m.offset,
                            m.key,
                            m.value,
                            {k: v for k, v in (m.headers or ())},
                        )
                    )
                    last_new = time.monotonic()
            now = time.monotonic()
            if until(records) and now - last_new >= settle:
                return records
            if now > deadline:
                raise AssertionError(
                    f"{topic}: condition not met in {timeout}s; {len(records)} records read"
                )
    finally:
        await consumer.stop()
