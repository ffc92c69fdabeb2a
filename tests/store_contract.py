"""One contract suite for every CustomerStore implementation.

A test module binds ``store`` (a fresh, empty store) and inherits the tests by
``from tests.store_contract import *  # noqa: F403``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from impulse_stream.errors import StateLost
from impulse_stream.store.base import EMPTY, CustomerWrite, Delivered, DueTimers


def write(cid: str = "c1", version: int = 0, offset: int = 10, **kw: object) -> CustomerWrite:
    fields: dict[str, object] = {
        "customer_id": cid,
        "partition": 0,
        "expected_version": version,
        "state": b"state-%d" % offset,
        "fences": {"orders.flow:0": offset},
    }
    fields.update(kw)
    return CustomerWrite(**fields)  # type: ignore[arg-type]


async def test_unknown_customer_reads_as_empty(store):
    assert (await store.load(["nobody"]))["nobody"] == EMPTY


async def test_write_is_read_back_with_version_fence_and_outbox(store):
    refused = await store.commit([write(outbox_id="1", outbox=b"msgs")])
    assert refused == set()
    got = (await store.load(["c1"]))["c1"]
    assert got.state == b"state-10"
    assert got.version == 1
    assert got.fences == {"orders.flow:0": 10}
    assert await store.outboxes(["c1"]) == {"c1": {"1": b"msgs"}}
    assert got.applied("orders.flow:0", 10)
    assert not got.applied("orders.flow:0", 11)
    assert not got.applied("orders.flow:1", 0)


async def test_stale_version_is_refused_and_changes_nothing(store):
    await store.commit([write()])
    refused = await store.commit([write(version=0, offset=11, state=b"zombie")])
    assert refused == {"c1"}
    got = (await store.load(["c1"]))["c1"]
    assert got.state == b"state-10" and got.version == 1


async def test_offset_not_above_fence_is_refused(store):
    await store.commit([write()])
    assert await store.commit([write(version=1, offset=10)]) == {"c1"}
    assert await store.commit([write(version=1, offset=11)]) == set()


async def test_the_same_write_sent_again_succeeds_again_and_changes_nothing(store):
    # A client resends a pipeline that had run (a connection error on another node).
    first = write(outbox_id="1", outbox=b"msgs", wakeup_ms=5)
    assert await store.commit([first]) == set()
    assert await store.commit([first]) == set()
    got = (await store.load(["c1"]))["c1"]
    assert got.version == 1 and got.state == b"state-10"
    assert await store.outboxes(["c1"]) == {"c1": {"1": b"msgs"}}


async def test_another_write_on_the_same_version_is_refused_even_with_the_same_content(store):
    # A zombie that read the same version and computed the same write is still fenced.
    first = write(outbox_id="1", outbox=b"msgs")
    assert await store.commit([first]) == set()
    assert await store.commit([replace(first)]) == {"c1"}
    assert await store.commit([write(state=b"other")]) == {"c1"}
    assert (await store.load(["c1"]))["c1"].version == 1


async def test_refusal_of_one_customer_does_not_block_others(store):
    await store.commit([write("a")])
    refused = await store.commit([write("a", version=0, offset=11), write("b")])
    assert refused == {"a"}
    assert (await store.load(["b"]))["b"].version == 1


async def test_pending_outbox_until_delivered(store):
    await store.commit([write("a", outbox_id="1", outbox=b"x"), write("b")])
    assert await store.pending(0) == ["a"]
    await store.mark_delivered([Delivered("a", 0, "1")])
    assert await store.pending(0) == []
    assert await store.outboxes(["a"]) == {"a": {}}


async def test_delivered_entries_are_deleted_with_the_next_read(store):
    await store.commit([write("a", outbox_id="1", outbox=b"x")])
    got = await store.load(["a"], delivered=[Delivered("a", 0, "1")])
    assert got["a"].version == 1
    assert await store.outboxes(["a"]) == {"a": {}}
    assert await store.pending(0) == []


async def test_timers_are_due_in_time_order_and_cleared(store):
    await store.commit([write("late", wakeup_ms=2000), write("early", wakeup_ms=1000)])
    assert await store.due(0, 999, 10) == []
    assert await store.due(0, 5000, 10) == ["early", "late"]
    assert await store.due(0, 5000, 1) == ["early"]
    await store.commit([write("early", version=1, offset=11, wakeup_ms=None)])
    assert await store.due(0, 5000, 10) == ["late"]
    assert await store.due(1, 5000, 10) == []


async def test_due_timers_come_with_the_earliest_wake_up_after_them(store):
    assert await store.due_and_next(0, 5000, 10) == DueTimers([], None)
    await store.commit(
        [
            write("late", wakeup_ms=3000),
            write("early", wakeup_ms=1000),
            write("mid", wakeup_ms=2000),
        ]
    )
    assert await store.due_and_next(0, 999, 10) == DueTimers([], 1000)
    assert await store.due_and_next(0, 1000, 10) == DueTimers(["early"], 2000)
    assert await store.due_and_next(0, 5000, 10) == DueTimers(["early", "mid", "late"], None)
    # Cut by the limit: the first customer left out is still due, and its wake-up is next.
    assert await store.due_and_next(0, 5000, 1) == DueTimers(["early"], 2000)
    assert await store.due_and_next(0, 5000, 0) == DueTimers([], 1000)
    assert await store.due_and_next(0, 5000, -1) == DueTimers(["early", "mid", "late"], None)
    await store.commit([write("early", version=1, offset=11, wakeup_ms=None)])
    assert await store.due_and_next(0, 1500, 10) == DueTimers([], 2000)
    assert await store.due_and_next(1, 5000, 10) == DueTimers([], None)


async def test_a_refused_write_neither_removes_nor_delays_the_owners_wake_up(store):
    """A zombie's late write (stale version) must leave the timer the owner stored: a
    removed or later wake-up would fire the customer's deadline late or never."""
    await store.commit([write("c1", wakeup_ms=1000)])
    assert await store.commit([write("c1", version=0, offset=11, wakeup_ms=None)]) == {"c1"}
    assert await store.commit([write("c1", version=0, offset=12, wakeup_ms=9000)]) == {"c1"}
    assert await store.due(0, 1000, 10) == ["c1"]
    await store.commit([write("c1", version=1, offset=13, wakeup_ms=5000)])
    assert await store.due(0, 4999, 10) == [] and await store.due(0, 5000, 10) == ["c1"]


async def test_a_large_outbox_entry_leaves_the_record_untouched(store):
    await store.commit([write("big", outbox_id="1", outbox=b"m" * 9000)])
    got = (await store.load(["big"]))["big"]
    assert got.state == b"state-10" and got.version == 1
    assert len((await store.outboxes(["big"]))["big"]["1"]) == 9000


async def test_ping_answers(store):
    assert await store.ping() >= 0.0


async def test_acceptance_statistics_sum_the_days_before(store):
    from datetime import date

    key = ("finish_credit_card_order", "retail", "call_centre")
    await store.add_acceptance(date(2026, 11, 20), {key: (1, 2)})
    await store.add_acceptance(date(2026, 11, 21), {key: (3, 0)})
    await store.add_acceptance(date(2026, 11, 23), {key: (5, 5)})
    assert await store.acceptance_before(date(2026, 11, 20)) == {}
    assert await store.acceptance_before(date(2026, 11, 23)) == {key: (4, 2)}
    assert await store.acceptance_before(date(2026, 12, 1)) == {key: (9, 7)}


async def test_erasing_a_customer_leaves_no_trace(store):
    await store.commit([write("gone", outbox_id="1", outbox=b"x", wakeup_ms=5), write("kept")])
    await store.erase([("gone", 0)])
    assert (await store.load(["gone"]))["gone"] == EMPTY
    assert await store.outboxes(["gone"]) == {"gone": {}}
    assert (await store.load(["kept"]))["kept"].version == 1
    assert await store.due(0, 10, 10) == []
    assert await store.pending(0) == []


async def test_checkpoints_are_raised_with_a_write_and_never_go_back(store):
    assert await store.checkpoints([0, 1]) == {0: {}, 1: {}}
    await store.commit([write()], {0: {"2:0": 10, "3:0": 4}})
    await store.commit([], {0: {"2:0": 7, "3:0": 9}, 1: {"2:1": 3}})  # a zombie's late 7
    assert await store.checkpoints([0, 1]) == {0: {"2:0": 10, "3:0": 9}, 1: {"2:1": 3}}


async def test_a_checkpoint_the_caller_expects_is_raised_only_while_it_exists(store):
    await store.commit([], {0: {"2:0": 10}})
    await store.commit([], {0: {"2:0": 11}}, expected={0})
    assert await store.checkpoints([0]) == {0: {"2:0": 11}}
    await store.wipe()  # Redis back without its data
    with pytest.raises(StateLost, match=r"partition 0: .*rebuild"):
        await store.commit([], {0: {"2:0": 12}}, expected={0})
    assert await store.checkpoints([0]) == {0: {}}  # not created again: the loss stays visible
    await store.commit([], {0: {"2:0": 12}})  # a caller that expects nothing creates it
    assert await store.checkpoints([0]) == {0: {"2:0": 12}}


async def test_wipe_deletes_every_record_index_statistic_and_checkpoint(store):
    await store.commit([write(outbox_id="1", outbox=b"m", wakeup_ms=5)], {0: {"2:0": 10}})
    await store.add_acceptance(date(2026, 11, 1), {("a", "retail", "app"): (1, 0)})
    assert await store.wipe() > 0
    assert (await store.load(["c1"]))["c1"] == EMPTY
    assert await store.pending(0) == [] and await store.due(0, 10, 10) == []
    assert await store.checkpoints([0]) == {0: {}}
    assert await store.acceptance_before(date(2026, 12, 1)) == {}


async def test_checkpoints_raised_with_writes_leave_each_write_its_own_answer(store):
    await store.commit([write("a")])
    marks = {0: {"2:0": 10}, 1: {"2:1": 5}, 2: {"2:2": 1}}
    refused = await store.commit(
        [write("a", version=0, offset=11), write("b", wakeup_ms=7), write("a2")], marks
    )
    assert refused == {"a"}
    assert (await store.load(["b"]))["b"].version == 1
    assert await store.due(0, 10, 10) == ["b"]
    assert await store.checkpoints([0, 1, 2]) == marks
