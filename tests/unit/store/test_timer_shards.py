"""The timer shard of a customer and the shard count's bounds (no Redis needed)."""

import pytest

from impulse_stream import settings as settings_module
from impulse_stream.settings import Settings
from impulse_stream.store import redis as redis_store
from impulse_stream.store.redis import RedisStore, timer_shard


def test_a_customers_timer_shard_is_the_same_in_every_release():
    # Pinned: a change would strand every stored wake-up in a shard no one reads.
    assert [timer_shard(c, 64) for c in ("c-1", "c-2", "c-example-102644", "é")] == [19, 27, 11, 49]
    assert [timer_shard(c, 4096) for c in ("c-1", "c-2")] == [1171, 3867]
    assert timer_shard("anything", 1) == 0


def test_the_settings_default_and_bounds_are_the_stores():
    assert Settings().timer_shards == redis_store.DEFAULT_TIMER_SHARDS == 64
    assert settings_module.MAX_TIMER_SHARDS == redis_store.MAX_TIMER_SHARDS
    assert Settings.from_env({"IMPULSE_STREAM_TIMER_SHARDS": "4096"}).timer_shards == 4096


@pytest.mark.parametrize("shards", [0, -3, 4097, True, 2.0])
def test_the_store_refuses_a_shard_count_out_of_bounds(shards):
    with pytest.raises(ValueError, match="timer shards"):
        RedisStore("redis://127.0.0.1:1/0", timer_shards=shards)
