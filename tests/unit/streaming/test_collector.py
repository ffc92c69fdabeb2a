"""The worker's collector: the start-up heap frozen, young collections every 50,000."""

from __future__ import annotations

import gc

from impulse_stream.streaming.collector import YOUNG_THRESHOLD, collect_less_often


def test_after_start_up_the_heap_is_frozen_and_a_young_collection_waits_for_50000_allocations():
    before = gc.get_threshold()
    start_up = [{"built": n} for n in range(1000)]  # what the worker built, alive for the run
    try:
        collect_less_often()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:]) == (50_000, *before[1:])
        assert gc.get_freeze_count() >= len(start_up)
        frozen = gc.get_freeze_count()
        gc.collect()  # a full collection no longer walks (or thaws) the frozen heap
        assert gc.get_freeze_count() == frozen
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
