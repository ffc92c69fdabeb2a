"""Dead-letter messages: the original message plus headers that say why.

A message the worker cannot process goes to ``impulse-stream.dlq`` with its
original key and value, byte for byte, so that it can be fixed and replayed
to ``dlq_topic``. All facts about the failure are headers:

=================  ==========================================================
``dlq_reason``     machine-readable code, e.g. ``schema_violation``
``dlq_detail``     human text, at most 1 KiB of UTF-8
``dlq_topic``      the topic the message was read from (with any prefix)
``dlq_partition``  its partition (decimal)
``dlq_offset``     its offset (decimal)
``dlq_stage``      ``decode``, ``validate``, ``core`` or ``state``
``dlq_failed_at``  when it failed (RFC 3339, the caller's clock)
``dlq_key_hash``   optional: 16 hex chars of a BLAKE2b digest of the key, to
                   name the message in logs and tickets without the customer id
=================  ==========================================================

The detail never adds customer data that the message did not carry: callers
pass exception texts of the codec, which quote at most a field path and an
enum value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, get_args

import msgspec

from impulse_stream.contract.cloudevents import Headers, rfc3339
from impulse_stream.errors import DeadLetterHeaderError

Stage = Literal["decode", "validate", "core", "state"]
STAGES: tuple[Stage, ...] = get_args(Stage)
MAX_DETAIL_BYTES = 1024
_ELLIPSIS = "…"
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEY_HASH = re.compile(r"^[0-9a-f]{16}$")
_REQUIRED = (
    "dlq_reason",
    "dlq_detail",
    "dlq_topic",
    "dlq_partition",
    "dlq_offset",
    "dlq_stage",
    "dlq_failed_at",
)
_TIME = msgspec.json.Decoder(datetime)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """The failure facts read back from a dead letter's headers."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    stage: Stage
    failed_at: datetime
    key_hash: str | None = None


def dead_letter_headers(
    *,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    stage: Stage | str,
    failed_at: datetime,
    key: bytes | None = None,
) -> Headers:
    """Headers of the dead letter for one message; pass ``key`` to add ``dlq_key_hash``."""
    if not _REASON.match(reason):
        raise ValueError(f"dead-letter reason {reason!r} must be a lower_snake_case code")
    if stage not in STAGES:
        raise ValueError(f"dead-letter stage {stage!r} must be one of {', '.join(STAGES)}")
    if failed_at.tzinfo is None:
        raise ValueError("failed_at must carry a UTC offset")
    headers: Headers = [
        ("dlq_reason", reason.encode()),
        ("dlq_detail", truncate_utf8(detail, MAX_DETAIL_BYTES)),
        ("dlq_topic", topic.encode()),
        ("dlq_partition", str(partition).encode()),
        ("dlq_offset", str(offset).encode()),
        ("dlq_stage", stage.encode()),
        ("dlq_failed_at", rfc3339(failed_at).encode()),
    ]
    if key is not None:
        headers.append(("dlq_key_hash", key_hash(key).encode()))
    return headers


def parse_dead_letter_headers(headers: Iterable[tuple[str, bytes | None]]) -> DeadLetter:
    """Read the failure facts back (replay tool, tests); other headers are ignored."""
    found: dict[str, str] = {}
    for name, raw in headers:
        if name.startswith("dlq_"):
            try:
                found[name] = (raw or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise DeadLetterHeaderError(f"header {name} is not UTF-8") from None
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        raise DeadLetterHeaderError(
            f"not a dead letter of impulse-stream: missing header(s) {', '.join(missing)}"
        )
    stage = found["dlq_stage"]
    if stage not in STAGES:
        raise DeadLetterHeaderError(f"dlq_stage {stage!r} is not one of {', '.join(STAGES)}")
    if not _REASON.match(found["dlq_reason"]):
        raise DeadLetterHeaderError(f"dlq_reason {found['dlq_reason']!r} is not a reason code")
    key_hash_value = found.get("dlq_key_hash")
    if key_hash_value is not None and not _KEY_HASH.match(key_hash_value):
        raise DeadLetterHeaderError("dlq_key_hash must be 16 lowercase hex characters")
    try:
        failed_at = _TIME.decode(b'"' + found["dlq_failed_at"].encode() + b'"')
    except msgspec.DecodeError:
        raise DeadLetterHeaderError(
            f"dlq_failed_at {found['dlq_failed_at']!r} is not an RFC 3339 time"
        ) from None
    if failed_at.tzinfo is None:
        raise DeadLetterHeaderError("dlq_failed_at must carry a UTC offset")
    return DeadLetter(
        reason=found["dlq_reason"],
        detail=found["dlq_detail"],
        topic=found["dlq_topic"],
        partition=_natural(found, "dlq_partition"),
        offset=_natural(found, "dlq_offset"),
        stage=stage,
        failed_at=failed_at,
        key_hash=key_hash_value,
    )


def key_hash(key: bytes) -> str:
    """A short, stable, non-reversible name for a message key."""
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def truncate_utf8(text: str, limit: int) -> bytes:
    """``text`` as UTF-8 of at most ``limit`` bytes, cut at a character boundary with '…'."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data
    room = limit - len(_ELLIPSIS.encode())
    return data[:room].decode("utf-8", "ignore").encode() + _ELLIPSIS.encode()


def _natural(found: dict[str, str], name: str) -> int:
    text = found[name]
    if not text.isascii() or not text.isdigit():
        raise DeadLetterHeaderError(f"{name} {text!r} is not a non-negative integer")
    return int(text)
