"""``RedisStore.due`` over one timer shard and over S shards, side by side
(``python -m bench.timer_due``).

One partition of ``--customers`` wake-ups spread over a 30-day month is written
through ``RedisStore.commit`` twice, under two prefixes: once with 1 shard (the
partition's timers in one sorted set, as before the shards; a skiplist beyond
128 customers) and once with ``--shards`` shards (listpacks while customers ÷
shards ≤ 128). Then, in turn (1 shard, S shards, 1 shard, ...), ``--calls``
calls of ``due`` each at two event times: the start of the month (nothing
due, what most batches ask) and one day in (a day of wake-ups due, up to the
worker's limit of 5,000). Per store and event time: the wall-clock µs per call
of the fastest of ``--rounds`` rounds (a round trip to the local Redis
included), and the ratio S shards ÷ 1 shard. Both stores must return the same
customers; the run fails otherwise.

    python -m bench.timer_due --redis-port 47880 --customers 3333 --shards 64

``--redis-port`` starts a redis-server of its own there (``impulse_stream.infra``,
stack ``timer-due``, the project's configuration) and stops it afterwards;
``--redis URL`` uses a running one instead.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from impulse_stream.store.base import CustomerWrite
from impulse_stream.store.redis import RedisStore

START_MS = 1_780_000_000_000
DAY_MS = 86_400_000
LIMIT = 5000  # the worker's max_timers_per_batch


async def _fill(store: RedisStore, wakeups: dict[str, int]) -> None:
    writes = [
        CustomerWrite(cid, 0, 0, b"s", {"2:0": 1}, wakeup_ms=at) for cid, at in wakeups.items()
    ]
    for i in range(0, len(writes), 1000):
        refused = await store.commit(writes[i : i + 1000])
        if refused:
            raise RuntimeError(f"{len(refused)} writes refused under {store.prefix!r}: not empty?")


async def _time_calls(store: RedisStore, until: int, calls: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    for _ in range(calls):
        got = await store.due(0, until, LIMIT)
    return (time.perf_counter() - started) / calls * 1e6, got


async def measure(
    url: str, customers: int, shards: int, calls: int = 200, rounds: int = 3, seed: int = 14
) -> dict[str, Any]:
    rng = random.Random(seed)
    wakeups = {f"c-{i:07d}": START_MS + rng.randrange(30 * DAY_MS) for i in range(customers)}
    run = uuid.uuid4().hex[:6]
    stores = {
        "1 shard": RedisStore(url, prefix=f"td{run}a:", timer_shards=1),
        f"{shards} shards": RedisStore(url, prefix=f"td{run}b:", timer_shards=shards),
    }
    moments = {"nothing due": START_MS, "a day due": START_MS + DAY_MS}
    best: dict[str, dict[str, float]] = {name: {} for name in stores}
    answers: dict[str, dict[str, list[str]]] = {name: {} for name in stores}
    encodings: dict[str, dict[str, int]] = {}
    try:
        for store in stores.values():
            await _fill(store, wakeups)
            await store.due(0, START_MS, LIMIT)  # records the layout before timing
        for name, store in stores.items():
            kinds: dict[str, int] = {}
            for key in store.timer_shard_keys(0):
                encoding = await store.redis.object("encoding", key)
                if encoding is not None:
                    kinds[encoding.decode()] = kinds.get(encoding.decode(), 0) + 1
            encodings[name] = kinds
        for _ in range(rounds):
            for moment, until in moments.items():
                for name, store in stores.items():
                    us, got = await _time_calls(store, until, calls)
                    best[name][moment] = min(best[name].get(moment, us), us)
                    answers[name][moment] = got
    finally:
        for store in stores.values():
            await store.wipe()
            await store.close()
    first, second = stores
    if answers[first] != answers[second]:
        raise RuntimeError("the two layouts returned different customers")
    return {
        "customers": customers,
        "shards": shards,
        "calls": calls,
        "rounds": rounds,
        "due_customers": {m: len(answers[first][m]) for m in moments},
        "encodings": encodings,
        "us_per_call": best,
        "ratio": {m: round(best[second][m] / best[first][m], 2) for m in moments},
    }


def table(figures: dict[str, Any]) -> str:
    names = list(figures["us_per_call"])
    lines = [
        f"due on one partition of {figures['customers']:,} wake-ups, µs per call "
        f"(fastest of {figures['rounds']} rounds of {figures['calls']})"
    ]
    for moment, n in figures["due_customers"].items():
        cells = "  ".join(f"{name} {figures['us_per_call'][name][moment]:,.0f}" for name in names)
        lines.append(f"{moment} ({n:,} customers): {cells}  ratio {figures['ratio'][moment]:.2f} x")
    for name in names:
        lines.append(f"{name}: {figures['encodings'][name]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timer_due")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--redis", help="URL of a running Redis of the bench's own")
    where.add_argument("--redis-port", type=int, help="start a redis-server of its own here")
    parser.add_argument("--customers", type=int, default=3333)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--result", type=Path)
    args = parser.parse_args()
    server = None
    url = args.redis
    if url is None:
        from impulse_stream.infra.redis_server import RedisServer
        from impulse_stream.infra.settings import StackSettings

        server = RedisServer(StackSettings(name="timer-due", redis_port=args.redis_port))
        server.start()
        url = server.url
    try:
        figures = asyncio.run(measure(url, args.customers, args.shards, args.calls, args.rounds))
    finally:
        if server is not None:
            server.stop()
    if args.result:
        args.result.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    print(table(figures))


if __name__ == "__main__":
    main()
