"""The batch-Lua prototype against RedisStore, side by side in one run (``make bench-prototype``).

One local stack of its own (name ``proto``, Kafka on 29292, Redis on 29579),
the reference workload (``bench/workload.py``) produced once, then per round
(``--repeat``), the order of the two stores swapped every round:

* ``stages``: ``bench/stages.py``'s stage run in this process, once with
  ``RedisStore`` and once with ``BatchLuaStore``: CPU µs per event of the
  Redis stage (the client's side of one load and one commit per batch) and
  of all stages; the hash of outputs and states, and the Redis contents
  after the run (every key of the prefix, the write nonce ``w`` left out),
  must be the same for both.
* ``drain``: the raw aiokafka passthrough, then the real worker as shipped
  (``impulse-stream worker``, the defaults) and with each prototype
  (``bench/prototypes/worker.py``: ``batch-lua``, ``gc``, both), each draining
  the backlog with a fresh group: events/s, CPU µs per event, ratio to the
  passthrough of that round, Redis commands per event (``INFO stats``) and the
  outputs counted by the worker's metrics. Their outputs are not compared:
  the shipped worker's own runs on this backlog differ (how the event-time
  clock releases held events depends on wall time, docs/bench.md); the stage
  runs, deterministic, are the comparison.

    python -m bench.prototypes.measure --events 60000 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from bench import processes
from bench.broker import create_topic, end_offsets, produce
from bench.progress import DrainClock
from bench.prototypes.batch_lua import BatchLuaStore
from bench.redis_probe import RedisProbe
from bench.reference import merged
from bench.stages import StageRun
from bench.worker_run import DrainTimeout, drain_workers, worker_env
from bench.workload import build_workload
from impulse_stream.contract import topics as contract_topics
from impulse_stream.infra import Stack
from impulse_stream.settings import Settings
from impulse_stream.store.redis import RedisStore

RESULTS = Path(__file__).resolve().parents[1] / "results"
PARTITIONS = 6
BATCH = Settings().batch_max
STORES = {"redis-store": RedisStore, "batch-lua": BatchLuaStore}
# worker contender -> BENCH_PROTOTYPE of bench/prototypes/worker.py ("" = the shipped worker)
WORKERS = {"shipped": "", "batch-lua": "batch-lua", "gc": "gc", "batch-lua+gc": "batch-lua,gc"}
_STACK_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT",
              "REDIS_PORT", "IMPULSE_STREAM_INFRA_NAME", "IMPULSE_STREAM_PARTITIONS")  # fmt: skip


def log(message: str) -> None:
    print(f"[prototype {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def redis_contents(client: redis.Redis, prefix: str) -> bytes:
    """Every key of ``prefix`` and its value, prefix cut, write nonces left out; sorted."""
    out: list[Any] = []
    for key in sorted(client.scan_iter(match=prefix + "*", count=1000)):
        name = key[len(prefix) :]
        kind = client.type(key)
        if kind == b"hash":
            h = client.hgetall(key)
            value: Any = sorted((k, v) for k, v in h.items() if k != b"w")
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            value = sorted(client.smembers(key))
        else:
            value = client.get(key)
        out.append((name, value))
    return orjson.dumps(out, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))


async def _stage_run(name: str, events: int, bootstrap: str, redis_url: str, sink: str) -> Any:
    from aiokafka import AIOKafkaProducer

    prefix = f"ps{name[0]}:"
    store = STORES[name](redis_url, prefix=prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    messages = merged(build_workload(events))
    try:
        run = StageRun(store, producer, sink)
        for i in range(0, len(messages), BATCH):
            await run.batch(messages[i : i + BATCH])
    finally:
        await producer.stop()
        await store.close()
    client = redis.Redis.from_url(redis_url)
    contents = redis_contents(client, prefix)
    RedisProbe(redis_url).delete_prefix(prefix)
    n = len(messages)
    return {
        "store": name,
        "cpu_us": {s: round(c / n * 1e6, 2) for s, c in run.clock.cpu.items()},
        "all_stages_us": round(sum(run.clock.cpu.values()) / n * 1e6, 2),
        "output_hash": run.digest.hexdigest(),
        "redis_contents": len(contents),
        "_contents": contents,
    }


def _passthrough(run_dir: Path, bootstrap: str, inputs: list[str], sink: str, group: str,
                 expect: int, timeout: float) -> DrainClock:  # fmt: skip
    result = run_dir / f"{group}.json"
    args = ["--bootstrap", bootstrap, "--topics", ",".join(inputs), "--sink", sink,
            "--group", group, "--max-records", str(BATCH), "--expect", str(expect),
            "--result", str(result)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in _STACK_ENV}
    proc = processes.python_module("bench.passthrough", args, env, run_dir / f"{group}.log")
    try:
        deadline = time.monotonic() + timeout
        while not result.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise DrainTimeout(f"the passthrough failed; log {run_dir / group}.log")
            time.sleep(0.1)
        time.sleep(0.05)
        return DrainClock.read(result)
    finally:
        processes.stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prototypes.measure")
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=("stages", "drain"), default=None)
    parser.add_argument("--kafka-port", type=int, default=29292)
    parser.add_argument("--redis-port", type=int, default=29579)
    parser.add_argument("--result", type=Path, default=RESULTS / "prototype-batch-lua.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # "not leader" on new topics
    env = {k: v for k, v in os.environ.items() if k not in _STACK_ENV}
    stack = Stack.from_env(env, name="proto", kafka_port=args.kafka_port,
                           redis_port=args.redis_port, partitions=PARTITIONS)  # fmt: skip
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = f"proto{stamp}."
    run_dir = stack.settings.data_dir / "runs" / stamp
    bootstrap, redis_url = stack.bootstrap_servers, stack.redis_url
    workload = build_workload(args.events)
    timeout = 120 + args.events / 100
    results: dict[str, Any] = {"events": workload.events, "customers": workload.customers,
                               "batch": BATCH, "stages": [], "drain": []}  # fmt: skip
    log(f"starting the proto stack: Kafka {bootstrap}, Redis {redis_url}")
    try:
        stack.up(fresh=True)
    except BaseException:  # a server that started is stopped again
        stack.down()
        raise
    probe = RedisProbe(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        stack.create_topics(prefix, PARTITIONS)
        sink = prefix + "sink"
        asyncio.run(create_topic(bootstrap, sink, PARTITIONS))
        log(f"producing {workload.events:,} events")
        asyncio.run(produce(bootstrap, prefix, workload))
        inputs = [prefix + t for t in contract_topics.INPUT_TOPICS]
        ends = asyncio.run(end_offsets(bootstrap, inputs))
        for r in range(args.repeat):
            order = list(STORES) if r % 2 == 0 else list(reversed(STORES))
            if args.only in (None, "stages"):
                contents = {}
                for name in order:
                    log(f"round {r}: stage run on {name}")
                    fig = asyncio.run(_stage_run(name, args.events, bootstrap, redis_url, sink))
                    contents[name] = fig.pop("_contents")
                    fig["round"] = r
                    results["stages"].append(fig)
                    log(f"  Redis {fig['cpu_us']['Redis']:.1f} µs/event, "
                        f"all stages {fig['all_stages_us']:.1f}")  # fmt: skip
                same = contents["redis-store"] == contents["batch-lua"]
                results.setdefault("stages_redis_contents_identical", []).append(same)
            if args.only in (None, "drain"):
                clock = _passthrough(run_dir, bootstrap, inputs, sink, f"{prefix}pt{r}",
                                     workload.events, timeout)  # fmt: skip
                pt = clock.rate() or 0.0
                pt_cpu = round((clock.cpu_per_event() or 0) * 1e6, 1)
                results["drain"].append(
                    {"round": r, "contender": "passthrough", "events_per_second": round(pt, 1),
                     "cpu_us_per_event": pt_cpu}
                )  # fmt: skip
                log(f"round {r}: passthrough {pt:,.0f} events/s")
                names = list(WORKERS) if r % 2 == 0 else list(reversed(WORKERS))
                for n, name in enumerate(names):
                    rp = f"w{n}r{r}:"
                    wenv = worker_env(
                        bootstrap,
                        redis_url,
                        topic_prefix=prefix,
                        redis_prefix=rp,
                        app_id=f"{prefix}{name.replace('+', '-')}{r}",
                        web_port=processes.free_port(),
                        fast_drain=True,
                        extra={"BENCH_PROTOTYPE": WORKERS[name]},
                    )
                    before = probe.snapshot()
                    res = drain_workers([wenv], bootstrap=bootstrap, ends=ends,
                                        expect=workload.events, timeout=timeout,
                                        logs=[run_dir / f"worker-{name}-{r}.log"],
                                        module="bench.prototypes.worker")  # fmt: skip
                    after = probe.snapshot()
                    probe.delete_prefix(rp)
                    mx = res.metrics
                    rate = res.clock.rate() or 0.0
                    fig = {
                        "round": r,
                        "contender": f"worker/{name}",
                        "events_per_second": round(rate, 1),
                        "x_passthrough": round(rate / pt, 3) if pt else None,
                        "cpu_us_per_event": round((res.clock.cpu_per_event() or 0) * 1e6, 1),
                        "redis_commands_per_event": round(
                            (after.commands - before.commands) / workload.events, 3
                        ),
                        "impulses": int(mx.get("impulse_stream_impulses_total", 0)),
                        "opportunities": int(mx.get("impulse_stream_opportunities_total", 0)),
                        "attributions": int(mx.get("impulse_stream_attributions_total", 0)),
                        "dead_letters": int(mx.get("impulse_stream_dead_letters_total", 0)),
                        "fenced_writes": int(mx.get("impulse_stream_fenced_writes_total", 0)),
                    }
                    results["drain"].append(fig)
                    log(
                        f"round {r}: worker/{name} {rate:,.0f} events/s, "
                        f"{fig['cpu_us_per_event']} CPU µs/event, {fig['x_passthrough']} x"
                    )
    finally:
        client.close()
        probe.close()
        processes.stop_all()
        log("stopping the proto stack")
        stack.down()
    print(report(results))
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    log(f"wrote {args.result}")
    same = all(results.get("stages_redis_contents_identical", [True]))
    return 0 if same else 1


def report(results: dict[str, Any]) -> str:
    """Medians over the rounds, and the ratios prototype ÷ RedisStore."""
    lines = [f"{results['events']:,} events, batches of {results['batch']}"]
    if results["stages"]:
        lines.append(f"{'stage run (CPU us/event)':<28}{'Redis':>10}{'all stages':>12}")
        med: dict[str, tuple[float, float]] = {}
        for name in STORES:
            runs = [f for f in results["stages"] if f["store"] == name]
            med[name] = (
                statistics.median(f["cpu_us"]["Redis"] for f in runs),
                statistics.median(f["all_stages_us"] for f in runs),
            )
            lines.append(f"{name:<28}{med[name][0]:>10.1f}{med[name][1]:>12.1f}")
        a, b = med["batch-lua"], med["redis-store"]
        lines.append(f"{'batch-lua / redis-store':<28}{a[0] / b[0]:>10.2f}{a[1] / b[1]:>12.2f}")
        lines.append(
            "outputs, states and Redis contents identical: "
            + ("yes" if all(results["stages_redis_contents_identical"]) else "NO")
            + (
                ""
                if len({f["output_hash"] for f in results["stages"]}) == 1
                else " (output hashes DIFFER)"
            )
        )
    if results["drain"]:
        lines.append(f"{'drain':<28}{'events/s':>10}{'x pass':>8}{'CPU us/ev':>11}{'cmd/ev':>8}")
        for name in ("passthrough", *(f"worker/{n}" for n in WORKERS)):
            runs = [f for f in results["drain"] if f["contender"] == name]
            eps = statistics.median(f["events_per_second"] for f in runs)
            cpu = statistics.median(f["cpu_us_per_event"] for f in runs)
            xs = [f["x_passthrough"] for f in runs if f.get("x_passthrough") is not None]
            cmd = [f["redis_commands_per_event"] for f in runs if "redis_commands_per_event" in f]
            lines.append(
                f"{name:<28}{eps:>10,.0f}"
                + (f"{statistics.median(xs):>8.3f}" if xs else f"{'':>8}")
                + f"{cpu:>11.1f}"
                + (f"{statistics.median(cmd):>8.2f}" if cmd else "")
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
