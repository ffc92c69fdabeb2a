"""``backtest`` speed over a generated bank month (``python -m bench.backtest_rate``).

A month of ``--customers`` customers is generated with ``datatools.generate``
(the data engineer's workload: three months of regular bookings before the
month, then the month on all six topics), read back as ``impulse-stream
backtest`` reads recordings, and backtested as ``impulse-stream backtest``
does it: the packaged catalogue against a candidate that lowers
``balance_above_usual``'s ``min_ratio`` from 1.5 to 1.2, both through the batch
path on the in-memory store, then compared. Two ways, in turn, ``--rounds``
times (default 1): ``serial`` (``--workers 1``: the two catalogues one after the
other in one process) and ``parallel`` (``--workers N``, default the number of
CPUs: the two catalogues side by side in two forked processes). Each figure is
the median of its rounds; the JSON reports of every run are compared
(``reports_identical``). With ``--workers 1`` only the serial way runs (the
profile's: ``bench/profile.py``).

Figures per way: the wall time of the whole backtest (both catalogues and the
comparison); ``events_per_second``, the events the catalogue runs decided per
second of it (2 × events ÷ wall: one catalogue's events/s when serial, as the
figure was before the parallel way); ``cpu_us_per_event``, the CPU of this
process and its children per event and catalogue (CPU ÷ 2 events);
``cores_busy``, CPU seconds per wall second (what the machine gave the way:
at most 1 serially, at most the processes in parallel); and the
extrapolated wall time of a backtest of a 1M-customer month. The top-level
figures are the parallel way's (the serial way's with ``--workers 1``).

The figure for a 1M-customer month is an extrapolation, and says so: this
run's events per customer times one million, divided by this run's events per
second of wall time. It assumes the cost per event stays flat with the number
of customers (the in-memory store is a dict) and the machine has the memory
for a million states (twice: two runs at once); neither is measured here.
``due_ms_1m``: one ``due`` call of the backtest's store on a partition of a
1M-customer month (~167,000 timers), which the linear extrapolation leaves out:
per event it adds ``due_ms_1m × 6 partitions ÷ 500 events per batch``.

    python -m bench.backtest_rate --customers 2000 --rounds 3 --result out.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, load_catalogue, parse_catalogue_text
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.datatools.backtest import compare_opened, run_both
from impulse_stream.datatools.backtest_store import BacktestStore
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.datatools.render import render_json
from impulse_stream.datatools.replay_workers import default_workers
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import InboundMessage

MONTH_CUSTOMERS = 1_000_000  # the month of a bank
CATALOGUES_PER_BACKTEST = 2  # baseline and candidate
PARTITIONS = 6
LOWER_RATIO = ("min_ratio: 1.5", "min_ratio: 1.2")  # the candidate's change


def candidate_catalogue() -> Catalogue:
    """The packaged catalogue with ``balance_above_usual`` firing more often."""
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    assert text.count(LOWER_RATIO[0]) == 1, "the packaged catalogue changed"
    return parse_catalogue_text(text.replace(*LOWER_RATIO), "bench-candidate")


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(
    messages: Sequence[InboundMessage], baseline: Catalogue, candidate: Catalogue, workers: int
) -> tuple[float, float, int, str]:
    """One backtest: wall s, CPU s, the baseline's outputs and the JSON report."""
    wall0, cpu0 = time.perf_counter(), _cpu()
    runs = run_both(messages, baseline, candidate, workers=workers)
    customers = len({m.key for m in messages if m.key is not None})
    report = compare_opened(runs[0], runs[1], baseline, candidate, len(messages), customers)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    return wall, cpu, runs[0].outputs, render_json(report)


def _figures(
    timings: list[tuple[float, float, int, str]], events: int, customers: int, workers: int
) -> dict[str, Any]:
    wall = statistics.median(t[0] for t in timings)
    cpu = statistics.median(t[1] for t in timings)
    decided = events * CATALOGUES_PER_BACKTEST
    rate = decided / wall if wall else 0.0
    month = events / customers * MONTH_CUSTOMERS * CATALOGUES_PER_BACKTEST / rate if rate else None
    return {
        "workers": workers,
        "seconds": round(wall, 2),
        "seconds_per_round": [round(t[0], 2) for t in timings],
        "events_per_second": round(rate, 1),
        "cpu_us_per_event": round(cpu / decided * 1e6, 1) if events else None,
        # CPU seconds per wall second: at most 1 serially, the processes' count in parallel
        "cores_busy": round(cpu / wall, 2) if wall else None,
        "month_1m_customers_minutes_extrapolated": (
            round(month / 60, 1) if month is not None else None
        ),
    }


def due_ms_1m(store: MemoryStore, customers: int = MONTH_CUSTOMERS // PARTITIONS) -> float:
    """CPU ms of one ``due`` call on a partition with ``customers`` timers (the best of 5)."""
    rng = random.Random(1)
    start = 1_790_000_000_000
    for i in range(customers):  # timers spread over the month; a day of them is due
        store.timers.setdefault(0, {})[f"c-{i}"] = start + rng.randrange(30 * 86_400_000)
    if isinstance(store, BacktestStore):
        store._compact(0)
    until = start + 3_600_000
    best = float("inf")
    for _ in range(5):
        cpu0 = time.process_time()
        asyncio.run(store.due(0, until, 5000))
        best = min(best, time.process_time() - cpu0)
    return round(best * 1000, 3)


def measure(
    customers: int,
    days: int = 30,
    seed: int = 1,
    partitions: int = 6,
    rounds: int = 1,
    workers: int | None = None,
) -> dict[str, Any]:
    """Generate, read and backtest one month, serial and parallel in turn ``rounds`` times;
    the figures as a dict (see the module docstring)."""
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        stats = write_files(GenerateSpec(customers, days, seed), out, partitions)
        generated = time.perf_counter() - t0
        messages = [m for _, m in read_timed_recordings(recording_files([out]))]
    baseline, candidate = load_catalogue(), candidate_catalogue()
    parallel_workers = workers or default_workers()
    ways = {"serial": 1} if parallel_workers == 1 else {"serial": 1, "parallel": parallel_workers}
    timings: dict[str, list[tuple[float, float, int, str]]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way, n in ways.items():
            timings[way].append(_timed(messages, baseline, candidate, n))
    events = len(messages)
    by_way = {way: _figures(timings[way], events, customers, n) for way, n in ways.items()}
    reports = {t[3] for ts in timings.values() for t in ts}
    outputs = {t[2] for ts in timings.values() for t in ts}
    top = by_way.get("parallel", by_way["serial"])
    figures: dict[str, Any] = {
        "customers": customers,
        "days": days,
        "rounds": rounds,
        "events": events,
        "events_per_customer": round(events / customers, 1),
        "generated_events": sum(stats.per_topic.values()),
        "generate_seconds": round(generated, 2),
        **top,
        "outputs": outputs.pop() if len(outputs) == 1 else None,
        "reports_identical": len(reports) == 1,
        "serial": by_way["serial"],
        "due_ms_1m": due_ms_1m(BacktestStore()),
        "load_average_before": [round(x, 2) for x in load0],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    if "parallel" in by_way:
        figures["parallel_vs_serial"] = round(
            by_way["serial"]["seconds"] / by_way["parallel"]["seconds"], 2
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest_rate")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each way in turn; each figure the median"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes of the parallel way (default: the CPUs); 1: the serial way only",
    )
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    figures = measure(args.customers, args.days, rounds=args.rounds, workers=args.workers)
    args.result.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
