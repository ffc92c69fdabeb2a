"""Fewer garbage collections for a batch job that holds its whole input (a backtest).

A backtest keeps the recording (two objects per event) and the catalogue alive
for the whole run, and every batch makes many short-lived objects. With the
interpreter's thresholds (a young collection every 700 allocations) the
collector scans the batch's live objects again and again, and each full
collection the whole recording: 11 % of a backtest's CPU in the profile of
docs/bench.md. Inside :func:`fewer_collections` what exists already is frozen
(``gc.freeze()``: never scanned again) and a young collection waits for 50,000
allocations; both are restored on the way out. Only when the collector runs
changes, so the outputs cannot.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000


@contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
