"""``impulse-stream replay --workers N``: the recording's partitions split over N processes.

A replay's partitions are independent but for one thing: the acceptance
statistics learned from responses are shared by all customers, and each
event-time day decides with one snapshot of them, taken when the replay first
meets that day (``streaming/learning.py``). The serial replay takes a day's
snapshot at the first batch that releases an event of that day on *any*
partition, with the responses of the batches before it. So that a replay over
N processes publishes the same messages, byte for byte, with the same ids and
in the same order per partition, every process runs the serial replay's
batches restricted to its own partitions (the same cuts: batches of
:data:`~impulse_stream.datatools.replay.BATCH` records, split where the serial
path splits them at tombstones) and the processes meet at each batch's
snapshot step (:class:`LockstepLearning`): each tells the others the days its
batch releases, and all prepare the union of them as the serial replay would
(same snapshots, same cache of days); a process counts its batch's responses
only once all have read that batch's snapshots, so that none is counted in
them. Outside that step the processes run side by side.

A recording without responses teaches nothing: every snapshot is empty, the
engine of every day decides as the catalogue's own, and the processes run
without meeting at all.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from impulse_stream.core.learning import AcceptanceObservation
from impulse_stream.errors import DataToolError
from impulse_stream.streaming.learning import LearningSnapshots

if TYPE_CHECKING:
    from impulse_stream.datatools.progress import Bar
    from impulse_stream.streaming.processor import InboundMessage

T = TypeVar("T")
MAX_DAYS = 8192  # event-time days one process may release in one batch (22 years)


def default_workers() -> int:
    """The number of CPUs this process may run on (``--workers``' default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def partition_shares(messages: Sequence[InboundMessage], workers: int) -> list[tuple[int, ...]]:
    """The recording's partitions dealt to at most ``workers`` processes, the most
    recorded first, each to the process with the fewest records so far (ties: the
    lower process): every process gets at least one partition, none is empty."""
    counts: dict[int, int] = {}
    for m in messages:
        counts[m.partition] = counts.get(m.partition, 0) + 1
    shares: list[list[int]] = [[] for _ in range(min(workers, len(counts)))]
    loads = [0] * len(shares)
    for p, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lightest = loads.index(min(loads))
        shares[lightest].append(p)
        loads[lightest] += n
    return [tuple(sorted(s)) for s in shares]


def batch_cuts(
    messages: Sequence[InboundMessage], batch: int, profiles_topic: str
) -> list[tuple[int, int]]:
    """``(start, end)`` of each segment the serial replay processes in one step: its
    batches of ``batch`` records, cut where :class:`BatchProcessor` cuts them (before a
    profile record of a customer tombstoned earlier in the batch)."""
    from impulse_stream.streaming.processor import split_at_tombstones

    cuts: list[tuple[int, int]] = []
    for start in range(0, len(messages), batch):
        at = start
        for segment in split_at_tombstones(messages[start : start + batch], profiles_topic):
            cuts.append((at, at + len(segment)))
            at += len(segment)
    return cuts


def own_segments(
    messages: Sequence[InboundMessage], cuts: Sequence[tuple[int, int]], partitions: set[int]
) -> Iterator[list[InboundMessage]]:
    """Each serial step's records of ``partitions`` (possibly none: the step is still
    taken, so the processes meet at every step)."""
    for start, end in cuts:
        yield [m for m in messages[start:end] if m.partition in partitions]


class DayBoard(Protocol):
    """Where the processes of one replay meet at each batch's snapshot step."""

    async def exchange(self, days: set[date]) -> set[date]:
        """Tell the others this batch's days; returns every process's, once all told."""
        ...

    def have_read(self) -> None:
        """This process has read this batch's snapshots (or had none to read)."""
        ...

    async def all_have_read(self) -> None:
        """Returns once every process has read this batch's snapshots."""
        ...


class LockstepLearning(LearningSnapshots):
    """The per-day snapshots of one of a replay's processes: prepared for the days the
    batch releases on every process, as the serial replay prepares them; a batch's
    responses are counted only once every process has read that batch's snapshots
    (which must not count them). Only a process with responses to count waits."""

    def __init__(self, learning: LearningSnapshots, board: DayBoard) -> None:
        super().__init__(learning.engine, learning.store, learning.retrying)
        self.board = board

    async def prepare(self, days: set[date]) -> None:
        everyone = await self.board.exchange(days)
        await super().prepare(everyone)
        self.board.have_read()

    async def learn(self, observations: list[AcceptanceObservation]) -> None:
        if observations:
            await self.board.all_have_read()
        await super().learn(observations)


class InProcessBoard:
    """A :class:`DayBoard` for ``parties`` tasks of one event loop (the unit tests')."""

    def __init__(self, parties: int) -> None:
        self.barrier = asyncio.Barrier(parties)
        self.told: list[dict[int, set[date]]] = [{}, {}]
        self.steps = [0] * parties
        self.read = [0] * parties

    def seat(self, party: int) -> DayBoard:
        board = self

        class Seat:
            async def exchange(self, days: set[date]) -> set[date]:
                step = board.steps[party]
                board.steps[party] = step + 1
                board.told[step % 2][party] = set(days)
                await board.barrier.wait()
                return set().union(*board.told[step % 2].values())

            def have_read(self) -> None:
                board.read[party] = board.steps[party]

            async def all_have_read(self) -> None:
                while min(board.read) < board.steps[party]:
                    await asyncio.sleep(0)

        return Seat()


class ProcessBoard:
    """A :class:`DayBoard` of forked processes: a barrier and, per process and step
    parity, a slot of day ordinals in shared memory (a process writes the next step's
    slot only after all have passed this step's barrier, so two slots suffice); and
    per process the last step whose snapshots it has read."""

    def __init__(self, ctx: Any, parties: int) -> None:
        self.parties = parties
        self.barrier = ctx.Barrier(parties)
        self.slots: Any = ctx.RawArray("i", parties * 2 * (1 + MAX_DAYS))
        self.read: Any = ctx.RawArray("q", parties)
        self.party = -1
        self.step = 0

    def _slot(self, party: int, parity: int) -> int:
        return (party * 2 + parity) * (1 + MAX_DAYS)

    async def exchange(self, days: set[date]) -> set[date]:
        if len(days) > MAX_DAYS:
            raise DataToolError(
                f"one batch releases events of {len(days):,} days; at most {MAX_DAYS:,}"
            )
        parity = self.step % 2
        self.step += 1
        raw = self.slots
        at = self._slot(self.party, parity)
        raw[at] = len(days)
        raw[at + 1 : at + 1 + len(days)] = sorted(d.toordinal() for d in days)
        await asyncio.get_running_loop().run_in_executor(None, self.barrier.wait)
        everyone: set[date] = set()
        for party in range(self.parties):
            at = self._slot(party, parity)
            everyone.update(date.fromordinal(n) for n in raw[at + 1 : at + 1 + raw[at]])
        return everyone

    def have_read(self) -> None:
        self.read[self.party] = self.step

    async def all_have_read(self) -> None:
        while min(self.read) < self.step:
            await asyncio.sleep(0.0005)


class ForkedProcesses(Generic[T]):
    """Processes forked from the caller (what it holds, a recording, is inherited), each
    running ``work(index, board, advance)``; :meth:`results` gathers what they return, in
    process order, and sums their progress (``advance(events)``) into a bar. A process
    that fails or dies stops the others: :class:`DataToolError`, one line, naming it
    (:meth:`describe`). Used by ``replay --workers`` and ``backtest --workers``."""

    others = "the other processes were stopped"

    def __init__(
        self,
        count: int,
        work: Callable[[int, ProcessBoard, Callable[[int], None]], T],
        name: str = "worker",
    ) -> None:
        self.ctx = multiprocessing.get_context("fork")
        self.count = count
        self.board = ProcessBoard(self.ctx, count)
        self.done = self.ctx.Array("q", count)  # events decided per process
        self.results_queue = self.ctx.SimpleQueue()  # (process, ok, result or error)
        self.work = work
        self.parent = os.getpid()
        self.procs = [
            self.ctx.Process(target=self._child, args=(i,), name=f"{name}-{i + 1}")
            for i in range(count)
        ]

    def _child(self, index: int) -> None:
        # Ctrl-C goes to the whole process group: the parent stops the workers and says
        # where the run stopped; a worker stops without a traceback of its own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.board.party = index

        def advance(events: int) -> None:
            with self.done.get_lock():
                self.done[index] += events
            if os.getppid() != self.parent:  # the parent is gone: nobody waits for us
                os._exit(1)

        try:
            result = self.work(index, self.board, advance)
        except DataToolError as exc:
            self.results_queue.put((index, False, str(exc)))
            raise SystemExit(1) from None
        except Exception as exc:
            self.results_queue.put((index, False, repr(exc)))
            raise SystemExit(1) from None
        self.results_queue.put((index, True, result))

    def describe(self, index: int) -> str:
        return f"process {index + 1} of {self.count}"

    def progress(self) -> list[int]:
        """The events each process has reported so far."""
        return list(self.done[:])

    def results(self, bar: Bar) -> list[T]:
        """Start the processes; return what each returned, in process order, once all
        are done. A process that fails stops the others: :class:`DataToolError`."""
        for p in self.procs:
            p.start()
        returned: dict[int, T] = {}
        shown = 0
        try:
            while len(returned) < len(self.procs):
                while not self.results_queue.empty():
                    index, ok, result = self.results_queue.get()
                    if not ok:
                        self._fail(index, result)
                    returned[index] = result
                for i, p in enumerate(self.procs):
                    if p.exitcode not in (None, 0) and i not in returned:
                        time.sleep(0.2)  # its reason may be on its way
                        if not self.results_queue.empty():
                            break
                        self._fail(i, f"ended with exit code {p.exitcode}")
                now = sum(self.done[:])
                bar.advance(now - shown, now - shown)
                shown = now
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        for p in self.procs:
            p.join()
        now = sum(self.done[:])
        bar.advance(now - shown, now - shown)
        return [returned[i] for i in range(len(self.procs))]

    def _fail(self, index: int, reason: str) -> None:
        self.stop()
        line = " ".join(reason.split())
        raise DataToolError(f"{self.describe(index)}: {line}; {self.others}")

    def stop(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()


class Workers(ForkedProcesses[int]):
    """The replay's processes, one per share of partitions; :meth:`wait` sums their
    progress and the messages they published."""

    others = "the other workers were stopped"

    def __init__(
        self,
        shares: Sequence[tuple[int, ...]],
        work: Callable[[int, tuple[int, ...], ProcessBoard, Callable[[int], None]], int],
    ) -> None:
        self.shares = list(shares)

        def on_share(index: int, board: ProcessBoard, advance: Callable[[int], None]) -> int:
            return work(index, self.shares[index], board, advance)

        super().__init__(len(self.shares), on_share, "replay-worker")

    def describe(self, index: int) -> str:
        parts = ", ".join(map(str, self.shares[index]))
        return f"replay worker {index + 1} of {len(self.shares)} (partitions {parts})"

    def wait(self, bar: Bar) -> int:
        """Start the workers; return the messages they published once all are done.
        A worker that fails stops the others: :class:`DataToolError` with its reason."""
        return sum(self.results(bar))
