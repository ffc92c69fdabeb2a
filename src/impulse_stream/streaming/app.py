"""The Faust application: one agent over every input topic, timers, web views.

Why one agent over all six input topics rather than six agents: a customer's
state is read, changed and written per batch. Six agents in one worker would
race on the same customer (a transaction and an order step of one customer in
flight at once) and need locks; one agent over the co-partitioned topics sees
each customer's events one after the other. The topics are still consumed in
parallel by the consumer; only the decision step is serial per worker, and
workers scale by partitions.

Faust's own ``exactly_once`` guarantee and agent ``concurrency > 1`` are not
used (faust-streaming #177, #323, #517, #606): effectively-once output comes
from the fenced Redis write with its outbox (see ``processor.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from impulse_stream.contract import topics as contract_topics
from impulse_stream.settings import Settings
from impulse_stream.streaming import transport  # noqa: F401 - registers the impulse:// transport
from impulse_stream.streaming.processor import (
    BatchProcessor,
    InboundMessage,
    OutboundMessage,
    PublishFailed,
)

log = logging.getLogger(__name__)


class KafkaPublisher:
    """Publishes through the Faust app's producer and waits for every acknowledgement."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        try:
            producer = self.app.producer
            pending = [
                await producer.send(m.topic, m.key, m.value, None, None, list(m.headers))
                for m in messages
            ]
            await asyncio.gather(*pending)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise PublishFailed(repr(exc)) from exc


class Worker:
    """The running worker: Faust app + processor + partition bookkeeping."""

    processor: BatchProcessor

    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app
        self.input_topics = {settings.topic_prefix + t for t in contract_topics.INPUT_TOPICS}
        self.assigned: set[TP] = set()
        self.positions: dict[TP, int] = {}
        self.last_event_wall: dict[int, float] = {}
        self.last_progress: float | None = None
        self.started = time.time()
        self.lock = asyncio.Lock()

    @property
    def partitions(self) -> set[int]:
        return {tp.partition for tp in self.assigned}

    async def process(self, batch: list[InboundMessage]) -> None:
        async with self.lock:
            await self.processor.process(batch)
        now = time.time()
        self.last_progress = now
        for m in batch:
            self.positions[TP(m.topic, m.partition)] = m.offset
            self.last_event_wall[m.partition] = now

    def on_assigned(self, assigned: Iterable[TP]) -> None:
        mine = {tp for tp in assigned if tp.topic in self.input_topics}
        self.assigned = mine
        self.processor.on_assigned({tp.partition for tp in mine})
        self.processor.metrics.partitions_assigned.set(len(mine))
        log.info("assigned %d input partitions: %s", len(mine), sorted(self.partitions))

    def on_revoked(self, revoked: Iterable[TP]) -> None:
        gone = {tp for tp in revoked if tp.topic in self.input_topics}
        self.assigned -= gone
        self.processor.on_revoked({tp.partition for tp in gone})
        lag = self.processor.metrics.consumer_lag
        for tp in gone:
            self.positions.pop(tp, None)
            with contextlib.suppress(KeyError):  # no lag was reported for it yet
                lag.remove(tp.topic[len(self.settings.topic_prefix) :], str(tp.partition))
        self.processor.metrics.partitions_assigned.set(len(self.assigned))

    def backlogged(self, topic: str, partition: int) -> bool:
        """True while the consumer is behind the end of this input partition."""
        tp = TP(topic, partition)
        if tp not in self.assigned:
            return False
        try:
            high = self.app.consumer.highwater(tp)
        except Exception:  # no fetch response yet: unknown, assume a backlog
            return True
        if high is None:
            return True
        # The last offset the consumer has read (handed to the agent's buffer);
        # before the first read, the committed offset the group resumes from.
        consumer = self.app.consumer
        read = consumer._read_offset.get(tp)
        if read is None:
            committed = consumer._committed_offset.get(tp)
            read = committed - 1 if committed else None
        return high > (read + 1 if read is not None else 0)

    def lag(self) -> dict[TP, int]:
        """Messages behind the end of each assigned input partition."""
        consumer = self.app.consumer
        out = {}
        for tp in self.assigned:
            try:
                high = consumer.highwater(tp)
            except Exception:  # not fetched yet
                continue
            if high is None:
                continue
            position = self.positions.get(tp)
            out[tp] = max(0, high - (position + 1 if position is not None else 0))
        return out

    async def advance_idle_partitions(self) -> None:
        """Let event time pass on caught-up, quiet partitions so that deadlines fire."""
        idle = self.settings.idle_advance_seconds
        if idle <= 0:
            return
        now = time.time()
        lag = self.lag()
        for p in sorted(self.partitions):
            if any(n > 0 for tp, n in lag.items() if tp.partition == p):
                continue
            if now - self.last_event_wall.get(p, 0.0) < idle:
                continue
            async with self.lock:
                await self.processor.advance_idle(p, int((now - idle) * 1000))


def create_app(settings: Settings, processor_factory: Any) -> tuple[faust.App, Worker]:
    """Build the Faust app; ``processor_factory(app)`` returns the BatchProcessor."""
    app = faust.App(
        settings.app_id,
        broker=settings.kafka_url,
        store="memory://",
        autodiscover=False,
        # Faust wants a data directory (for tables this worker does not use); keep it out
        # of the working directory.
        datadir=settings.faust_datadir or str(Path(tempfile.gettempdir()) / "impulse-stream"),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        topic_disable_leader=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_ms / 3000),
        broker_commit_interval=1.0,
        producer_acks=-1,
        web_enabled=True,
        # Faust's own /router and /table views (table keys, the cluster's worker URLs)
        # and its debug pages stay off the public port: this worker has no tables.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        table_cleanup_interval=3600,
        stream_buffer_maxsize=max(4096, settings.batch_max * 2),
    )
    worker = Worker(settings, app)
    processor: BatchProcessor = processor_factory(app, worker.backlogged)
    worker.processor = processor
    inputs = app.topic(
        *sorted(worker.input_topics),
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(inputs, name="decide")
    async def decide(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.batch_max, within=settings.batch_within_ms / 1000
        ):
            batch = [
                InboundMessage(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                )
                for e in events
            ]
            await worker.process(batch)

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        worker.on_assigned(assigned)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        worker.on_revoked(revoked)

    @app.timer(interval=5.0)
    async def _idle_partitions() -> None:
        await worker.advance_idle_partitions()

    @app.timer(interval=5.0)
    async def _lag_metrics() -> None:
        gauge = processor.metrics.consumer_lag
        for tp, n in worker.lag().items():
            gauge.labels(tp.topic[len(settings.topic_prefix) :], str(tp.partition)).set(n)

    @app.on_before_shutdown.connect
    async def _shutdown(sender: Any, **kwargs: Any) -> None:
        processor.stopping = True
        try:
            await processor.flush_delivered()
        except Exception:  # the next owner drains the outbox anyway
            log.warning("could not clean the outbox on shutdown; the next owner will")

    return app, worker
