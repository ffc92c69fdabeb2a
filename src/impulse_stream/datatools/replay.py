"""``impulse-stream replay``: a range of the input topics through the worker's batch path,
into a namespace of its own.

The replay reads the input topics (a time or offset range, offsets found by
timestamp) or recorded files (``export`` output), and runs them through the
very :class:`~impulse_stream.streaming.processor.BatchProcessor` the worker
runs, with event time driving every timer. It never touches the live state or
the live outputs: its state lives under the Redis prefix
``<IMPULSE_STREAM_REDIS_PREFIX>replay-<name>:`` (emptied when the replay
starts) and it publishes to the output topics prefixed ``replay-<name>.``
(created when missing). Because the decision core is deterministic and the
event-time clock does not depend on arrival order, a replay of the events the
live worker processed publishes the same messages, byte for byte and with the
same ids, as the live worker did, unless an event arrived late live (written
after its topic was read to the end, dated before what the clock had released:
``streaming/clock.py``); and two replays of a range are identical.

``workers`` processes (default: the number of CPUs; 1: this process alone) share
the recording's partitions, each with its own Redis connection, producer and
batch processor; they publish the same messages as one process, byte for byte
and in the same order per partition (``replay_workers.py`` says how).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics as contract_topics
from impulse_stream.datatools.export import Bound, ExportSpec, read_records
from impulse_stream.datatools.progress import Bar, progress_bar
from impulse_stream.datatools.recording import read_recordings
from impulse_stream.datatools.replay_workers import (
    DayBoard,
    LockstepLearning,
    ProcessBoard,
    Workers,
    batch_cuts,
    default_workers,
    own_segments,
    partition_shares,
)
from impulse_stream.errors import DataToolError, Interrupted, PublishFailed
from impulse_stream.redact import mask_url
from impulse_stream.settings import Settings
from impulse_stream.streaming.processor import InboundMessage, OutboundMessage

if TYPE_CHECKING:
    from impulse_stream.core.engine import DecisionEngine

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
BATCH = 1000


@dataclass(frozen=True)
class ReplaySpec:
    name: str
    start: Bound | None = None
    end: Bound | None = None
    topics: tuple[str, ...] = contract_topics.INPUT_TOPICS
    inputs: tuple[Path, ...] = ()
    catalogue: Path | None = None
    workers: int | None = None  # processes; None: the number of CPUs

    def check(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise DataToolError(f"--workers {self.workers}: expected at least 1 process")
        if not _NAME.match(self.name):
            raise DataToolError(
                f"--name {self.name!r}: use lower-case letters, digits, '-' or '_' (max 40)"
            )
        if bool(self.inputs) == (self.start is not None or self.end is not None):
            raise DataToolError("give either --from and --to (a topic range) or --input files")
        if not self.inputs and (self.start is None or self.end is None):
            raise DataToolError("a topic range needs both --from and --to")

    def redis_prefix(self, settings: Settings) -> str:
        return f"{settings.redis_prefix}replay-{self.name}:"

    def topic_prefix(self, settings: Settings) -> str:
        return f"replay-{self.name}." + settings.topic_prefix


@dataclass(frozen=True)
class ReplayResult:
    events: int
    published: int
    redis_prefix: str
    topic_prefix: str
    workers: int = 1  # processes that ran it (at most one per recorded partition)


class KafkaTopicPublisher:
    """Publishes the replay's outputs with an aiokafka producer (``acks=all``)."""

    def __init__(self, producer: object) -> None:
        self.producer = producer

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        from aiokafka.errors import KafkaError

        try:
            futures = [
                await self.producer.send(  # type: ignore[attr-defined]
                    m.topic, m.value, key=m.key, headers=list(m.headers)
                )
                for m in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise PublishFailed(repr(exc)) from exc


def replay(spec: ReplaySpec, settings: Settings) -> ReplayResult:
    """Run the replay; see the module docstring."""
    spec.check()
    prefix = spec.topic_prefix(settings)
    if spec.inputs:
        source: Iterable[InboundMessage] = list(read_recordings(spec.inputs))
    else:
        assert spec.start is not None and spec.end is not None
        records = read_records(
            ExportSpec(spec.start, spec.end, spec.topics, "jsonl", Path("-")), settings
        )
        source = [InboundMessage(r.topic, r.partition, r.offset, r.key, r.value) for r in records]
    messages = [
        InboundMessage(prefix + m.topic, m.partition, m.offset, m.key, m.value)
        for m in source
        if m.topic in contract_topics.INPUT_TOPICS
    ]
    from impulse_stream.contract.topics import topic_specs
    from impulse_stream.errors import InfraError
    from impulse_stream.infra import create_topics

    try:
        create_topics(
            settings.kafka_bootstrap_servers, topic_specs(settings.partitions, prefix=prefix)
        )
    except InfraError as exc:
        raise DataToolError(f"could not create the replay's topics: {exc}") from None
    shares = partition_shares(messages, spec.workers or default_workers())
    from impulse_stream.core.engine import DecisionEngine

    try:
        engine = DecisionEngine(load_catalogue(spec.catalogue))  # the processes inherit it
        with progress_bar("replay", len(messages), "events") as bar:
            if len(shares) > 1:
                published = _in_processes(spec, settings, engine, messages, shares, bar)
            else:
                batches = (messages[i : i + BATCH] for i in range(0, len(messages), BATCH))
                published = asyncio.run(_run(spec, settings, engine, messages, batches, _bar(bar)))
    except KeyboardInterrupt:
        raise Interrupted(
            f"replay {spec.name!r} stopped; its state under {spec.redis_prefix(settings)!r} is "
            "partial: run the replay again (it starts afresh)"
        ) from None
    return ReplayResult(
        len(messages), published, spec.redis_prefix(settings), prefix, max(1, len(shares))
    )


def _bar(bar: Bar) -> Callable[[int], None]:
    def advance(events: int) -> None:
        bar.advance(events, events)

    return advance


def _in_processes(
    spec: ReplaySpec,
    settings: Settings,
    engine: DecisionEngine,
    messages: list[InboundMessage],
    shares: list[tuple[int, ...]],
    bar: Bar,
) -> int:
    """The replay over one process per share of partitions (``replay_workers.py``)."""
    asyncio.run(_wipe(spec, settings))
    prefix = spec.topic_prefix(settings)
    cuts = batch_cuts(messages, BATCH, prefix + contract_topics.PROFILES)
    # Only responses teach the statistics; without any, every snapshot is empty.
    learns = any(m.topic == prefix + contract_topics.RESPONSES for m in messages)

    def work(
        index: int, partitions: tuple[int, ...], board: ProcessBoard, advance: Callable[[int], None]
    ) -> int:
        segments = own_segments(messages, cuts, set(partitions))
        return asyncio.run(
            _run(
                spec,
                settings,
                engine,
                messages,
                segments,
                advance,
                board=board if learns else None,
                wipe=False,
            )
        )

    return Workers(shares, work).wait(bar)


async def _wipe(spec: ReplaySpec, settings: Settings) -> None:
    from impulse_stream.errors import StoreUnavailable
    from impulse_stream.store.redis import RedisStore

    store = RedisStore(
        settings.redis_url,
        prefix=spec.redis_prefix(settings),
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    try:
        await store.wipe()
    except StoreUnavailable as exc:
        raise DataToolError(f"Redis at {mask_url(settings.redis_url)}: {exc}") from None
    finally:
        await store.close()


async def _run(
    spec: ReplaySpec,
    settings: Settings,
    engine: DecisionEngine,
    messages: list[InboundMessage],
    batches: Iterable[Sequence[InboundMessage]],
    advance: Callable[[int], None],
    *,
    board: DayBoard | None = None,
    wipe: bool = True,
) -> int:
    """Replay ``batches`` (``messages`` or some of their partitions) through one batch
    processor; with a ``board``, in step with the replay's other processes."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from impulse_stream.errors import StoreUnavailable
    from impulse_stream.store.redis import RedisStore
    from impulse_stream.streaming.processor import BatchProcessor

    prefix = spec.topic_prefix(settings)
    store = RedisStore(
        settings.redis_url,
        prefix=spec.redis_prefix(settings),
        security=settings.redis_security,
        timer_shards=settings.timer_shards,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **settings.kafka_security.aiokafka_kwargs(),
    )
    counting = _Counting(KafkaTopicPublisher(producer))
    try:
        if wipe:
            await store.wipe()
        await producer.start()
        processor = BatchProcessor(
            engine,
            store,
            counting,
            topic_prefix=prefix,
            max_message_bytes=settings.max_message_bytes,
            max_future_skew=settings.max_future_skew_seconds,
            allowed_lateness=settings.allowed_lateness_seconds,
            **recorded_input_clock(messages),
        )
        if board is not None:
            processor.learning = LockstepLearning(processor.learning, board)
        for batch in batches:
            await processor.process(batch)
            advance(len(batch))
        await processor.flush()
        await processor.flush_delivered()
    except StoreUnavailable as exc:
        raise DataToolError(f"Redis at {mask_url(settings.redis_url)}: {exc}") from None
    except KafkaError as exc:
        raise DataToolError(
            f"Kafka at {settings.kafka_bootstrap_servers} refused the replay: {exc}"
        ) from None
    finally:
        await producer.stop()
        await store.close()
    return counting.count


def recorded_input_clock(messages: Sequence[InboundMessage]) -> dict[str, Any]:
    """The event-time clock of a replay: the recording's end of each topic-partition is
    its highwater. A topic stops holding the clock once its last recorded record is read
    (at once when the recording has none of it, such as ``employers.clusters``, which a
    replay does not read); before that it holds the clock however long it is silent.
    Without the ends, a topic the recording lacks held the clock to the end of the
    replay: every event was held in memory and, past ``HELD_LIMIT`` per partition, the
    clock was forced forward."""
    ends: dict[tuple[str, int], int] = {}
    for m in messages:
        at = (m.topic, m.partition)
        ends[at] = max(ends.get(at, 0), m.offset + 1)

    def highwater(topic: str, partition: int) -> int:
        return ends.get((topic, partition), 0)

    return {
        "topic_idle_seconds": float("inf"),
        "caught_up_idle_seconds": 0.0,
        "highwater": highwater,
    }


class _Counting:
    def __init__(self, inner: KafkaTopicPublisher) -> None:
        self.inner = inner
        self.count = 0

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        await self.inner.publish(messages)
        self.count += len(messages)
