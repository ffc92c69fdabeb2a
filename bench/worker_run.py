"""The real worker (``python -m impulse_stream.cli worker``) drained against a backlog.

The runner reads the worker from the outside, as an SRE would: ``/metrics``
is polled (never ``/readyz``, whose Redis ping would count as a round trip).
The clock starts at the first scrape that shows events read and stops at
the worker's own ``impulse_stream_last_progress_timestamp_seconds`` once the
consumer group has committed every input offset, i.e. when the last batch
was decided, written to Redis and acknowledged by Kafka.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench import processes
from bench.broker import group_lag
from bench.progress import DrainClock
from bench.redis_probe import KeySample, RedisSnapshot

POLL_SECONDS = 0.2


class DrainTimeout(Exception):
    """A consumer did not read the whole backlog in time."""


@dataclass
class WorkerResult:
    clock: DrainClock
    metrics: dict[str, float] = field(default_factory=dict)  # sums over label sets
    exit_code: int | None = None
    log: Path | None = None
    per_worker: list[dict[str, int]] = field(default_factory=list)  # events, topic_partitions


def scrape(port: int, timeout: float = 5.0) -> dict[str, float]:
    """``/metrics`` as ``{sample name: value summed over its label sets}``.

    A sample with labels is also kept as ``name{label=value,...}``.
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
            if s.labels:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}"] = s.value
    return out


def labelled(metrics: dict[str, float], name: str) -> dict[str, int]:
    """The label sets of ``name`` and their values, e.g. impulses per kind."""
    head = name + "{"
    return {k[len(head) : -1]: int(v) for k, v in sorted(metrics.items()) if k.startswith(head)}


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_env(
    bootstrap: str,
    redis_url: str,
    *,
    topic_prefix: str,
    redis_prefix: str,
    app_id: str,
    web_port: int,
    fast_drain: bool,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The worker's environment: the runner's own minus every worker setting, then ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IMPULSE_STREAM_") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")
    }
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis_url,
            "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
            "IMPULSE_STREAM_REDIS_PREFIX": redis_prefix,
            "IMPULSE_STREAM_APP_ID": app_id,
            "IMPULSE_STREAM_WEB_PORT": str(web_port),
            "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "0",
            "IMPULSE_STREAM_FAST_DRAIN": "1" if fast_drain else "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def drain_worker(
    env: dict[str, str],
    *,
    bootstrap: str,
    ends: dict[TopicPartition, int],
    expect: int,
    timeout: float,
    log: Path,
) -> WorkerResult:
    """Start a worker, wait until it has decided every event, scrape, stop it gracefully."""
    return drain_workers(
        [env], bootstrap=bootstrap, ends=ends, expect=expect, timeout=timeout, logs=[log]
    )


def drain_workers(
    envs: list[dict[str, str]],
    *,
    bootstrap: str,
    ends: dict[TopicPartition, int],
    expect: int,
    timeout: float,
    logs: list[Path],
    module: str = "impulse_stream.cli",
    checkout: Path | None = None,
) -> WorkerResult:
    """Start workers of one group (one env each, own web port), wait until they have
    decided every event, scrape, stop them gracefully. CPU and metrics are summed over
    the workers; ``per_worker`` keeps each one's events and final partitions.
    ``module`` runs as ``python -m module worker`` (a prototype's launcher); ``checkout``:
    the worker of another checkout (its venv and sources, e.g. main's)."""
    ports = [int(env["IMPULSE_STREAM_WEB_PORT"]) for env in envs]
    group = envs[0]["IMPULSE_STREAM_APP_ID"]
    procs = [
        processes.python_module(module, ["worker"], env, log, checkout=checkout)
        for env, log in zip(envs, logs, strict=True)
    ]
    clock = DrainClock(expect)
    result = WorkerResult(clock, log=logs[0])

    def cpu() -> float:
        return sum(process_cpu(p.pid) or 0.0 for p in procs)

    try:
        deadline = time.monotonic() + timeout
        while True:
            for proc, log in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    raise DrainTimeout(
                        f"a worker exited with code {proc.returncode}; log {log}:\n"
                        + processes.log_tail(log)
                    )
            if time.monotonic() > deadline:
                raise DrainTimeout(
                    f"the workers read {clock.count} of {expect} events in {timeout:.0f}s; "
                    f"log {logs[0]}:\n{processes.log_tail(logs[0])}"
                )
            now, used = time.time(), cpu()
            try:
                scraped = [scrape(port, timeout=2.0) for port in ports]
            except OSError:  # not serving yet
                time.sleep(POLL_SECONDS)
                continue
            seen = sum(int(m.get("impulse_stream_events_in_total", 0)) for m in scraped)
            if seen > clock.count:
                clock.advance(seen - clock.count, now, used)
            # Workers of one group: each holds partitions before the end is read (on a
            # small backlog the first may drain it all before the second has joined).
            joined = all(m.get("impulse_stream_partitions_assigned", 0) > 0 for m in scraped)
            if seen >= expect and joined and asyncio.run(group_lag(bootstrap, group, ends)) == 0:
                break
            time.sleep(POLL_SECONDS if seen < expect else 0.5)
        # Committed offsets cover the last batch: the progress gauge is its completion time.
        clock.done_cpu = cpu()
        scraped = [scrape(port) for port in ports]
        clock.done_at = max(
            m.get("impulse_stream_last_progress_timestamp_seconds", 0.0) for m in scraped
        )
        totals: dict[str, float] = {}
        for m in scraped:
            for k, v in m.items():
                totals[k] = totals.get(k, 0.0) + v
        result.metrics = totals
        result.per_worker = [
            {
                "events": int(m.get("impulse_stream_events_in_total", 0)),
                # input topic-partitions (six topics per partition number)
                "topic_partitions": int(m.get("impulse_stream_partitions_assigned", 0)),
            }
            for m in scraped
        ]
    finally:
        codes = [processes.stop(p) for p in procs]
        result.exit_code = next((c for c in codes if c), codes[0])
    return result


def worker_figures(
    result: WorkerResult,
    before: RedisSnapshot,
    after: RedisSnapshot,
    keys: KeySample,
    events: int,
    customers: int,
) -> dict[str, Any]:
    """The Redis and output figures of one worker run, from its metrics and Redis."""
    mx = result.metrics
    round_trips = mx.get("impulse_stream_redis_roundtrip_seconds_count", 0.0)
    rtt_sum = mx.get("impulse_stream_redis_roundtrip_seconds_sum", 0.0)
    batches = mx.get("impulse_stream_batch_size_count", 0.0)
    batch_sum = mx.get("impulse_stream_batch_size_sum", 0.0)
    memory = after.used_memory - before.used_memory
    commands = after.commands - before.commands - 3  # less the snapshot's own INFO calls

    def count(name: str) -> int:
        return int(mx.get(name, 0.0))

    return {
        "redis_round_trips": int(round_trips),
        "redis_round_trips_per_event": round(round_trips / events, 5),
        "redis_mean_round_trip_ms": round(1000 * rtt_sum / round_trips, 3) if round_trips else None,
        "redis_commands_per_event": round(commands / events, 3),
        "redis_commands": after.commands_since(before),
        "redis_bytes_per_customer": round(memory / customers, 1),
        "redis_used_memory_delta": memory,
        "redis_customer_hash_bytes": keys.mean_bytes,
        "redis_index_bytes_per_customer": round(keys.other_bytes / customers, 1),
        "customer_keys": asdict(keys),
        "batches": int(batches),
        "mean_batch_size": round(batch_sum / batches, 1) if batches else None,
        "impulses": count("impulse_stream_impulses_total"),
        "impulses_by_kind": labelled(mx, "impulse_stream_impulses_total"),
        "opportunities": count("impulse_stream_opportunities_total"),
        "attributions": count("impulse_stream_attributions_total"),
        "dead_letters": count("impulse_stream_dead_letters_total"),
        "duplicates": count("impulse_stream_duplicate_events_total"),
        "fenced_writes": count("impulse_stream_fenced_writes_total"),
        "exit_code": result.exit_code,
        "per_worker": result.per_worker,
    }
