"""Where a running worker and a backtest spend their time (``make profile``).

Two py-spy recordings on the bench's workloads, each summarised as the frames
with the most *own* time (the leaf of a sampled stack), in µs per event:

* ``worker``: the real ``python -m impulse_stream.cli worker`` (the defaults:
  batch hand-off, uvloop) draining the reference workload (``bench/workload.py``,
  ``--events``) from a local stack of its own (name ``profile``, Kafka on 29192,
  Redis on 29479). py-spy attaches once the worker has read its first events
  and is stopped when the group has committed every input offset, so start-up
  and group join are left out. The worker's CPU (user + system, /proc) over the
  same window gives CPU µs per event beside it.
* ``backtest``: ``bench/backtest_rate.py --workers 1`` (a generated month of
  ``--customers`` customers backtested with two catalogues, one after the other
  in one process, through the batch path on the in-memory store), recorded
  whole; only stacks under ``run_messages`` (the catalogue runs) count.

py-spy samples the thread that holds the GIL (``--gil``), so a worker waiting
on Kafka or Redis (``epoll``, a lock) is not a sample. µs per event of a frame
= its share of the samples × the process's CPU µs per event over the same
window (``/proc`` for the worker, ``getrusage`` for the backtest):
sampling pauses the process, so the samples' wall time is not its CPU. With
``--native`` (default) the frames inside the mypyc-compiled core and in C
extensions are named (``CPyDef_...``, ``gc_collect_main``, ``msgspec``); without
it their time is charged to the Python frame that called them.

Writes to ``--out`` (default ``bench/results/profile/``): ``<what>.txt`` the
collapsed stacks (py-spy ``raw``: flamegraph.pl and speedscope read it),
``<what>.json`` the figures and ``<what>.md`` the top-frames table.

    python -m bench.profile --events 60000 --customers 2000
    python -m bench.profile --only backtest --customers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from bench import processes
from bench.broker import end_offsets, group_lag, produce
from bench.worker_run import process_cpu, scrape, worker_env
from bench.workload import build_workload
from impulse_stream.contract import topics as contract_topics
from impulse_stream.infra import Stack

OUT = Path(__file__).resolve().parent / "results" / "profile"
PARTITIONS = 6
TOP = 20
_STACK_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT",
              "REDIS_PORT", "IMPULSE_STREAM_INFRA_NAME", "IMPULSE_STREAM_PARTITIONS")  # fmt: skip
# A frame of py-spy's raw format: "function (file:line)"; native frames have no line.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def log(message: str) -> None:
    print(f"[profile {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is missing: make venv installs it (the dev extras)")
    return found


def _py_spy_args(rate: int, native: bool, out: Path) -> list[str]:
    args = [py_spy(), "record", "--rate", str(rate), "--format", "raw", "--output", str(out)]
    args.append("--gil")  # the thread computing Python: a wait (epoll, a lock) is not a sample
    return args + (["--native"] if native else [])


# --- the summary -------------------------------------------------------------------


@dataclass
class Frame:
    function: str
    where: str  # file (shortened) of the frame, or the native library
    samples: int
    share: float  # of all samples of the window
    us_per_event: float


@dataclass
class Profile:
    what: str
    events: int
    rate_hz: int
    samples: int
    seconds_sampled: float  # samples ÷ rate: the time the process computed
    cpu_us_per_event: float | None  # /proc CPU over the same window, None for the backtest
    sampled_us_per_event: float  # samples ÷ rate ÷ events: stretched by the sampling
    top: list[Frame] = field(default_factory=list)
    areas: dict[str, float] = field(default_factory=dict)  # µs/event of own time per area


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def area(function: str, where: str) -> str:
    """The part of the path a leaf frame belongs to (for the second table)."""
    w = where.replace("\\", "/")
    f = function
    if f.startswith("gc_collect"):
        return "garbage collector"
    if "impulse_stream/core/" in w or f.startswith(("CPyDef_", "CPyPy_", "CPy_", "CPyStatic")):
        if "codec" in w or "codec" in f:
            return "state codec (core/codec.py)"
        return "decision core (core/, mypyc)"
    if "zstd" in w or "zstandard" in w or "msgpack" in f:
        return "state codec (core/codec.py)"
    if "redis/" in w or "hiredis" in w:
        return "Redis client (redis-py, hiredis)"
    if "impulse_stream/store/" in w:
        return "store (store/)"
    if "aiokafka" in w or "kafka" in w:
        return "Kafka client (aiokafka)"
    if "faust/" in w or "mode/" in w or "impulse_stream/streaming/transport" in w:
        return "Faust shell and hand-off"
    if "impulse_stream/contract/" in w:
        return "contract: decode, encode, CloudEvents"
    if "prometheus_client" in w or "impulse_stream/streaming/metrics" in w:
        return "metrics"
    if "impulse_stream/streaming/" in w or "impulse_stream/datatools/" in w:
        return "batch path (streaming/, datatools/)"
    if "msgspec" in w or "orjson" in w:
        return "msgspec / orjson (called from Python)"
    if "asyncio" in w or "uvloop" in w or "selectors" in w:
        return "event loop"
    if w.endswith(".py"):
        return "other Python"
    return "interpreter and C runtime"


def _is_code(func: str, where: str) -> bool:
    """A frame of Python code or of the compiled core (not the interpreter, libc, a C library)."""
    return where.endswith(".py") or where.startswith("<") or func.startswith(("CPyDef_", "CPyPy_"))


def charged(frames: list[str]) -> tuple[str, str]:
    """The frame a sample is charged to: the garbage collector wherever it runs, else the
    innermost frame of Python or compiled-core code (the interpreter's and libc's frames
    below it, a syscall included, are that code's own time)."""
    parsed = []
    for raw in frames:
        m = _FRAME.match(raw)
        func, where = (m["func"], _short(m["file"])) if m else (raw, "")
        if func.startswith("gc_collect"):
            return "gc_collect_main (the garbage collector)", "libpython3.11"
        parsed.append((func, where))
    for func, where in reversed(parsed):
        if _is_code(func, where):
            return func, where
    return parsed[-1] if parsed else ("?", "")


_GENERIC = (
    "interpreter and C runtime",
    "event loop",
    "other Python",
    "msgspec / orjson (called from Python)",
)


def stack_area(frames: list[str]) -> str:
    """The area a sample is charged to: that of its innermost frame with a specific area
    (the event loop's and the interpreter's frames count for the code that called them:
    redis-py's ``asyncio.timeout`` and stream writes are the Redis client's)."""
    first = ""
    for raw in reversed(frames):
        m = _FRAME.match(raw)
        func, where = (m["func"], _short(m["file"])) if m else (raw, "")
        a = area(func, where)
        if a == "garbage collector":
            return a
        first = first or a
        if a not in _GENERIC:
            return a
    return first or "interpreter and C runtime"


def summarise(
    stacks: Counter[str],
    what: str,
    events: int,
    rate: int,
    cpu_us_per_event: float | None,
    under: str = "",
) -> Profile:
    """Own time per frame (see :func:`charged`) of the stacks that pass ``under``."""
    own: Counter[tuple[str, str]] = Counter()
    total = 0
    areas: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        if under and not any(under in f for f in frames):
            continue
        total += n
        own[charged(frames)] += n
        areas[stack_area(frames)] += n
    # A sample is a moment the process held the GIL; sampling pauses it, so the wall
    # time the samples stand for is stretched. Scaled to the CPU the process measured
    # over the same window, the shares add up to that CPU per event.
    if cpu_us_per_event and total:
        per = cpu_us_per_event / total
    else:
        per = 1e6 / rate / events if events else 0.0
    profile = Profile(
        what=what,
        events=events,
        rate_hz=rate,
        samples=total,
        seconds_sampled=round(total / rate, 2),
        cpu_us_per_event=round(cpu_us_per_event, 1) if cpu_us_per_event is not None else None,
        sampled_us_per_event=round(total * 1e6 / rate / events, 1) if events else 0.0,
    )
    for (func, where), n in own.most_common(TOP):
        profile.top.append(Frame(func, where, n, round(n / total, 4), round(n * per, 2)))
    profile.areas = {a: round(n * per, 1) for a, n in areas.most_common()}
    return profile


def read_stacks(path: Path) -> Counter[str]:
    """py-spy's raw (collapsed) output: ``frame;frame;...;leaf count`` per line."""
    stacks: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def markdown(p: Profile) -> str:
    head = (
        f"{p.what}: {p.events:,} events, {p.samples:,} samples at {p.rate_hz} Hz "
        f"({p.sampled_us_per_event:.0f} µs/event sampled"
        + (f", {p.cpu_us_per_event:.0f} CPU µs/event" if p.cpu_us_per_event else "")
        + ")"
    )
    lines = [
        head,
        "",
        "| frame (own time) | where | share | µs/event |",
        "| --- | --- | --- | --- |",
    ]
    for f in p.top:
        lines.append(
            f"| `{f.function}` | {f.where} | {100 * f.share:.1f} % | {f.us_per_event:.1f} |"
        )
    lines += [
        "",
        "| area (innermost frame of the area on each stack) | µs/event |",
        "| --- | --- |",
    ]
    lines += [f"| {a} | {us:.1f} |" for a, us in p.areas.items()]
    return "\n".join(lines) + "\n"


def _write(p: Profile, out: Path) -> None:
    (out / f"{p.what}.json").write_bytes(orjson.dumps(asdict(p), option=orjson.OPT_INDENT_2))
    (out / f"{p.what}.md").write_text(markdown(p))
    log(f"wrote {out / p.what}.{{txt,json,md}}")
    print(markdown(p))


def _stop_spy(spy: subprocess.Popen[bytes]) -> None:
    """SIGINT: py-spy writes what it recorded and exits."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(10)


# --- the worker ------------------------------------------------------------------


def profile_worker(args: argparse.Namespace, out: Path) -> Profile:
    env = {k: v for k, v in os.environ.items() if k not in _STACK_ENV}
    stack = Stack.from_env(env, name="profile", kafka_port=args.kafka_port,
                           redis_port=args.redis_port, partitions=PARTITIONS)  # fmt: skip
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = f"profile{stamp}."
    workload = build_workload(args.events)
    logs = stack.settings.data_dir / "runs" / stamp
    log(f"starting the profile stack: Kafka {stack.bootstrap_servers}, Redis {stack.redis_url}")
    try:
        stack.up(fresh=True)
    except BaseException:  # a server that started is stopped again
        stack.down()
        raise
    try:
        stack.create_topics(prefix, PARTITIONS)
        log(f"producing {workload.events:,} events to {prefix}*")
        asyncio.run(produce(stack.bootstrap_servers, prefix, workload))
        inputs = [prefix + t for t in contract_topics.INPUT_TOPICS]
        ends = asyncio.run(end_offsets(stack.bootstrap_servers, inputs))
        port = processes.free_port()
        group = prefix + "worker"
        wenv = worker_env(stack.bootstrap_servers, stack.redis_url, topic_prefix=prefix,
                          redis_prefix="pf:", app_id=group, web_port=port, fast_drain=True,
                          extra={})  # fmt: skip
        worker = processes.python_module("impulse_stream.cli", ["worker"], wenv,
                                         logs / "worker.log")  # fmt: skip
        raw = out / "worker.txt"
        spy: subprocess.Popen[bytes] | None = None
        try:
            seen0 = cpu0 = 0.0
            deadline = time.monotonic() + 120 + args.events / 100
            while True:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited; log {logs / 'worker.log'}")
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not drain the workload in time")
                try:
                    seen = scrape(port, timeout=2.0).get("impulse_stream_events_in_total", 0.0)
                except OSError:
                    seen = 0.0
                if seen and spy is None:
                    cpu0, seen0 = process_cpu(worker.pid) or 0.0, seen
                    spy_args = _py_spy_args(args.rate, args.native, raw)
                    spy = subprocess.Popen([*spy_args, "--pid", str(worker.pid)],
                                           stdout=subprocess.DEVNULL,
                                           stderr=(logs / "py-spy.log").open("wb"))  # fmt: skip
                    log(f"py-spy attached after {int(seen):,} events")
                if (
                    seen >= workload.events
                    and asyncio.run(group_lag(stack.bootstrap_servers, group, ends)) == 0
                ):
                    break
                time.sleep(0.2)
            cpu1 = process_cpu(worker.pid) or 0.0
            assert spy is not None
            _stop_spy(spy)
        finally:
            if spy is not None and spy.poll() is None:
                _stop_spy(spy)
            processes.stop(worker)
        events = int(workload.events - seen0)
        profile = summarise(read_stacks(raw), "worker", events, args.rate,
                            (cpu1 - cpu0) / events * 1e6)  # fmt: skip
    finally:
        log("stopping the profile stack")
        stack.down()
    return profile


# --- the backtest ----------------------------------------------------------------


def profile_backtest(args: argparse.Namespace, out: Path) -> Profile:
    raw, result = out / "backtest.txt", out / "backtest-rate.json"
    # two rounds of the serial way (one process: py-spy follows no forked children)
    rate_args = ["--customers", str(args.customers), "--rounds", "2", "--workers", "1",
                 "--result", str(result)]  # fmt: skip
    cmd = [*_py_spy_args(args.rate, args.native, raw), "--", sys.executable, "-m",
           "bench.backtest_rate", *rate_args]  # fmt: skip
    log(f"py-spy over bench.backtest_rate --customers {args.customers}")
    subprocess.run(cmd, check=True, cwd=processes.REPO, stdout=subprocess.DEVNULL)
    figures = orjson.loads(result.read_bytes())
    log(f"backtest: {figures['events']:,} events, {figures['events_per_second']:,.0f} events/s "
        "under the profiler")  # fmt: skip
    return summarise(read_stacks(raw), "backtest", figures["events"], args.rate,
                     figures["cpu_us_per_event"], under="run_messages")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--only", choices=("worker", "backtest"), default=None)
    parser.add_argument("--events", type=int, default=60_000, help="worker workload events")
    parser.add_argument("--customers", type=int, default=2000, help="backtest month customers")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--no-native",
        dest="native",
        action="store_false",
        help="Python frames only (C and mypyc time goes to the caller)",
    )
    parser.add_argument("--kafka-port", type=int, default=29192)
    parser.add_argument("--redis-port", type=int, default=29479)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # "not leader" on new topics
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "worker"):
        _write(profile_worker(args, args.out), args.out)
    if args.only in (None, "backtest"):
        _write(profile_backtest(args, args.out), args.out)


if __name__ == "__main__":
    main()
