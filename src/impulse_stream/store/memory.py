"""In-memory :class:`CustomerStore` for unit tests and the reference model."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from impulse_stream.errors import StateLost
from impulse_stream.store.base import (
    EMPTY,
    AcceptanceCounts,
    CustomerStore,
    CustomerWrite,
    Delivered,
    DueTimers,
    StoredCustomer,
)
from impulse_stream.store.nonce import WriteNonces


@dataclass
class _Record:
    state: bytes | None = None
    version: int = 0
    fences: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, bytes] = field(default_factory=dict)
    writer: bytes = b""  # nonce of the last write applied


class MemoryStore(CustomerStore):
    """Same semantics as :class:`RedisStore`, held in dictionaries."""

    def __init__(self) -> None:
        self.customers: dict[str, _Record] = {}
        self.timers: dict[int, dict[str, int]] = {}
        self.pending_outbox: dict[int, set[str]] = {}
        self.acceptance: dict[date, AcceptanceCounts] = {}
        self.marks: dict[int, dict[str, int]] = {}
        self.round_trips = 0
        self.nonces = WriteNonces()

    async def load(
        self, customer_ids: Iterable[str], delivered: Sequence[Delivered] = ()
    ) -> dict[str, StoredCustomer]:
        self._delete_delivered(delivered)
        self.round_trips += 1
        out = {}
        for cid in customer_ids:
            rec = self.customers.get(cid)
            out[cid] = (
                EMPTY if rec is None else StoredCustomer(rec.state, rec.version, dict(rec.fences))
            )
        return out

    async def commit(
        self,
        writes: Sequence[CustomerWrite],
        marks: Mapping[int, Mapping[str, int]] | None = None,
        expected: Collection[int] = (),
    ) -> set[str]:
        self.round_trips += 1
        for p in sorted(marks or {}):
            if p in expected and not self.marks.get(p):
                raise StateLost(p, f"checkpoint of partition {p} was written and is gone")
        for p, entries in (marks or {}).items():
            known = self.marks.setdefault(p, {})
            for tp, offset in entries.items():
                known[tp] = max(known.get(tp, offset), offset)
        refused = set()
        for w, nonce in zip(writes, self.nonces.assign(writes), strict=True):
            rec = self.customers.setdefault(w.customer_id, _Record())
            if rec.version == w.expected_version + 1 and rec.writer == nonce:
                continue  # this very write sent again: it succeeded (see store.nonce)
            stale = rec.version != w.expected_version or any(
                rec.fences.get(tp, -1) >= off for tp, off in w.fences.items()
            )
            if stale:
                refused.add(w.customer_id)
                continue
            if w.outbox_id:
                self.pending_outbox.setdefault(w.partition, set()).add(w.customer_id)
                rec.outbox[w.outbox_id] = w.outbox
            rec.state = w.state
            rec.writer = nonce
            rec.version += 1
            rec.fences.update(w.fences)
            timers = self.timers.setdefault(w.partition, {})
            if w.wakeup_ms is None:
                timers.pop(w.customer_id, None)
            else:
                timers[w.customer_id] = w.wakeup_ms
        return refused

    async def due_and_next(self, partition: int, until_ms: int, limit: int) -> DueTimers:
        self.round_trips += 1
        timers = self.timers.get(partition, {})
        due = sorted((at, cid) for cid, at in timers.items() if at <= until_ms)
        later = min((at for at in timers.values() if at > until_ms), default=None)
        if 0 <= limit < len(due):
            due, later = due[:limit], due[limit][0]
        return DueTimers([cid for _, cid in due], later)

    async def outboxes(self, customer_ids: Sequence[str]) -> dict[str, dict[str, bytes]]:
        self.round_trips += 1
        return {
            cid: dict(self.customers[cid].outbox) if cid in self.customers else {}
            for cid in customer_ids
        }

    async def pending(self, partition: int) -> list[str]:
        self.round_trips += 1
        return sorted(self.pending_outbox.get(partition, set()))

    async def mark_delivered(self, delivered: Sequence[Delivered]) -> None:
        self.round_trips += 1
        self._delete_delivered(delivered)

    def _delete_delivered(self, delivered: Sequence[Delivered]) -> None:
        for d in delivered:
            rec = self.customers.get(d.customer_id)
            if rec is not None:
                rec.outbox.pop(d.outbox_id, None)
            self.pending_outbox.get(d.partition, set()).discard(d.customer_id)

    async def erase(self, customers: Sequence[tuple[str, int]]) -> None:
        self.round_trips += 1
        for cid, partition in customers:
            self.customers.pop(cid, None)
            self.timers.get(partition, {}).pop(cid, None)
            self.pending_outbox.get(partition, set()).discard(cid)

    async def checkpoints(self, partitions: Sequence[int]) -> dict[int, dict[str, int]]:
        self.round_trips += 1
        return {p: dict(self.marks.get(p, {})) for p in partitions}

    async def add_acceptance(self, day: date, counts: AcceptanceCounts) -> None:
        self.round_trips += 1
        daily = self.acceptance.setdefault(day, {})
        for key, (accepted, declined) in counts.items():
            a, d = daily.get(key, (0, 0))
            daily[key] = (a + accepted, d + declined)

    async def acceptance_before(self, day: date) -> AcceptanceCounts:
        self.round_trips += 1
        return _sum_days(counts for d, counts in self.acceptance.items() if d < day)

    async def wipe(self) -> int:
        self.round_trips += 1
        held = (self.customers, self.timers, self.pending_outbox, self.acceptance, self.marks)
        count = sum(len(part) for part in held)
        for part in held:
            part.clear()
        return count

    async def ping(self) -> float:
        return 0.0

    async def close(self) -> None:
        return None


def _sum_days(days: Iterable[AcceptanceCounts]) -> AcceptanceCounts:
    total: AcceptanceCounts = {}
    for counts in days:
        for key, (accepted, declined) in counts.items():
            a, d = total.get(key, (0, 0))
            total[key] = (a + accepted, d + declined)
    return total
