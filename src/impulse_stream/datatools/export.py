"""Export a range of topics to JSON Lines (for ``backtest``) or Parquet (notebooks).

A bound is either a time (RFC 3339 with offset, or a date meaning its UTC
midnight) or an offset. A time is turned into one offset per partition with
Kafka's offsets-for-times lookup: the first message at or after it; past the
last message, the partition's end. An offset applies to every partition
(clamped to what the partition holds). The range is ``[from, to)``.

Rows are ``{topic, partition, offset, timestamp, key, value}`` as ``generate``
writes them (``value`` the event's JSON; ``topic`` without the deployment's
topic prefix), ordered by timestamp, then topic, partition and offset, so that
``backtest`` replays them in event-time order. Parquet has the same columns
(``timestamp`` as a UTC timestamp in milliseconds, ``value`` as the JSON text).
A value is kept as the producer's bytes; one that is not JSON is kept as text
(a backtest dead-letters it as the worker would).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from impulse_stream.contract import topics as contract_topics
from impulse_stream.datatools.progress import progress_bar
from impulse_stream.errors import DataToolError, Interrupted
from impulse_stream.settings import Settings

FORMATS = ("jsonl", "parquet")
R = TypeVar("R")


@dataclass(frozen=True)
class Bound:
    """A time in milliseconds, or an offset."""

    time_ms: int | None = None
    offset: int | None = None

    def describe(self) -> str:
        if self.offset is not None:
            return f"offset {self.offset}"
        assert self.time_ms is not None
        return datetime.fromtimestamp(self.time_ms / 1000, UTC).isoformat()


def parse_bound(text: str, option: str) -> Bound:
    """``2026-11-01``, ``2026-11-01T06:00:00+01:00`` or ``1200`` (an offset)."""
    text = text.strip()
    if text.isdigit():
        return Bound(offset=int(text))
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            moment = datetime(d.year, d.month, d.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DataToolError(
            f"{option}: expected a time (RFC 3339 with offset), a date YYYY-MM-DD "
            f"or an offset, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise DataToolError(f"{option}: the time {text!r} needs an offset, e.g. +01:00 or Z")
    return Bound(time_ms=int(moment.timestamp() * 1000))


@dataclass(frozen=True)
class ExportSpec:
    start: Bound
    end: Bound
    topics: tuple[str, ...]
    format: str
    out: Path

    def check(self) -> None:
        if self.format not in FORMATS:
            raise DataToolError(f"--format: use one of {', '.join(FORMATS)}, not {self.format!r}")
        unknown = [t for t in self.topics if t not in contract_topics.INPUT_TOPICS]
        if unknown:
            raise DataToolError(f"unknown topic {unknown[0]!r}")
        for a, b in ((self.start.time_ms, self.end.time_ms), (self.start.offset, self.end.offset)):
            if a is not None and b is not None and a >= b:
                raise DataToolError(
                    f"empty range: --from {self.start.describe()} is not before "
                    f"--to {self.end.describe()}"
                )


@dataclass(frozen=True)
class ExportResult:
    messages: int
    partitions: dict[str, tuple[int, int]]  # "topic:partition" -> [start, end)


def read_range(
    spec: ExportSpec, settings: Settings
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    """The rows of the range, ordered by timestamp, topic, partition and offset, and the
    ``[start, end)`` offsets read per ``topic:partition``."""
    spec.check()
    rows, ranges = asyncio.run(_read(spec, settings, _row))
    rows.sort(key=lambda r: (r["timestamp"], _TOPIC_ORDER[r["topic"]], r["partition"], r["offset"]))
    return rows, ranges


def read_records(spec: ExportSpec, settings: Settings) -> list[RawRecord]:
    """The range's records as the producer wrote them (key and value bytes untouched, no
    JSON check), in the order of :func:`read_range`: what ``replay`` feeds the batch path."""
    spec.check()
    records, _ = asyncio.run(_read(spec, settings, _raw))
    records.sort(key=lambda r: (r.timestamp, _TOPIC_ORDER[r.topic], r.partition, r.offset))
    return records


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str  # without the deployment's topic prefix
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def export_range(spec: ExportSpec, settings: Settings) -> ExportResult:
    """Read the range from Kafka and write ``spec.out``."""
    rows, ranges = read_range(spec, settings)
    spec.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if spec.format == "jsonl":
            with spec.out.open("wb") as f:
                for row in rows:
                    f.write(orjson.dumps(row) + b"\n")
        else:
            write_parquet(rows, spec.out)
    except KeyboardInterrupt:
        spec.out.unlink(missing_ok=True)
        raise Interrupted(
            f"stopped while writing {spec.out} ({len(rows):,} messages read); "
            "the partial file was removed"
        ) from None
    return ExportResult(len(rows), ranges)


_TOPIC_ORDER = {t: n for n, t in enumerate(contract_topics.INPUT_TOPICS)}


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("topic", pa.string()),
            ("partition", pa.int32()),
            ("offset", pa.int64()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("key", pa.string()),
            ("value", pa.string()),
        ]
    )
    columns = {
        "topic": [r["topic"] for r in rows],
        "partition": [r["partition"] for r in rows],
        "offset": [r["offset"] for r in rows],
        "timestamp": [r["timestamp"] for r in rows],
        "key": [r["key"] for r in rows],
        "value": [
            r["value"]
            if r["value"] is None or isinstance(r["value"], str)
            else orjson.dumps(r["value"]).decode()
            for r in rows
        ],
    }
    pq.write_table(pa.table(columns, schema=schema), path, compression="zstd")


async def _read(
    spec: ExportSpec, settings: Settings, row: Callable[[str, Any], R]
) -> tuple[list[R], dict[str, tuple[int, int]]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    prefix = settings.topic_prefix
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        **settings.kafka_security.aiokafka_kwargs(),
    )
    rows: list[R] = []
    ranges: dict[str, tuple[int, int]] = {}
    try:
        await consumer.start()
        tps: list[TopicPartition] = []
        for topic in spec.topics:
            partitions = consumer.partitions_for_topic(prefix + topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(prefix + topic)
            if not partitions:
                raise DataToolError(
                    f"topic {prefix + topic!r} does not exist at {settings.kafka_bootstrap_servers}"
                )
            tps.extend(TopicPartition(prefix + topic, p) for p in sorted(partitions))
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        starts = await _resolve(consumer, spec.start, tps, begin, end)
        stops = await _resolve(consumer, spec.end, tps, begin, end)
        todo = {}
        for tp in tps:
            first, stop = starts[tp], max(starts[tp], stops[tp])
            ranges[f"{tp.topic[len(prefix) :]}:{tp.partition}"] = (first, stop)
            if first < stop:
                consumer.seek(tp, first)
                todo[tp] = stop
            else:
                consumer.pause(tp)
        total = sum(stop - starts[tp] for tp, stop in todo.items())
        with progress_bar("export", total, "messages") as bar:
            while todo:
                batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=5000)
                for tp, records in batches.items():
                    stop = todo.get(tp)
                    if stop is None:
                        continue
                    taken = 0
                    for r in records:
                        if r.offset >= stop:
                            break
                        rows.append(row(tp.topic[len(prefix) :], r))
                        taken += 1
                    bar.advance(taken, taken)
                for tp in list(todo):
                    if await consumer.position(tp) >= todo[tp]:
                        del todo[tp]
                        consumer.pause(tp)
    except KafkaError as exc:
        raise DataToolError(
            f"Kafka at {settings.kafka_bootstrap_servers} could not be read: {exc}"
        ) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise Interrupted(
            f"stopped after reading {len(rows):,} messages; nothing was written to {spec.out}"
        ) from None
    finally:
        await consumer.stop()
    return rows, ranges


async def _resolve(consumer: Any, bound: Bound, tps: list[Any], begin: Any, end: Any) -> Any:
    if bound.offset is not None:
        return {tp: min(max(bound.offset, begin[tp]), end[tp]) for tp in tps}
    found = await consumer.offsets_for_times({tp: bound.time_ms for tp in tps})
    return {tp: (found[tp].offset if found.get(tp) is not None else end[tp]) for tp in tps}


def _raw(topic: str, record: Any) -> RawRecord:
    return RawRecord(
        topic, record.partition, record.offset, record.timestamp, record.key, record.value
    )


def _row(topic: str, record: Any) -> dict[str, Any]:
    value = record.value
    kept: Any = None
    if value is not None:
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            kept = value.decode("utf-8", "replace")  # kept as text; backtest dead-letters it
        else:
            kept = orjson.Fragment(value)  # the producer's bytes, written as they are
    return {
        "topic": topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "value": kept,
    }
