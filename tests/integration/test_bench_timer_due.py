"""``bench/timer_due.py`` on the session's Redis, small: both layouts measured, the
same customers due, the shards listpacks and the single set a skiplist. No timing
is asserted (a shared machine)."""

from __future__ import annotations

import pytest
from bench import timer_due

pytestmark = pytest.mark.integration


async def test_the_timer_due_bench_measures_both_layouts_on_the_same_wake_ups(redis_url):
    figures = await timer_due.measure(redis_url, customers=600, shards=8, calls=3, rounds=1)
    assert set(figures["us_per_call"]) == {"1 shard", "8 shards"}
    assert figures["due_customers"]["nothing due"] == 0
    assert 0 < figures["due_customers"]["a day due"] < 600
    assert figures["encodings"] == {"1 shard": {"skiplist": 1}, "8 shards": {"listpack": 8}}
    assert set(figures["ratio"]) == {"nothing due", "a day due"}
    table = timer_due.table(figures)
    assert "nothing due (0 customers)" in table and "8 shards" in table
