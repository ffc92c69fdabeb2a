"""The batch path: decode, fence, decide, write state + outbox, publish, clean up.

One :class:`BatchProcessor` serves one worker: the short pipeline that composes
the parts of the path, each in its own module: the messages and the publisher
port (``messages.py``), the event-time clock (``clock.py``), the outbox and its
redelivery (``outbox.py``), dead letters (``deadletters.py``), the per-day
learning snapshots (``learning.py``), retrying Redis and Kafka (``retry.py``),
the checkpoints and their state-loss checks (``checkpoints.py``) and the
metrics (``metrics.py``). It knows nothing about Faust:
the agent hands it plain :class:`InboundMessage` batches, a
:class:`Publisher` sends to Kafka and waits for the acknowledgements. The
same class with a :class:`~impulse_stream.store.memory.MemoryStore` and a
collecting publisher is the reference model that the fault tests compare
the real worker with.

Delivery protocol for one batch (the offsets are committed by the caller only
after :meth:`BatchProcessor.process` returns):

1. check the partitions' checkpoints: a store that lost what it had
   acknowledged stops the partition (:class:`StateLost`) before anything is
   decided on missing state;
2. decode every message; a bad one becomes a dead letter (so does an event
   dated more than ``max_future_skew`` ahead of the wall clock: it never
   moves a clock);
3. read the customers of the batch and those whose timer is due, in two
   round trips (timers, then customers; acknowledged outbox entries of the
   previous batch are deleted in the same trip). The timers of a partition are
   read only once its clock reached the earliest wake-up the processor knows
   of (the store's answer to the last read, lowered by every wake-up written
   since; unknown after an assignment, a refused write or a failure);
4. skip events that a customer's fence shows applied and repeats of an
   ``event_id`` the state remembers; run the core for the rest, then fire due
   deadlines. Whatever fails for one event or one customer (the core, the
   state codec) dead-letters that event or that customer's events only;
5. write every customer's state, fences and outbox entry with a fenced
   compare-and-set, one round trip; a refused write (stale read, zombie) is
   re-read and recomputed;
6. publish the outputs and dead letters and wait for Kafka's acknowledgement;
7. raise the partitions' checkpoints to the batch's offsets;
8. remember the outbox entries as delivered (deleted with the next read).

A crash between 5 and 6 leaves the outputs in the outbox: whoever owns the
partition next publishes them again before processing (same bytes, same ids).
Any other exception out of :meth:`BatchProcessor.process` is a failure not
tied to one event: the caller must not commit the batch's offsets (see
``app.py``); processing it again is safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime

from impulse_stream.contract import topics as contract_topics
from impulse_stream.contract.cloudevents import cloudevent_headers
from impulse_stream.contract.codec import Decoder, encode
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.employers import erasure as employer_erasure
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    EmployerMembership,
    Impulse,
    InputEvent,
    Membership,
    Opportunity,
    OutputRecord,
)
from impulse_stream.core.households import erasure as household_erasure
from impulse_stream.core.learning import AcceptanceObservation
from impulse_stream.core.recent_events import Seen, fingerprint, remember, seen_before
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import (
    DecodeFailure,
    Tombstone,
)
from impulse_stream.pseudonym import pseudonym
from impulse_stream.store.base import CustomerStore, CustomerWrite, Delivered, StoredCustomer
from impulse_stream.streaming.checkpoints import Checkpoints
from impulse_stream.streaming.clock import EventClock, HeldKey
from impulse_stream.streaming.deadletters import DeadLetters
from impulse_stream.streaming.learning import LearningSnapshots
from impulse_stream.streaming.messages import (
    CollectingPublisher,
    InboundMessage,
    OutboundMessage,
    Publisher,
)
from impulse_stream.streaming.metrics import Metrics
from impulse_stream.streaming.outbox import Outbox, encode_outbox
from impulse_stream.streaming.retry import Retrying, RetryPolicy

log = logging.getLogger(__name__)

_MAX_WAKEUPS = 64  # deadlines fired for one customer in one batch (a long replay gap)


async def _nothing_committed(partition: int) -> dict[str, int]:
    return {}


@dataclass
class _Pending:
    """What one customer's batch produced, before it is written."""

    customer_id: str
    partition: int
    stored: StoredCustomer
    events: list[tuple[InboundMessage, InputEvent, datetime]] = field(default_factory=list)
    timer_due: bool = False


@dataclass
class _Outcome:
    """Outputs of customers whose writes were accepted, and dead letters."""

    records: list[OutputRecord] = field(default_factory=list)
    messages: list[OutboundMessage] = field(default_factory=list)
    dead: list[OutboundMessage] = field(default_factory=list)
    observations: list[AcceptanceObservation] = field(default_factory=list)
    suppressions: list[str] = field(default_factory=list)
    # The outbox entries these writes stored: deleted only once their messages are published.
    written: list[Delivered] = field(default_factory=list)

    def extend(self, other: _Outcome) -> None:
        self.records.extend(other.records)
        self.messages.extend(other.messages)
        self.dead.extend(other.dead)
        self.observations.extend(other.observations)
        self.suppressions.extend(other.suppressions)


class BatchProcessor:
    def __init__(
        self,
        engine: DecisionEngine,
        store: CustomerStore,
        publisher: Publisher,
        *,
        topic_prefix: str = "",
        metrics: Metrics | None = None,
        max_message_bytes: int = 65536,
        max_timers_per_batch: int = 5000,
        retry: RetryPolicy | None = None,
        wall_clock: Callable[[], float] = time.time,
        backlogged: Callable[[str, int], bool] = lambda topic, partition: False,
        highwater: Callable[[str, int], int | None] = lambda topic, partition: None,
        max_future_skew: float = 86400.0,
        committed: Callable[[int], Awaitable[dict[str, int]]] = _nothing_committed,
        allowed_lateness: float = 0.0,
        topic_idle_seconds: float = 0.0,
        caught_up_idle_seconds: float = 0.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.publisher = publisher
        self.prefix = topic_prefix
        self.metrics = metrics or Metrics()
        self.decoder = Decoder(max_bytes=max_message_bytes)
        self.max_timers = max_timers_per_batch
        self.retry = retry or RetryPolicy()
        self.wall_clock = wall_clock
        self.watermarks: dict[int, int] = {}  # the deadline clock of each partition
        # Per partition, a lower bound of every wake-up in its timer index (None: it has
        # none) while this worker owns it: ``due`` is asked only once the clock reaches it.
        # Absent: unknown, the next batch asks (after an assignment, a refused write...).
        self.next_due: dict[int, int | None] = {}
        self.backlogged = backlogged
        self.input_topics = tuple(topic_prefix + t for t in contract_topics.WORKER_INPUT_TOPICS)
        self.clock = EventClock(
            self.input_topics,
            allowed_lateness_ms=int(allowed_lateness * 1000),
            topic_idle_seconds=topic_idle_seconds,
            caught_up_idle_seconds=caught_up_idle_seconds,
            backlogged=backlogged,
            highwater=highwater,
            wall_clock=wall_clock,
        )
        self.recovered: set[int] = set()
        self.retrying = Retrying(self.retry, self.metrics, store)
        self.outbox = Outbox(store, publisher, self.retrying, self.metrics)
        self.dead_letters = DeadLetters(topic_prefix, self.metrics, wall_clock)
        self.learning = LearningSnapshots(engine, store, self.retrying)
        self.max_future_ms = int(max_future_skew * 1000)
        self.checkpoints = Checkpoints(
            store, self.retrying, self.clock, self.input_topics, self._logical, committed
        )

    @property
    def stopping(self) -> bool:
        """Set on shutdown: a retry in progress ends the batch instead of waiting."""
        return self.retrying.stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self.retrying.stopping = value

    @property
    def interrupted(self) -> bool:
        """A store error since the last check: re-check the checkpoints before writing."""
        return self.retrying.interrupted

    @interrupted.setter
    def interrupted(self, value: bool) -> None:
        self.retrying.interrupted = value

    # --- partition life cycle ------------------------------------------------

    def on_assigned(self, partitions: set[int]) -> None:
        """Partitions (numbers, all input topics) now owned: recover before use."""
        self.recovered -= partitions
        self._forget_next_due(partitions)

    def on_revoked(self, partitions: set[int]) -> None:
        self.recovered -= partitions
        self._forget_next_due(partitions)
        for p in partitions:
            self.watermarks.pop(p, None)
            self.clock.forget(p)
            self.checkpoints.forget(p)

    async def recover(self, partition: int) -> int:
        """Check the partition's state is whole, then publish outbox entries a previous
        owner wrote but may not have delivered."""
        self._forget_next_due({partition})  # another worker may have written its timers
        await self.checkpoints.check_on_assignment(partition)
        count = await self.outbox.redeliver(partition)
        self.recovered.add(partition)
        return count

    # --- the batch path ----------------------------------------------------------

    async def process(self, batch: Sequence[InboundMessage]) -> None:
        """Process one batch; returns when its outputs are acknowledged by Kafka.

        A tombstone followed, in the same batch, by a later record of the same
        customer on the profile topic splits the batch there: the erasure is
        applied first, exactly as if a batch boundary fell between them.
        """
        partitions = {m.partition for m in batch}
        try:
            for segment in split_at_tombstones(batch, self.prefix + contract_topics.PROFILES):
                await self._process(segment)
        except BaseException:
            # Some customers may be written and not yet published: the next attempt
            # publishes their outbox entries first.
            self.recovered -= partitions
            raise

    async def flush(self) -> None:
        """The input ended (a model run, a backtest): release every held event."""
        await self._process([], everything=True)

    async def tick(self) -> None:
        """Release what the clocks reached since the last batch (topics turned idle); with
        nothing held, delete the acknowledged outbox entries now rather than with the next
        batch's read (a quiet partition's next owner would publish them again)."""
        if self.clock.partitions_holding():
            await self.process([])
        else:
            await self.outbox.flush_delivered()

    def held(self) -> Set[HeldKey]:
        """(topic, partition, offset) of every event waiting for its partition's clock (the
        clock's own index, kept as it changes: no copy)."""
        return self.clock.keys

    def unheld(self) -> list[HeldKey]:
        """The (topic, partition, offset) that stopped being held since the last call: the
        events that may now be acknowledged, if :meth:`held` does not name them again."""
        return self.clock.take_unheld()

    async def _process(self, batch: Sequence[InboundMessage], everything: bool = False) -> None:
        partitions = sorted({m.partition for m in batch} | set(self.clock.partitions_holding()))
        for p in partitions:
            if p not in self.recovered:
                await self.recover(p)
        await self.checkpoints.check(partitions)
        dead: list[OutboundMessage] = []
        by_partition: dict[int, list[tuple[InboundMessage, InputEvent, datetime]]] = defaultdict(
            list
        )
        erasures: dict[str, int] = {}
        latest_ms = int(self.wall_clock() * 1000) + self.max_future_ms
        # Counted per topic once a batch: a labelled child per message cost ~6 % of a replay.
        arrived: dict[str, int] = defaultdict(int)
        for message in batch:
            logical = self._logical(message.topic)
            arrived[logical] += 1
            self.clock.heard_from(message.topic, message.partition, message.offset)
            try:
                event = self.decoder.decode(logical, message.key, message.value)
                event_ms = _ms(event.occurred_at)
            except Tombstone as failure:
                if logical == contract_topics.PROFILES and message.key:
                    erasures[message.key.decode("utf-8", "replace")] = message.partition
                else:
                    dead.append(
                        self.dead_letters.letter(
                            message, logical, failure.reason, str(failure), "decode"
                        )
                    )
                continue
            except DecodeFailure as failure:
                dead.append(
                    self.dead_letters.letter(
                        message, logical, failure.reason, str(failure), "decode"
                    )
                )
                continue
            except Exception as exc:  # a decoder bug: this message only
                log.exception(
                    "decoding failed on %s[%d]@%d", logical, message.partition, message.offset
                )
                dead.append(
                    self.dead_letters.letter(message, logical, "decode_error", repr(exc), "decode")
                )
                continue
            if event_ms > latest_ms:
                dead.append(
                    self.dead_letters.letter(
                        message,
                        logical,
                        "from_the_future",
                        f"event time {event.occurred_at.isoformat()} is more than "
                        f"{self.max_future_ms // 1000}s ahead of the wall clock",
                        "validate",
                    )
                )
                continue
            if self.clock.hold(
                message.topic, message.partition, message.offset, event_ms, (message, event)
            ):
                self.metrics.late_events.labels(logical).inc()
        for logical, n in arrived.items():
            self.metrics.events_in.labels(logical).inc(n)
        for cid, p in erasures.items():  # held events before the tombstone are erased with it

            def keep(item: tuple[InboundMessage, InputEvent], cid: str = cid) -> bool:
                return item[1].customer_id != cid

            self.clock.drop_held(p, keep)
        for p in partitions:
            released = self.clock.release(p, everything)
            by_partition[p] = [(m, e, e.occurred_at) for m, e in released]
            deadline = self.clock.deadline_ms.get(p)
            if deadline is not None:
                self.watermarks[p] = max(self.watermarks.get(p, deadline), deadline)
        if batch:
            self.metrics.batch_size.observe(len(batch))
        try:
            await self.learning.prepare(
                {now.date() for items in by_partition.values() for _, _, now in items}
            )
            marks = self.checkpoints.marks_of(batch, partitions)
            outcome = await self._decide(by_partition, set(by_partition), marks)
            await self.outbox.publish(dead + outcome.dead + outcome.messages, outcome.written)
            await self.learning.learn(outcome.observations)
            if erasures:
                await self._erase(erasures)
        except BaseException:
            self._hold_again(by_partition)
            raise
        self.checkpoints.raised(marks)
        self._observe(outcome)

    def _hold_again(
        self, released: dict[int, list[tuple[InboundMessage, InputEvent, datetime]]]
    ) -> None:
        """A batch failed after its clock released events: they are held again, so that
        the worker does not acknowledge them (an event of an earlier batch, released by
        this one, would otherwise count as done) and the next attempt applies them; what
        the failed attempt did write is recognised then by the fences."""
        for items in released.values():
            for message, event, _ in items:
                self.clock.hold(
                    message.topic,
                    message.partition,
                    message.offset,
                    _ms(event.occurred_at),
                    (message, event),
                )

    async def advance_idle(self, partition: int, now_ms: int) -> None:
        """Move an idle partition's event-time clock to ``now_ms`` and fire due timers."""
        if partition not in self.recovered:
            await self.recover(partition)
        if self.clock.held_count(partition) or now_ms <= self.watermarks.get(partition, 0):
            return
        self.watermarks[partition] = now_ms
        await self.learning.prepare({_dt(now_ms).date()})
        outcome = await self._decide({}, {partition})
        await self.outbox.publish(outcome.dead + outcome.messages, outcome.written)
        await self.learning.learn(outcome.observations)
        self._observe(outcome)

    async def _decide(
        self,
        by_partition: dict[int, list[tuple[InboundMessage, InputEvent, datetime]]],
        partitions: set[int],
        marks: dict[int, dict[str, int]] | None = None,
    ) -> _Outcome:
        """Decide for the batch's customers and those with due timers; write them, with
        the partitions' checkpoints ``marks``, in one fenced round trip."""
        try:
            return await self._decide_unguarded(by_partition, partitions, marks)
        except BaseException:
            # What was written before the failure is unknown: ask the store again.
            self._forget_next_due(partitions | set(by_partition))
            raise

    def _forget_next_due(self, partitions: Set[int]) -> None:
        for p in partitions:
            self.next_due.pop(p, None)

    def _may_be_due(self, partition: int) -> bool:
        """A wake-up of ``partition`` may be at or before its clock: ask the store."""
        if partition not in self.next_due:
            return True
        earliest = self.next_due[partition]
        return earliest is not None and earliest <= self.watermarks[partition]

    def _wrote_timers(self, writes: Sequence[CustomerWrite], refused: Set[str]) -> None:
        """Lower the partitions' earliest known wake-ups to those of the applied writes; a
        refused write leaves a wake-up this worker does not know: its partition is asked."""
        for w in writes:
            p = w.partition
            if p not in self.next_due:
                continue
            if w.customer_id in refused:
                del self.next_due[p]
            elif w.wakeup_ms is not None:
                earliest = self.next_due[p]
                self.next_due[p] = w.wakeup_ms if earliest is None else min(earliest, w.wakeup_ms)

    async def _decide_unguarded(
        self,
        by_partition: dict[int, list[tuple[InboundMessage, InputEvent, datetime]]],
        partitions: set[int],
        marks: dict[int, dict[str, int]] | None,
    ) -> _Outcome:
        pending: dict[str, _Pending] = {}
        for p, items in by_partition.items():
            for message, event, now in items:
                cid = event.customer_id
                entry = pending.get(cid)
                if entry is None:
                    entry = pending[cid] = _Pending(cid, p, StoredCustomer(None, 0))
                entry.events.append((message, event, now))
        due: dict[str, int] = {}
        timed = [p for p in sorted(partitions) if p in self.watermarks and self._may_be_due(p)]
        # One round trip's wait for every partition's timers, not one after the other.
        found = await asyncio.gather(
            *(
                self.retrying(self.store.due_and_next, p, self.watermarks[p], self.max_timers)
                for p in timed
            )
        )
        for p, timers in zip(timed, found, strict=True):
            for cid in timers.customers:
                due.setdefault(cid, p)
            # Not counting the due customers: each is written below with its next wake-up.
            self.next_due[p] = timers.next_ms
        for cid, p in due.items():
            if cid not in pending:
                pending[cid] = _Pending(cid, p, StoredCustomer(None, 0))
            pending[cid].timer_due = True
        if not pending:
            if marks:
                await self.retrying(self.store.commit, [], marks, self.checkpoints.expected(marks))
            return _Outcome()
        accepted = _Outcome()
        # Written now; deleted from the outbox only once the batch's messages are published
        # (``Outbox.publish``), with the *next* batch's read: a re-read within this batch
        # (refused writes) must not delete them, nor a shutdown or failure before the publish.
        written: list[Delivered] = []
        applied: set[str] = set()
        todo = pending
        for attempt in range(5):
            loaded = await self.outbox.load(list(todo))
            writes: list[CustomerWrite] = []
            results: dict[str, _Outcome] = {}
            for cid, entry in todo.items():
                entry.stored = loaded[cid]
                write, results[cid] = self._decide_customer(entry)
                if write is not None:
                    writes.append(write)
            if self.interrupted:  # re-check before anything read since is written
                self.interrupted = False
                await self.checkpoints.check(sorted(partitions | set(by_partition)))
            refused = (
                await self.retrying(
                    self.store.commit, writes, marks, self.checkpoints.expected(marks)
                )
                if writes or marks
                else set()
            )
            marks = None  # raised with the first attempt
            self._wrote_timers(writes, refused)
            for write in writes:
                if write.customer_id not in refused:
                    applied.add(write.customer_id)
                if write.customer_id not in refused and write.outbox_id:
                    written.append(Delivered(write.customer_id, write.partition, write.outbox_id))
            for cid, outcome in results.items():
                if cid not in refused:
                    accepted.extend(outcome)
            if not refused:
                break
            self.metrics.fenced_writes.inc(len(refused))
            log.warning(
                "fenced writes refused for %d customers (attempt %d); re-reading",
                len(refused),
                attempt + 1,
            )
            todo = {cid: todo[cid] for cid in refused}
        else:
            log.error("giving up on %d customers owned by another worker", len(todo))
        # A due customer without an applied write (no state, a state error, refused) keeps
        # its wake-up in the index: its partition is asked again.
        unwritten = {cid for cid in pending if pending[cid].timer_due} - applied
        self._forget_next_due({pending[cid].partition for cid in unwritten})
        accepted.written = written
        return accepted

    def _decide_customer(self, entry: _Pending) -> tuple[CustomerWrite | None, _Outcome]:
        """One customer's events and due deadlines; a failure fails this customer only.

        A state that cannot be decoded or encoded (``state_error``) dead-letters
        the customer's events of the batch and writes nothing for the customer.
        """
        try:
            return self._decide_customer_unguarded(entry)
        except Exception as exc:
            log.exception("state of customer %s failed", pseudonym(entry.customer_id))
            outcome = _Outcome()
            outcome.dead = [
                self.dead_letters.letter(
                    message, self._logical(message.topic), "state_error", repr(exc), "state"
                )
                for message, _, _ in entry.events
            ]
            return None, outcome

    def _decide_customer_unguarded(self, entry: _Pending) -> tuple[CustomerWrite | None, _Outcome]:
        stored = entry.stored
        state: CustomerState | None = decode_state(stored.state) if stored.state else None
        outcome = _Outcome()
        records, dead = outcome.records, outcome.dead
        memberships: list[Membership] = []  # re-keyed by employer or household
        fences: dict[str, int] = {}
        for message, event, now in entry.events:
            tp = self._fence_key(message)
            logical = self._logical(message.topic)
            if stored.applied(tp, message.offset):
                self.metrics.duplicates.labels(logical).inc()
                continue
            fences[tp] = max(fences.get(tp, message.offset), message.offset)  # never lowered
            mark = fingerprint(event)
            seen = seen_before(state, mark)
            if seen is Seen.REPEAT:
                self.metrics.duplicates.labels(logical).inc()
                continue
            if seen is Seen.CONFLICT:
                dead.append(
                    self.dead_letters.letter(
                        message,
                        logical,
                        "conflicting_duplicate",
                        "an event with this event_id and other content was applied before",
                        "validate",
                    )
                )
                continue
            try:
                decision = self.engine_for(now).apply(state, event, now)
            except Exception as exc:  # a core bug on one event must not stop the partition
                log.exception(
                    "core failed on an event of customer %s", pseudonym(entry.customer_id)
                )
                dead.append(
                    self.dead_letters.letter(message, logical, "core_error", repr(exc), "core")
                )
                continue
            state = remember(decision.state, mark)
            records.extend(decision.outputs)
            memberships.extend(decision.memberships)
            outcome.observations.extend(decision.observations)
            outcome.suppressions.extend(decision.suppressions)
        if state is None:
            return None, outcome
        state = self._fire_due(entry, state, outcome)
        if not fences and not records and not entry.timer_due:
            return None, outcome  # a redelivered batch: nothing new to write
        wakeup = self.engine.next_wakeup(state)
        messages = [self._output(r) for r in records]
        messages += [self._membership(m) for m in memberships]
        new_version = stored.version + 1
        write = CustomerWrite(
            customer_id=entry.customer_id,
            partition=entry.partition,
            expected_version=stored.version,
            state=encode_state(state),
            fences=fences,
            outbox_id=str(new_version) if messages else "",
            outbox=encode_outbox(messages) if messages else b"",
            wakeup_ms=_ms(wakeup) if wakeup is not None else None,
        )
        outcome.messages = messages
        return write, outcome

    async def _erase(self, erasures: dict[str, int]) -> None:
        """A tombstone on ``customers.profile`` erases the customer's state (right to erasure).

        It runs after the batch's outputs are delivered, so it also removes what
        this batch wrote for the customer; a redelivered tombstone erases again.
        First the customer's employer and household (from the stored state) get
        an ``erased`` membership, published and acknowledged after every earlier
        membership of the customer; only then is the state deleted. A crash in
        between leaves the state: the redelivered tombstone publishes the same
        memberships again, then deletes it.
        """
        customers = sorted(erasures)
        self._forget_next_due(set(erasures.values()))
        loaded = await self.retrying(self.store.load, customers)
        await self.outbox.publish(
            [self._membership(m) for c in customers for m in self._erased(c, loaded[c])]
        )
        await self.retrying(self.store.erase, sorted(erasures.items()))
        self.outbox.forget(list(erasures))
        self.metrics.erasures.inc(len(erasures))
        for cid in erasures:
            log.info("erased the state of customer %s", pseudonym(cid))

    def _erased(self, customer_id: str, stored: StoredCustomer) -> list[Membership]:
        """The ``erased`` memberships of the customer's groups (none without a state)."""
        try:
            state = decode_state(stored.state) if stored.state else None
        except Exception:  # the state is erased all the same; its groups cannot be named
            log.exception("state of erased customer %s unreadable", pseudonym(customer_id))
            return []
        if state is None:
            return []
        found = (employer_erasure(customer_id, state), household_erasure(customer_id, state))
        return [m for m in found if m is not None]

    # --- learning from responses (learning.py) ---------------------------------------

    def engine_for(self, moment: datetime) -> DecisionEngine:
        """The engine with the acceptance statistics of the days before ``moment``'s day.

        Each event-time day decides with one snapshot of the statistics (all
        responses of earlier days), taken when the worker first meets that day.
        """
        return self.learning.engine_for(moment)

    def _fire_due(self, entry: _Pending, state: CustomerState, outcome: _Outcome) -> CustomerState:
        """Fire every deadline up to the partition clock, each at its own time.

        Advancing to each wake-up rather than straight to the clock keeps the
        state independent of batch boundaries: a deadline fires at the same
        event time whichever batch happens to carry the clock past it.
        """
        now_ms = self.watermarks.get(entry.partition)
        for _ in range(_MAX_WAKEUPS):
            wakeup = self.engine.next_wakeup(state)
            if now_ms is None or wakeup is None or _ms(wakeup) > now_ms:
                break
            try:
                decision = self.engine_for(wakeup).advance(state, wakeup)
            except Exception:
                log.exception("core failed advancing customer %s", pseudonym(entry.customer_id))
                break
            if decision.state == state:
                break  # nothing fired: the wake-up was not really due
            state = decision.state
            outcome.records.extend(decision.outputs)
            outcome.suppressions.extend(decision.suppressions)
        return state

    # --- helpers -----------------------------------------------------------------

    async def flush_delivered(self) -> None:
        """Delete acknowledged outbox entries now (on shutdown and revocation)."""
        await self.outbox.flush_delivered()

    def _output(self, record: OutputRecord) -> OutboundMessage:
        if isinstance(record, Opportunity):
            topic = contract_topics.OPPORTUNITIES
        elif isinstance(record, Impulse):
            topic = contract_topics.IMPULSES
        else:
            topic = contract_topics.ATTRIBUTIONS
        return OutboundMessage(
            self.prefix + topic,
            record.customer_id.encode(),
            encode(record),
            tuple(cloudevent_headers(record)),
        )

    def _membership(self, record: Membership) -> OutboundMessage:
        if isinstance(record, EmployerMembership):
            topic, key = contract_topics.EMPLOYER_MEMBERS, record.employer_id
        else:
            topic, key = contract_topics.HOUSEHOLD_MEMBERS, record.household_id
        return OutboundMessage(
            self.prefix + topic, key.encode(), encode(record), tuple(cloudevent_headers(record))
        )

    def _fence_key(self, message: InboundMessage) -> str:
        return self.checkpoints.fence(message)

    def _logical(self, topic: str) -> str:
        if self.prefix and topic.startswith(self.prefix):
            return topic[len(self.prefix) :]
        return topic

    def _observe(self, outcome: _Outcome) -> None:
        now = self.wall_clock()
        m = self.metrics
        m.last_progress.set(now)
        for rule in outcome.suppressions:
            m.suppressions.labels(rule or "other").inc()
        for r in outcome.records:
            if isinstance(r, Opportunity):
                m.opportunities.labels(r.action_id, r.status).inc()
                if r.status != "open" and r.closed_reason:
                    m.opportunities_closed.labels(r.action_id, r.closed_reason).inc()
                at = r.created_at
            elif isinstance(r, Impulse):
                m.impulses.labels(r.kind).inc()
                at = r.detected_at
            else:
                m.attributions.labels(r.closing_channel).inc()
                at = r.credited_at
            m.latency.observe(max(0.0, now - at.timestamp()))


def split_at_tombstones(
    batch: Sequence[InboundMessage], profiles: str
) -> list[Sequence[InboundMessage]]:
    """``batch`` cut before each profile record of a customer tombstoned earlier in it."""
    segments: list[Sequence[InboundMessage]] = []
    start = 0
    erased: set[tuple[int, bytes | None]] = set()
    for n, m in enumerate(batch):
        if m.topic != profiles:
            continue
        key = (m.partition, m.key)
        if key in erased:
            segments.append(batch[start:n])
            start, erased = n, set()
        if m.value is None:
            erased.add(key)
    segments.append(batch[start:])
    return segments


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


__all__ = [
    "BatchProcessor",
    "CollectingPublisher",
    "InboundMessage",
    "OutboundMessage",
    "Publisher",
    "RetryPolicy",
]
