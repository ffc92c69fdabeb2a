"""Generated files put every key on the partition Kafka's default partitioner picks."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from impulse_stream.datatools.partitioner import murmur2, partition_for


def test_murmur2_matches_the_java_clients_published_values():
    # The values of Kafka's own UtilsTest.testMurmur2.
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107
    assert murmur2(b"") == 275646681


@given(key=st.binary(min_size=1, max_size=40), partitions=st.integers(1, 64))
def test_the_partition_of_a_key_is_the_one_aiokafka_picks(key, partitions):
    available = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, available, available)
