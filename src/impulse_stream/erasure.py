"""``impulse-stream forget``: a customer's right to erasure, from the operator's side.

The erasure itself is the worker's (``streaming/processor.py``): a tombstone
(null value, key = customer id) on the compacted ``customers.profile`` topic
deletes the customer's record, timer and outbox from Redis (after publishing
``erased`` memberships for the customer's household and employer), and
compaction removes the profile from the topic. This module writes that
tombstone and then watches Redis until the customer's record is gone, so the
operator learns whether the erasure is done or still pending (no worker
running, or a backlog before the tombstone); the group fields go when the
group agents apply the memberships, which it does not watch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import msgspec

from impulse_stream.contract import topics as contract_topics
from impulse_stream.core.events import CustomerId
from impulse_stream.errors import ConfigError, ImpulseStreamError
from impulse_stream.settings import Settings

_valid_id = msgspec.json.Decoder(CustomerId)


@dataclass(frozen=True)
class ErasureResult:
    topic: str
    partition: int
    offset: int
    erased: bool  # the worker deleted the state in Redis (or there was none)
    waited: float


def check_customer_id(customer_id: str) -> None:
    try:
        _valid_id.decode(msgspec.json.encode(customer_id))
    except msgspec.ValidationError:
        raise ConfigError(
            "the customer id must be 1-64 letters, digits or '._:@-' characters"
        ) from None


def forget(settings: Settings, customer_id: str, wait_seconds: float) -> ErasureResult:
    """Write the tombstone and wait up to ``wait_seconds`` for the worker's erasure."""
    check_customer_id(customer_id)
    return asyncio.run(_forget(settings, customer_id, wait_seconds))


async def _forget(settings: Settings, customer_id: str, wait_seconds: float) -> ErasureResult:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError
    from redis.exceptions import RedisError

    from impulse_stream.redact import mask_url
    from impulse_stream.store.redis import RedisStore

    topic = settings.topic_prefix + contract_topics.PROFILES
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        retry_backoff_ms=250,
        **settings.kafka_security.aiokafka_kwargs(),
    )
    try:
        await producer.start()
        sent = await producer.send_and_wait(topic, None, key=customer_id.encode())
    except KafkaError as exc:
        raise ImpulseStreamError(
            f"Kafka at {settings.kafka_bootstrap_servers} did not take the tombstone: {exc}"
        ) from None
    finally:
        await producer.stop()

    store = RedisStore(
        settings.redis_url,
        settings.redis_prefix,
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    started = time.monotonic()
    try:
        while True:
            present = await store.redis.exists(store.customer_key(customer_id))
            waited = time.monotonic() - started
            if not present or waited >= wait_seconds:
                return ErasureResult(topic, sent.partition, sent.offset, not present, waited)
            await asyncio.sleep(min(0.5, max(0.0, wait_seconds - waited)))
    except RedisError as exc:
        raise ImpulseStreamError(
            f"tombstone written, but Redis at {mask_url(settings.redis_url)} cannot confirm "
            f"the erasure: {exc}"
        ) from None
    finally:
        await store.close()
