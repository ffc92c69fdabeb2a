"""The native batch call against its Python reference, side by side (``make bench-native``).

The bench workload (``bench/workload.py``, the events ``make bench`` drains)
merged in event time and cut into batches as the worker takes them; the
states each batch loads are the ones the worker would have stored before it:
a first pass runs the whole Python core batch by batch (``DecisionEngine``
with the processor's recent-event memory, as ``bench/reference.py``'s
``remembering_states``) and keeps, per batch, the records and the blobs
loaded for their customers. No Kafka, no Redis.

Then per round (``--rounds``, the order of the two swapped every round) the
slice of ``native_batch.py`` over every batch: ``python`` (the worker's
functions, the core compiled as users run it) and ``native`` (one
``run_batch`` call per batch), CPU time of this process
(``time.process_time``) per event; every round checks that both give the
same states' bytes and outputs. The Python slice is also timed part by part
(decode; state codec; the core slice: the recent-event memory and a new
booking's aggregates) to say which share of the
worker's CPU per event the slice covers. Medians over the rounds; the
extrapolation uses the worker's stage figures of the last ``make bench``
(flags, defaults from bench/RESULTS.md of 2026-12-01):

    python -m bench.prototypes.native_measure --events 40000 --rounds 5 \\
        --result bench/results/2026-12-01-native.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson

from bench import builds
from bench.prototypes.native_batch import (
    Output,
    Record,
    aggregate_rules,
    native,
    native_batch,
    python_batch,
)
from bench.reference import merged
from bench.workload import build_workload
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import decode
from impulse_stream.core import recent_events
from impulse_stream.core.aggregates import update_aggregates
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import InputEvent, Transaction
from impulse_stream.core.state import CustomerState, new_state
from impulse_stream.settings import Settings
from impulse_stream.streaming.collector import collect_less_often

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass
class Batch:
    records: list[Record]
    states: dict[str, bytes | None]  # loaded for the batch's customers, None: not stored yet


def core_batches(events: int, batch: int, seed: int = 7) -> list[Batch]:
    """The workload's batches with the states the worker would load for each."""
    engine = DecisionEngine(load_catalogue())
    blobs: dict[str, bytes] = {}
    watermark: datetime | None = None
    out: list[Batch] = []
    messages = merged(build_workload(events, seed))
    for i in range(0, len(messages), batch):
        chunk = messages[i : i + batch]
        loaded = {m.key.decode(): blobs.get(m.key.decode()) for m in chunk}
        out.append(Batch([(m.topic, m.key, m.value) for m in chunk], loaded))
        live: dict[str, CustomerState] = {}
        for m in chunk:
            event = decode(m.topic, m.key, m.value)
            at = event.occurred_at
            watermark = at if watermark is None else max(watermark, at)
            cid = event.customer_id
            state = live.get(cid)
            if state is None and (blob := blobs.get(cid)) is not None:
                state = decode_state(blob)
            mark = recent_events.fingerprint(event)
            if recent_events.seen_before(state, mark) is not recent_events.Seen.NEW:
                continue
            decision = engine.apply(state, event, watermark)
            live[cid] = recent_events.remember(decision.state, mark)
        blobs.update({cid: encode_state(s) for cid, s in live.items()})
    return out


Slice = Callable[[Sequence[Record], Mapping[str, bytes | None]], tuple[dict[str, bytes], Any]]


def _python_measured(
    records: Sequence[Record], states: Mapping[str, bytes | None]
) -> tuple[dict[str, bytes], list[Output]]:
    return python_batch(records, states, canonical=False)


def _native_measured(
    records: Sequence[Record], states: Mapping[str, bytes | None]
) -> tuple[dict[str, bytes], list[Output]]:
    return native_batch(records, states, canonical=False)


def timed(run: Slice, batches: list[Batch]) -> tuple[float, list[tuple[dict[str, bytes], Any]]]:
    results = []
    start = time.process_time()
    for b in batches:
        results.append(run(b.records, b.states))
    return time.process_time() - start, results


def python_parts(batches: list[Batch]) -> dict[str, float]:
    """CPU seconds of the Python slice's parts over every batch (core: memory, aggregates)."""
    decoded: list[list[InputEvent]] = []
    start = time.process_time()
    for b in batches:
        decoded.append([decode(t, k, v) for t, k, v in b.records])
    decode_s = time.process_time() - start
    start = time.process_time()
    loaded = [{cid: decode_state(blob) for cid, blob in b.states.items() if blob} for b in batches]
    codec_s = time.process_time() - start
    written: list[dict[str, CustomerState]] = []
    rules = aggregate_rules()
    start = time.process_time()
    for events, states in zip(decoded, loaded, strict=True):
        live: dict[str, CustomerState] = {}
        for event in events:
            cid = event.customer_id
            state = live.get(cid) or states.get(cid) or new_state(cid)
            mark = recent_events.fingerprint(event)
            if recent_events.seen_before(state, mark) is recent_events.Seen.NEW:
                if isinstance(event, Transaction):
                    new = update_aggregates(state.aggregates, event, rules)
                    state = msgspec.structs.replace(state, aggregates=new)
                state = recent_events.remember(state, mark)
            live[cid] = state
        written.append(live)
    memory_s = time.process_time() - start
    start = time.process_time()
    for live in written:
        for s in live.values():
            encode_state(s)
    codec_s += time.process_time() - start
    return {"decode": decode_s, "state codec": codec_s, "core slice": memory_s}


def measure(events: int, batch: int, rounds: int) -> dict[str, Any]:
    native()  # built and loaded before any timing
    batches = core_batches(events, batch)
    collect_less_often()  # the worker's collector settings (streaming/collector.py)
    n = sum(len(b.records) for b in batches)
    # once, untimed: byte for byte with the canonical JSON of every record too
    for b in batches:
        if python_batch(b.records, b.states) != native_batch(b.records, b.states):
            raise SystemExit("native and Python slices differ on the workload")
    runs: dict[str, list[float]] = {"python": [], "native": []}
    parts: dict[str, list[float]] = {}
    slices: dict[str, Slice] = {"python": _python_measured, "native": _native_measured}
    for r in range(rounds):
        order = ["python", "native"] if r % 2 == 0 else ["native", "python"]
        got = {}
        for name in order:
            cpu, got[name] = timed(slices[name], batches)
            runs[name].append(cpu / n * 1e6)
        for (ps, po), (ns, no) in zip(got["python"], got["native"], strict=True):
            if ps != ns or po != no:
                raise SystemExit(f"round {r}: native and Python slices differ")
        for part, cpu in python_parts(batches).items():
            parts.setdefault(part, []).append(cpu / n * 1e6)
    return {
        "events": n,
        "batches": len(batches),
        "batch": batch,
        "rounds": rounds,
        "cpu_us": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "median_us": {k: round(statistics.median(v), 2) for k, v in runs.items()},
        "python_parts_us": {k: round(statistics.median(v), 2) for k, v in parts.items()},
    }


def extrapolate(figures: dict[str, Any], worker: dict[str, float]) -> dict[str, Any]:
    """What the worker's CPU per event and throughput ratio would be (see docs/bench.md)."""
    py, nat = figures["median_us"]["python"], figures["median_us"]["native"]
    speedup = py / nat
    total = worker["worker_us"]
    # (i) the slice native: its Python cost replaced by the native one
    sliced = total - py + nat
    # (ii) the whole core native at the slice's speed-up, decode and codec with it:
    # the core stage's figure minus what the slice already covers of it
    memory = figures["python_parts_us"]["core slice"]
    rest_of_core = max(worker["core_us"] - memory, 0.0)
    whole = sliced - rest_of_core * (1 - 1 / speedup)

    def ratio(cpu: float) -> float:
        # events/s scale with 1 / CPU per event for a worker bound by its own core
        return round(worker["ratio"] * total / cpu, 3)

    # (iii) the bound: decode, state codec and the whole core at no cost at all
    free = total - worker["decode_us"] - worker["codec_us"] - worker["core_us"]
    return {
        "speedup": round(speedup, 2),
        "slice_share_of_worker": round(py / total, 3),
        "worker_us_today": total,
        "ratio_today": worker["ratio"],
        "i_slice_native": {"worker_us": round(sliced, 1), "ratio": ratio(sliced)},
        "ii_core_native": {"worker_us": round(whole, 1), "ratio": ratio(whole)},
        "iii_decode_codec_core_free": {"worker_us": round(free, 1), "ratio": ratio(free)},
        "worker_us_for_0.25": round(worker["ratio"] * total / 0.25, 1),
        "worker_us_for_0.5": round(worker["ratio"] * total / 0.5, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prototypes.native_measure")
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=Settings().batch_max)
    parser.add_argument("--rounds", type=int, default=5)
    # the worker's figures of the last make bench (bench/RESULTS.md, 2026-12-01, session 4)
    parser.add_argument("--worker-us", type=float, default=231.0)
    parser.add_argument("--core-us", type=float, default=75.0)
    parser.add_argument("--codec-us", type=float, default=21.0)
    parser.add_argument("--decode-us", type=float, default=9.0)
    parser.add_argument("--ratio", type=float, default=0.127, help="worker / passthrough ev/s")
    parser.add_argument("--result", type=Path, default=RESULTS / "2026-12-01-native.json")
    args = parser.parse_args()
    compiled = [m for m in builds.core_modules() if builds.is_compiled(m)]
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    figures = measure(args.events, args.batch, args.rounds)
    worker = {
        "worker_us": args.worker_us,
        "core_us": args.core_us,
        "codec_us": args.codec_us,
        "decode_us": args.decode_us,
        "ratio": args.ratio,
    }
    body = {
        "started": started,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "compiled_core_modules": len(compiled),
        **figures,
        "extrapolation": extrapolate(figures, worker),
    }
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    m, e = body["median_us"], body["extrapolation"]
    print(f"{body['events']} events in {body['batches']} batches, {args.rounds} rounds")
    print(f"CPU us/event, medians: python {m['python']}, native {m['native']}")
    print(f"  rounds: python {body['cpu_us']['python']}, native {body['cpu_us']['native']}")
    print(f"python parts us/event: {body['python_parts_us']}")
    print(f"speed-up {e['speedup']} x; the slice is {e['slice_share_of_worker']:.1%} of the worker")
    print(
        f"(i) slice native: {e['i_slice_native']['worker_us']} us/event, "
        f"{e['i_slice_native']['ratio']} x passthrough; (ii) core native: "
        f"{e['ii_core_native']['worker_us']} us/event, {e['ii_core_native']['ratio']} x; "
        f"(iii) decode+codec+core free: {e['iii_decode_codec_core_free']['worker_us']} us/event, "
        f"{e['iii_decode_codec_core_free']['ratio']} x"
    )
    print(f"load {body['load_before']} -> {body['load_after']}; written to {args.result}")


if __name__ == "__main__":
    main()
