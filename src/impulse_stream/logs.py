"""Log set-up: one JSON object per line on stderr, no personal data.

Every record, ours and the libraries' (Faust, mode, aiokafka), goes through the
standard :mod:`logging` module and leaves as one JSON line::

    {"timestamp": "2026-11-23T09:00:00.123456Z", "level": "warning",
     "logger": "impulse_stream.streaming.processor", "batch_id": "3f0c9a1e5b7d2c44",
     "message": "state store unavailable, retrying in 0.10s: ..."}

structlog renders them (``ProcessorFormatter``) and adds the fields bound with
:func:`batch_context` for the duration of a batch: they follow the batch through
every ``await``, into the processor's own log calls, without passing a logger
around. ``extra={...}`` fields named in :data:`EXTRA_FIELDS` are kept too.

Customer ids never reach a log line raw; code logs
:func:`impulse_stream.pseudonym.pseudonym` of them instead. Event values (names,
IBANs, amounts) are never logged.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import structlog

# ``extra=`` fields a log call may add to its line (an allow-list: a library's
# extras could carry anything).
EXTRA_FIELDS = ("events", "offsets", "partition", "topic", "offset", "customer")


class _Located(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the worker's log handler: a ``logging.LogRecord`` -> one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ExtraAdder(EXTRA_FIELDS),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance step at INFO; keep its warnings.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


@contextmanager
def batch_context(**fields: Any) -> Iterator[str]:
    """Bind a fresh ``batch_id`` (and ``fields``) to every log line until the block ends."""
    batch_id = uuid.uuid4().hex[:16]
    with structlog.contextvars.bound_contextvars(batch_id=batch_id, **fields):
        yield batch_id


def offset_ranges(messages: Sequence[_Located]) -> dict[str, str]:
    """``{"topic/partition": "first-last"}`` of a batch: where its events came from."""
    ranges: dict[str, tuple[int, int]] = {}
    for m in messages:
        key = f"{m.topic}/{m.partition}"
        low, high = ranges.get(key, (m.offset, m.offset))
        ranges[key] = (min(low, m.offset), max(high, m.offset))
    return {k: f"{low}-{high}" for k, (low, high) in sorted(ranges.items())}
