"""A Faust transport whose consumer hands messages to the agents faster.

Faust's ``Consumer._drain_messages`` awaits, for every single message,
``wait_first(callback(message), suspend_flow.wait())``: it creates two tasks
and a wait set per message so that a rebalance can interrupt a delivery that
blocks on a full stream buffer. Measured with ``make bench`` (docs/bench.md):
this consumer cuts a do-nothing ``take_events`` agent's CPU per message by
about 40 % (85 -> 49 us), but its throughput only by 3-9 %: the rest of Faust's
per-message path and the hand-off from its consumer thread bound it.

This consumer awaits ``callback(message)`` directly while the flow runs and
the buffer of the message's topic has room, so the callback cannot block; it
falls back to Faust's interruptible ``wait_first`` otherwise. Everything else
(offset bookkeeping, gaps, commit cadence, stop handling) is Faust's logic
unchanged. ``bench/`` measures both side by side.

Batch hand-off. When the app registered a :class:`BatchHandOff` for some
topics (:func:`hand_off_batches`, the worker does for its input topics), this
consumer does not call Faust's callback for their messages at all: every
record of one ``getmany`` poll goes, in Faust's order, into one list that the
agent takes whole (``streaming/app.py``). No Faust ``Event``, channel queue or
stream step per message; the agent acknowledges the messages through Faust's
offset bookkeeping (``Message.ack``) once the batch path returned, and Faust
commits them as before. Read offsets and gaps (a compacted topic's missing
offsets) are kept here exactly as in the per-message path.

Selected with the broker URL scheme ``impulse://`` (registered below);
``IMPULSE_STREAM_FAST_DRAIN=0`` keeps Faust's own consumer (``kafka://``) and
the agent's ``take_events`` path.

The Faust internals this module reads (faust-streaming 0.15.3, the version
in constraints.txt) are named in :data:`FAUST_INTERNALS`;
``tests/unit/test_transport.py`` fails when one of them vanishes.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

# What this module reads of Faust beyond its public API (faust-streaming 0.15.3):
# the base consumer's drain loop state and the conductor's topic index.
FAUST_INTERNALS = {
    "faust.transport.consumer.Consumer": (
        "_drain_messages",
        "_read_offset",
        "_add_gap",
        "_n_acked",
        "_commit_every",
        "_committed_offset",
    ),
    "faust.transport.conductor.Conductor": ("_topic_name_index",),
}


def read_position(consumer: Any, tp: Any) -> int | None:
    """The last offset of ``tp`` the consumer has read (handed to the agent); before the
    first read, the offset before the committed one the group resumes from."""
    read: int | None = consumer._read_offset.get(tp)
    if read is None:
        committed = consumer._committed_offset.get(tp)
        read = committed - 1 if committed else None
    return read


class BatchHandOff:
    """Fetched batches of some topics, from the consumer's drain loop to one agent.

    Holds at most ``max_batches`` polls; the drain loop waits for room (or
    drops the poll when a rebalance suspends the flow, as Faust's per-message
    path drops a delivery: nothing of it was acknowledged, and the consumer
    seeks to the committed offsets after the rebalance).
    """

    def __init__(self, topics: Iterable[str], max_batches: int = 2) -> None:
        self.topics = frozenset(topics)
        self.max_batches = max_batches
        self._batches: deque[list[Any]] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def full(self) -> bool:
        return len(self._batches) >= self.max_batches

    def put(self, batch: list[Any]) -> None:
        self._batches.append(batch)
        self._ready.set()
        if self.full():
            self._room.clear()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    async def get(self, limit: int) -> list[Any]:
        """The next poll's messages, with the following polls already waiting while the
        batch stays within ``limit`` messages; a larger poll is split at ``limit``."""
        while not self._batches:
            self._ready.clear()
            await self._ready.wait()
        batch = self._batches.popleft()
        if len(batch) > limit:  # a poll larger than a batch: the rest stays first in line
            self._batches.appendleft(batch[limit:])
            batch = batch[:limit]
        while self._batches and len(batch) + len(self._batches[0]) <= limit:
            batch.extend(self._batches.popleft())
        self._taken()
        return batch

    def discard(self, partitions: set[int]) -> int:
        """Drop the waiting messages of revoked ``partitions`` (their next owner reads
        them); returns how many were dropped."""
        dropped = 0
        kept: deque[list[Any]] = deque()
        for batch in self._batches:
            rest = [m for m in batch if m.partition not in partitions]
            dropped += len(batch) - len(rest)
            if rest:
                kept.append(rest)
        self._batches = kept
        self._taken()
        return dropped

    def __len__(self) -> int:
        return sum(len(b) for b in self._batches)

    def _taken(self) -> None:
        if not self.full():
            self._room.set()
        if not self._batches:
            self._ready.clear()


_HAND_OFFS: weakref.WeakKeyDictionary[Any, BatchHandOff] = weakref.WeakKeyDictionary()


def hand_off_batches(app: Any, topics: Iterable[str], max_batches: int = 2) -> BatchHandOff:
    """Have the ``impulse://`` consumer of ``app`` hand ``topics`` over in whole batches."""
    hand_off = BatchHandOff(topics, max_batches)
    _HAND_OFFS[app] = hand_off
    return hand_off


class FastDrainConsumer(faust_aiokafka.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - hot loop
        hand_off = _HAND_OFFS.get(self.app)
        batch_topics = hand_off.topics if hand_off is not None else frozenset()
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        has_room = _buffer_room(self.app)
        yield_every = 100
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    batch: list[Any] = []
                    async for tp, message in ait:
                        since_yield += 1
                        if since_yield > yield_every:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if message.topic in batch_topics:
                                batch.append(message)
                            elif not suspended() and has_room(message.topic):
                                await callback(message)
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                    if batch and hand_off is not None:
                        if hand_off.full():
                            await self.wait_first(
                                hand_off.wait_for_room(), self.suspend_flow.wait()
                            )
                        if not suspended() and not hand_off.full():
                            hand_off.put(batch)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


def _buffer_room(app: Any) -> Any:
    """``has_room(topic)``: every channel subscribed to ``topic`` can take a message now."""

    index = app.topics._topic_name_index

    def has_room(topic: str) -> bool:
        channels = index.get(topic)
        if not channels:
            return False  # unknown: take Faust's interruptible path
        for channel in channels:
            queue = channel.queue
            if queue.maxsize and queue.qsize() >= queue.maxsize - 1:
                return False
        return True

    return has_room


class Transport(faust_aiokafka.Transport):
    Consumer = FastDrainConsumer


drivers.TRANSPORTS.aliases["impulse"] = "impulse_stream.streaming.transport:Transport"
