"""The baseline: a raw aiokafka consume -> produce passthrough, no Faust, no Redis.

``getmany`` -> ``orjson.loads`` -> ``orjson.dumps`` -> ``producer.send`` for
every message, wait for the acknowledgements of the batch (at most
``--max-records``, the worker's batch size, so both deliver at-least-once in
batches of the same size), commit the consumed offsets once a second
(Faust's commit cadence). Client settings
are aiokafka's defaults, as the worker's Faust app uses them, with
``acks=all`` as the worker publishes. It is the ceiling for a Python process
on this broker: the worker's throughput is reported as a ratio of it.

Runs in its own process, as the worker does::

    python -m bench.passthrough --bootstrap H:P --topics a,b --sink s --group g \\
        --expect 200000 --result out.json
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.progress import DrainClock


async def passthrough(
    bootstrap: str, topics: list[str], sink: str, group: str, expect: int, max_records: int | None
) -> DrainClock:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    clock = DrainClock(expect)
    loads, dumps, send = orjson.loads, orjson.dumps, producer.send
    last_commit = time.monotonic()
    try:
        while not clock.done:
            batches = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            pending = []
            count = 0
            for messages in batches.values():
                for m in messages:
                    event = loads(m.value)
                    pending.append(await send(sink, dumps(event), key=m.key))
                count += len(messages)
            if pending:
                await asyncio.gather(*pending)
            clock.advance(count)
            if time.monotonic() - last_commit >= 1.0 or clock.done:
                await consumer.commit()
                last_commit = time.monotonic()
    finally:
        await consumer.stop()
        await producer.stop()
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated input topics")
    parser.add_argument("--sink", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--max-records", type=int, default=1000, help="getmany bound (0: none)")
    args = parser.parse_args()
    clock = asyncio.run(
        passthrough(
            args.bootstrap,
            args.topics.split(","),
            args.sink,
            args.group,
            args.expect,
            args.max_records or None,
        )
    )
    clock.write(args.result)


if __name__ == "__main__":
    main()
