"""When a silent topic stops holding its partition's event-time clock.

The clock is pure: these tests feed it the offsets it was handed, the
group's committed offsets, the highwaters a fetch response would report and
the wall time. A topic read to its highwater cannot hold an earlier record
that is already written, so it stops holding the clock at once (Kafka
Streams' ``max.task.idle.ms=0``); one whose end is not known waits
``topic_idle_seconds``; one the consumer is behind on holds it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import orjson

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.clock import EventClock
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher, InboundMessage
from tests.support.scenarios import T0, abandoned_card_order, iso

ENGINE = DecisionEngine(load_catalogue())
PAYMENTS, ORDERS = "bank.transactions", "orders.flow"
P = 0


def large_incoming_payment(cid: str, at: datetime) -> dict:
    """A non-salary credit the ``large_incoming_payment`` detector fires on at once."""
    return {
        "event_id": f"tx-{cid}",
        "customer_id": cid,
        "account_id": f"acc-{cid}",
        "booked_at": iso(at),
        "amount": "40000.00",
        "currency": "EUR",
        "direction": "credit",
        "counterparty": {"name": "Notariat Dr. Beispiel"},
        "purpose": "Erbauseinandersetzung Nachlass",
        "category": "other",
        "balance_after": "52000.00",
    }


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def clock_of(
    highwaters: dict[str, int | None],
    *,
    wall: Wall | None = None,
    idle: float = float("inf"),
    caught_up_idle: float = 0.0,
    behind: frozenset[str] = frozenset(),
) -> EventClock:
    return EventClock(
        (PAYMENTS, ORDERS),
        topic_idle_seconds=idle,
        caught_up_idle_seconds=caught_up_idle,
        backlogged=lambda topic, partition: topic in behind,
        highwater=lambda topic, partition: highwaters.get(topic),
        wall_clock=wall or Wall(),
    )


def read(clock: EventClock, topic: str, offsets: range, event_ms: int) -> None:
    """The records ``offsets`` of ``topic`` arrived, each at ``event_ms`` + its offset."""
    for offset in offsets:
        clock.heard_from(topic, P, offset)
        clock.hold(topic, P, offset, event_ms + offset, f"{topic}@{offset}")


def test_a_payment_read_to_the_end_is_released_at_once_when_the_other_topic_is_empty():
    clock = clock_of({PAYMENTS: 3, ORDERS: 0})  # the wall never moves: no idle wait
    read(clock, PAYMENTS, range(3), 5_000)
    assert clock.clock(P) == 5_002
    assert clock.release(P) == [f"{PAYMENTS}@{n}" for n in range(3)]


def test_a_topic_with_records_written_but_not_yet_read_holds_the_clock():
    clock = clock_of({PAYMENTS: 1, ORDERS: 2})
    read(clock, PAYMENTS, range(1), 5_000)
    assert clock.clock(P) is None  # two order steps are written; none has arrived
    assert clock.release(P) == []
    read(clock, ORDERS, range(1), 4_000)
    assert clock.clock(P) == 4_000  # one order step still to come: the minimum holds
    assert clock.release(P) == [f"{ORDERS}@0"]
    read(clock, ORDERS, range(1, 2), 4_000)
    assert clock.release(P) == [f"{ORDERS}@1", f"{PAYMENTS}@0"]  # in event-time order


def test_a_topic_whose_end_is_unknown_holds_the_clock_for_the_idle_wait():
    wall = Wall()
    clock = clock_of({PAYMENTS: 1, ORDERS: None}, wall=wall, idle=2.0)
    read(clock, PAYMENTS, range(1), 5_000)
    assert clock.release(P) == []
    wall.now += 1.9
    assert clock.release(P) == []
    wall.now += 0.1
    assert clock.release(P) == [f"{PAYMENTS}@0"]


def test_a_topic_the_consumer_is_behind_on_holds_the_clock_however_long_it_is_quiet():
    wall = Wall()
    clock = clock_of({PAYMENTS: 1, ORDERS: 0}, wall=wall, idle=2.0, behind=frozenset({ORDERS}))
    read(clock, PAYMENTS, range(1), 5_000)
    wall.now += 3_600
    assert clock.clock(P) is None
    assert clock.release(P) == []


def test_a_silent_topic_committed_at_its_end_is_caught_up_and_one_committed_before_it_is_not():
    clock = clock_of({PAYMENTS: 8, ORDERS: 5})
    clock.resume(P, {PAYMENTS: 7, ORDERS: 4})  # where a restarted owner reads from
    read(clock, PAYMENTS, range(7, 8), 5_000)
    assert clock.release(P) == []  # order step 4 is written and not yet read
    clock.resume(P, {ORDERS: 5})
    assert clock.release(P) == [f"{PAYMENTS}@7"]


def test_a_caught_up_topic_keeps_holding_for_the_caught_up_idle_wait_when_one_is_set():
    wall = Wall()
    clock = clock_of({PAYMENTS: 1, ORDERS: 0}, wall=wall, caught_up_idle=2.0)
    read(clock, PAYMENTS, range(1), 5_000)
    assert clock.release(P) == []
    wall.now += 2.0
    assert clock.release(P) == [f"{PAYMENTS}@0"]


def test_a_record_written_after_its_topic_was_caught_up_with_an_older_time_is_late():
    highwaters: dict[str, int | None] = {PAYMENTS: 1, ORDERS: 0}
    clock = clock_of(highwaters)
    read(clock, PAYMENTS, range(1), 5_000)
    assert clock.release(P) == [f"{PAYMENTS}@0"]
    highwaters[ORDERS] = 1  # produced afterwards, dated before the released payment
    clock.heard_from(ORDERS, P, 0)
    assert clock.hold(ORDERS, P, 0, 4_000, f"{ORDERS}@0") is True


def test_an_offset_delivered_again_does_not_move_the_read_position_back():
    clock = clock_of({PAYMENTS: 3, ORDERS: 0})
    read(clock, PAYMENTS, range(3), 5_000)
    clock.heard_from(PAYMENTS, P, 0)  # a rebalance redelivered an early record
    assert clock.idle_wait(PAYMENTS, P) == 0.0


def test_a_revoked_partition_forgets_where_its_topics_were_read():
    clock = clock_of({PAYMENTS: 3, ORDERS: 0}, idle=2.0)
    read(clock, PAYMENTS, range(3), 5_000)
    assert clock.idle_wait(PAYMENTS, P) == 0.0
    clock.forget(P)
    assert clock.idle_wait(PAYMENTS, P) == 2.0  # read from offset 0 again: not at its end


def test_a_restarted_worker_decides_a_payment_at_once_when_the_silent_topics_have_nothing_new():
    """The processor tells the clock the group's committed offsets on assignment."""
    store = MemoryStore()
    first = BatchProcessor(ENGINE, store, CollectingPublisher(), topic_idle_seconds=3_600)
    orders = [
        InboundMessage(ORDERS, P, n, b"c-7", orjson.dumps(e))
        for n, e in enumerate(abandoned_card_order("c-7"))
    ]
    asyncio.run(first.process(orders))
    asyncio.run(first.flush())
    ends = {ORDERS: len(orders), PAYMENTS: 0}

    async def committed(partition: int) -> dict[str, int]:
        return {ORDERS: len(orders)}

    publisher = CollectingPublisher()
    second = BatchProcessor(
        ENGINE,
        store,
        publisher,
        topic_idle_seconds=3_600,
        committed=committed,
        highwater=lambda topic, partition: ends.get(topic, 0),
    )
    ends[PAYMENTS] = 1
    payment = large_incoming_payment("c-8", T0 + timedelta(days=1))
    asyncio.run(second.process([InboundMessage(PAYMENTS, P, 0, b"c-8", orjson.dumps(payment))]))
    assert second.held() == set()  # without the committed offsets it would wait an hour
    assert any(m.topic == "opportunities" and m.key == b"c-8" for m in publisher.messages)
