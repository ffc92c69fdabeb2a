"""The clock's index of held events, and the worker's acknowledgements that rely on it.

The worker acknowledges an event once its partition's clock no longer holds
it. It used to find those by rebuilding the set of every held event after
each batch; now the clock keeps that set (:attr:`EventClock.keys`) as it
holds, releases, drops and forgets events, and hands the worker the keys
that stopped being held (:meth:`EventClock.take_unheld`). After any sequence
of those steps the index is the set recomputed from the queues, and the
worker acknowledges and keeps waiting exactly what the full rebuild did.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.settings import Settings
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.app import Worker
from impulse_stream.streaming.clock import EventClock
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher

TOPICS = ("bank.transactions", "orders.flow", "ebanking.clicks")
CUSTOMERS = ("c1", "c2", "c3")


class Msg(NamedTuple):
    """What the worker reads of a Faust message."""

    topic: str
    partition: int
    offset: int


def recomputed(clock: EventClock) -> set[tuple[str, int, int]]:
    return {
        (h.topic, p, h.offset)
        for p, queues in clock.held.items()
        for q in queues.values()
        for h in q
    }


def assert_queues_in_offset_order(clock: EventClock) -> None:
    for queues in clock.held.values():
        for queue in queues.values():
            offsets = [h.offset for h in queue]
            assert offsets == sorted(set(offsets))


hold = st.tuples(
    st.just("hold"),
    st.sampled_from(TOPICS),
    st.integers(0, 2),  # partition
    st.integers(0, 12),  # offset: small, so that offsets are delivered again
    st.integers(0, 50),  # event time (ms)
    st.sampled_from(CUSTOMERS),
)
steps = st.lists(
    st.one_of(
        hold,
        hold,
        hold,
        st.tuples(st.just("release"), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("drop"), st.integers(0, 2), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("forget"), st.integers(0, 2)),
        st.tuples(st.just("block"), st.integers(0, 2)),
        st.tuples(st.just("settle")),
    ),
    max_size=60,
)


def apply(clock: EventClock, step: tuple[Any, ...]) -> Msg | None:
    """One step on the clock; a hold returns the message the worker then settles."""
    match step:
        case ("hold", topic, partition, offset, event_ms, cid):
            clock.hold(topic, partition, offset, event_ms, (cid, offset))
            return Msg(topic, partition, offset)
        case ("release", partition, everything):
            clock.release(partition, everything)
        case ("drop", partition, cid):
            clock.drop_held(partition, lambda item, cid=cid: item[0] != cid)
        case ("forget", partition):
            clock.forget(partition)
        case ("block", partition):  # what Worker._block does to the clock
            clock.drop_held(partition, lambda item: False)
    return None


def new_clock() -> EventClock:
    # Topics never turn idle: the clock is the minimum of the watermarks, so events stay held.
    return EventClock(TOPICS, topic_idle_seconds=1e9, wall_clock=lambda: 1000.0)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_after_any_holds_releases_drops_and_forgets_the_index_is_the_set_of_the_queues(
    sequence: list[tuple[Any, ...]],
) -> None:
    clock = new_clock()
    for step in sequence:
        apply(clock, step)
        assert clock.keys == recomputed(clock)
        assert_queues_in_offset_order(clock)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_unheld_keys_are_every_key_that_left_the_index_since_the_last_take(
    sequence: list[tuple[Any, ...]],
) -> None:
    clock = new_clock()
    assert clock.take_unheld() == []  # the first take starts keeping them
    left: list[tuple[str, int, int]] = []
    for step in [*sequence, ("settle",)]:
        before = set(clock.keys)
        apply(clock, step)
        left += before - clock.keys
        if step[0] == "settle":
            assert sorted(clock.take_unheld()) == sorted(left)
            left = []


def test_a_clock_nobody_takes_from_keeps_no_unheld_keys() -> None:
    clock = new_clock()
    for offset in range(100):
        clock.hold(TOPICS[0], 0, offset, offset, ("c1", offset))
    clock.release(0, everything=True)
    assert clock.keys == set()
    assert clock._unheld is None


def worker() -> Worker:
    """A worker whose processor is real; only ``_settle`` is driven, without Faust."""
    w = Worker(Settings(), app=None)
    w.processor = BatchProcessor(
        DecisionEngine(load_catalogue()), MemoryStore(), CollectingPublisher(), topic_prefix=""
    )
    return w


ENGINE_WORKER = worker()


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_worker_acknowledges_and_keeps_waiting_what_a_full_rebuild_of_the_held_set_gives(
    sequence: list[tuple[Any, ...]],
) -> None:
    w = ENGINE_WORKER
    w.waiting.clear()
    w.processor.clock = clock = new_clock()
    model: dict[tuple[str, int, int], Msg] = {}  # the worker's waiting messages, rebuilt in full
    done: list[Msg] = []
    for step in [*sequence, ("settle",)]:
        if step[0] == "block":  # Worker._block takes the partition's waiting messages too
            for k in [k for k in w.waiting if k[1] == step[1]]:
                del w.waiting[k]
                del model[k]
        message = apply(clock, step)
        if message is not None:
            done.append(message)
        if step[0] != "settle":
            continue
        held = recomputed(clock)
        expected = [model.pop(k) for k in [k for k in model if k not in held]]
        for m in done:
            if (m.topic, m.partition, m.offset) in held:
                model[(m.topic, m.partition, m.offset)] = m
            else:
                expected.append(m)
        ready = w._settle(done)
        assert sorted(ready) == sorted(expected)
        assert w.waiting == model
        done = []
