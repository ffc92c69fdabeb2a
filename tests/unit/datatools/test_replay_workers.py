"""A replay split over processes by partition decides as the one-process replay does:
the same messages, in the same order per partition, also when responses learned on one
partition change another partition's decisions."""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.partitioner import partition_for
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.datatools.replay import BATCH, recorded_input_clock
from impulse_stream.datatools.replay_workers import (
    InProcessBoard,
    LockstepLearning,
    Workers,
    batch_cuts,
    own_segments,
    partition_shares,
)
from impulse_stream.errors import DataToolError
from impulse_stream.store.base import AcceptanceCounts
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    OutboundMessage,
)

PARTITIONS = 6
KEYED_BY_CUSTOMER = (topics.IMPULSES, topics.OPPORTUNITIES, topics.ATTRIBUTIONS)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> list[InboundMessage]:
    out: Path = tmp_path_factory.mktemp("month")
    write_files(GenerateSpec(100, 30, 4), out, PARTITIONS)
    return [m for _, m in read_timed_recordings(recording_files([out]))]


Outputs = dict[tuple[str, int], list[tuple[bytes | None, tuple[tuple[str, bytes], ...]]]]


def per_partition(messages: list[OutboundMessage]) -> Outputs:
    """Each output topic-partition's messages (value and headers) in publishing order."""
    out: Outputs = defaultdict(list)
    for m in messages:
        out[(m.topic, partition_for(m.key, PARTITIONS))].append((m.value, tuple(m.headers)))
    return out


SHARE: contextvars.ContextVar[int] = contextvars.ContextVar("share", default=-1)


class SnapshotLog(MemoryStore):
    """A store noting each acceptance snapshot read, per share (task) of the replay; the
    later shares read more slowly."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[int, list[tuple[date, AcceptanceCounts]]] = defaultdict(list)

    async def acceptance_before(self, day: date) -> AcceptanceCounts:
        # slow, as a round trip is: another process's responses may be counted meanwhile
        await asyncio.sleep(0.002 * (SHARE.get() + 1))
        counts = await super().acceptance_before(day)
        self.taken[SHARE.get()].append((day, dict(counts)))
        return counts


def one_process(
    month: list[InboundMessage], store: MemoryStore | None = None
) -> list[OutboundMessage]:
    publisher = CollectingPublisher()
    processor = BatchProcessor(
        DecisionEngine(load_catalogue()),
        store or MemoryStore(),
        publisher,
        **recorded_input_clock(month),
    )

    async def run() -> None:
        for start in range(0, len(month), BATCH):
            await processor.process(month[start : start + BATCH])
        await processor.flush()

    asyncio.run(run())
    return publisher.messages


def by_partition_shares(
    month: list[InboundMessage],
    workers: int,
    lockstep: bool = True,
    store: MemoryStore | None = None,
) -> list[list[OutboundMessage]]:
    """The replay's processes as tasks of one loop on one store (Redis's part), each
    pausing at random between its batches so that they drift apart; without
    ``lockstep``, one after the other (the first far ahead of the others)."""
    shares = partition_shares(month, workers)
    cuts = batch_cuts(month, BATCH, topics.PROFILES)
    store = store or MemoryStore()
    board = InProcessBoard(len(shares))
    publishers = [CollectingPublisher() for _ in shares]

    async def share(index: int) -> None:
        SHARE.set(index)
        processor = BatchProcessor(
            DecisionEngine(load_catalogue()),
            store,
            publishers[index],
            **recorded_input_clock(month),
        )
        if lockstep:
            processor.learning = LockstepLearning(processor.learning, board.seat(index))
        pause = random.Random(index)
        for segment in own_segments(month, cuts, set(shares[index])):
            await processor.process(segment)
            await asyncio.sleep(pause.random() * 0.003)
        await processor.flush()

    async def run() -> None:
        if lockstep:
            await asyncio.gather(*(share(i) for i in range(len(shares))))
        else:
            for i in range(len(shares)):
                await share(i)

    asyncio.run(run())
    return [p.messages for p in publishers]


def merged(outputs: list[list[OutboundMessage]]) -> Outputs:
    out: Outputs = {}
    for messages in outputs:
        for at, items in per_partition(messages).items():
            if at[0] in KEYED_BY_CUSTOMER:
                assert at not in out, f"{at} published by two processes"
                out[at] = items
            else:  # keyed by employer or household: every process may publish to it
                out.setdefault(at, []).extend(items)
    return out


def comparable(outputs: Outputs) -> dict[tuple[str, int], object]:
    """Order kept where one process writes a topic-partition; a multiset elsewhere."""
    return {
        at: items if at[0] in KEYED_BY_CUSTOMER else Counter(items) for at, items in outputs.items()
    }


def test_the_partitions_go_to_the_processes_balanced_by_records_and_none_empty(
    month: list[InboundMessage],
) -> None:
    shares = partition_shares(month, 4)
    assert len(shares) == 4 and all(shares)
    assert sorted(p for s in shares for p in s) == list(range(PARTITIONS))
    # more processes than partitions: one partition each
    assert sorted(partition_shares(month, 64)) == [(p,) for p in range(PARTITIONS)]
    assert partition_shares(month, 1) == [tuple(range(PARTITIONS))]
    assert partition_shares([], 4) == []


def test_a_month_replayed_by_two_or_three_processes_publishes_what_one_process_does(
    month: list[InboundMessage],
) -> None:
    serial = one_process(month)
    expected = comparable(per_partition(serial))
    assert sum(1 for m in serial if m.topic == topics.OPPORTUNITIES) > 100
    for workers in (2, 3):
        parts = by_partition_shares(month, workers)
        assert sum(len(p) for p in parts) == len(serial)
        assert comparable(merged(parts)) == expected, workers


def test_every_process_takes_the_snapshots_the_one_process_replay_takes(
    month: list[InboundMessage],
) -> None:
    """The days' acceptance snapshots: the same days, in the same order, with the same
    counts; a process run ahead of the others (no meeting) takes other ones."""
    serial = SnapshotLog()
    one_process(month, serial)
    assert serial.taken[-1] and any(counts for _, counts in serial.taken[-1])
    lockstep = SnapshotLog()
    by_partition_shares(month, 3, store=lockstep)
    assert [lockstep.taken[i] for i in range(3)] == [serial.taken[-1]] * 3
    ahead = SnapshotLog()
    by_partition_shares(month, 3, lockstep=False, store=ahead)
    assert ahead.taken[0] != serial.taken[-1]


def test_without_responses_processes_that_never_meet_publish_what_one_process_does(
    month: list[InboundMessage],
) -> None:
    """Nothing is learned without responses: every snapshot is empty, so the processes
    of such a replay need not meet, even one far ahead of the others."""
    silent = [m for m in month if m.topic != topics.RESPONSES]
    expected = comparable(per_partition(one_process(silent)))
    assert comparable(merged(by_partition_shares(silent, 3, lockstep=False))) == expected


class Tally:
    """A progress bar that adds up what it is told."""

    def __init__(self) -> None:
        self.items = 0

    def advance(self, steps: float = 1, items: int = 0) -> None:
        self.items += items


def test_the_progress_and_the_outputs_of_the_processes_are_summed() -> None:
    def work(index: int, partitions: tuple[int, ...], board: object, advance) -> int:
        for n in (3, 4):
            advance(n * (index + 1))
        return 10 + index

    tally = Tally()
    assert Workers([(0, 2), (1,)], work).wait(tally) == 10 + 11
    assert tally.items == 3 + 4 + 6 + 8


def test_a_failing_process_ends_the_replay_in_one_line_and_stops_the_others() -> None:
    def work(index: int, partitions: tuple[int, ...], board: object, advance) -> int:
        if index == 1:
            raise DataToolError("Redis at redis://127.0.0.1:1/0: connection refused")
        time.sleep(120)  # would hold the replay for two minutes
        return 0

    workers = Workers([(0, 2), (1,)], work)
    began = time.monotonic()
    with pytest.raises(DataToolError) as failed:
        workers.wait(Tally())
    assert time.monotonic() - began < 30
    assert str(failed.value) == (
        "replay worker 2 of 2 (partitions 1): Redis at redis://127.0.0.1:1/0: connection "
        "refused; the other workers were stopped"
    )
    assert not any(p.is_alive() for p in workers.procs)
