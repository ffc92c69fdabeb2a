"""The batch hand-off between the consumer and the agent, and the Faust internals it reads."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from dataclasses import dataclass

from impulse_stream.streaming import transport
from impulse_stream.streaming.transport import BatchHandOff


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int


def _poll(partition: int, offsets: range) -> list[_Message]:
    return [_Message("t", partition, o) for o in offsets]


def test_every_faust_internal_the_transport_reads_exists_in_the_installed_faust() -> None:
    # A faust-streaming upgrade that renames one of these breaks the drain loop or
    # the worker's read position: this names which.
    for qualified, names in transport.FAUST_INTERNALS.items():
        module, _, cls = qualified.rpartition(".")
        klass = getattr(importlib.import_module(module), cls)
        for name in names:
            if name.startswith("_") and not hasattr(klass, name):
                # an instance attribute: set in the class's source
                assert f"self.{name}" in inspect.getsource(klass), f"{qualified}.{name}"


def test_the_agent_takes_waiting_polls_together_up_to_the_batch_limit() -> None:
    async def run() -> list[list[int]]:
        hand_off = BatchHandOff(["t"], max_batches=3)
        hand_off.put(_poll(0, range(0, 4)))
        hand_off.put(_poll(1, range(0, 4)))
        hand_off.put(_poll(0, range(4, 8)))
        first = await hand_off.get(limit=8)
        second = await hand_off.get(limit=8)
        return [[m.offset for m in first], [m.offset for m in second]]

    assert asyncio.run(run()) == [[0, 1, 2, 3, 0, 1, 2, 3], [4, 5, 6, 7]]


def test_a_full_hand_off_makes_room_when_the_agent_takes_a_poll() -> None:
    async def run() -> tuple[bool, bool]:
        hand_off = BatchHandOff(["t"], max_batches=1)
        hand_off.put(_poll(0, range(3)))
        full = hand_off.full()
        waiter = asyncio.ensure_future(hand_off.wait_for_room())
        await asyncio.sleep(0)
        blocked = not waiter.done()
        await hand_off.get(limit=10)
        await asyncio.wait_for(waiter, 1)
        return full, blocked

    assert asyncio.run(run()) == (True, True)


def test_the_waiting_messages_of_a_revoked_partition_are_dropped_and_the_rest_kept() -> None:
    async def run() -> tuple[int, list[tuple[int, int]], int]:
        hand_off = BatchHandOff(["t"], max_batches=2)
        hand_off.put([*_poll(0, range(2)), *_poll(1, range(2))])
        hand_off.put(_poll(1, range(2, 4)))
        dropped = hand_off.discard({1})
        left = await hand_off.get(limit=100)
        return dropped, [(m.partition, m.offset) for m in left], len(hand_off)

    assert asyncio.run(run()) == (4, [(0, 0), (0, 1)], 0)


def test_the_agent_waits_for_the_next_poll_when_nothing_is_handed_over() -> None:
    async def run() -> list[int]:
        hand_off = BatchHandOff(["t"])
        taker = asyncio.ensure_future(hand_off.get(limit=10))
        await asyncio.sleep(0)
        assert not taker.done()
        hand_off.put(_poll(2, range(5, 7)))
        return [m.offset for m in await asyncio.wait_for(taker, 1)]

    assert asyncio.run(run()) == [5, 6]


def test_a_poll_larger_than_the_batch_limit_is_split_in_order() -> None:
    async def run() -> list[list[int]]:
        hand_off = BatchHandOff(["t"], max_batches=2)
        hand_off.put(_poll(0, range(0, 5)))
        hand_off.put(_poll(0, range(5, 7)))
        return [[m.offset for m in await hand_off.get(limit=3)] for _ in range(3)]

    assert asyncio.run(run()) == [[0, 1, 2], [3, 4], [5, 6]]
