"""The bench's latency options: the open loop's fraction of the max rate, and the opt-in
comparison with the clock's old 2 s wait (no servers: arguments and report lines)."""

from __future__ import annotations

import pytest
from bench.report import user_table, user_targets
from bench.run import LATENCY, LATENCY_WAIT, parse_args


def figures(p50: float, p99: float, load: float = 0.5, drained: int = 10_000) -> dict:
    return {
        "events": 300,
        "target_rate": 30.0,
        "max_rate": 600.0,
        "max_rate_events": drained,
        "sent_rate": 30.0,
        "matched": 300,
        "unmatched": 0,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": p99 + 1,
        "p50_first_tenth_ms": p50,
        "p50_last_tenth_ms": p50,
        "load": load,
        "mean_batch": 1.0,
    }


def test_a_plain_run_leaves_the_old_idleness_out_and_naming_it_adds_it_after_the_latency():
    assert LATENCY in parse_args([]).only and LATENCY_WAIT not in parse_args([]).only
    assert parse_args(["--only", "latency,latency-wait"]).only == (LATENCY, LATENCY_WAIT)


@pytest.mark.parametrize("load", ["0", "1.5", "-0.1"])
def test_a_latency_load_outside_zero_to_one_is_refused(load: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--latency-load", load])


def test_the_half_load_target_is_judged_only_at_half_load():
    assert [t.name for t in user_targets(figures(10, 40, load=0.5), None)] == [
        "p99 event -> opportunity at half load"
    ]
    assert user_targets(figures(10, 40, load=0.05), None) == []


def test_the_report_gives_the_old_waits_ratio_to_the_new_at_the_same_rate():
    text = user_table(
        figures(10.0, 40.0, load=0.05), None, [], figures(11.0, 2000.0, load=0.05, drained=0)
    )
    assert "(0.05 x of the worker's 600/s on 10,000 of them" in text
    assert "latency/caught-up-wait-2s:" in text and "measured by latency/half-load" in text
    assert "p99 with the caught-up topics waiting 2 s / p99 now: 50.0 x; p50: 1.1 x" in text


def test_the_report_gives_the_tail_from_the_opportunitys_kafka_timestamp_when_measured():
    measured = figures(10.0, 40.0) | {
        "publish_to_arrival_p50_ms": 2.5,
        "publish_to_arrival_p99_ms": 7.25,
    }
    text = user_table(measured, None, [], None)
    assert "to its arrival (publish, broker, the bench's consumer): p50 2.5, p99 7.2" in text
    assert "to its arrival" not in user_table(figures(10.0, 40.0), None, [], None)


def test_a_fixed_latency_rate_is_reported_as_such_and_judged_by_no_target():
    assert parse_args(["--latency-rate", "300"]).latency_rate == 300.0
    with pytest.raises(SystemExit):
        parse_args(["--latency-rate", "0"])
    fixed = figures(10.0, 40.0, load=1.0, drained=0) | {"fixed_rate": True}
    text = user_table(fixed, None, [], None)
    assert "open-loop at 30/s (a fixed rate, --latency-rate; sent 30/s)" in text
    assert user_targets(fixed, None) == []
