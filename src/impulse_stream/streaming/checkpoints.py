"""Checkpoints and state loss: a store that lost what it acknowledged stops the partition.

Each partition's checkpoint holds, per input topic, the last offset whose
effects are stored (and the event-time clock's watermark per topic), raised
with every commit before the offsets go to Kafka. The worker remembers what it
wrote or read; before a batch every remembered entry must still be there, and
on assignment the group's committed offsets must be in it. Either check
failing raises :class:`~impulse_stream.errors.StateLost`, as does a commit
that would create again a checkpoint the worker knows (``checkpoint.lua``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from impulse_stream.contract import topics as contract_topics
from impulse_stream.errors import StateLost
from impulse_stream.store.base import CustomerStore
from impulse_stream.streaming.clock import EventClock
from impulse_stream.streaming.messages import InboundMessage
from impulse_stream.streaming.retry import Retrying

_INPUT_INDEX = {t: n for n, t in enumerate(contract_topics.INPUT_TOPICS)}

Marks = dict[int, dict[str, int]]  # partition -> fence -> offset (or watermark)


def fence_key(logical_topic: str, partition: int) -> str:
    """The fence's name in a customer record and a checkpoint: ``<topic number>:<partition>``.

    Short on purpose (six fences per customer); the number is the topic's
    position in the contract's ``INPUT_TOPICS``, which only ever grows.
    """
    index = _INPUT_INDEX.get(logical_topic)
    return f"{logical_topic if index is None else index}:{partition}"


def batch_marks(
    batch: Sequence[InboundMessage], fence_key: Callable[[InboundMessage], str]
) -> Marks:
    """The checkpoint entries a batch reaches: per partition, fence -> highest offset."""
    marks: Marks = defaultdict(dict)
    for m in batch:
        entries = marks[m.partition]
        fence = fence_key(m)
        entries[fence] = max(entries.get(fence, m.offset), m.offset)
    return dict(marks)


class Checkpoints:
    """What this worker wrote or read of each partition's checkpoint, and the checks."""

    def __init__(
        self,
        store: CustomerStore,
        retrying: Retrying,
        clock: EventClock,
        input_topics: tuple[str, ...],
        logical: Callable[[str], str],
        committed: Callable[[int], Awaitable[dict[str, int]]],
    ) -> None:
        self.store = store
        self.retrying = retrying
        self.clock = clock
        self.input_topics = input_topics
        self.logical = logical
        self.committed = committed
        self.known: Marks = {}

    def fence(self, message: InboundMessage) -> str:
        return fence_key(self.logical(message.topic), message.partition)

    def forget(self, partition: int) -> None:
        self.known.pop(partition, None)

    async def check_on_assignment(self, partition: int) -> None:
        """A newly owned partition: the group's committed offsets must be in the checkpoint.

        The checkpoint is raised before the offsets are committed, so on a
        store that kept its data every committed offset ``c`` has a checkpoint
        entry of at least ``c - 1``. Restores the partition's event-time clock, and tells
        it where each topic is read from.
        """
        marks = (await self.retrying(self.store.checkpoints, [partition]))[partition]
        self.clock.restore(
            partition,
            {
                topic: marks[mark]
                for topic in self.input_topics
                if (mark := "t" + fence_key(self.logical(topic), partition)) in marks
            },
        )
        committed = await self.committed(partition)
        self.clock.resume(partition, committed)
        if not committed:
            self.known[partition] = marks
            return
        for topic, offset in sorted(committed.items()):
            fence = self.fence(InboundMessage(topic, partition, offset, None, None))
            stored = marks.get(fence)
            if offset > 0 and (stored is None or stored < offset - 1):
                raise StateLost(
                    partition,
                    f"{self.logical(topic)} is committed up to offset {offset} but the "
                    f"checkpoint {'is missing' if stored is None else f'says {stored}'}",
                )
        self.known[partition] = marks

    async def check(self, partitions: list[int]) -> None:
        """Every checkpoint entry this worker wrote must still be in the store."""
        known = [p for p in partitions if self.known.get(p)]
        if not known:
            return
        stored = await self.retrying(self.store.checkpoints, known)
        for p in known:
            for fence, offset in sorted(self.known[p].items()):
                found = stored.get(p, {}).get(fence)
                if found is None or found < offset:
                    raise StateLost(
                        p,
                        f"checkpoint {fence} was {offset}, the store now has "
                        f"{'none' if found is None else found}",
                    )

    def marks_of(self, batch: Sequence[InboundMessage], partitions: list[int]) -> Marks:
        """The entries a batch raises: its offsets and the clocks' watermarks per topic."""
        marks = batch_marks(batch, self.fence)
        for p in partitions:
            for topic, ms in self.clock.marks.get(p, {}).items():
                marks.setdefault(p, {})["t" + fence_key(self.logical(topic), p)] = ms
        return marks

    def expected(self, marks: Marks | None) -> set[int]:
        """Partitions of ``marks`` whose checkpoint this worker wrote or read: the store
        must not create them again (a Redis back empty mid-commit, see checkpoint.lua)."""
        return {p for p in marks or {} if self.known.get(p)}

    def raised(self, marks: Marks) -> None:
        """Remember the entries a commit raised (they only ever grow)."""
        for p, entries in marks.items():
            known = self.known.setdefault(p, {})
            for fence, offset in entries.items():
                known[fence] = max(known.get(fence, offset), offset)
