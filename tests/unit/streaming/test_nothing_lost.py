"""Whatever arrives, no valid event is lost: failures stay with their event or customer,
the clock ignores events from the future, state loss is detected before it does harm."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import Decoder
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.errors import StateLost
from impulse_stream.store.base import CustomerWrite
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    OutboundMessage,
)
from tests.support.scenarios import T0, abandoned_card_order, order_step, order_stream, profile

ENGINE = DecisionEngine(load_catalogue())
WALL = (T0 + timedelta(days=2)).timestamp()  # the worker's wall clock in these tests


def processor(store: MemoryStore | None = None, **kw: object) -> BatchProcessor:
    return BatchProcessor(
        ENGINE, store or MemoryStore(), CollectingPublisher(), wall_clock=lambda: WALL, **kw
    )


def messages(topic: str, events: list, partition: int = 0, start: int = 0) -> list[InboundMessage]:
    return [
        InboundMessage(
            topic,
            partition,
            start + n,
            None if isinstance(e, tuple) else e["customer_id"].encode(),
            e[1] if isinstance(e, tuple) else orjson.dumps(e),
        )
        if not isinstance(e, tuple)
        else InboundMessage(topic, partition, start + n, e[0], e[1])
        for n, e in enumerate(events)
    ]


def published(p: BatchProcessor) -> list[OutboundMessage]:
    return p.publisher.messages  # type: ignore[attr-defined, no-any-return]


def outputs(p: BatchProcessor) -> list[bytes]:
    return [m.value or b"" for m in published(p) if m.topic != "impulse-stream.dlq"]


def dead(p: BatchProcessor) -> list[tuple[str, int]]:
    return [
        (dict(m.headers)["dlq_reason"].decode(), int(dict(m.headers)["dlq_offset"]))
        for m in published(p)
        if m.topic == "impulse-stream.dlq"
    ]


def valid_orders(n: int = 40) -> list[dict]:
    return [e for e in order_stream(n, seed=3) if e["occurred_at"] < "2026-11-25"]


def run(coro):
    return asyncio.run(coro)


def test_a_customer_whose_stored_state_is_corrupt_fails_alone_as_a_state_error():
    store = MemoryStore()
    run(store.commit([CustomerWrite("c-bad", 0, 0, b"\xff not a state", {})]))
    p = processor(store)
    batch = messages("orders.flow", abandoned_card_order("c-bad") + abandoned_card_order("c-good"))
    run(p.process(batch))
    assert dead(p) == [("state_error", 0), ("state_error", 1), ("state_error", 2)]
    reference = processor()
    run(reference.process(messages("orders.flow", abandoned_card_order("c-good"), start=3)))
    assert outputs(p) == outputs(reference)  # the other customer as if alone
    assert run(store.load(["c-bad"]))["c-bad"].state == b"\xff not a state"  # nothing written


def test_a_decoder_bug_dead_letters_that_message_only():
    class BrokenOnOne(Decoder):
        def decode(self, topic, key, value):
            if b"o-broken" in (value or b""):
                raise RuntimeError("decoder bug")
            return super().decode(topic, key, value)

    p = processor()
    p.decoder = BrokenOnOne()
    broken = order_step("c1", "o-broken", "started", 0, T0)
    run(p.process(messages("orders.flow", [broken, *abandoned_card_order("c2")])))
    assert dead(p) == [("decode_error", 0)]
    assert run(p.store.load(["c2"]))["c2"].state is not None


@pytest.mark.parametrize(
    "future",
    [
        datetime(2036, 1, 1, tzinfo=UTC),
        T0 + timedelta(days=3, minutes=1),  # just beyond a day of skew
    ],
)
def test_one_event_from_the_future_is_dead_lettered_and_changes_nothing_for_the_partition(future):
    events = valid_orders()
    with_outlier = processor()
    ahead = order_step("c-ahead", "o-ahead", "started", 0, future)
    batch = messages("orders.flow", [*events[:10], ahead, *events[10:]])
    run(with_outlier.process(batch))
    without = processor()
    run(without.process([m for m in batch if m.offset != 10]))
    assert dead(with_outlier) == [("from_the_future", 10)]
    assert outputs(with_outlier) == outputs(without)
    assert with_outlier.watermarks == without.watermarks


def test_an_event_within_the_skew_is_applied():
    p = processor()
    soon = T0 + timedelta(days=2, hours=20)  # 20 h ahead of the wall clock
    run(p.process(messages("orders.flow", [order_step("c1", "o1", "started", 0, soon)])))
    assert dead(p) == []
    assert run(p.store.load(["c1"]))["c1"].state is not None


def test_a_repeated_event_id_with_other_content_is_a_conflicting_duplicate():
    first = order_step("c1", "o1", "step_completed", 1, T0)
    again = dict(first)
    other = {**first, "step": 2}
    p = processor()
    run(p.process(messages("orders.flow", [first, again, other])))
    assert dead(p) == [("conflicting_duplicate", 2)]
    alone = processor()
    run(alone.process(messages("orders.flow", [first])))
    assert run(p.store.load(["c1"]))["c1"].state == run(alone.store.load(["c1"]))["c1"].state
    assert outputs(p) == outputs(alone)  # the identical repeat changed nothing


def test_a_tombstone_then_a_new_profile_in_one_batch_leaves_the_new_state():
    tombstone = (b"c1", None)
    one_batch = processor()
    first = messages("customers.profile", [profile("c1"), tombstone, profile("c1", segment="gold")])
    run(one_batch.process(first))
    split = processor()
    run(split.process(first[:2]))
    run(split.process(first[2:]))
    state = run(one_batch.store.load(["c1"]))["c1"].state
    assert state is not None
    assert state == run(split.store.load(["c1"]))["c1"].state


def test_a_tombstone_at_the_end_of_a_batch_erases_the_customer():
    p = processor()
    run(p.process(messages("customers.profile", [profile("c1"), (b"c1", None)])))
    assert run(p.store.load(["c1"]))["c1"].state is None


def test_a_store_that_lost_what_it_had_written_stops_the_partition_before_any_decision():
    store = MemoryStore()
    p = processor(store)
    events = abandoned_card_order("c1")
    run(p.process(messages("orders.flow", events[:2])))
    run(store.wipe())  # Redis restarted without its AOF
    published_before = len(published(p))
    with pytest.raises(StateLost, match="rebuild"):
        run(p.process(messages("orders.flow", events[2:], start=2)))
    assert len(published(p)) == published_before
    assert run(store.load(["c1"]))["c1"].state is None  # nothing decided on the empty state


def test_a_new_owner_sees_state_loss_from_the_committed_offsets():
    store = MemoryStore()
    first = processor(store)
    run(first.process(messages("orders.flow", abandoned_card_order("c1"))))

    async def committed(partition: int) -> dict[str, int]:
        return {"orders.flow": 3}  # the group committed offsets 0-2

    healthy = processor(store, committed=committed)
    healthy.on_assigned({0})
    run(
        healthy.process(
            messages("orders.flow", [order_step("c1", "o9", "started", 0, T0)], start=3)
        )
    )

    run(store.wipe())
    successor = processor(store, committed=committed)
    successor.on_assigned({0})
    with pytest.raises(StateLost, match=r"orders\.flow is committed up to offset 3"):
        run(
            successor.process(
                messages("orders.flow", [order_step("c1", "o8", "started", 0, T0)], start=4)
            )
        )


def test_a_failed_batch_publishes_its_outbox_on_the_next_attempt():
    class FailsOnce(CollectingPublisher):
        failed = False

        async def publish(self, messages):
            if not self.failed:
                self.failed = True
                raise RuntimeError("not a Kafka error: a bug in the shell")
            await super().publish(messages)

    store = MemoryStore()
    p = BatchProcessor(ENGINE, store, FailsOnce(), wall_clock=lambda: WALL)
    batch = messages("orders.flow", valid_orders())
    with pytest.raises(RuntimeError):
        run(p.process(batch))
    run(p.process(batch))  # the caller retries the uncommitted batch
    reference = processor()
    run(reference.process(batch))
    assert outputs(reference)
    assert sorted(outputs(p)) == sorted(outputs(reference))
