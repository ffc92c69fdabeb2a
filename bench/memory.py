"""Redis memory per customer of the stored-state formats, side by side (``python -m bench.memory``).

The reference workload (``bench/workload.py``, the month) drains through the
worker's batch path (``BatchProcessor``: fences, recent-event memory, core,
wake-ups) on the in-memory store, as ``processor/in-memory`` does. What that
store holds after the month, each customer's state, fences and next wake-up,
is then written to one Redis through ``RedisStore.commit`` (the worker's Lua
write and timer index), once per state format under a prefix of its own (as
short as production's ``is:``), measured and deleted before the next:

* ``memory/format-3``: the encoder of format 3 (``bench.codec.format3_encode_state``:
  dictionary 1, the recent-event digests as wide as that format had them);
* ``memory/format-4``: today's ``encode_state``.

Per format: ``INFO memory`` ``used_memory`` after minus before ÷ customers
(the mean, with the main dictionary and the per-partition timer index);
``MEMORY USAGE … SAMPLES 0`` of up to 2,000 sampled customer hashes (median,
mean, p95) and their encoding; the timer index ÷ customers, and its keys (the
shards of every partition, ``timer_shards`` each) by encoding; the state blob
length distribution (``HSTRLEN s``). "At the median" is the median customer
hash plus the index's share of one customer. Each hash's version field is 1
here (one write) where the worker's is the customer's write count: a 1-byte
integer in the listpack either way below 128 writes. Outbox entries are not
written (the worker deletes them once Kafka acknowledged them); checkpoints
are a few keys per partition.

    python -m bench.memory --redis redis://127.0.0.1:6379/0 --events 200000 --result out.json
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.codec import format3_encode_state
from bench.in_process import inbound
from bench.redis_probe import RedisProbe
from bench.report import MAX_BYTES_PER_CUSTOMER, Target
from bench.workload import build_workload
from impulse_stream.bootstrap import build_engine
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.state import CustomerState
from impulse_stream.settings import Settings
from impulse_stream.store.base import CustomerWrite
from impulse_stream.store.memory import MemoryStore
from impulse_stream.store.redis import RedisStore
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher

FORMATS: dict[str, tuple[str, Callable[[CustomerState], bytes]]] = {
    "memory/format-3": ("m3:", format3_encode_state),
    "memory/format-4": ("m4:", encode_state),
}
TOPIC_PREFIX = "bench."
SAMPLE = 2000
WRITE_BATCH = 1000


async def month(
    events: int, partitions: int, batch: int = 1000
) -> tuple[MemoryStore, dict[str, int]]:
    """The in-memory store after the workload, and each customer's partition."""
    messages = inbound(build_workload(events), TOPIC_PREFIX, partitions)
    store = MemoryStore()
    publisher = CollectingPublisher()
    processor = BatchProcessor(
        build_engine(Settings()), store, publisher, topic_prefix=TOPIC_PREFIX
    )
    for i in range(0, len(messages), batch):
        await processor.process(messages[i : i + batch])
        publisher.messages.clear()
    await processor.flush()
    await processor.flush_delivered()
    partition_of = {m.key.decode(): m.partition for m in messages}
    return store, partition_of


async def _write(
    url: str,
    prefix: str,
    store: MemoryStore,
    partition_of: dict[str, int],
    encode: Callable[[CustomerState], bytes],
) -> list[int]:
    """Every customer of ``store`` written to Redis under ``prefix``; the blob lengths."""
    redis = RedisStore(url, prefix=prefix)
    wakeups = {cid: at for timers in store.timers.values() for cid, at in timers.items()}
    writes = []
    for cid, rec in store.customers.items():
        assert rec.state is not None
        blob = encode(decode_state(rec.state))
        writes.append(
            CustomerWrite(
                cid, partition_of[cid], 0, blob, dict(rec.fences), wakeup_ms=wakeups.get(cid)
            )
        )
    try:
        for i in range(0, len(writes), WRITE_BATCH):
            refused = await redis.commit(writes[i : i + WRITE_BATCH])
            if refused:
                raise RuntimeError(f"{len(refused)} writes refused under {prefix!r}: not empty?")
    finally:
        await redis.close()
    return [len(w.state) for w in writes]


def _quantiles(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 1),
        "p50": float(ordered[len(ordered) // 2]),
        "p95": float(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]),
        "max": float(ordered[-1]),
    }


def measure(url: str, events: int, partitions: int = 6) -> dict[str, dict[str, Any]]:
    """Every format of :data:`FORMATS` on the Redis at ``url``, one after the other."""
    store, partition_of = asyncio.run(month(events, partitions))
    customers = len(store.customers)
    probe = RedisProbe(url)
    out: dict[str, dict[str, Any]] = {}
    try:
        for name, (prefix, encode) in FORMATS.items():
            if probe.keys_with_prefix(prefix):
                raise RuntimeError(f"Redis at {url} already holds keys {prefix}*")
            time.sleep(1.0)  # let the server's cron shrink what the last contender grew
            before = probe.snapshot()
            try:
                blobs = asyncio.run(_write(url, prefix, store, partition_of, encode))
                after = probe.snapshot()
                keys = probe.customer_keys(prefix, sample=SAMPLE)
            finally:
                probe.delete_prefix(prefix)
            index = keys.other_bytes / customers
            out[name] = {
                "customers": customers,
                "bytes_per_customer_mean": round(
                    (after.used_memory - before.used_memory) / customers, 1
                ),
                "bytes_per_customer_median": round(keys.median_bytes + index, 1),
                "hash_bytes": {
                    "p50": keys.median_bytes,
                    "mean": keys.mean_bytes,
                    "p95": keys.p95_bytes,
                    "max": float(keys.max_bytes),
                },
                "hash_sampled": keys.sampled,
                "encodings": keys.encodings,
                "index_bytes_per_customer": round(index, 1),
                # The timer index's keys (S shards per partition) and their encodings.
                "index_keys": keys.other_keys,
                "index_encodings": keys.other_encodings or {},
                "state_bytes": _quantiles(blobs),
            }
    finally:
        probe.close()
    return out


CURRENT = "memory/format-4"


def memory_targets(figures: dict[str, Any] | None) -> list[Target]:
    """Redis memory per customer at the median, today's format: the issue's target."""
    if figures is None:
        return []
    current = figures.get(CURRENT) or {}
    return [
        Target(
            "Redis memory per customer at the median (memory/format-4)",
            current.get("bytes_per_customer_median"),
            MAX_BYTES_PER_CUSTOMER,
            False,
            "B",
        )
    ]


def memory_table(figures: dict[str, Any], goals: Sequence[Target] = ()) -> str:
    """The memory lines of the report, one per format, and the target."""
    if "error" in figures:
        return f"memory  FAILED: {figures['error']}"
    lines = [
        f"{'state format':<18}{'B/cust p50':>11}{'B/cust mean':>12}{'hash p50':>10}"
        f"{'hash p95':>10}{'index':>7}{'blob p50':>10}{'blob p95':>10}{'blob max':>10}"
    ]
    for name, f in figures.items():
        s, h = f["state_bytes"], f["hash_bytes"]
        lines.append(
            f"{name:<18}{f['bytes_per_customer_median']:>11,.0f}"
            f"{f['bytes_per_customer_mean']:>12,.0f}{h['p50']:>10,.0f}{h['p95']:>10,.0f}"
            f"{f['index_bytes_per_customer']:>7,.0f}{s['p50']:>10,.0f}{s['p95']:>10,.0f}"
            f"{s['max']:>10,.0f}"
        )
    for name, f in figures.items():
        if "index_keys" in f:
            kinds = ", ".join(f"{k} {n}" for k, n in f["index_encodings"].items())
            lines.append(f"{name}: timer index {f['index_keys']} keys ({kinds})")
    for t in goals:
        verdict = "met" if t.met else "MISSED"
        value = "-" if t.value is None else f"{t.value:,.0f}"
        lines.append(f"{t.name}: {value} {t.unit} (target <= {t.limit:,.0f})  {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--redis", required=True, help="URL of a Redis of the bench's own")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    figures = measure(args.redis, args.events, args.partitions)
    args.result.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    print(memory_table(figures))


if __name__ == "__main__":
    main()
