"""Data-engineering tools: send events, the reference model run, rebuild.

The reference run is the very batch path of the worker (``BatchProcessor``) on
a :class:`MemoryStore` over recorded input messages. Because the core is
deterministic, the same events and the same catalogue give the same
opportunities with the same ids as the live worker did. ``generate``,
``export`` and ``backtest`` live in :mod:`impulse_stream.datatools`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from impulse_stream.contract import topics as contract_topics
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.errors import ImpulseStreamError, InputFileError, RebuildRefused
from impulse_stream.redact import mask_url
from impulse_stream.settings import Settings
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    OutboundMessage,
)


def read_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    try:
        stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open ({exc.strerror})") from None
    with stream:
        for n, line in enumerate(stream, 1):
            if line.strip():
                try:
                    yield n, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputFileError(f"{path}:{n}: not JSON ({exc})") from None


def produce_file(topic: str, path: Path, settings: Settings | None = None) -> int:
    """Send every JSON line of ``path`` to ``topic``, keyed by its ``customer_id``."""
    settings = settings or Settings.from_env()
    if topic not in contract_topics.INPUT_TOPICS:
        raise InputFileError(
            f"{topic!r} is not an input topic; use one of {', '.join(contract_topics.INPUT_TOPICS)}"
        )
    events = []
    for n, event in read_jsonl(path):
        if not isinstance(event, dict) or not isinstance(event.get("customer_id"), str):
            raise InputFileError(f"{path}:{n}: an event needs a string customer_id")
        events.append(event)
    return asyncio.run(_send(settings, settings.topic_prefix + topic, events))


async def _send(settings: Settings, topic: str, events: list[dict[str, object]]) -> int:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        # aiokafka retries a failed send itself until request_timeout_ms; back off between tries.
        retry_backoff_ms=250,
        **settings.kafka_security.aiokafka_kwargs(),
    )
    try:
        await producer.start()
        for event in events:
            await producer.send(topic, orjson.dumps(event), key=str(event["customer_id"]).encode())
        await producer.flush()
    except KafkaError as exc:
        raise ImpulseStreamError(
            f"Kafka at {settings.kafka_bootstrap_servers} refused the events: {exc}"
        ) from None
    finally:
        await producer.stop()
    return len(events)


def recorded_messages(path: Path) -> list[InboundMessage]:
    """Recorded input messages: ``{"topic", "partition", "offset", "key"?, "value"}`` per line."""
    out = []
    for n, row in read_jsonl(path):
        try:
            if not isinstance(row, dict):
                raise TypeError("not an object")
            value = row["value"]
            raw = value.encode() if isinstance(value, str) else orjson.dumps(value)
            key = row.get("key") or (value.get("customer_id") if isinstance(value, dict) else None)
            out.append(
                InboundMessage(
                    str(row["topic"]),
                    int(row.get("partition", 0)),
                    int(row.get("offset", n)),
                    str(key).encode() if key is not None else None,
                    raw,
                )
            )
        except (KeyError, TypeError, ValueError):
            raise InputFileError(
                f"{path}:{n}: expected {{topic, partition, offset, value}}"
            ) from None
    return out


@dataclass(frozen=True)
class ModelRun:
    messages: list[OutboundMessage]
    store: MemoryStore


def run_model(
    engine: DecisionEngine, messages: Iterable[InboundMessage], batch_size: int = 500
) -> ModelRun:
    """The reference run: the worker's batch path on an in-memory store."""
    return asyncio.run(model_run(engine, messages, batch_size))


async def model_run(
    engine: DecisionEngine, messages: Iterable[InboundMessage], batch_size: int = 500
) -> ModelRun:
    """:func:`run_model` inside a running event loop."""
    store = MemoryStore()
    publisher = CollectingPublisher()
    # No topic turns idle while recorded input is read; the end of the input releases all.
    processor = BatchProcessor(engine, store, publisher, topic_idle_seconds=float("inf"))
    batch: list[InboundMessage] = []
    for m in messages:
        batch.append(m)
        if len(batch) >= batch_size:
            await processor.process(batch)
            batch = []
    if batch:
        await processor.process(batch)
    await processor.flush()
    return ModelRun(publisher.messages, store)


def rebuild(settings: Settings | None = None) -> tuple[int, int]:
    """Forget all state and rewind the worker's consumer group to the start of every input.

    The next worker rebuilds the state from the topics and publishes again the
    same outputs with the same ids (consumers deduplicate on ``ce_id``).

    Safe by construction: it refuses while the group has members (a live
    worker would carry on with empty state), rewinds the group *before* it
    deletes anything (a refused rewind leaves the state as it was), deletes
    only the keys of the store's own layout under the exact prefix, and
    leaves checkpoints at the start of each partition so that the worker's
    state-loss check accepts the empty store. Returns (Redis keys deleted,
    partitions rewound).
    """
    settings = settings or Settings.from_env()
    return asyncio.run(_rebuild(settings))


async def _rebuild(settings: Settings) -> tuple[int, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from impulse_stream.contract.codec import logical_topic
    from impulse_stream.errors import StoreUnavailable
    from impulse_stream.store.redis import RedisStore
    from impulse_stream.streaming.checkpoints import fence_key

    kafka = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka, **settings.kafka_security.aiokafka_kwargs()
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        group_id=settings.app_id,
        enable_auto_commit=False,
        **settings.kafka_security.aiokafka_kwargs(),
    )
    try:
        await admin.start()
        members = await _group_members(admin, settings.app_id)
        if members:
            raise RebuildRefused(
                f"consumer group {settings.app_id!r} has {members} live member(s): stop every "
                "worker of the group first; nothing was deleted"
            )
        await consumer.start()
        cluster = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(settings.topic_prefix + topic, p)
            for topic in contract_topics.INPUT_TOPICS
            for p in sorted(cluster.partitions_for_topic(settings.topic_prefix + topic) or ())
        ]
        if not tps:
            raise ImpulseStreamError("no input topics found; run `impulse-stream infra up` first")
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        await consumer.commit({tp: offset for tp, offset in starts.items()})
    except KafkaError as exc:
        raise ImpulseStreamError(
            f"could not rewind consumer group {settings.app_id!r} at {mask_url(kafka)}: "
            f"{type(exc).__name__}; nothing was deleted"
        ) from None
    finally:
        await consumer.stop()
        await admin.close()

    marks: dict[int, dict[str, int]] = {}
    for tp, start in starts.items():
        if start > 0:  # retention removed the head: the group starts there, nothing is lost
            marks.setdefault(tp.partition, {})[
                fence_key(logical_topic(tp.topic, settings.topic_prefix), tp.partition)
            ] = start - 1
    store = RedisStore(
        settings.redis_url,
        prefix=settings.redis_prefix,
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    try:
        deleted = await store.wipe()
        if marks:
            await store.commit([], marks)
    except StoreUnavailable as exc:
        raise ImpulseStreamError(
            f"Redis at {mask_url(settings.redis_url)}: {exc}; the group is rewound, "
            "run rebuild again"
        ) from None
    finally:
        await store.close()
    return deleted, len(tps)


async def _group_members(admin: object, group_id: str) -> int:
    """How many members the consumer group has now (0 for an empty or unknown group)."""
    described = await admin.describe_consumer_groups([group_id])  # type: ignore[attr-defined]
    count = 0
    for response in described:
        for group in response.groups:
            count += len(group[5])  # (error, group_id, state, protocol_type, protocol, members)
    return count
