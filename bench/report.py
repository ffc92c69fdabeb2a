"""The benchmark's verdict: figures per contender, ratios, the issue's targets, a table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# The targets of the project's issue.
MIN_THROUGHPUT_RATIO = 0.25  # worker events/s over the raw aiokafka passthrough's (issue 14)
MAX_WORKER_CPU_US = 200.0  # the worker's CPU per event
MAX_PROCESSOR_CPU_US = 150.0  # the batch path in memory, CPU per event
MAX_ROUND_TRIPS_PER_EVENT = 0.05  # Redis round trips (pipeline executions) per input event
MAX_BYTES_PER_CUSTOMER = 512  # Redis used_memory growth per distinct customer
MAX_P99_LATENCY_MS = 50.0  # event -> opportunity at half the worker's maximum rate
MIN_REPLAY_VS_LIVE = 1.5  # replay catch-up events/s over live events/s

PASSTHROUGH = "passthrough"
NOOP_FAUST = "noop/faust-consumer"
NOOP_FAST = "noop/fast-drain"
NOOP_BATCH = "noop/batch-hand-off"
PROCESSOR = "processor/in-memory"
WORKER_FAST = "worker/fast-drain"
WORKER_ASYNCIO = "worker/asyncio-loop"
WORKER_FAUST = "worker/faust-consumer"
WORKER_TWO = "worker/two-workers"
CONTENDERS = (
    PASSTHROUGH,
    NOOP_FAUST,
    NOOP_FAST,
    NOOP_BATCH,
    PROCESSOR,
    WORKER_FAST,
    WORKER_ASYNCIO,
    WORKER_FAUST,
    WORKER_TWO,
)

DESCRIPTIONS = {
    PASSTHROUGH: "raw aiokafka getmany -> orjson loads/dumps -> send (acks=all), no Redis",
    NOOP_FAUST: "Faust agent, take_events doing nothing, Faust's own consumer (kafka://)",
    NOOP_FAST: "Faust agent, take_events doing nothing, fast-drain consumer (impulse://)",
    NOOP_BATCH: "Faust agent doing nothing with whole getmany polls (impulse:// batch hand-off)",
    PROCESSOR: "BatchProcessor + MemoryStore in the runner's process: no Kafka, Faust, Redis",
    WORKER_FAST: "impulse-stream worker, the defaults: batch hand-off (FAST_DRAIN=1), uvloop",
    WORKER_ASYNCIO: "impulse-stream worker, batch hand-off, IMPULSE_STREAM_EVENT_LOOP=asyncio",
    WORKER_FAUST: "impulse-stream worker, IMPULSE_STREAM_FAST_DRAIN=0 (take_events), uvloop",
    WORKER_TWO: "two impulse-stream workers (defaults) in one group; CPU summed over both",
}


@dataclass
class Measurement:
    """One contender draining the backlog once."""

    contender: str
    events_per_second: float | None
    seconds: float | None
    cpu_us_per_event: float | None = None  # CPU time of the contender's process per event
    error: str | None = None
    worker: dict[str, Any] = field(default_factory=dict)  # Redis and metric figures


@dataclass
class Target:
    name: str
    value: float | None
    limit: float
    higher_is_better: bool
    unit: str

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit


def median_run(runs: list[Measurement]) -> Measurement:
    """The run with the median rate (a failed run counts as the slowest)."""
    ordered = sorted(runs, key=lambda m: m.events_per_second or 0.0)
    return ordered[len(ordered) // 2]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(by: dict[str, Measurement], memory_measured: bool = False) -> list[Target]:
    """The issue's targets of the drains. Redis memory per customer is the memory group's
    median after the month (``bench/memory.py``) when that group ran (``memory_measured``);
    the drain's ``used_memory`` growth (its table column) stands in only without it."""
    worker = by.get(WORKER_FAST)
    passthrough = by.get(PASSTHROUGH)
    figures = worker.worker if worker else {}
    out = []
    if worker and passthrough:
        out.append(
            Target(
                "worker throughput / aiokafka passthrough",
                ratio(worker.events_per_second, passthrough.events_per_second),
                MIN_THROUGHPUT_RATIO,
                True,
                "x",
            )
        )
    processor = by.get(PROCESSOR)
    if processor:
        out.append(
            Target(
                "processor/in-memory CPU per event",
                processor.cpu_us_per_event,
                MAX_PROCESSOR_CPU_US,
                False,
                "us",
            )
        )
    if worker:
        out.append(
            Target("worker CPU per event", worker.cpu_us_per_event, MAX_WORKER_CPU_US, False, "us")
        )
        out.append(
            Target(
                "Redis round trips per event",
                figures.get("redis_round_trips_per_event"),
                MAX_ROUND_TRIPS_PER_EVENT,
                False,
                "",
            )
        )
    if worker and not memory_measured:
        out.append(
            Target(
                "Redis B/customer (drain's memory growth)",
                figures.get("redis_bytes_per_customer"),
                MAX_BYTES_PER_CUSTOMER,
                False,
                "B",
            )
        )
    return out


def ratios(by: dict[str, Measurement]) -> dict[str, float | None]:
    def r(a: str, b: str) -> float | None:
        if a not in by or b not in by:
            return None
        return ratio(by[a].events_per_second, by[b].events_per_second)

    pairs = {
        "worker/fast-drain vs passthrough": (WORKER_FAST, PASSTHROUGH),
        "worker/faust-consumer vs passthrough": (WORKER_FAUST, PASSTHROUGH),
        "noop/fast-drain vs passthrough": (NOOP_FAST, PASSTHROUGH),
        "noop/faust-consumer vs passthrough": (NOOP_FAUST, PASSTHROUGH),
        "processor/in-memory vs passthrough": (PROCESSOR, PASSTHROUGH),
        "noop/batch-hand-off vs passthrough": (NOOP_BATCH, PASSTHROUGH),
        "fast-drain gain, noop agent": (NOOP_FAST, NOOP_FAUST),
        "batch hand-off gain, noop agent": (NOOP_BATCH, NOOP_FAUST),
        "batch hand-off gain, worker": (WORKER_FAST, WORKER_FAUST),
        "uvloop gain, worker": (WORKER_FAST, WORKER_ASYNCIO),
        "worker/fast-drain vs processor/in-memory": (WORKER_FAST, PROCESSOR),
    }
    out = {name: r(a, b) for name, (a, b) in pairs.items() if a in by and b in by}
    if WORKER_TWO in by and WORKER_FAST in by:
        out["CPU per event, two workers / one"] = ratio(
            by[WORKER_TWO].cpu_us_per_event, by[WORKER_FAST].cpu_us_per_event
        )
        out["events/s, two workers / one"] = r(WORKER_TWO, WORKER_FAST)
    # The same comparison by CPU cost: what the rate ratio would be if each had a core of its
    # own (robust to the machine's load, which moves wall-clock rates between runs).
    for name in (WORKER_FAST, WORKER_ASYNCIO, WORKER_FAUST, NOOP_BATCH, NOOP_FAST, PROCESSOR):
        if name in by and PASSTHROUGH in by:
            out[f"{name} vs passthrough, by CPU per event"] = ratio(
                by[PASSTHROUGH].cpu_us_per_event, by[name].cpu_us_per_event
            )
    return out


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(
    by: dict[str, Measurement],
    ratio_rows: dict[str, float | None],
    goals: list[Target],
    not_run: Mapping[str, str] | None = None,
) -> str:
    """The ratio table; ``not_run``: contenders left out of this run and why (a row each)."""
    skipped = not_run or {}
    passthrough = by.get(PASSTHROUGH)
    base = passthrough.events_per_second if passthrough else None
    lines = [
        f"{'contender':<24}{'events/s':>10}{'seconds':>9}{'x passthrough':>15}"
        f"{'CPU us/event':>14}{'RT/event':>10}{'B/customer':>12}",
    ]
    for name in CONTENDERS:
        m = by.get(name)
        if m is None:
            if name in skipped:
                lines.append(f"{name:<24}{'not run':>10}  ({skipped[name]})")
            continue
        w = m.worker
        lines.append(
            f"{name:<24}{_num(m.events_per_second, ',.0f'):>10}{_num(m.seconds, '.1f'):>9}"
            f"{_num(ratio(m.events_per_second, base), '.2f'):>15}"
            f"{_num(m.cpu_us_per_event, ',.0f'):>14}"
            f"{_num(w.get('redis_round_trips_per_event'), '.4f'):>10}"
            f"{_num(w.get('redis_bytes_per_customer'), ',.0f'):>12}"
            + (f"  FAILED: {m.error.splitlines()[0]}" if m.error else "")
        )
    two = by.get(WORKER_TWO)
    if two is not None and two.worker.get("per_worker"):
        split = ", ".join(
            f"{w['topic_partitions']} topic-partitions / {w['events']:,} events"
            for w in two.worker["per_worker"]
        )
        lines.append(f"{WORKER_TWO}: at the end {split}")
    lines.append("")
    for name, value in ratio_rows.items():
        lines.append(f"{name:<56}{_num(value, '.2f'):>8}")
    lines.append("")
    for t in goals:
        op = ">=" if t.higher_is_better else "<="
        verdict = "met" if t.met else "MISSED"
        value = _num(t.value, ".3f" if t.unit not in ("B", "us") else ",.0f")
        lines.append(f"{t.name:<42}{value:>10} {t.unit:<2}(target {op} {t.limit:g})  {verdict}")
    return "\n".join(lines)


def user_targets(latency: dict[str, Any] | None, replay: dict[str, Any] | None) -> list[Target]:
    """The targets of the latency and replay figures (bench/user_paths.py), when measured."""
    out = []
    if latency is not None and latency.get("load", 0.5) == 0.5:  # the target is at half load
        out.append(
            Target(
                "p99 event -> opportunity at half load",
                latency.get("p99_ms"),
                MAX_P99_LATENCY_MS,
                False,
                "ms",
            )
        )
    if replay is not None and ("error" in replay or "replay_vs_live" in replay):
        out.append(
            Target(
                "replay events/s / live events/s",
                replay.get("replay_vs_live"),
                MIN_REPLAY_VS_LIVE,
                True,
                "x",
            )
        )
    return out


def user_table(
    latency: dict[str, Any] | None,
    replay: dict[str, Any] | None,
    goals: list[Target],
    waiting: dict[str, Any] | None = None,
) -> str:
    """The latency and replay lines of the report, with their targets; ``waiting``: the
    latency again with a caught-up topic holding the clock 2 s (``latency-wait``)."""
    lines = []
    for name, figures in (("latency/half-load", latency), ("latency/caught-up-wait-2s", waiting)):
        if figures is None:
            continue
        if "error" in figures:
            lines.append(f"{name}  FAILED: {figures['error'].splitlines()[0]}")
            continue
        measured = (
            f"on {figures['max_rate_events']:,} of them"
            if figures["max_rate_events"]
            else "measured by latency/half-load"
        )
        load = figures.get("load", 0.5)
        share = "half" if load == 0.5 else f"{load:g} x"
        basis = (
            "a fixed rate, --latency-rate"
            if figures.get("fixed_rate")
            else f"{share} of the worker's {figures['max_rate']:,.0f}/s {measured}"
        )
        lines.append(
            f"{name}: {figures['events']:,} large incoming payments sent open-loop "
            f"at {figures['target_rate']:,.0f}/s ({basis}; sent "
            f"{_num(figures['sent_rate'], ',.0f')}/s), "
            f"{figures['matched']:,} opportunities matched, {figures['unmatched']:,} missing, "
            f"batches of {_num(figures.get('mean_batch'), ',.1f')} events on average"
        )
        lines.append(
            f"event -> opportunity ms: p50 {_num(figures['p50_ms'], '.1f')}, "
            f"p99 {_num(figures['p99_ms'], '.1f')}, max {_num(figures['max_ms'], '.1f')}; "
            f"p50 of the first tenth {_num(figures['p50_first_tenth_ms'], '.1f')}, "
            f"of the last {_num(figures['p50_last_tenth_ms'], '.1f')}"
        )
        if figures.get("publish_to_arrival_p50_ms") is not None:
            lines.append(
                "of which from the opportunity's Kafka timestamp to its arrival (publish, "
                f"broker, the bench's consumer): p50 {figures['publish_to_arrival_p50_ms']:.1f}, "
                f"p99 {_num(figures['publish_to_arrival_p99_ms'], '.1f')}"
            )
    if latency and waiting and latency.get("p99_ms") and waiting.get("p99_ms"):
        lines.append(
            f"p99 with the caught-up topics waiting 2 s / p99 now: "
            f"{waiting['p99_ms'] / latency['p99_ms']:.1f} x; p50: "
            f"{_num(waiting['p50_ms'] / latency['p50_ms'], '.1f')} x"
        )
    if replay is not None:
        if "error" in replay:
            lines.append(f"replay/catch-up  FAILED: {replay['error'].splitlines()[0]}")
        else:
            for name, key in (("replay/catch-up-serial", "serial_"), ("replay/catch-up", "")):
                if key + "replay_events_per_second" not in replay:
                    continue
                lines.append(
                    f"{name}: {replay['events']:,} events, live "
                    f"{replay['live_events_per_second']:,.0f} events/s "
                    f"({replay['live_seconds']:.1f} s), impulse-stream replay "
                    f"{_num(replay[key + 'replay_events_per_second'], ',.0f')} events/s "
                    f"({replay[key + 'replay_seconds']:.1f} s, "
                    f"{replay[key + 'replay_events']:,} events, "
                    f"{replay[key + 'replay_workers']} process"
                    f"{'' if replay[key + 'replay_workers'] == 1 else 'es'}) = "
                    f"{_num(replay[key + 'replay_vs_live'], '.2f')} x live"
                )
            if "replay_vs_serial" in replay:
                lines.append(
                    f"replay/catch-up / replay/catch-up-serial: {replay['replay_vs_serial']:.2f} x"
                )
    for t in goals:
        op = ">=" if t.higher_is_better else "<="
        verdict = "met" if t.met else "MISSED"
        value = _num(t.value, ".1f" if t.unit == "ms" else ".2f")
        lines.append(f"{t.name:<42}{value:>10} {t.unit:<2}(target {op} {t.limit:g})  {verdict}")
    return "\n".join(lines)


def as_json(m: Measurement) -> dict[str, Any]:
    return asdict(m)
