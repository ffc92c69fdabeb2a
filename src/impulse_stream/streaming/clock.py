"""Event time: one clock per partition over the six input topics, and the events it holds.

The model (the way Flink's watermarks with idleness and Kafka Streams'
``max.task.idle.ms`` work):

* each input topic of a partition has a **watermark**: the largest event time
  read from it. A topic's records are taken to arrive in event-time order;
* the partition's **clock** is the minimum over the topics that are not
  idle; a topic that is not idle and has not spoken yet holds the clock (it
  is unknown). When every topic is idle the clock is the largest watermark;
* when a topic is **idle** depends on what the consumer knows of its end
  (its highwater, the end offset the last fetch response reported):

  - **caught up**: every offset below the highwater has reached this clock
    (the last offset it was handed, or the group's committed offset for a
    topic it was handed nothing of). The topic cannot hold an earlier record
    that is already written, so it is idle once ``caught_up_idle_seconds``
    passed without a record on it: at once by default (Kafka Streams'
    ``max.task.idle.ms=0``);
  - **behind** (``backlogged``: the consumer has not read up to the
    highwater, or no fetch response told it yet): never idle, its records
    are on their way;
  - otherwise (the consumer read to the end, but this clock has not seen
    all of it yet, e.g. a poll still waiting for the batch path): idle once
    ``topic_idle_seconds`` passed without a record on it;

* an event is **held** until the clock reaches its event time, then
  **released**: all released events of the partition are applied in event-time
  order (ties by topic, then offset), each at its own event time. Whatever
  order the topics' records are read in, every event already written with a
  time at or before the clock has arrived, so the same events give the same
  outputs. A record written *after* its topic was read to the end, with an
  event time older than the clock, arrives late (below): the price of not
  waiting on a caught-up topic;
* deadlines (timers) fire when the clock has passed them by
  ``allowed_lateness``: the **deadline clock** is the clock minus the
  lateness;
* an event older than the deadline clock when it arrives is **late**: it is
  still applied at once (and corrects what it contradicts), and counted.

The watermarks are persisted with the partition's checkpoint (raised only),
so a restarted or new owner starts from them. Held events are not
acknowledged: their offsets are not committed, and the partition's next owner
reads them again.

The clock keeps the (topic, partition, offset) of every held event as it holds,
releases, drops and forgets them (:attr:`EventClock.keys`), and, once asked
(:meth:`EventClock.take_unheld`), the ones that stopped being held: what the
worker acknowledges after a batch costs what the batch changed, not what is
held.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

HELD_LIMIT = 200_000  # held events per partition before the clock is forced forward

HeldKey = tuple[str, int, int]  # (topic, partition, offset) of a held event


@dataclass(order=True, slots=True)
class Held:
    """An event waiting for the clock; ordered by (event time, topic number, offset).

    One per event, never changed: not ``frozen``, whose ``__init__`` costs five
    times as much.
    """

    event_ms: int
    topic_index: int
    offset: int
    topic: str = field(compare=False)
    item: Any = field(compare=False)  # what the processor needs to apply it


class EventClock:
    """The clocks and held events of the partitions one worker owns."""

    def __init__(
        self,
        topics: Iterable[str],
        *,
        allowed_lateness_ms: int = 0,
        topic_idle_seconds: float = 2.0,
        caught_up_idle_seconds: float = 0.0,
        backlogged: Callable[[str, int], bool] = lambda topic, partition: False,
        highwater: Callable[[str, int], int | None] = lambda topic, partition: None,
        wall_clock: Callable[[], float],
    ) -> None:
        self.topics = tuple(topics)
        self.index = {t: n for n, t in enumerate(self.topics)}
        self.lateness = allowed_lateness_ms
        self.idle_after = topic_idle_seconds
        self.caught_up_after = caught_up_idle_seconds
        self.backlogged = backlogged
        self.highwater = highwater
        self.wall_clock = wall_clock
        self.marks: dict[int, dict[str, int]] = defaultdict(dict)  # topic -> watermark
        self.heard: dict[int, dict[str, float]] = defaultdict(dict)  # topic -> wall time
        self.read: dict[int, dict[str, int]] = defaultdict(dict)  # topic -> next offset
        self.since: dict[int, float] = {}  # when the partition was first seen
        self.held: dict[int, dict[str, list[Held]]] = defaultdict(lambda: defaultdict(list))
        self.deadline_ms: dict[int, int] = {}  # the deadline clock, never goes back
        self._keys: set[HeldKey] = set()  # every event in ``held``
        self._unheld: list[HeldKey] | None = None  # left ``_keys`` since take_unheld()

    @property
    def keys(self) -> Set[HeldKey]:
        """(topic, partition, offset) of every held event, kept as they are held and let go."""
        return self._keys

    def take_unheld(self) -> list[HeldKey]:
        """The keys that stopped being held (released, dropped, forgotten) since the last
        call, in that order, possibly held again since; the first call starts keeping them
        and returns none (a clock nobody asks keeps nothing)."""
        unheld, self._unheld = self._unheld or [], []
        return unheld

    def _let_go(self, partition: int, gone: Iterable[Held]) -> None:
        keys = [(h.topic, partition, h.offset) for h in gone]
        self._keys.difference_update(keys)
        if self._unheld is not None:
            self._unheld += keys

    # --- life cycle -------------------------------------------------------------

    def restore(self, partition: int, marks: Mapping[str, int]) -> None:
        """Watermarks of a partition read back from its checkpoint."""
        known = self.marks[partition]
        for topic, ms in marks.items():
            known[topic] = max(known.get(topic, ms), ms)

    def resume(self, partition: int, committed: Mapping[str, int]) -> None:
        """The group's committed offsets of a newly owned partition: where its topics are
        read from, so that a topic with nothing new counts as caught up."""
        read = self.read[partition]
        for topic, offset in committed.items():
            read[topic] = max(read.get(topic, offset), offset)

    def forget(self, partition: int) -> None:
        """A revoked partition: its held events stay uncommitted for the next owner."""
        for queue in self.held.get(partition, {}).values():
            self._let_go(partition, queue)
        tables = (self.marks, self.heard, self.read, self.since, self.held, self.deadline_ms)
        for table in tables:
            table.pop(partition, None)

    # --- reading ------------------------------------------------------------------

    def heard_from(self, topic: str, partition: int, offset: int) -> None:
        """A record (valid or not) arrived on ``topic``: it is not idle, and it has been
        read up to ``offset``."""
        now = self.wall_clock()
        self.since.setdefault(partition, now)
        self.heard[partition][topic] = now
        read = self.read[partition]
        if offset >= read.get(topic, 0):
            read[topic] = offset + 1

    def hold(self, topic: str, partition: int, offset: int, event_ms: int, item: Any) -> bool:
        """Hold an event until the clock reaches it; True when it is late.

        A topic's held events stay in offset order, whatever order they were
        delivered in (a rebalance redelivers what a consumer had buffered), and
        a redelivered offset is held once.
        """
        marks = self.marks[partition]
        marks[topic] = max(marks.get(topic, event_ms), event_ms)
        key = (topic, partition, offset)
        if key not in self._keys:
            self._keys.add(key)
            held = Held(event_ms, self.index.get(topic, len(self.topics)), offset, topic, item)
            queue = self.held[partition][topic]
            if not queue or queue[-1].offset < offset:
                queue.append(held)
            else:  # an earlier offset delivered after a later one
                queue.insert(bisect.bisect_left(queue, offset, key=_offset), held)
        deadline = self.deadline_ms.get(partition)
        return deadline is not None and event_ms < deadline

    def clock(self, partition: int) -> int | None:
        """The partition's clock (ms), or None while a topic that is not idle is unheard."""
        marks = self.marks.get(partition, {})
        now = self.wall_clock()
        start = self.since.setdefault(partition, now)
        heard = self.heard.get(partition, {})
        active: list[int] = []
        for topic in self.topics:
            wait = self.idle_wait(topic, partition)
            if wait is not None and now - heard.get(topic, start) >= wait:
                continue
            mark = marks.get(topic)
            if mark is None:
                return None
            active.append(mark)
        if active:
            return min(active)
        return max(marks.values()) if marks else None

    def idle_wait(self, topic: str, partition: int) -> float | None:
        """Seconds without a record before ``topic`` stops holding the partition's clock;
        None while the consumer is behind its end."""
        if self.backlogged(topic, partition):
            return None
        high = self.highwater(topic, partition)
        if high is not None and self.read.get(partition, {}).get(topic, 0) >= high:
            return self.caught_up_after  # nothing already written is still to come
        return self.idle_after

    def release(self, partition: int, everything: bool = False) -> list[Any]:
        """The held events the clock has reached, in event-time order, and move the
        deadline clock. ``everything``: the input ended (a model run, a backtest)."""
        clock = self.clock(partition)
        queues = self.held.get(partition, {})
        if everything or sum(len(q) for q in queues.values()) > HELD_LIMIT:
            marks = self.marks.get(partition, {})
            clock = max(marks.values()) if marks else clock
        if clock is None:
            return []
        ready: list[list[Held]] = []
        for queue in queues.values():
            n = 0
            while n < len(queue) and queue[n].event_ms <= clock:  # a topic's order is kept
                n += 1
            if n:
                ready.append(queue[:n])
                del queue[:n]
                self._let_go(partition, ready[-1])
        deadline = clock - self.lateness
        if deadline > self.deadline_ms.get(partition, deadline - 1):
            self.deadline_ms[partition] = deadline
        return [h.item for h in heapq.merge(*ready)]

    def held_count(self, partition: int | None = None) -> int:
        parts = [partition] if partition is not None else list(self.held)
        return sum(len(q) for p in parts for q in self.held.get(p, {}).values())

    def held_items(self, partition: int) -> list[Any]:
        return [h.item for q in self.held.get(partition, {}).values() for h in q]

    def drop_held(self, partition: int, keep: Callable[[Any], bool]) -> list[Any]:
        """Remove the held events ``keep`` refuses (an erased customer's); returns them."""
        dropped: list[Held] = []
        queues = self.held.get(partition, {})
        for topic, queue in queues.items():
            kept: list[Held] = []
            for h in queue:
                (kept if keep(h.item) else dropped).append(h)
            queues[topic] = kept
        self._let_go(partition, dropped)
        return [h.item for h in dropped]

    def partitions_holding(self) -> list[int]:
        return sorted(p for p in self.held if self.held_count(p))


def _offset(held: Held) -> int:
    return held.offset
