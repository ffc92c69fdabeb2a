"""``make bench``'s memory group (``bench/memory.py``) on the session's Redis, small.

The month's states of 2,000 events written in format 3 and format 4 through
``RedisStore``: every customer measured in both, the hashes compact
listpacks, format 4's blobs and hashes smaller, and nothing left behind.
Memory figures of a shared Redis are noise; the blob lengths and the
per-key ``MEMORY USAGE`` are not.
"""

from __future__ import annotations

import pytest
import redis
from bench import memory

pytestmark = pytest.mark.integration

EVENTS = 2000


def test_the_memory_group_measures_both_formats_and_format_4_is_smaller(redis_url: str) -> None:
    figures = memory.measure(redis_url, EVENTS)
    assert set(figures) == {"memory/format-3", "memory/format-4"}
    old, new = figures["memory/format-3"], figures["memory/format-4"]
    assert old["customers"] == new["customers"] == EVENTS // 10
    for f in (old, new):
        assert f["encodings"] == {"listpack": f["hash_sampled"]}
        assert f["hash_sampled"] == f["customers"]
        assert f["index_bytes_per_customer"] > 0  # the timer index is counted
        # ... shard by shard: every key a compact listpack, at most S per partition
        assert f["index_encodings"] == {"zset listpack": f["index_keys"]}
        assert 6 < f["index_keys"] <= 6 * 64
        assert f["bytes_per_customer_median"] > f["hash_bytes"]["p50"]
    for q in ("p50", "p95", "max"):
        assert new["state_bytes"][q] < old["state_bytes"][q], q
    assert new["hash_bytes"]["p50"] < old["hash_bytes"]["p50"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert not list(client.scan_iter(match="m3:*")) and not list(client.scan_iter(match="m4:*"))
    finally:
        client.close()
    table = memory.memory_table(figures, memory.memory_targets(figures))
    assert "memory/format-4" in table and "target <= 512" in table
    assert f"memory/format-4: timer index {new['index_keys']} keys (zset listpack" in table
