"""``python -m bench.run`` (``make bench``): throughput, Redis round trips and memory.

One run, one broker, side by side: the same backlog of realistic events is
drained by a raw aiokafka passthrough, a do-nothing Faust agent (Faust's
consumer and the fast-drain consumer), the batch processor alone (in memory)
and the real worker (both consumers). The figures that matter are ratios
between contenders of the same run; see docs/bench.md for the method.

Exit codes: 0 every target met, 1 a target missed or a contender failed,
2 bad arguments or settings, 3 the local Kafka/Redis could not be used.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench import builds, processes
from bench.broker import create_topic, delete_topics_with_prefix, end_offsets, produce
from bench.progress import DrainClock
from bench.redis_probe import RedisProbe
from bench.report import (
    DESCRIPTIONS,
    NOOP_FAST,
    NOOP_FAUST,
    PASSTHROUGH,
    PROCESSOR,
    WORKER_FAST,
    WORKER_FAUST,
    Measurement,
    median_run,
    ratios,
    table,
    targets,
)
from bench.stages import stage_table
from bench.worker_run import DrainTimeout, drain_worker, worker_env, worker_figures
from bench.workload import build_workload
from impulse_stream.contract import topics as contract_topics
from impulse_stream.errors import ConfigError, InfraError
from impulse_stream.infra import Stack
from impulse_stream.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = {
    "passthrough": (PASSTHROUGH,),
    "noop": (NOOP_FAUST, NOOP_FAST),
    "processor": (PROCESSOR,),
    "worker": (WORKER_FAST, WORKER_FAUST),
    # CPU per stage, interpreted and compiled core, old and new state codec (bench/stages.py)
    "stages": tuple(f"stages/{b}" for b in builds.BUILDS),
}
STAGE_RUNS = GROUPS["stages"]
# Stack variables of the caller's shell that must not leak into the bench stack.
_STACK_ENV = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "KAFKA_PORT",
    "KAFKA_CONTROLLER_PORT",
    "REDIS_PORT",
    "IMPULSE_STREAM_INFRA_NAME",
    "IMPULSE_STREAM_PARTITIONS",
)
PARTITIONS = 6
BATCH_MAX = Settings().batch_max  # the worker's default batch size

EXIT_MISSED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- arguments ---------------------------------------------------------------------


def _bounded_int(low: int, high: int) -> Any:
    def parse(raw: str) -> int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low:,}..{high:,}")
        return value

    return parse


def _contenders(raw: str) -> tuple[str, ...]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown contender {', '.join(unknown) or raw!r}; choose from {', '.join(GROUPS)}"
        )
    return tuple(c for group in GROUPS if group in names for c in GROUPS[group])


def _env_pair(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
        raise argparse.ArgumentTypeError(
            f"{raw!r}: expected NAME=VALUE, e.g. IMPULSE_STREAM_BATCH_MAX=2000"
        )
    return key, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Throughput, Redis round trips and Redis memory of the worker, measured "
        "side by side with a raw aiokafka passthrough on one local broker.",
    )
    add = p.add_argument
    add(
        "--events",
        type=_bounded_int(1_000, 5_000_000),
        default=200_000,
        help="input events to pre-produce and drain (default 200,000; 10 per customer)",
    )
    add(
        "--repeat",
        type=_bounded_int(1, 9),
        default=1,
        help="run every contender this many times and report the median (default 1)",
    )
    add(
        "--only",
        type=_contenders,
        default=_contenders(",".join(GROUPS)),
        help=f"comma-separated subset of: {', '.join(GROUPS)} (default all)",
    )
    add("--stack-name", default="bench", help="name of the local stack (default bench)")
    add(
        "--kafka-port",
        type=_bounded_int(1, 65534),
        default=47092,
        help="broker port of the bench stack; the controller takes the next one (default 47092)",
    )
    add(
        "--redis-port",
        type=_bounded_int(1, 65535),
        default=47379,
        help="redis-server port of the bench stack (default 47379)",
    )
    add(
        "--kafka",
        default="",
        metavar="HOST:PORT",
        help="use this running broker instead of starting the bench stack's",
    )
    add(
        "--redis",
        default="",
        metavar="URL",
        help="use this running Redis instead of the bench stack's (its memory figures are noisier)",
    )
    add("--keep-stack", action="store_true", help="leave the bench stack running afterwards")
    add(
        "--worker-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra worker environment (repeatable), e.g. IMPULSE_STREAM_BATCH_MAX=2000",
    )
    add(
        "--drain-timeout",
        type=_bounded_int(10, 86_400),
        default=None,
        metavar="SECONDS",
        help="give up on a contender after this long (default 120 + events/300)",
    )
    add(
        "--results",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="directory of latest.json and the --record file (default bench/results)",
    )
    add(
        "--record",
        action="store_true",
        help="also write bench/results/<date>.json (the file to commit) besides latest.json",
    )
    args = p.parse_args(argv)  # fmt: skip
    if args.kafka_port in (args.redis_port, args.redis_port - 1):
        p.error("--kafka-port, its controller port (+1) and --redis-port must differ")
    if args.drain_timeout is None:
        args.drain_timeout = 120 + args.events // 300
    return args


# --- the run -----------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.prefix = f"bench{self.stamp}."
        env = {k: v for k, v in os.environ.items() if k not in _STACK_ENV}
        self.stack = Stack.from_env(
            env,
            name=args.stack_name,
            kafka_port=args.kafka_port,
            redis_port=args.redis_port,
            partitions=PARTITIONS,
            external_kafka=args.kafka or None,
            external_redis=args.redis or None,
        )
        self.run_dir = self.stack.settings.data_dir / "runs" / self.stamp
        self.inputs = [self.prefix + t for t in contract_topics.INPUT_TOPICS]
        self.sink = self.prefix + "bench.passthrough"
        self.workload = build_workload(args.events)
        self.redis: RedisProbe | None = None
        self.ends: dict[Any, int] = {}

    @property
    def expect(self) -> int:
        return self.workload.events

    @property
    def batch_max(self) -> int:
        """The worker's batch size: the passthrough waits for acks per batch of the same size."""
        return int(dict(self.args.worker_env).get("IMPULSE_STREAM_BATCH_MAX", BATCH_MAX))

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap_servers

    def run(self) -> dict[str, Any]:
        load_before = os.getloadavg()
        if self.expect < 50_000:
            log("fewer than 50,000 events: the drains take seconds and the ratios are noise")
        log(f"starting the {self.stack.name!r} stack: Kafka {self.bootstrap}, "
            f"Redis {self.stack.redis_url}")  # fmt: skip
        self.stack.up(fresh=True)
        self.redis = RedisProbe(self.stack.redis_url)
        self.stack.create_topics(self.prefix, PARTITIONS)
        asyncio.run(create_topic(self.bootstrap, self.sink, PARTITIONS))
        w = self.workload
        log(f"producing {w.events:,} events ({w.customers:,} customers, "
            f"{w.mean_size():.0f} bytes on average) to {self.prefix}*")  # fmt: skip
        produce_seconds = asyncio.run(produce(self.bootstrap, self.prefix, w))
        self.ends = asyncio.run(end_offsets(self.bootstrap, self.inputs))
        if sum(self.ends.values()) != self.expect:
            raise InfraError(
                f"the input topics hold {sum(self.ends.values())} events, expected {self.expect}"
            )
        log(f"produced in {produce_seconds:.1f}s")

        runs: dict[str, list[Measurement]] = {c: [] for c in self.args.only if c not in STAGE_RUNS}
        for r, contender in self.schedule():
            log(f"{contender}: {DESCRIPTIONS[contender]}")
            m = self.measure(contender, r)
            runs[contender].append(m)
            if m.error:
                log(f"{contender} FAILED: {m.error}")
            elif m.events_per_second is not None:
                log(f"{contender}: {m.events_per_second:,.0f} events/s")
        stages = [self.stages(c) for c in STAGE_RUNS if c in self.args.only]
        by = {c: median_run(ms) for c, ms in runs.items()}
        ratio_rows = ratios(by)
        goals = targets(by)
        return {
            "stages": stages,
            "stages_table": stage_table(stages) if stages else "",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": self.machine(load_before),
            "workload": {
                "events": w.events,
                "customers": w.customers,
                "mean_event_bytes": round(w.mean_size(), 1),
                "events_by_topic": {t: len(ms) for t, ms in w.by_topic.items()},
                "partitions": PARTITIONS,
                "produce_seconds": round(produce_seconds, 2),
            },
            "worker_env": dict(self.args.worker_env),
            "contenders": {c: asdict(m) for c, m in by.items()},
            "runs": {c: [m.events_per_second for m in ms] for c, ms in runs.items()},
            "ratios": {k: (round(v, 3) if v is not None else None) for k, v in ratio_rows.items()},
            "targets": [{**asdict(t), "met": t.met} for t in goals],
            "table": table(by, ratio_rows, goals),
        }

    def schedule(self) -> list[tuple[int, str]]:
        """``(run number, contender)`` in order; the passthrough runs first, midway and last.

        The load of a shared machine drifts: three passthrough runs spread over
        the whole run, reported as their median, keep the denominator of every
        ratio from hanging on one noisy minute.
        """
        only = self.args.only
        plan: list[tuple[int, str]] = []
        for r in range(self.args.repeat):
            bracket = [(3 * r + k, PASSTHROUGH) for k in range(3)] if PASSTHROUGH in only else []
            plan += bracket[:1]
            plan += [(r, c) for c in (NOOP_FAUST, NOOP_FAST, PROCESSOR) if c in only]
            plan += bracket[1:2]
            plan += [(r, c) for c in (WORKER_FAST, WORKER_FAUST) if c in only]
            plan += bracket[2:]
        return plan

    def measure(self, contender: str, r: int) -> Measurement:
        try:
            if contender == PASSTHROUGH:
                return _measurement(contender, self.passthrough(r))
            if contender in (NOOP_FAUST, NOOP_FAST):
                return _measurement(contender, self.noop(contender == NOOP_FAST, r))
            if contender == PROCESSOR:
                return _measurement(contender, self.processor(r))
            return self.worker(contender == WORKER_FAST, r)
        except DrainTimeout as exc:
            return Measurement(contender, None, None, None, error=str(exc))

    def passthrough(self, r: int) -> DrainClock:
        name = f"passthrough-{r}"
        result = self.run_dir / f"{name}.json"
        args = ["--bootstrap", self.bootstrap, "--topics", ",".join(self.inputs),
                "--sink", self.sink, "--group", self.prefix + name,
                "--max-records", str(self.batch_max),
                "--expect", str(self.expect), "--result", str(result)]  # fmt: skip
        return self._drain_helper("bench.passthrough", args, result, name)

    def noop(self, fast: bool, r: int) -> DrainClock:
        name = f"noop-{'fast' if fast else 'faust'}-{r}"
        result = self.run_dir / f"{name}.json"
        args = ["--bootstrap", self.bootstrap, "--topics", ",".join(self.inputs),
                "--app-id", self.prefix + name, "--fast-drain", "1" if fast else "0",
                "--batch-max", str(self.batch_max),
                "--expect", str(self.expect), "--result", str(result)]  # fmt: skip
        return self._drain_helper("bench.noop_agent", args, result, name)

    def processor(self, r: int) -> DrainClock:
        name = f"processor-{r}"
        result = self.run_dir / f"{name}.json"
        args = ["--events", str(self.expect), "--partitions", str(PARTITIONS),
                "--batch", str(self.batch_max), "--result", str(result)]  # fmt: skip
        return self._drain_helper("bench.in_process", args, result, name)

    def stages(self, contender: str) -> dict[str, Any]:
        """One ``bench.stages`` process on the build named by ``contender``."""
        build = contender.split("/")[1]
        log(f"{contender}: CPU per stage of the decision path, {build} core")
        sink = f"{self.prefix}stages.{build}"
        asyncio.run(create_topic(self.bootstrap, sink, PARTITIONS))
        result = self.run_dir / f"stages-{build}.json"
        log_path = self.run_dir / f"stages-{build}.log"
        env = _helper_env()
        tree = None
        if build == "interpreted":
            tree = builds.interpreted_tree(self.run_dir / "interpreted")
        env.update(builds.environment(build, tree))
        args = ["--build", build, "--events", str(self.expect), "--bootstrap", self.bootstrap,
                "--sink", sink, "--redis", self.stack.redis_url, "--prefix", f"st{build[0]}:",
                "--batch", str(self.batch_max), "--result", str(result)]  # fmt: skip
        proc = processes.python_module("bench.stages", args, env, log_path)
        try:
            code: int | None = proc.wait(timeout=self.args.drain_timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            processes.stop(proc)
        if code != 0 or not result.exists():
            error = (
                f"bench.stages --build {build} "
                + (f"exited with code {code}" if code is not None else "timed out")
                + f"; log {log_path}:\n{processes.log_tail(log_path)}"
            )
            log(f"{contender} FAILED: {error}")
            return {"build": build, "error": error}
        figures: dict[str, Any] = orjson.loads(result.read_bytes())
        return figures

    def _drain_helper(self, module: str, args: list[str], result: Path, name: str) -> DrainClock:
        """Run a helper process until it has written ``result`` (its drain clock)."""
        log_path = self.run_dir / f"{name}.log"
        proc = processes.python_module(module, args, _helper_env(), log_path)
        try:
            deadline = time.monotonic() + self.args.drain_timeout
            while not result.exists():
                if proc.poll() is not None and not result.exists():
                    raise DrainTimeout(
                        f"{module} exited with code {proc.returncode}; log {log_path}:\n"
                        + processes.log_tail(log_path)
                    )
                if time.monotonic() > deadline:
                    raise DrainTimeout(
                        f"{module} did not drain {self.expect} events in "
                        f"{self.args.drain_timeout}s; log {log_path}"
                    )
                time.sleep(0.1)
            time.sleep(0.05)  # written with one call; let it close
            return DrainClock.read(result)
        finally:
            processes.stop(proc)

    def worker(self, fast: bool, r: int) -> Measurement:
        assert self.redis is not None
        contender = WORKER_FAST if fast else WORKER_FAUST
        name = f"worker-{'fast' if fast else 'faust'}-{r}"
        # As short as production's "is:": key names are part of a customer's memory.
        redis_prefix = f"b{'f' if fast else 's'}{r}:"
        if self.redis.keys_with_prefix(redis_prefix):
            raise InfraError(
                f"Redis at {self.stack.redis_url} already holds keys {redis_prefix}*; "
                "the benchmark deletes its keys after each run, so it will not use that prefix"
            )
        env = worker_env(
            self.bootstrap,
            self.stack.redis_url,
            topic_prefix=self.prefix,
            redis_prefix=redis_prefix,
            app_id=self.prefix + name,
            web_port=processes.free_port(),
            fast_drain=fast,
            extra=dict(self.args.worker_env),
        )
        before = self.redis.snapshot()
        try:
            result = drain_worker(
                env,
                bootstrap=self.bootstrap,
                ends=self.ends,
                expect=self.expect,
                timeout=self.args.drain_timeout,
                log=self.run_dir / f"{name}.log",
            )
            after = self.redis.snapshot()
            keys = self.redis.customer_keys(redis_prefix)
        finally:
            self.redis.delete_prefix(redis_prefix)
        m = _measurement(contender, result.clock)
        customers = self.workload.customers
        m.worker = worker_figures(result, before, after, keys, self.expect, customers)
        if keys.keys != customers:
            m.error = f"Redis holds {keys.keys} customers, expected {customers}"
        return m

    def machine(self, load_before: tuple[float, float, float]) -> dict[str, Any]:
        probe = self.redis
        return {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "faust-streaming": metadata.version("faust-streaming"),
            "aiokafka": metadata.version("aiokafka"),
            "redis-py": metadata.version("redis"),
            "redis_server": probe.client.info("server")["redis_version"] if probe else None,
            "redis_hash_max_listpack_value": probe.config("hash-max-listpack-value")
            if probe
            else None,
            "kafka_bootstrap": self.bootstrap,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }

    def close(self) -> None:
        """Stop every helper and worker; stop the stack or, if it stays, drop the bench's data."""
        processes.stop_all()
        managed = self.stack.kafka is not None or self.stack.redis is not None
        if self.args.keep_stack or not managed:
            try:
                asyncio.run(delete_topics_with_prefix(self.bootstrap, self.prefix))
            except Exception as exc:  # best effort: the broker may be down already
                log(f"could not delete the bench topics: {exc!r}")
        if self.redis is not None:
            self.redis.close()
        if managed and not self.args.keep_stack:
            log(f"stopping the {self.stack.name!r} stack")
            self.stack.down()


def _measurement(contender: str, clock: DrainClock) -> Measurement:
    rate = clock.rate()
    cpu = clock.cpu_per_event()
    seconds = clock.done_at - clock.first_at if clock.done_at and clock.first_at else None
    return Measurement(
        contender,
        round(rate, 1) if rate is not None else None,
        round(seconds, 2) if seconds is not None else None,
        round(cpu * 1e6, 1) if cpu is not None else None,
    )


def _helper_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STACK_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_results(results: dict[str, Any], record: bool, directory: Path = RESULTS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    body = orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n"
    paths = [directory / "latest.json"]
    if record:
        paths.append(directory / f"{results['date'][:10]}.json")
    for path in paths:
        path.write_bytes(body)
    return paths


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through Bench.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Leaders of a new topic are elected before the broker serves them: the first
    # produce requests may be answered "not leader" and are retried. Not news.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        bench = Bench(args)
    except ConfigError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        results = bench.run()
    except InfraError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        bench.close()
    print(results["table"])
    if results["stages_table"]:
        print()
        print(results["stages_table"])
    for path in write_results(results, args.record, args.results):
        log(f"wrote {path}")
    failed = any(c["error"] for c in results["contenders"].values()) or any(
        "error" in s for s in results["stages"]
    )
    missed = not all(t["met"] for t in results["targets"])
    return EXIT_MISSED if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
