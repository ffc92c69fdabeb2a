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

    python -m bench.backtest_rate --customers 2000 --result out.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.datatools.backtest import run_catalogue
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files

MONTH_CUSTOMERS = 1_000_000  # the month of a bank
CATALOGUES_PER_BACKTEST = 2  # baseline and candidate


def measure(customers: int, days: int = 30, seed: int = 1, partitions: int = 6) -> dict[str, Any]:
    """Generate, read and run one month; the figures as a dict (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        stats = write_files(GenerateSpec(customers, days, seed), out, partitions)
        generated = time.perf_counter() - t0
        messages = [m for _, m in read_timed_recordings(recording_files([out]))]
    catalogue = load_catalogue()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run = run_catalogue(catalogue, messages, "bench")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    events = len(messages)
    rate = events / wall if wall else 0.0
    per_customer = events / customers
    month_seconds = (
        per_customer * MONTH_CUSTOMERS / rate * CATALOGUES_PER_BACKTEST if rate else None
    )
    return {
        "customers": customers,
        "days": days,
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest_rate")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    figures = measure(args.customers, args.days)
    args.result.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
