"""CPU per event of each stage of the decision path, side by side in one process.

The worker's path cut into its stages and timed one after the other on every
batch of the reference workload (``bench/reference.py``), so every stage sees
the same events, the same machine load and the same build of the core:

| stage | what |
| --- | --- |
| decode | the contract's decoding of the input messages |
| state codec | ``decode_state`` of the loaded blobs and ``encode_state`` of the new states |
| core | ``DecisionEngine.apply`` and ``next_wakeup`` per event |
| Redis | the client's side of ``RedisStore.load`` and ``commit`` (one of each per batch) |
| publish | the outputs' encoding, ``producer.send`` (acks=all) and the batch's acks |

Each stage is timed with the process's CPU clock (all threads), so the Redis
and Kafka figures are the client's work, not the servers'. The same process
measures the two state codecs on every state it wrote (``bench/codec.py``)
and hashes every output and state: the hash must be the same for both builds
of the core (``bench/builds.py``) and both codecs. Run by ``bench.run``
(contenders ``stages/compiled`` and ``stages/interpreted``) or alone:

    python -m bench.stages --build compiled --events 20000 --result out.json \\
        --bootstrap localhost:47092 --sink stages.out --redis redis://localhost:47379/0 \\
        --prefix s1:
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
from aiokafka import AIOKafkaProducer

from bench import builds, codec
from bench.reference import merged
from bench.workload import Message, build_workload
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import decode, encode, output_topic
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import InputEvent, OutputRecord
from impulse_stream.core.state import CustomerState
from impulse_stream.store.base import CustomerWrite, Delivered, StoredCustomer
from impulse_stream.store.redis import RedisStore

STAGES = ("decode", "state codec", "core", "Redis", "publish")
PARTITIONS = 6
CODEC_SAMPLE = 20_000  # the last states written, measured by both codecs


@dataclass
class StageFigures:
    build: str
    events: int
    compiled_modules: int  # core modules that are extension modules in this process
    cpu_us: dict[str, float] = field(default_factory=dict)  # per stage, per event
    outputs: int = 0
    output_hash: str = ""
    codecs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_us(self) -> float:
        return sum(self.cpu_us.values())


class StageClock:
    def __init__(self) -> None:
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self._stage = ""
        self._start = 0.0

    def start(self, stage: str) -> None:
        self._stage, self._start = stage, time.process_time()

    def stop(self) -> None:
        self.cpu[self._stage] += time.process_time() - self._start


@dataclass
class _Customer:
    stored: StoredCustomer
    state: CustomerState | None = None
    outputs: list[OutputRecord] = field(default_factory=list)
    fences: dict[str, int] = field(default_factory=dict)


def _outbox(messages: list[tuple[str, bytes]]) -> bytes:
    """The outbox entry of one write: the encoded messages until Kafka acknowledges them."""
    return orjson.dumps([[topic, value.decode()] for topic, value in messages]) if messages else b""


def _partition(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") % PARTITIONS


class StageRun:
    """The reference workload in batches, each batch stage by stage."""

    def __init__(self, store: RedisStore, producer: AIOKafkaProducer, sink: str) -> None:
        self.store = store
        self.producer = producer
        self.sink = sink
        self.engine = DecisionEngine(load_catalogue())
        self.clock = StageClock()
        self.digest = hashlib.sha256()
        self.outputs = 0
        self.delivered: list[Delivered] = []
        self.watermark: datetime | None = None
        self.offsets: dict[str, int] = {}
        self.written: deque[CustomerState] = deque(maxlen=CODEC_SAMPLE)  # for bench.codec
        self.writes = 0

    async def batch(self, messages: list[Message]) -> None:
        c = self.clock
        c.start("decode")
        events: list[InputEvent] = [decode(m.topic, m.key, m.value) for m in messages]
        c.stop()
        ids = list(dict.fromkeys(e.customer_id for e in events))
        c.start("Redis")
        loaded = await self.store.load(ids, self.delivered)
        c.stop()
        self.delivered = []
        c.start("state codec")
        customers = {
            cid: _Customer(s, decode_state(s.state) if s.state else None)
            for cid, s in loaded.items()
        }
        c.stop()
        c.start("core")
        for m, event in zip(messages, events, strict=True):
            at = event.occurred_at
            self.watermark = at if self.watermark is None else max(self.watermark, at)
            customer = customers[event.customer_id]
            decision = self.engine.apply(customer.state, event, self.watermark)
            customer.state = decision.state
            customer.outputs.extend(decision.outputs)
            offset = self.offsets.get(m.topic, 0)
            self.offsets[m.topic] = offset + 1
            customer.fences[m.topic] = offset
        wakeups = {
            cid: self.engine.next_wakeup(cu.state)
            for cid, cu in customers.items()
            if cu.state is not None
        }
        c.stop()
        c.start("state codec")
        blobs = {cid: encode_state(cu.state) for cid, cu in customers.items() if cu.state}
        c.stop()
        for cu in customers.values():
            assert cu.state is not None
            self.written.append(cu.state)
            self.writes += 1
            self.digest.update(msgspec.json.encode(cu.outputs))
            self.digest.update(msgspec.msgpack.encode(cu.state))
            self.outputs += len(cu.outputs)
        c.start("publish")
        encoded = {
            cid: [(output_topic(o), encode(o)) for o in cu.outputs] for cid, cu in customers.items()
        }
        c.stop()
        c.start("Redis")
        writes = []
        for cid, cu in customers.items():
            wake = wakeups.get(cid)
            writes.append(
                CustomerWrite(
                    customer_id=cid,
                    partition=_partition(cid.encode()),
                    expected_version=cu.stored.version,
                    state=blobs[cid],
                    fences=cu.fences,
                    outbox_id=f"b{self.writes}" if encoded[cid] else "",
                    outbox=_outbox(encoded[cid]),
                    wakeup_ms=int(wake.timestamp() * 1000) if wake is not None else None,
                )
            )
        refused = await self.store.commit(writes)
        c.stop()
        if refused:
            raise AssertionError(f"the store refused {len(refused)} fenced writes")
        c.start("publish")
        acks = [
            await self.producer.send(self.sink, value, key=cid.encode())
            for cid, messages_of in encoded.items()
            for _, value in messages_of
        ]
        await asyncio.gather(*acks)
        self.delivered = [
            Delivered(w.customer_id, w.partition, w.outbox_id) for w in writes if w.outbox_id
        ]
        c.stop()


async def run_stages(
    build: str, events: int, bootstrap: str, sink: str, redis_url: str, prefix: str, batch: int
) -> StageFigures:
    compiled = [m for m in builds.core_modules() if builds.is_compiled(m)]
    if (build == "compiled") != bool(compiled):
        raise SystemExit(
            f"bench.stages --build {build}: {len(compiled)} core modules are compiled here"
        )
    messages = merged(build_workload(events))
    store = RedisStore(redis_url, prefix=prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        run = StageRun(store, producer, sink)
        for i in range(0, len(messages), batch):
            await run.batch(messages[i : i + batch])
    finally:
        await producer.stop()
        await store.wipe()
        await store.close()
    figures = StageFigures(build, len(messages), len(compiled))
    figures.cpu_us = {s: round(cpu / len(messages) * 1e6, 2) for s, cpu in run.clock.cpu.items()}
    figures.outputs = run.outputs
    figures.output_hash = run.digest.hexdigest()
    figures.codecs = [asdict(f) for f in codec.measure(list(run.written))]
    return figures


def stage_table(figures: list[dict[str, Any]]) -> str:
    """CPU µs per event per stage, one column per build, and the ratios."""
    by = {f["build"]: f for f in figures if "error" not in f}
    names = [b for b in builds.BUILDS if b in by]
    lines = [f"{'CPU us/event':<26}" + "".join(f"{n:>14}" for n in names)]
    lines += [f"{f['build']}: FAILED" for f in figures if "error" in f]
    for stage in STAGES:
        lines.append(f"{stage:<26}" + "".join(f"{by[n]['cpu_us'][stage]:>14.1f}" for n in names))
    totals = {n: sum(by[n]["cpu_us"].values()) for n in names}
    lines.append(f"{'all stages':<26}" + "".join(f"{totals[n]:>14.1f}" for n in names))
    if len(names) == 2:
        core = by["interpreted"]["cpu_us"]["core"] / max(by["compiled"]["cpu_us"]["core"], 1e-9)
        total = totals["interpreted"] / max(totals["compiled"], 1e-9)
        lines.append(f"interpreted / compiled: core {core:.2f} x, all stages {total:.2f} x")
        same = by["interpreted"]["output_hash"] == by["compiled"]["output_hash"]
        lines.append(f"outputs and states of both builds identical: {'yes' if same else 'NO'}")
    for n in names:
        old, new = by[n]["codecs"]
        lines.append(
            f"state codec ({n}): {old['codec']} {old['mean_bytes']:.0f} B, "
            f"{old['encode_us']:.1f} + {old['decode_us']:.1f} us; "
            f"{new['codec']} {new['mean_bytes']:.0f} B, "
            f"{new['encode_us']:.1f} + {new['decode_us']:.1f} us "
            f"(old / new: {old['mean_bytes'] / new['mean_bytes']:.2f} x bytes, "
            f"{(old['encode_us'] + old['decode_us']) / (new['encode_us'] + new['decode_us']):.2f}"
            " x CPU)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stages")
    parser.add_argument("--build", choices=builds.BUILDS, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--sink", required=True, help="topic the outputs are published to")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True, help="Redis key prefix, e.g. s1:")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    figures = asyncio.run(
        run_stages(
            args.build, args.events, args.bootstrap, args.sink, args.redis, args.prefix, args.batch
        )
    )
    body = asdict(figures)
    args.result.write_bytes(orjson.dumps(body))


if __name__ == "__main__":
    main()
