"""``backtest`` speed over a generated bank month (``python -m bench.backtest_rate``).

A month of ``--customers`` customers is generated with ``datatools.generate``
(the data engineer's workload: three months of regular bookings before the
month, then the month on all six topics), read back as ``impulse-stream
backtest`` reads recordings, and run through the batch path on the in-memory
store with the packaged catalogue, once, timed (wall clock and CPU). A
backtest compares two catalogues, so it runs the path twice.

The figure for a 1M-customer month is an extrapolation, and says so: this
run's events per customer times one million, divided by this run's rate,
times two catalogues. It assumes the cost per event stays flat with the
number of customers (the in-memory store is a dict) and the machine has the
memory for a million states; neither is measured here.

The same process also runs the month as the backtest ran it before
``datatools/backtest_store.py`` and ``datatools/collector.py`` (the plain
``MemoryStore``, the interpreter's collector thresholds): ``before`` in the
result, side by side with the figures of today's path, on the same messages,
the two in turn ``--rounds`` times (default 1: before, today's; with 2: before,
today's, before, today's, each figure the faster of its two runs), and whether
both gave the same output bytes. ``due_ms_1m``: one
``due`` call of each store on a partition of a 1M-customer month (~167,000
timers), which the linear extrapolation leaves out: per event it adds
``due_ms_1m × 6 partitions ÷ 500 events per batch``.

    python -m bench.backtest_rate --customers 2000 --rounds 2 --result out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.datatools import backtest
from impulse_stream.datatools.backtest import CatalogueRun, run_catalogue
from impulse_stream.datatools.backtest_store import BacktestStore
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import InboundMessage

MONTH_CUSTOMERS = 1_000_000  # the month of a bank
CATALOGUES_PER_BACKTEST = 2  # baseline and candidate
PARTITIONS = 6


@contextlib.contextmanager
def as_before() -> Iterator[None]:
    """The backtest's path as it was: the plain MemoryStore, no collector tuning."""
    store, collections = backtest.BacktestStore, backtest.fewer_collections
    backtest.BacktestStore = MemoryStore  # type: ignore[misc]
    backtest.fewer_collections = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        backtest.BacktestStore, backtest.fewer_collections = store, collections  # type: ignore[misc]


def _timed(
    catalogue: Catalogue, messages: Sequence[InboundMessage]
) -> tuple[float, float, CatalogueRun]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run = run_catalogue(catalogue, messages, "bench")
    return time.perf_counter() - wall0, time.process_time() - cpu0, run


def _digest(run: CatalogueRun) -> str:
    h = hashlib.sha256()
    for m in run.messages:
        h.update(
            orjson.dumps([m.topic, m.key or b"", m.value or b"", m.headers], default=bytes.hex)
        )
    return h.hexdigest()


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
    customers: int, days: int = 30, seed: int = 1, partitions: int = 6, rounds: int = 1
) -> dict[str, Any]:
    """Generate, read and run one month, both paths ``rounds`` times in turn; the figures
    as a dict (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        stats = write_files(GenerateSpec(customers, days, seed), out, partitions)
        generated = time.perf_counter() - t0
        messages = [m for _, m in read_timed_recordings(recording_files([out]))]
    catalogue = load_catalogue()
    runs: dict[str, list[tuple[float, float, CatalogueRun]]] = {"before": [], "today": []}
    for _ in range(rounds):
        with as_before():
            runs["before"].append(_timed(catalogue, messages))
        runs["today"].append(_timed(catalogue, messages))
    wall, cpu, run = min(runs["today"], key=lambda r: r[0])
    old_wall, old_cpu, old_run = min(runs["before"], key=lambda r: r[0])
    events = len(messages)
    rate = events / wall if wall else 0.0
    old_rate = events / old_wall if old_wall else 0.0
    per_customer = events / customers
    month_seconds = (
        per_customer * MONTH_CUSTOMERS / rate * CATALOGUES_PER_BACKTEST if rate else None
    )
    old_month = (
        per_customer * MONTH_CUSTOMERS / old_rate * CATALOGUES_PER_BACKTEST if old_rate else None
    )
    before = {
        "seconds": round(old_wall, 2),
        "events_per_second": round(old_rate, 1),
        "cpu_us_per_event": round(old_cpu / events * 1e6, 1) if events else None,
        "month_1m_customers_minutes_extrapolated": (
            round(old_month / 60, 1) if old_month is not None else None
        ),
        "due_ms_1m": due_ms_1m(MemoryStore()),
    }
    return {
        "customers": customers,
        "days": days,
        "rounds": rounds,
        "events": events,
        "events_per_customer": round(per_customer, 1),
        "generated_events": sum(stats.per_topic.values()),
        "generate_seconds": round(generated, 2),
        "seconds": round(wall, 2),
        "events_per_second": round(rate, 1),
        "cpu_us_per_event": round(cpu / events * 1e6, 1) if events else None,
        "outputs": len(run.messages),
        "month_1m_customers_minutes_extrapolated": (
            round(month_seconds / 60, 1) if month_seconds is not None else None
        ),
        "due_ms_1m": due_ms_1m(BacktestStore()),
        "before": before,
        "outputs_identical_to_before": _digest(run) == _digest(old_run),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest_rate")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each path; each figure the fastest"
    )
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    figures = measure(args.customers, args.days, rounds=args.rounds)
    args.result.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
