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

How batches reach the agent. With the ``impulse://`` transport (the default)
the consumer hands the agent every ``getmany`` poll of the input topics as
one list of Faust messages (``transport.BatchHandOff``): no Faust ``Event``,
channel or stream step per message. With ``kafka://``
(``IMPULSE_STREAM_FAST_DRAIN=0``) the agent reads Faust's stream with
``take_events``. Both paths hand the same :class:`Worker` lists of messages.

Nothing is committed that was not processed. A message is acknowledged
(``Message.ack``, Faust's offset bookkeeping, which the consumer commits every
second) only once the processor returned. On the ``take_events`` path Faust
acks a batch's events itself when the agent moves on, also when the batch
raised or was cancelled, so the agent holds one more reference on every
message and the worker's ack releases it. A batch that fails or is cancelled
stays uncommitted and is read again by the partition's next owner; so is a
batch whose partition was revoked while it ran (its messages are not
acknowledged, even when the partition comes back). A failure not tied to one event
(the processor dead-letters those itself) *blocks* the partitions of the
batch: they are paused, their messages held unacknowledged, ``/healthz`` and
``/readyz`` name them, ``impulse_stream_partition_blocked`` is 1, and the
worker retries them every ``retry_blocked_seconds``; a partition whose state
store lost data (:class:`StateLost`) is not retried: it needs ``rebuild``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from impulse_stream.contract import topics as contract_topics
from impulse_stream.errors import PublishFailed, StateLost
from impulse_stream.logs import batch_context, offset_ranges
from impulse_stream.settings import Settings
from impulse_stream.streaming import transport  # registers the impulse:// transport
from impulse_stream.streaming.messages import raw_topic
from impulse_stream.streaming.processor import BatchProcessor, InboundMessage, OutboundMessage

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


@dataclass
class Blocked:
    """A partition that stopped on a failure not tied to one event."""

    reason: str  # state_lost | batch_failed
    detail: str
    since: float
    held: list[Any] = field(default_factory=list)  # Faust messages, unacknowledged


class Worker:
    """The running worker: Faust app + processor + partition bookkeeping."""

    processor: BatchProcessor
    hand_off: transport.BatchHandOff | None = None

    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app
        self.input_topics = {settings.topic_prefix + t for t in contract_topics.WORKER_INPUT_TOPICS}
        self.assigned: set[TP] = set()
        self.positions: dict[TP, int] = {}
        self.last_event_wall: dict[int, float] = {}
        self.last_progress: float | None = None
        self.started = time.time()
        self.lock = asyncio.Lock()
        self.blocked: dict[int, Blocked] = {}
        # Faust messages that wait for their partition's event-time clock.
        self.waiting: dict[tuple[str, int, int], Any] = {}
        # How often each partition was revoked: a batch that started before a
        # revocation of its partition must not acknowledge anything of it.
        self.revocations: dict[int, int] = {}

    @property
    def partitions(self) -> set[int]:
        return {tp.partition for tp in self.assigned}

    async def process(self, batch: list[InboundMessage]) -> None:
        # Every log line of this batch, the processor's included, carries its batch_id.
        with batch_context():
            log.debug(
                "batch of %d events",
                len(batch),
                extra={"events": len(batch), "offsets": offset_ranges(batch)},
            )
            async with self.lock:
                await self.processor.process(batch)
        self._progressed(batch)

    def _progressed(self, batch: Sequence[InboundMessage]) -> None:
        now = time.time()
        self.last_progress = now
        for m in batch:
            self.positions[TP(m.topic, m.partition)] = m.offset
            self.last_event_wall[m.partition] = now

    async def deliver(self, messages: Sequence[Any]) -> None:
        """Process a batch of Faust messages and acknowledge those that are done."""
        since = dict(self.revocations)
        self.acknowledge(await self.process_messages(messages), since)

    def acknowledge(self, messages: Iterable[Any], since: dict[int, int]) -> None:
        """Ack ``messages`` (Faust commits them) unless their partition was revoked after
        ``since`` (a snapshot of :attr:`revocations`): the next owner reads them again."""
        consumer = self.app.consumer
        revocations = self.revocations
        for m in messages:
            if revocations.get(m.partition, 0) == since.get(m.partition, 0):
                m.ack(consumer)

    async def process_messages(self, events: Sequence[Any]) -> list[Any]:
        """Process a batch of Faust messages; returns those that are done (safe to commit).

        Events of blocked partitions are held. When the batch fails as a whole,
        each partition's part is tried alone, so that one partition's failure
        does not stop the others; a part that fails again blocks its partition.
        """
        return self._settle(await self._process_events(events))

    async def tick(self) -> None:
        """Release held messages the clocks reached (topics turned idle) and ack those that
        are now done."""
        since = dict(self.revocations)
        async with self.lock:
            await self.processor.tick()
        self.acknowledge(self._settle([]), since)

    def _settle(self, done: list[Any]) -> list[Any]:
        """Of the processed events, those the processor does not hold any more; the held
        ones wait (unacknowledged, so uncommitted) until their clock comes."""
        held = self.processor.held()
        # Only what stopped being held since the last call can leave `waiting`.
        waiting = self.waiting
        ready = [waiting.pop(k) for k in self.processor.unheld() if k in waiting and k not in held]
        for m in done:
            key = (m.topic, m.partition, m.offset)
            if key in held:
                self.waiting[key] = m
            else:
                ready.append(m)
        return ready

    async def _process_events(self, events: Sequence[Any]) -> list[Any]:
        done: list[Any] = []
        parts: dict[int, list[Any]] = {}
        for m in events:
            blocked = self.blocked.get(m.partition)
            if blocked is not None:
                blocked.held.append(m)
            else:
                parts.setdefault(m.partition, []).append(m)
        if not parts:
            return done
        everything = [e for part in parts.values() for e in part]
        try:
            await self.process(_inbound(everything))
            return everything
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if len(parts) == 1:
                (partition,) = parts
                self._block(partition, exc, parts[partition])
                return done
        for partition, part in sorted(parts.items()):
            try:
                await self.process(_inbound(part))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._block(partition, exc, part)
            else:
                done.extend(part)
        return done

    def _block(self, partition: int, exc: BaseException, held: list[Any]) -> None:
        reason = "state_lost" if isinstance(exc, StateLost) else "batch_failed"
        detail = str(exc) if isinstance(exc, StateLost) else repr(exc)
        if reason == "state_lost":
            log.error("%s", detail)
        else:
            log.error(
                "partition %d stopped: a batch failed as a whole (%s); nothing of it is "
                "committed, retrying every %.0fs",
                partition,
                detail,
                self.settings.retry_blocked_seconds,
                exc_info=exc,
            )
        waiting = [k for k in self.waiting if k[1] == partition]
        held = sorted([*held, *(self.waiting.pop(k) for k in waiting)], key=lambda m: m.offset)
        self.processor.clock.drop_held(partition, lambda item: False)  # retried from `held`
        self.blocked[partition] = Blocked(reason, detail, time.time(), held)
        self.processor.metrics.partition_blocked.labels(str(partition), reason).set(1)
        self.processor.metrics.batch_failures.labels(reason).inc()
        with contextlib.suppress(Exception):  # pausing only saves memory
            self.app.consumer.pause_partitions(self._tps(partition))

    async def retry_blocked(self) -> None:
        """Process the held messages of blocked partitions again (not after state loss)."""
        since = dict(self.revocations)
        for partition in sorted(self.blocked):
            blocked = self.blocked[partition]
            if blocked.reason == "state_lost" or time.time() - blocked.since < (
                self.settings.retry_blocked_seconds
            ):
                continue
            try:
                if blocked.held:
                    await self.process(_inbound(blocked.held))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                blocked.since, blocked.detail = time.time(), repr(exc)
                log.warning("partition %d still fails: %r", partition, exc)
                continue
            self.acknowledge(self._settle(blocked.held), since)
            self._unblock(partition)
            log.info("partition %d resumed", partition)

    def _unblock(self, partition: int) -> None:
        blocked = self.blocked.pop(partition, None)
        if blocked is None:
            return
        with contextlib.suppress(KeyError):
            self.processor.metrics.partition_blocked.remove(str(partition), blocked.reason)
        with contextlib.suppress(Exception):
            self.app.consumer.resume_partitions(self._tps(partition))

    def _tps(self, partition: int) -> list[TP]:
        return [TP(t, partition) for t in sorted(self.input_topics)]

    def problems(self) -> list[str]:
        """Why partitions are stopped, for ``/healthz`` and ``/readyz``."""
        return [
            f"partition {p} blocked ({b.reason}): {b.detail}"
            for p, b in sorted(self.blocked.items())
        ]

    async def committed(self, partition: int) -> dict[str, int]:
        """The group's committed offset of each input topic at ``partition`` (none: absent)."""
        from aiokafka import TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **self.settings.kafka_security.aiokafka_kwargs(),
        )
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(
                self.settings.app_id,
                partitions=[TopicPartition(t, partition) for t in sorted(self.input_topics)],
            )
        finally:
            await admin.close()
        return {tp.topic: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    def on_assigned(self, assigned: Iterable[TP]) -> None:
        mine = {tp for tp in assigned if tp.topic in self.input_topics}
        self.assigned = mine
        self.processor.on_assigned({tp.partition for tp in mine})
        self.processor.metrics.partitions_assigned.set(len(mine))
        log.info("assigned %d input partitions: %s", len(mine), sorted(self.partitions))

    def on_revoked(self, revoked: Iterable[TP]) -> None:
        gone = {tp for tp in revoked if tp.topic in self.input_topics}
        self.assigned -= gone
        partitions = {tp.partition for tp in gone}
        if self.hand_off is not None:
            self.hand_off.discard(partitions)
        for partition in partitions:
            self.revocations[partition] = self.revocations.get(partition, 0) + 1
            self._unblock(partition)  # its held events stay uncommitted: the next owner reads them
            for key in [k for k in self.waiting if k[1] == partition]:
                del self.waiting[key]
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
        read = transport.read_position(self.app.consumer, tp)
        return high > (read + 1 if read is not None else 0)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The end offset of an assigned input partition the last fetch response reported;
        None when no fetch response told it yet."""
        tp = TP(topic, partition)
        if tp not in self.assigned:
            return None
        try:
            high: int | None = self.app.consumer.highwater(tp)
        except Exception:  # no fetch response yet
            return None
        return high

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
            if p in self.blocked or any(n > 0 for tp, n in lag.items() if tp.partition == p):
                continue
            if now - self.last_event_wall.get(p, 0.0) < idle:
                continue
            with batch_context(partition=p):
                async with self.lock:
                    await self.processor.advance_idle(p, int((now - idle) * 1000))


def _inbound(messages: Sequence[Any]) -> list[InboundMessage]:
    return [InboundMessage(m.topic, m.partition, m.offset, m.key, m.value) for m in messages]


def create_app(settings: Settings, processor_factory: Any) -> tuple[faust.App, Worker]:
    """Build the Faust app; ``processor_factory(app, backlogged, highwater, committed)``
    returns the BatchProcessor."""
    app = faust.App(
        settings.app_id,
        broker=settings.kafka_url,
        broker_credentials=settings.kafka_security.faust_credentials(),
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
        # One poll is at most one batch (aiokafka's default is everything fetched: a
        # backlog came as polls of 20,000 messages, whose held events cost per batch).
        broker_max_poll_records=settings.batch_max,
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
        # Faust would wait at every rebalance for all delivered messages to be acked; the
        # held messages of a blocked partition never are. The fenced writes make an
        # in-flight batch that finishes after a revocation harmless, and Faust commits
        # only assigned partitions.
        stream_wait_empty=False,
    )
    worker = Worker(settings, app)
    if settings.fast_drain:
        worker.hand_off = transport.hand_off_batches(app, worker.input_topics)
    processor: BatchProcessor = processor_factory(
        app, worker.backlogged, worker.highwater, worker.committed
    )
    worker.processor = processor
    inputs = raw_topic(app, *sorted(worker.input_topics))

    @app.agent(inputs, name="decide")
    async def decide(stream: faust.StreamT[Any]) -> None:
        hand_off = worker.hand_off
        if hand_off is not None:
            # Faust subscribed the input topics for this agent's stream; the consumer
            # hands their records over in whole polls instead of through the stream.
            while True:
                await worker.deliver(await hand_off.get(settings.batch_max))
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.batch_max, within=settings.batch_within_ms / 1000
        ):
            messages = [e.message for e in events]
            for m in messages:
                m.incref()  # take_events' own ack must not commit an unprocessed event
            await worker.deliver(messages)

    # Faust's signal and timer decorators are typed narrower (or not at all) than they accept.
    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def _assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        worker.on_assigned(assigned)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        worker.on_revoked(revoked)

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def _idle_partitions() -> None:
        await worker.retry_blocked()
        await worker.advance_idle_partitions()

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def _release_held() -> None:
        await worker.tick()

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def _lag_metrics() -> None:
        gauge = processor.metrics.consumer_lag
        for tp, n in worker.lag().items():
            gauge.labels(tp.topic[len(settings.topic_prefix) :], str(tp.partition)).set(n)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _shutdown(sender: Any, **kwargs: Any) -> None:
        processor.stopping = True
        try:
            await processor.flush_delivered()
        except Exception:  # the next owner drains the outbox anyway
            log.warning("could not clean the outbox on shutdown; the next owner will")

    return app, worker
