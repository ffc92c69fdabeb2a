"""The decision path alone: ``BatchProcessor`` over the in-memory store, no Kafka, no Redis.

The same processor class the worker runs, with the reference model's
``MemoryStore`` and a collecting publisher, fed the workload in batches of
the worker's size. It is the ceiling of the worker's own work (decode, fence,
core, state codec, output encoding): whatever the worker loses beyond it goes
to Faust, Kafka and Redis. Runs in its own process, like every contender:

    python -m bench.in_process --events 200000 --result out.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import time
from pathlib import Path

from aiokafka.partitioner import murmur2

from bench.progress import DrainClock
from bench.workload import Workload, build_workload
from impulse_stream.bootstrap import build_engine
from impulse_stream.settings import Settings
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher, InboundMessage


def kafka_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def inbound(workload: Workload, prefix: str, partitions: int) -> list[InboundMessage]:
    """Every event as the consumer would see it, merged across topics in event time."""
    offsets: dict[tuple[str, int], int] = {}
    streams = []
    for topic, messages in workload.by_topic.items():
        stream = []
        for m in messages:
            p = kafka_partition(m.key, partitions)
            offset = offsets.get((topic, p), 0)
            offsets[(topic, p)] = offset + 1
            stream.append((m.at, prefix + topic, p, offset, m.key, m.value))
        streams.append(stream)
    return [
        InboundMessage(topic, p, offset, key, value)
        for _, topic, p, offset, key, value in heapq.merge(*streams, key=lambda s: s[0])
    ]


async def _drain(messages: list[InboundMessage], prefix: str, batch: int) -> DrainClock:
    publisher = CollectingPublisher()
    processor = BatchProcessor(
        build_engine(Settings()), MemoryStore(), publisher, topic_prefix=prefix
    )
    clock = DrainClock(len(messages))
    for i in range(0, len(messages), batch):
        chunk = messages[i : i + batch]
        await processor.process(chunk)
        publisher.messages.clear()
        clock.advance(len(chunk), time.time())
    return clock


def drain_in_process(
    workload: Workload, prefix: str, partitions: int, batch: int = 1000
) -> DrainClock:
    messages = inbound(workload, prefix, partitions)
    gc.freeze()  # the input stays alive throughout: keep the collector from rescanning it
    return asyncio.run(_drain(messages, prefix, batch))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.in_process")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    workload = build_workload(args.events)
    clock = drain_in_process(workload, "bench.", args.partitions, args.batch)
    clock.write(args.result)


if __name__ == "__main__":
    main()
