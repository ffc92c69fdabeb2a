"""The worker's CPU per event: another checkout (main) against this one, side by side.

Issue 14 (docs/bench.md, "Towards 0.5 × passthrough"): the held-message index
and the collector. Both builds run on one stack of their own (name ``hot``,
Kafka on 47792, Redis on 48079) and one produced backlog, per round
(``--repeat``), the order of the contenders reversed every other round:

* ``stages``: ``bench/stages.py`` (``--build compiled``) of each checkout, each
  with its own venv and sources: CPU µs per event of every stage; the hash of
  the outputs and states must be the same for both;
* ``drain``: the raw aiokafka passthrough, then the worker of the other
  checkout (``main``), the same with the heap frozen after start-up and a
  young-generation threshold of 50,000 (``main+gc``: its
  ``bench/prototypes/worker.py``, ``BENCH_PROTOTYPE=gc``; this checkout's
  worker does that itself, ``streaming/collector.py``) and of this checkout
  (``branch``), each draining the backlog with a fresh group: events/s, CPU
  µs per event, ratio to the passthrough of that round. Medians over the
  rounds.

    python -m bench.prototypes.hotpath --baseline ../main-checkout --events 60000 --repeat 3

``--baseline`` is a checkout with its venv built (``make venv`` there).
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

from bench import processes
from bench.broker import create_topic, end_offsets, produce
from bench.prototypes.measure import _STACK_ENV, _passthrough
from bench.worker_run import drain_workers, worker_env
from bench.workload import build_workload
from impulse_stream.contract import topics as contract_topics
from impulse_stream.infra import Stack
from impulse_stream.settings import Settings

RESULTS = Path(__file__).resolve().parents[1] / "results"
PARTITIONS = 6
BATCH = Settings().batch_max
# contender -> (checkout: "baseline" or this one, module, BENCH_PROTOTYPE)
WORKERS = {
    "main": ("baseline", "impulse_stream.cli", ""),
    "main+gc": ("baseline", "bench.prototypes.worker", "gc"),
    "branch": ("this", "impulse_stream.cli", ""),
}


def log(message: str) -> None:
    print(f"[hotpath {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _clean_env() -> dict[str, str]:
    """The runner's environment without the stack's settings and without PYTHONPATH (each
    checkout imports its own sources)."""
    return {k: v for k, v in os.environ.items() if k not in (*_STACK_ENV, "PYTHONPATH")}


def _stages(
    checkout: Path | None,
    name: str,
    args: argparse.Namespace,
    bootstrap: str,
    redis_url: str,
    sink: str,
    run_dir: Path,
    r: int,
) -> dict[str, Any]:
    result = run_dir / f"stages-{name}-{r}.json"
    argv = [
        "--build",
        "compiled",
        "--events",
        str(args.events),
        "--bootstrap",
        bootstrap,
        "--sink",
        sink,
        "--redis",
        redis_url,
        "--prefix",
        f"hs{name[0]}{r}:",
        "--batch",
        str(BATCH),
        "--result",
        str(result),
    ]
    proc = processes.python_module(
        "bench.stages", argv, _clean_env(), run_dir / f"stages-{name}-{r}.log", checkout=checkout
    )
    code = proc.wait(timeout=120 + args.events / 50)
    processes.stop(proc)
    if code != 0 or not result.exists():
        raise SystemExit(f"the stage run of {name} failed; log {run_dir}/stages-{name}-{r}.log")
    body = orjson.loads(result.read_bytes())
    return {
        "round": r,
        "contender": name,
        "cpu_us": body["cpu_us"],
        "all_stages_us": round(sum(body["cpu_us"].values()), 2),
        "compiled_modules": body["compiled_modules"],
        "output_hash": body["output_hash"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prototypes.hotpath")
    parser.add_argument("--baseline", type=Path, required=True, help="checkout with a venv")
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("stages", "drain"), default=None)
    parser.add_argument("--kafka-port", type=int, default=47792)
    parser.add_argument("--redis-port", type=int, default=48079)
    parser.add_argument("--result", type=Path, default=RESULTS / "hotpath.json")
    args = parser.parse_args(argv)
    baseline = args.baseline.resolve()
    if not (baseline / ".venv" / "bin" / "python").exists():
        raise SystemExit(f"{baseline} has no .venv: run make venv there")
    checkouts = {"baseline": baseline, "this": None}
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # "not leader" on new topics
    stack = Stack.from_env(
        _clean_env(),
        name="hot",
        kafka_port=args.kafka_port,
        redis_port=args.redis_port,
        partitions=PARTITIONS,
    )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = f"hot{stamp}."
    run_dir = stack.settings.data_dir / "runs" / stamp
    bootstrap, redis_url = stack.bootstrap_servers, stack.redis_url
    workload = build_workload(args.events)
    timeout = 120 + args.events / 100
    results: dict[str, Any] = {
        "events": workload.events,
        "customers": workload.customers,
        "batch": BATCH,
        "baseline": str(baseline),
        "stages": [],
        "drain": [],
        "load_average": [],
    }
    log(f"starting the hot stack: Kafka {bootstrap}, Redis {redis_url}")
    try:
        stack.up(fresh=True)
    except BaseException:  # a server that started is stopped again
        stack.down()
        raise
    try:
        stack.create_topics(prefix, PARTITIONS)
        sink = prefix + "sink"
        asyncio.run(create_topic(bootstrap, sink, PARTITIONS))
        log(f"producing {workload.events:,} events")
        asyncio.run(produce(bootstrap, prefix, workload))
        inputs = [prefix + t for t in contract_topics.INPUT_TOPICS]
        ends = asyncio.run(end_offsets(bootstrap, inputs))
        for r in range(args.repeat):
            results["load_average"].append(os.getloadavg())
            if args.only in (None, "stages"):
                for name in ("main", "branch") if r % 2 == 0 else ("branch", "main"):
                    checkout = checkouts[WORKERS[name][0]]
                    fig = _stages(checkout, name, args, bootstrap, redis_url, sink, run_dir, r)
                    results["stages"].append(fig)
                    log(f"round {r}: stages/{name} {fig['all_stages_us']:.1f} µs/event")
            if args.only in (None, "drain"):
                clock = _passthrough(
                    run_dir, bootstrap, inputs, sink, f"{prefix}pt{r}", workload.events, timeout
                )
                pt = clock.rate() or 0.0
                results["drain"].append(
                    {
                        "round": r,
                        "contender": "passthrough",
                        "events_per_second": round(pt, 1),
                        "cpu_us_per_event": round((clock.cpu_per_event() or 0) * 1e6, 1),
                    }
                )
                log(f"round {r}: passthrough {pt:,.0f} events/s")
                names = list(WORKERS) if r % 2 == 0 else list(reversed(WORKERS))
                for n, name in enumerate(names):
                    where, module, prototype = WORKERS[name]
                    rp = f"h{n}r{r}:"
                    wenv = worker_env(
                        bootstrap,
                        redis_url,
                        topic_prefix=prefix,
                        redis_prefix=rp,
                        app_id=f"{prefix}{name.replace('+', '-')}{r}",
                        web_port=processes.free_port(),
                        fast_drain=True,
                        extra={"BENCH_PROTOTYPE": prototype},
                    )
                    wenv.pop("PYTHONPATH", None)
                    res = drain_workers(
                        [wenv],
                        bootstrap=bootstrap,
                        ends=ends,
                        expect=workload.events,
                        timeout=timeout,
                        logs=[run_dir / f"worker-{name}-{r}.log"],
                        module=module,
                        checkout=checkouts[where],
                    )
                    rate = res.clock.rate() or 0.0
                    mx = res.metrics
                    fig = {
                        "round": r,
                        "contender": f"worker/{name}",
                        "events_per_second": round(rate, 1),
                        "x_passthrough": round(rate / pt, 3) if pt else None,
                        "cpu_us_per_event": round((res.clock.cpu_per_event() or 0) * 1e6, 1),
                        "impulses": int(mx.get("impulse_stream_impulses_total", 0)),
                        "opportunities": int(mx.get("impulse_stream_opportunities_total", 0)),
                        "dead_letters": int(mx.get("impulse_stream_dead_letters_total", 0)),
                    }
                    results["drain"].append(fig)
                    log(
                        f"round {r}: worker/{name} {rate:,.0f} events/s, "
                        f"{fig['cpu_us_per_event']} CPU µs/event, {fig['x_passthrough']} x"
                    )
    finally:
        processes.stop_all()
        log("stopping the hot stack")
        stack.down()
    print(report(results))
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    log(f"wrote {args.result}")
    return 0 if len({f["output_hash"] for f in results["stages"]}) <= 1 else 1


def report(results: dict[str, Any]) -> str:
    """Medians over the rounds, and the ratios branch ÷ main."""
    lines = [f"{results['events']:,} events, batches of {results['batch']}"]
    if results["stages"]:
        stages = list(results["stages"][0]["cpu_us"])
        lines.append(
            f"{'stages (CPU us/event)':<14}" + "".join(f"{s:>13}" for s in stages) + f"{'all':>9}"
        )
        med: dict[str, list[float]] = {}
        for name in ("main", "branch"):
            runs = [f for f in results["stages"] if f["contender"] == name]
            med[name] = [statistics.median(f["cpu_us"][s] for f in runs) for s in stages]
            med[name].append(statistics.median(f["all_stages_us"] for f in runs))
            lines.append(
                f"{name:<14}"
                + "".join(f"{v:>13.1f}" for v in med[name][:-1])
                + f"{med[name][-1]:>9.1f}"
            )
        lines.append(
            f"{'branch / main':<14}"
            + "".join(
                f"{b / a:>13.2f}" for a, b in zip(med["main"][:-1], med["branch"][:-1], strict=True)
            )
            + f"{med['branch'][-1] / med['main'][-1]:>9.2f}"
        )
        same = len({f["output_hash"] for f in results["stages"]}) == 1
        lines.append("outputs and states identical: " + ("yes" if same else "NO"))
    if results["drain"]:
        lines.append(f"{'drain':<22}{'events/s':>10}{'x pass':>8}{'CPU us/ev':>11}")
        for name in ("passthrough", *(f"worker/{n}" for n in WORKERS)):
            runs = [f for f in results["drain"] if f["contender"] == name]
            eps = statistics.median(f["events_per_second"] for f in runs)
            cpu = statistics.median(f["cpu_us_per_event"] for f in runs)
            xs = [f["x_passthrough"] for f in runs if f.get("x_passthrough") is not None]
            lines.append(
                f"{name:<22}{eps:>10,.0f}"
                + (f"{statistics.median(xs):>8.3f}" if xs else f"{'':>8}")
                + f"{cpu:>11.1f}"
            )
    loads = results["load_average"]
    if loads:
        lines.append(
            "load average (1 min) at each round: " + ", ".join(f"{la[0]:.1f}" for la in loads)
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
