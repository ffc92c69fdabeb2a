"""A Faust agent that does nothing with its batches: the cost of Faust alone.

The app is configured as the worker's (``streaming/app.py``): one agent over
the input topics, ``take_events(batch_max, within)``, the same stream buffer
and commit cadence; only the decision step (decode, Redis, publish) is
missing. Run with Faust's own consumer (``kafka://``), with the project's
fast-drain consumer (``impulse://``, ``streaming/transport.py``) and with its
batch hand-off (``--hand-off 1``: whole ``getmany`` polls, no stream), it
shows what the transport change buys before any of the worker's own work.

    python -m bench.noop_agent --bootstrap H:P --topics a,b --app-id g \\
        --fast-drain 1 --hand-off 1 --expect 200000 --result out.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import faust

from bench.progress import DrainClock
from impulse_stream.streaming import transport  # registers impulse://


def build_app(
    bootstrap: str,
    topics: list[str],
    app_id: str,
    *,
    fast_drain: bool,
    hand_off: bool = False,
    batch_max: int,
    within_ms: int,
    clock: DrainClock,
    result: Path,
) -> faust.App:
    """The do-nothing app; its Faust data directory goes next to ``result``."""
    scheme = "impulse://" if fast_drain else "kafka://"
    app = faust.App(
        app_id,
        broker=";".join(scheme + s for s in bootstrap.split(",")),
        store="memory://",
        autodiscover=False,
        datadir=str(result.parent / f"{app_id}-faust"),
        topic_partitions=6,
        topic_allow_declare=True,
        topic_disable_leader=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_max_poll_records=batch_max,
        producer_acks=-1,
        web_enabled=False,
        table_cleanup_interval=3600,
        stream_buffer_maxsize=max(4096, batch_max * 2),
    )
    inputs = app.topic(
        *topics, key_type=None, value_type=None, key_serializer="raw", value_serializer="raw"
    )

    batches = transport.hand_off_batches(app, topics) if hand_off else None

    @app.agent(inputs, name="noop")
    async def noop(stream: faust.StreamT) -> None:
        consumer = app.consumer
        while batches is not None:  # acknowledged as the worker does, after the (empty) work
            messages = await batches.get(batch_max)
            for m in messages:
                m.ack(consumer)
            clock.advance(len(messages))
            if clock.done and not result.exists():
                clock.write(result)
        async for events in stream.take_events(batch_max, within=within_ms / 1000):
            clock.advance(len(events))
            if clock.done and not result.exists():
                clock.write(result)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.noop_agent")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated input topics")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--fast-drain", type=int, choices=(0, 1), required=True)
    parser.add_argument("--hand-off", type=int, choices=(0, 1), default=0)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--batch-max", type=int, default=1000)
    parser.add_argument("--within-ms", type=int, default=50)
    args = parser.parse_args()
    clock = DrainClock(args.expect)
    app = build_app(
        args.bootstrap,
        args.topics.split(","),
        args.app_id,
        fast_drain=bool(args.fast_drain),
        hand_off=bool(args.hand_off),
        batch_max=args.batch_max,
        within_ms=args.within_ms,
        clock=clock,
        result=args.result,
    )
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
