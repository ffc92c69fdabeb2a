"""Recorded messages: the rows ``generate`` and ``export`` write and ``backtest`` reads.

One JSON object per line::

    {"topic": "orders.flow", "partition": 3, "offset": 17, "timestamp": 1793523600000,
     "key": "c0000042", "value": {...the event...}}

``timestamp`` is the Kafka record timestamp in milliseconds (the event time for
generated data). ``backtest`` reads one or more files or directories of such
rows and merges them by timestamp, the order a live worker meets the events;
rows without a timestamp keep their place in their file.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from impulse_stream.contract import topics as contract_topics
from impulse_stream.errors import InputFileError
from impulse_stream.streaming.processor import InboundMessage
from impulse_stream.tools import read_jsonl

_TOPIC_ORDER = {t: n for n, t in enumerate(contract_topics.INPUT_TOPICS)}


def topic_file(directory: Path, topic: str) -> Path:
    """Where ``generate`` writes a topic in ``directory``: ``<topic>.jsonl``."""
    return directory / f"{topic}.jsonl"


def row_bytes(
    topic: str, partition: int, offset: int, timestamp: int, key: str, value: object
) -> bytes:
    return orjson.dumps(
        {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": timestamp,
            "key": key,
            "value": value,
        }
    )


def recording_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, with a directory standing for its ``*.jsonl`` files (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise InputFileError(f"{path}: no *.jsonl files in this directory")
            files.extend(found)
        else:
            files.append(path)
    return files


def _messages(path: Path) -> Iterator[tuple[int, int, int, InboundMessage]]:
    yield from timed_messages(read_jsonl(path), str(path))


def timed_messages(
    rows: Iterable[tuple[int, object]], source: str
) -> Iterator[tuple[int, int, int, InboundMessage]]:
    """``(timestamp, topic order, row number, message)`` of numbered rows; ``source`` names
    them in errors."""
    last = 0
    for n, row in rows:
        if not isinstance(row, dict) or "topic" not in row or "value" not in row:
            raise InputFileError(f"{source}:{n}: expected {{topic, partition, offset, value}}")
        try:
            value = row["value"]
            raw = (
                None
                if value is None
                else value.encode()
                if isinstance(value, str)
                else orjson.dumps(value)
            )
            key = row.get("key")
            if key is None and isinstance(value, dict):
                key = value.get("customer_id")
            ts = row.get("timestamp")
            last = int(ts) if ts is not None else last
            topic = str(row["topic"])
            message = InboundMessage(
                topic,
                int(row.get("partition", 0)),
                int(row.get("offset", n)),
                str(key).encode() if key is not None else None,
                raw,
            )
        except (TypeError, ValueError):
            raise InputFileError(
                f"{source}:{n}: expected {{topic, partition, offset, value}}"
            ) from None
        yield last, _TOPIC_ORDER.get(topic, len(_TOPIC_ORDER)), n, message


def read_timed_recordings(paths: Iterable[Path]) -> Iterator[tuple[int, InboundMessage]]:
    """``(timestamp_ms, message)`` of every file, merged by timestamp (then topic, then
    file order)."""
    files = recording_files(paths)
    streams = [
        ((ts, topic, index, n, m) for ts, topic, n, m in _messages(f))
        for index, f in enumerate(files)
    ]
    for ts, *_, message in heapq.merge(*streams, key=lambda r: (r[0], r[1], r[2], r[3])):
        yield ts, message


def read_recordings(paths: Iterable[Path]) -> Iterator[InboundMessage]:
    """Messages of every file, merged by timestamp (then topic, then file order)."""
    for _, message in read_timed_recordings(paths):
        yield message
