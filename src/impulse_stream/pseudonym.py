"""Pseudonyms for customer ids in log lines (never the raw id).

A keyed BLAKE2b digest: stable within a deployment when
``IMPULSE_STREAM_PSEUDONYM_KEY`` is set (so an SRE can follow one customer
through the logs and a data protection officer can re-identify with the key),
random per process otherwise.
"""

from __future__ import annotations

import hashlib
import os

_KEY = os.environ.get("IMPULSE_STREAM_PSEUDONYM_KEY", "").encode() or os.urandom(16)


def pseudonym(customer_id: str) -> str:
    return "cust-" + hashlib.blake2b(customer_id.encode(), key=_KEY[:64], digest_size=6).hexdigest()
