"""``make bench``'s harness works end to end on a small backlog (never its timings).

The runner on the session's Kafka and Redis with 2,000 events: the passthrough,
the in-memory processor and the stage runs of both builds of the core must
finish without error, and the stage runs must see the same outputs as the core
applied directly, with the same hash for the interpreted and the compiled core;
the run reports its wall time and where it went.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from bench.reference import decoded, merged, steps
from bench.stages import STAGES
from bench.workload import build_workload

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.state import CustomerState

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 2000


def _reference_outputs() -> int:
    engine = DecisionEngine(load_catalogue())
    states: dict[str, CustomerState] = {}
    outputs = 0
    for step in steps(decoded(merged(build_workload(EVENTS)))):
        decision = engine.apply(states.get(step.event.customer_id), step.event, step.watermark)
        states[step.event.customer_id] = decision.state
        outputs += len(decision.outputs)
    return outputs


def test_the_bench_runs_every_stage_on_both_builds_with_identical_outputs_and_times_itself(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--events", str(EVENTS),
         "--only", "passthrough,processor,stages", "--kafka", kafka_bootstrap,
         "--redis", redis_url, "--results", str(tmp_path), "--drain-timeout", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # 1: the throughput target is missed by design on 2,000 events; 2 or 3 would be a failure.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    results = orjson.loads((tmp_path / "latest.json").read_bytes())
    contenders = results["contenders"]
    assert set(contenders) == {"passthrough", "processor/in-memory"}
    assert all(c["error"] is None for c in contenders.values()), contenders
    by = {s["build"]: s for s in results["stages"]}
    assert set(by) == {"interpreted", "compiled"}, results["stages"]
    assert by["interpreted"]["compiled_modules"] == 0
    assert by["compiled"]["compiled_modules"] >= 40
    expected = _reference_outputs()
    for figures in by.values():
        assert figures["events"] == EVENTS
        assert figures["outputs"] == expected > 0
        assert set(figures["cpu_us"]) == set(STAGES)
        assert [c["codec"] for c in figures["codecs"]] == [
            "zstd+dictionary 1 (format 3)",
            "packed digests+dictionary 2 (format 4)",
        ]
    assert by["interpreted"]["output_hash"] == by["compiled"]["output_hash"]
    table = results["stages_table"]
    assert "outputs and states of both builds identical: yes" in table
    assert "interpreted / compiled: core" in table
    assert table in done.stdout
    # the run's wall time and its parts, printed last and in the results
    phases = results["phase_seconds"]
    assert set(phases) == {"stack up", "produce", "passthrough", "processor/in-memory",
                           "stages/interpreted", "stages/compiled"}  # fmt: skip
    # parts of the run, each rounded to 0.1 s: together at most the whole
    assert 0 < sum(phases.values()) <= results["wall_seconds"] + 0.05 * len(phases)
    minutes, seconds = divmod(round(results["wall_seconds"]), 60)
    total = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    assert done.stdout.rstrip().splitlines()[-1].startswith(f"total wall time: {total} (")


def test_the_bench_backtests_a_generated_month_serially_and_in_parallel_and_extrapolates(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    from impulse_stream.datatools.backtest import run_catalogue
    from impulse_stream.datatools.generate import GenerateSpec, write_files
    from impulse_stream.datatools.recording import read_timed_recordings, recording_files

    customers = 40
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--events", "1000", "--only", "backtest",
         "--backtest-customers", str(customers), "--kafka", kafka_bootstrap,
         "--redis", redis_url, "--results", str(tmp_path), "--drain-timeout", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    figures = orjson.loads((tmp_path / "latest.json").read_bytes())["backtest"]
    month = tmp_path / "month"
    write_files(GenerateSpec(customers, 30, 1), month, 6)
    messages = [m for _, m in read_timed_recordings(recording_files([month]))]
    expected = run_catalogue(load_catalogue(), messages, "test")
    assert figures["events"] == figures["generated_events"] == len(messages) > 0
    assert figures["outputs"] == len(expected.messages) > 0
    assert figures["events_per_customer"] == round(len(messages) / customers, 1)
    # the two catalogues side by side (the default: the CPUs) and one after the other
    assert figures["reports_identical"] is True
    assert figures["workers"] == len(os.sched_getaffinity(0)) >= 2
    assert figures["serial"]["workers"] == 1
    assert figures["parallel_vs_serial"] == pytest.approx(
        figures["serial"]["seconds"] / figures["seconds"], abs=0.01
    )
    for way in (figures, figures["serial"]):
        minutes = way["month_1m_customers_minutes_extrapolated"]
        rate = way["events_per_second"]  # both catalogues' events per second of wall time
        assert rate == pytest.approx(2 * len(messages) / way["seconds"], rel=0.05)
        # events per customer x 1M x two catalogues / the rate (rounded in the file)
        assert minutes == pytest.approx(
            len(messages) / customers * 2e6 / rate / 60, rel=1e-3, abs=0.1
        )
    assert "1M-customer month, two catalogues (extrapolated linearly)" in done.stdout
    assert f"backtest/month: {figures['workers']} processes" in done.stdout
    assert "backtest/month-serial: 1 process" in done.stdout


def test_the_bench_runs_two_workers_of_one_group_and_they_split_the_partitions(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    events = 2000
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--events", str(events), "--only", "two-workers",
         "--kafka", kafka_bootstrap, "--redis", redis_url, "--results", str(tmp_path),
         "--drain-timeout", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    two = orjson.loads((tmp_path / "latest.json").read_bytes())["contenders"]["worker/two-workers"]
    assert two["error"] is None, two["error"]  # also: Redis holds every customer of the workload
    per_worker = two["worker"]["per_worker"]
    assert len(per_worker) == 2
    # every worker input topic has six partitions: three partition numbers each
    each = 3 * len(topics.WORKER_INPUT_TOPICS)
    assert [w["topic_partitions"] for w in per_worker] == [each, each]
    # a rebalance may hand a partition's uncommitted events to the other worker: read twice
    assert sum(w["events"] for w in per_worker) >= events
    assert two["worker"]["dead_letters"] == 0
    assert f"worker/two-workers: at the end {each} topic-partitions" in done.stdout


def test_the_bench_replays_the_live_events_and_computes_replay_over_live(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    events = 2000
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--events", "1000", "--only", "replay",
         "--replay-events", str(events), "--kafka", kafka_bootstrap, "--redis", redis_url,
         "--results", str(tmp_path), "--drain-timeout", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    results = orjson.loads((tmp_path / "latest.json").read_bytes())
    replay = results["replay"]
    assert "error" not in replay, replay
    assert results["latency"] is None
    # the live worker decided every event (a batch retried while the fresh topics settle is
    # read twice); the replay read every one of them back
    assert replay["live_events_decided"] >= replay["events"] == replay["replay_events"] == events
    # both decided and published (their counts differ: the live figure sums the worker's
    # impulse, opportunity and attribution counters, the replay counts every message it sent)
    assert replay["replay_published"] > 0 and replay["live_outputs"] > 0
    assert replay["replay_vs_live"] == pytest.approx(
        replay["replay_events_per_second"] / replay["live_events_per_second"], rel=1e-2
    )
    # side by side: the same records replayed by one process, then by one per CPU
    assert replay["serial_replay_events"] == events and replay["serial_replay_workers"] == 1
    assert replay["replay_workers"] == min(len(os.sched_getaffinity(0)), 6)
    assert replay["serial_replay_published"] == replay["replay_published"]
    assert replay["replay_vs_serial"] == pytest.approx(
        replay["replay_events_per_second"] / replay["serial_replay_events_per_second"], rel=1e-2
    )
    assert "replay/catch-up / replay/catch-up-serial:" in done.stdout
    target = next(t for t in results["targets"] if t["name"].startswith("replay events/s"))
    assert target["value"] == replay["replay_vs_live"] and target["limit"] == 1.5
    assert "replay events/s / live events/s" in done.stdout


def test_the_bench_matches_every_opportunity_to_its_open_loop_payment_with_and_without_wait(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--events", "1000", "--only", "latency,latency-wait",
         "--latency-drain", "500", "--latency-seconds", "2", "--kafka", kafka_bootstrap,
         "--redis", redis_url, "--results", str(tmp_path), "--drain-timeout", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    results = orjson.loads((tmp_path / "latest.json").read_bytes())
    latency = results["latency"]
    assert "error" not in latency, latency
    assert results["replay"] is None
    # half of the max rate the same worker reached on 500 payments of this run
    assert latency["max_rate_events"] == 500 and latency["max_rate"] > 0
    assert latency["target_rate"] == pytest.approx(latency["max_rate"] / 2, abs=0.15)
    assert latency["events"] == max(10, round(latency["max_rate"] / 2 * 2))
    # one large incoming payment per customer, one opportunity each, nothing else
    assert latency["matched"] == latency["events"] and latency["unmatched"] == 0
    assert latency["extra_opportunities"] == 0 and latency["unknown_keys"] == 0
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert latency["worker_exit_code"] == 0
    assert latency["load"] == 0.5 and 1 <= latency["mean_batch"] <= latency["events"]
    assert "p99 event -> opportunity at half load" in done.stdout
    # the same at the same rate with a caught-up topic holding the clock 2 s (the old rule)
    waiting = results["latency_caught_up_wait"]
    assert "error" not in waiting, waiting
    assert waiting["worker_env"] == {"IMPULSE_STREAM_CAUGHT_UP_IDLE_SECONDS": "2"}
    assert waiting["max_rate"] == latency["max_rate"] and waiting["max_rate_events"] == 0
    # half of the max rate as reported (rounded to 0.1/s): the same rate to within 0.1/s
    # (one rounding step apart at most: 677.1 vs 677.2 differ by a float hair over 0.1)
    assert waiting["target_rate"] == pytest.approx(latency["target_rate"], abs=0.15)
    assert waiting["matched"] == waiting["events"]
    assert abs(waiting["events"] - latency["events"]) <= 1  # that rate x the same seconds
    assert waiting["extra_opportunities"] == 0 and waiting["unknown_keys"] == 0
    ratio = waiting["p99_ms"] / latency["p99_ms"]
    assert f"p99 with the caught-up topics waiting 2 s / p99 now: {ratio:.1f} x" in done.stdout
