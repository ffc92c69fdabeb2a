"""Two of the users' questions, answered on the real worker: latency and replay speed.

**Event -> opportunity latency at half load** (:func:`open_loop_latency`). A worker
runs on empty topics of their own (``--latency-load`` sets another fraction of its
max rate than half). An open-loop producer sends one large incoming
payment per customer (a non-salary credit of 12,000-60,000 EUR: the catalogue's
``large_incoming_payment`` detector fires on the event itself, no event-time deadline
is waited for) on a fixed schedule at ``rate`` events/s, whatever the worker
answers, and notes the send time of each customer's event (also the record's Kafka
timestamp). A consumer of the opportunities topic, in the same process and on the
same clock, takes each opportunity's arrival time; the opportunity's key is its
customer, and each customer has exactly one triggering event, so the two match
one to one. The latency includes the producer's linger, the worker's batch and
Redis write and the publish with ``acks=all``.

**Replay catch-up speed / live speed** (:func:`live_then_replay`). A worker runs on
empty topics; the reference workload (``bench/workload.py``) is then produced as
fast as the producer can, and the worker consumes it as it arrives: the live rate
is the events over the time from the first send to the worker's last committed
batch. Then ``impulse-stream replay`` reads the same topics from their start
(``--from`` 1970, ``--to`` tomorrow: every record) into its own namespace; the
replay rate is the events over the seconds the command reports for itself. With
``serial`` the replay runs twice on the same records, side by side: first in one
process (``--workers 1``, namespace ``bench-serial``), then with its default
workers (one process per CPU, namespace ``bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import processes
from bench.broker import end_offsets, group_lag, produce
from bench.worker_run import DrainTimeout, scrape
from bench.workload import Message, Workload
from impulse_stream.contract import topics as contract_topics

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
INPUT_TOPIC_PARTITIONS = 6 * 6  # six input topics of six partitions


@dataclass(frozen=True)
class Payment:
    key: bytes
    value: bytes


def large_payments(customers: int, seed: int = 11, letter: str = "p") -> list[Payment]:
    """One large incoming payment per customer ``p0000000``...; same ``seed``, same bytes."""
    rng = random.Random(seed)
    out = []
    for n in range(customers):
        cid = f"{letter}{n:07d}"
        at = T0 + timedelta(seconds=n)
        event = {
            "event_id": f"tx-{cid}-0",
            "customer_id": cid,
            "account_id": f"DE{rng.randrange(10**19, 10**20)}",
            "booked_at": at.isoformat(timespec="seconds"),
            "amount": f"{rng.randrange(12_000, 60_000)}.00",
            "currency": "EUR",
            "direction": "credit",
            "counterparty": {"name": "Notariat Dr. Beispiel"},
            "purpose": "Erbauseinandersetzung Nachlass",
            "category": "other",
            "balance_after": f"{rng.randrange(15_000, 90_000)}.00",
        }
        out.append(Payment(cid.encode(), orjson.dumps(event)))
    return out


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def start_worker(env: dict[str, str], log: Path, timeout: float) -> Any:
    """A worker, returned once it holds every input topic-partition."""
    proc = processes.python_module("impulse_stream.cli", ["worker"], env, log)
    port = int(env["IMPULSE_STREAM_WEB_PORT"])
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DrainTimeout(
                f"the worker exited with code {proc.returncode}; log {log}:\n"
                + processes.log_tail(log)
            )
        if time.monotonic() > deadline:
            processes.stop(proc)
            raise DrainTimeout(f"the worker was not assigned its partitions in {timeout:.0f}s")
        try:
            assigned = scrape(port, timeout=2.0).get("impulse_stream_partitions_assigned", 0)
        except OSError:
            assigned = 0
        if assigned >= INPUT_TOPIC_PARTITIONS:
            return proc
        time.sleep(0.2)


async def open_loop(
    bootstrap: str, prefix: str, payments: list[Payment], rate: float, timeout: float
) -> dict[str, Any]:
    """Send ``payments`` at ``rate``/s on a fixed schedule; match opportunities as they come."""
    source = prefix + contract_topics.TRANSACTIONS
    sink = prefix + contract_topics.OPPORTUNITIES
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await consumer.start()
    await producer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    # From the opportunity's Kafka timestamp (the worker's producer stamps it as it sends)
    # to its arrival here: the publish, the broker and this consumer's fetch.
    tails: list[float] = []
    extra = 0  # opportunities for a customer already matched (must stay 0)
    unknown = 0  # opportunities of a key never sent (must stay 0)
    late: list[float] = []  # how far behind its schedule each send was
    try:
        parts = consumer.partitions_for_topic(sink)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(sink) or set()
        tps = [TopicPartition(sink, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)  # after the opportunities of the max-rate drain
        for tp in tps:
            await consumer.position(tp)
        done = asyncio.Event()
        matched: set[bytes] = set()

        async def receive() -> None:
            nonlocal extra, unknown
            while not done.is_set():
                polled = await consumer.getmany(timeout_ms=50, max_records=2000)
                arrived = time.time()
                for records in polled.values():
                    for r in records:
                        at = sent.get(r.key)
                        if at is None:
                            unknown += 1
                        elif r.key in matched:
                            extra += 1
                        else:
                            matched.add(r.key)
                            latencies.append(arrived - at)
                            tails.append(arrived - r.timestamp / 1e3)
                if len(matched) == len(payments):
                    done.set()

        receiver = asyncio.create_task(receive())
        started = time.time()
        acks = []
        for i, p in enumerate(payments):
            due = started + i / rate
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.time()
            late.append(now - due)
            sent[p.key] = now
            acks.append(
                await producer.send(source, p.value, key=p.key, timestamp_ms=int(now * 1e3))
            )
        send_seconds = time.time() - started
        await asyncio.gather(*acks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
        done.set()
        await receiver
    finally:
        await producer.stop()
        await consumer.stop()
    ms = [x * 1e3 for x in latencies]
    return {
        "events": len(payments),
        "target_rate": round(rate, 1),
        "sent_rate": round(len(payments) / send_seconds, 1) if send_seconds else None,
        "send_late_p99_ms": round(percentile([x * 1e3 for x in late], 99) or 0.0, 2),
        "matched": len(latencies),
        "unmatched": len(payments) - len(latencies),
        "extra_opportunities": extra,
        "unknown_keys": unknown,
        "p50_ms": _round(percentile(ms, 50)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
        "publish_to_arrival_p50_ms": _round(percentile([x * 1e3 for x in tails], 50)),
        "publish_to_arrival_p99_ms": _round(percentile([x * 1e3 for x in tails], 99)),
        # in arrival order: flat if the delay is fixed, rising if a queue builds up
        "p50_first_tenth_ms": _round(percentile(ms[: max(1, len(ms) // 10)], 50)),
        "p50_last_tenth_ms": _round(percentile(ms[-max(1, len(ms) // 10) :], 50)),
    }


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def open_loop_latency(
    env: dict[str, str],
    *,
    bootstrap: str,
    prefix: str,
    drain: int,
    seconds: float,
    timeout: float,
    log: Path,
    max_rate: float | None = None,
    load: float = 0.5,
) -> dict[str, Any]:
    """Start a worker on ``prefix``'s empty topics; measure its max rate on ``drain``
    payments of customers ``m...`` fed as fast as the producer can (unless ``max_rate``
    is given: another worker's of the same run); then :func:`open_loop` at ``load`` x
    that rate (half) for ``seconds`` with customers ``p...``; stop the worker. Also
    the worker's mean batch size over the open loop."""
    proc = start_worker(env, log, timeout)
    try:
        if max_rate is None:
            backlog = Workload(
                {
                    contract_topics.TRANSACTIONS: [
                        Message(contract_topics.TRANSACTIONS, p.key, p.value, T0)
                        for p in large_payments(drain, seed=12, letter="m")
                    ]
                },
                drain,
            )
            max_rate, _ = _feed_and_wait(proc, env, bootstrap, prefix, backlog, drain, timeout)
        else:
            drain = 0
        rate = max_rate * load
        customers = max(10, round(rate * seconds))
        payments = large_payments(customers)
        port = int(env["IMPULSE_STREAM_WEB_PORT"])
        before = _batches(port)
        figures = asyncio.run(open_loop(bootstrap, prefix, payments, rate, 30.0))
        after = _batches(port)
    finally:
        code = processes.stop(proc)
    batches = after[0] - before[0]
    figures.update(
        max_rate=round(max_rate, 1),
        max_rate_events=drain,
        load=load,
        mean_batch=round((after[1] - before[1]) / batches, 1) if batches else None,
        worker_exit_code=code,
    )
    return figures


def _batches(port: int) -> tuple[float, float]:
    """The worker's batches so far and the events in them."""
    metrics = scrape(port, timeout=30.0)
    return (
        metrics.get("impulse_stream_batch_size_count", 0.0),
        metrics.get("impulse_stream_batch_size_sum", 0.0),
    )


def _feed_and_wait(
    proc: Any,
    env: dict[str, str],
    bootstrap: str,
    prefix: str,
    workload: Workload,
    expect: int,
    timeout: float,
) -> tuple[float, dict[str, float]]:
    """Produce ``workload`` as fast as possible to a running worker that has read
    ``expect`` events in all once this is done; wait until it has committed them.
    Returns the workload's events over the seconds from the first send to the
    worker's last committed batch, and the worker's metrics."""
    port = int(env["IMPULSE_STREAM_WEB_PORT"])
    produced: dict[str, float] = {}

    def feed() -> None:
        produced["started"] = time.time()
        produced["seconds"] = asyncio.run(produce(bootstrap, prefix, workload))

    feeder = threading.Thread(target=feed, name="bench-producer")
    feeder.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise DrainTimeout(f"the worker exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise DrainTimeout(f"the worker did not decide {expect} events in time")
            try:
                seen = int(scrape(port).get("impulse_stream_events_in_total", 0))
            except OSError:  # a busy worker may answer /metrics late: ask again
                continue
            if seen >= expect and not feeder.is_alive():
                ends = asyncio.run(end_offsets(bootstrap, [prefix + t for t in _inputs()]))
                if asyncio.run(group_lag(bootstrap, env["IMPULSE_STREAM_APP_ID"], ends)) == 0:
                    break
            time.sleep(0.2)
        metrics = scrape(port, timeout=30.0)
    finally:
        feeder.join()
    finished = metrics["impulse_stream_last_progress_timestamp_seconds"]
    metrics["bench_produce_seconds"] = produced["seconds"]
    return workload.events / (finished - produced["started"]), metrics


_REPLAYED = re.compile(
    r"replayed ([\d,]+) events in ([\d.]+) s: ([\d,]+) messages.*\((\d+) process(?:es)?\)"
)


def live_then_replay(
    env: dict[str, str],
    *,
    bootstrap: str,
    prefix: str,
    workload: Workload,
    timeout: float,
    logs: Path,
    serial: bool = False,
    parallel: bool = True,
) -> dict[str, Any]:
    """The live rate of a worker fed as fast as the producer can, then the replay's rate
    with its default workers (``parallel``) and, before it, in one process (``serial``;
    its figures under ``serial_...``)."""
    events = workload.events
    proc = start_worker(env, logs / "live-worker.log", timeout)
    try:
        live_rate, metrics = _feed_and_wait(proc, env, bootstrap, prefix, workload, events, timeout)
    finally:
        code = processes.stop(proc)
    live_seconds = events / live_rate
    live_published = int(
        sum(
            metrics.get(f"impulse_stream_{name}_total", 0.0)
            for name in ("impulses", "opportunities", "attributions")
        )
    )
    figures: dict[str, Any] = {
        "events": events,
        "produce_seconds": round(metrics["bench_produce_seconds"], 2),
        "live_seconds": round(live_seconds, 2),
        "live_events_per_second": round(live_rate, 1),
        "live_events_decided": int(metrics.get("impulse_stream_events_in_total", 0)),
        "live_outputs": live_published,
        "live_worker_exit_code": code,
    }
    runs = [("serial_", "bench-serial", ["--workers", "1"])] if serial else []
    runs += [("", "bench", [])] if parallel else []
    for key, name, extra in runs:
        replayed = _replay_once(env, name, extra, logs / f"{name}.log", timeout)
        rate = replayed["replay_events"] / replayed["replay_seconds"]
        figures.update({key + k: v for k, v in replayed.items()})
        figures[key + "replay_events_per_second"] = round(rate, 1)
        figures[key + "replay_vs_live"] = round(rate / live_rate, 3)
    if serial and parallel:
        figures["replay_vs_serial"] = round(
            figures["replay_events_per_second"] / figures["serial_replay_events_per_second"], 3
        )
    return figures


def _replay_once(
    env: dict[str, str], name: str, extra: list[str], log: Path, timeout: float
) -> dict[str, Any]:
    """``impulse-stream replay --name <name>`` of every record of the live topics."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    replay = processes.python_module(
        "impulse_stream.cli",
        ["replay", "--name", name, "--from", "1970-01-02", "--to", tomorrow, *extra],
        env,
        log,
    )
    try:
        replay_code = replay.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.stop(replay)
        raise DrainTimeout(f"the replay did not finish in {timeout:.0f}s; log {log}") from None
    found = _REPLAYED.search(log.read_text(errors="replace"))
    if replay_code != 0 or found is None:
        raise DrainTimeout(
            f"impulse-stream replay exited with code {replay_code}; log {log}:\n"
            + processes.log_tail(log)
        )
    return {
        "replay_events": int(found.group(1).replace(",", "")),
        "replay_seconds": float(found.group(2)),
        "replay_published": int(found.group(3).replace(",", "")),
        "replay_workers": int(found.group(4)),
    }


def _inputs() -> tuple[str, ...]:
    return contract_topics.INPUT_TOPICS
