"""bench/run.py's groups: what a plain `make bench` runs, what `make bench-full` adds, and
how the table and the summary say so (no servers: arguments and report lines)."""

from __future__ import annotations

import pytest
from bench.report import (
    PASSTHROUGH,
    WORKER_ASYNCIO,
    WORKER_FAST,
    WORKER_FAUST,
    Measurement,
    ratios,
    table,
    targets,
)
from bench.run import ALL, GROUPS, LATENCY_WAIT, OPT_IN, Bench, parse_args, wall_time


def test_a_plain_run_leaves_the_worker_variants_out_and_keeps_every_answer_of_the_issue():
    only = parse_args([]).only
    assert WORKER_ASYNCIO not in only and WORKER_FAUST not in only and LATENCY_WAIT not in only
    for group in GROUPS:
        if group not in OPT_IN:
            assert set(GROUPS[group]) <= set(only), group
    # the worker with the defaults, one and two of them, against the passthrough
    assert {PASSTHROUGH, WORKER_FAST, "worker/two-workers"} <= set(only)


def test_only_all_runs_every_group_the_opt_in_ones_too_in_the_groups_order():
    every = tuple(c for group in GROUPS.values() for c in group)
    assert parse_args(["--only", ALL]).only == every
    assert parse_args(["--only", f"worker-variants,{ALL}"]).only == every


def test_an_unknown_group_is_refused_and_all_is_offered() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--only", "workers"])


def test_the_table_marks_the_opt_in_contenders_a_run_left_out_as_not_run():
    bench = Bench.__new__(Bench)  # not_run() reads the arguments only: no stack
    bench.args = parse_args(["--only", "passthrough,worker"])
    by = {
        PASSTHROUGH: Measurement(PASSTHROUGH, 20_000.0, 3.0, 22.0),
        WORKER_FAST: Measurement(WORKER_FAST, 2_000.0, 30.0, 300.0),
    }
    text = table(by, ratios(by), targets(by), bench.not_run())
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("worker/")}
    for name in (WORKER_ASYNCIO, WORKER_FAUST):
        assert "not run" in rows[name] and "make bench-full" in rows[name], rows[name]
        assert "--only worker-variants" in rows[name]
    assert "not run" not in rows[WORKER_FAST]
    bench.args = parse_args(["--only", ALL])
    assert bench.not_run() == {}


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0 s"), (59.6, "1 min 0 s"), (572.2, "9 min 32 s")]
)
def test_the_wall_time_is_printed_in_minutes_and_seconds(seconds: float, text: str) -> None:
    assert wall_time(seconds) == text


def test_redis_memory_is_judged_by_the_memory_groups_median_when_it_ran_else_by_the_drain():
    worker = Measurement(WORKER_FAST, 2_000.0, 30.0, 300.0)
    worker.worker = {"redis_round_trips_per_event": 0.01, "redis_bytes_per_customer": 632.0}
    by = {PASSTHROUGH: Measurement(PASSTHROUGH, 20_000.0, 3.0, 22.0), WORKER_FAST: worker}
    drain = [t for t in targets(by) if "B/customer" in t.name]
    assert [(t.value, t.met) for t in drain] == [(632.0, False)]
    assert not [t for t in targets(by, memory_measured=True) if "B/customer" in t.name]
