"""Stable identifiers derived from input fields only.

Ids must be the same on every replay and on every machine, so they never come
from ``uuid4``, ``random`` or the salted built-in ``hash()``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache


def stable_id(prefix: str, *parts: str) -> str:
    """``prefix-<20 hex chars>`` from a blake2b digest of the parts."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10)
    return f"{prefix}-{digest.hexdigest()}"


@lru_cache(maxsize=16384)
def short_key(*parts: str) -> str:
    """A compact 8-hex-char key for bounded dedupe memories in the state.

    Cached: the repeat checks ask for the same few (kind, key) pairs all the time.
    """
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=4).hexdigest()


def employer_number(*parts: str) -> int:
    """A salary payer as a 64-bit number (compact in the state); see ``employer_id``."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def employer_id(number: int) -> str:
    """The employer id of the contract: ``emp-<16 hex>``."""
    return f"emp-{number:016x}"
