"""The customer state contract.

Redis is the state of the product; the worker keeps nothing it cannot lose.
One record per customer holds:

* the encoded :class:`~impulse_stream.core.state.CustomerState`,
* a ``version`` bumped by every write (compare-and-set: a write based on a
  stale read is refused, which fences a paused "zombie" worker),
* the fences: per input topic-partition, the last offset applied to this
  customer, so that an event delivered twice is applied once,
* the outbox: encoded output messages written atomically with the state and
  deleted once Kafka acknowledged them, so that a crash between the state
  write and the produce loses nothing.

Per partition the store also keeps a timer index (customer -> next wake-up,
event time), the set of customers with undelivered outbox entries, and a
checkpoint: per input topic-partition, the last offset whose effects are in
the store. The worker writes it after every batch and reads it before the
next; a checkpoint that vanished or went back means the store lost data it
had acknowledged (a Redis restarted without persistence, a failover to a
replica that lagged), and the partition stops until it is rebuilt. Shared by
all: the daily acceptance statistics that the learning loop feeds on.

Every implementation passes ``tests/unit/store/test_store_contract.py`` (memory)
and ``tests/integration/test_redis_store.py`` (the same suite on real Redis).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class StoredCustomer:
    """One customer's record as read from the store."""

    state: bytes | None
    version: int
    fences: dict[str, int] = field(default_factory=dict)

    def applied(self, topic_partition: str, offset: int) -> bool:
        """True when the event at ``offset`` of ``topic_partition`` is already in the state."""
        fence = self.fences.get(topic_partition)
        return fence is not None and offset <= fence


EMPTY = StoredCustomer(state=None, version=0)


@dataclass(frozen=True)
class CustomerWrite:
    """A fenced, atomic write of one customer's state and outbox entry."""

    customer_id: str
    partition: int
    expected_version: int
    state: bytes
    fences: dict[str, int]
    outbox_id: str = ""
    outbox: bytes = b""
    wakeup_ms: int | None = None


@dataclass(frozen=True)
class DueTimers:
    """The answer of :meth:`CustomerStore.due_and_next`.

    ``customers``: the due customers, in wake-up order. ``next_ms``: a lower bound
    of every other wake-up of the partition (the earliest one, or earlier; at most
    ``until_ms`` when ``limit`` cut due customers off), None when there is none.
    """

    customers: list[str]
    next_ms: int | None


@dataclass(frozen=True)
class Delivered:
    """An outbox entry whose messages Kafka has acknowledged."""

    customer_id: str
    partition: int
    outbox_id: str


AcceptanceKey = tuple[str, str, str]  # action, segment, channel
AcceptanceCounts = dict[AcceptanceKey, tuple[int, int]]  # accepted, declined


class CustomerStore(abc.ABC):
    """State store for customers; every method is one round trip (``RedisStore``:
    ``erase`` two, and ``due`` a few more the once it reshards a partition's timers)."""

    @abc.abstractmethod
    async def load(
        self, customer_ids: Iterable[str], delivered: Sequence[Delivered] = ()
    ) -> dict[str, StoredCustomer]:
        """Read customers (missing ones as :data:`EMPTY`); delete ``delivered`` entries first."""

    @abc.abstractmethod
    async def commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]] | None = None,
        expected: Collection[int] = (),
    ) -> set[str]:
        """Apply writes and raise the checkpoints to ``marks`` (an entry never goes back);
        return the ids of customers whose write was refused by the fence.

        ``expected``: partitions whose checkpoint the caller wrote or read before. A
        checkpoint of one of them that is gone is not created again (that would hide
        the loss): nothing of it is written and the call raises :class:`StateLost`.
        """

    @abc.abstractmethod
    async def due_and_next(self, partition: int, until_ms: int, limit: int) -> DueTimers:
        """Customers of ``partition`` whose wake-up time is at or before ``until_ms`` (at
        most ``limit``, the earliest; negative: all), and the earliest wake-up of the
        partition's other customers: until a write sets an earlier one, nothing of the
        partition is due before it (the worker skips asking, ``processor.py``)."""

    async def due(self, partition: int, until_ms: int, limit: int) -> list[str]:
        """The customers of :meth:`due_and_next`."""
        return (await self.due_and_next(partition, until_ms, limit)).customers

    @abc.abstractmethod
    async def outboxes(self, customer_ids: Sequence[str]) -> dict[str, dict[str, bytes]]:
        """The unacknowledged outbox entries (id -> encoded messages) of these customers."""

    @abc.abstractmethod
    async def pending(self, partition: int) -> list[str]:
        """Customers of ``partition`` with outbox entries not yet acknowledged by Kafka."""

    @abc.abstractmethod
    async def mark_delivered(self, delivered: Sequence[Delivered]) -> None:
        """Delete acknowledged outbox entries."""

    @abc.abstractmethod
    async def erase(self, customers: Sequence[tuple[str, int]]) -> None:
        """Delete every trace of ``(customer, partition)``: record, timer, outbox index."""

    @abc.abstractmethod
    async def checkpoints(self, partitions: Sequence[int]) -> dict[int, dict[str, int]]:
        """The checkpoint (topic-partition fence -> offset) of each partition; {} if none."""

    @abc.abstractmethod
    async def add_acceptance(self, day: date, counts: AcceptanceCounts) -> None:
        """Add the responses of event-time ``day`` to the shared acceptance statistics."""

    @abc.abstractmethod
    async def acceptance_before(self, day: date) -> AcceptanceCounts:
        """The acceptance statistics of every day before ``day``, summed."""

    @abc.abstractmethod
    async def wipe(self) -> int:
        """Delete everything this store holds (``rebuild``); returns how many keys went."""

    @abc.abstractmethod
    async def ping(self) -> float:
        """Round-trip time in seconds; raises :class:`StoreUnavailable`."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def get(self, customer_id: str) -> StoredCustomer:
        """One customer, for the customer 360 API."""
        return (await self.load([customer_id]))[customer_id]
