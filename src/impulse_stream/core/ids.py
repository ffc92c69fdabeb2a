"""Stable identifiers derived from input fields only.

Ids must be the same on every replay and on every machine, so they never come
from ``uuid4``, ``random`` or the salted built-in ``hash()``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

_SEP = "\x1f"  # between the parts of a hashed key
# One empty hasher per digest size the core uses: copying one costs about 40 % of
# building a new ``hashlib.blake2b`` (whose keyword arguments are parsed every time).
_EMPTY = {size: hashlib.blake2b(digest_size=size) for size in (4, 8, 10)}


def blake2b(data: bytes, digest_size: int) -> bytes:
    """``hashlib.blake2b(data, digest_size=digest_size).digest()``, for sizes 4, 8 and 10."""
    hasher = _EMPTY[digest_size].copy()
    hasher.update(data)
    return hasher.digest()


def stable_id(prefix: str, *parts: str) -> str:
    """``prefix-<20 hex chars>`` from a blake2b digest of the parts."""
    return f"{prefix}-{blake2b(_SEP.join(parts).encode('utf-8'), 10).hex()}"


@lru_cache(maxsize=16384)
def short_key(*parts: str) -> str:
    """A compact 8-hex-char key for bounded dedupe memories in the state.

    Cached: the repeat checks ask for the same few (kind, key) pairs all the time.
    """
    return blake2b(_SEP.join(parts).encode("utf-8"), 4).hex()


def employer_number(*parts: str) -> int:
    """A salary payer as a 64-bit number (compact in the state); see ``employer_id``."""
    return int.from_bytes(blake2b(_SEP.join(parts).encode("utf-8"), 8), "big")


def employer_id(number: int) -> str:
    """The employer id of the contract: ``emp-<16 hex>``."""
    return f"emp-{number:016x}"
