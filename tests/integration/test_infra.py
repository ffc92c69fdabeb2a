"""The local stack serves real clients and keeps its data through crashes and restarts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from impulse_stream.contract.topics import TRANSACTIONS
from impulse_stream.infra import Stack
from impulse_stream.store.redis import RedisStore
from tests.conftest import _free_cluster_port
from tests.store_contract import write

pytestmark = pytest.mark.integration


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, partition=0)
    finally:
        await producer.stop()


async def _read_partition(bootstrap: str, topic: str, partition: int = 0) -> list[bytes | None]:
    """Every value on ``topic``/``partition`` up to its end offset."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes | None] = []
        while len(values) < end:
            batch = await consumer.getmany(tp, timeout_ms=10_000)
            assert batch, f"nothing to read on {topic}[{partition}] below offset {end}"
            values.extend(m.value for m in batch[tp])
        return values
    finally:
        await consumer.stop()


async def test_a_booking_published_on_a_contract_topic_is_read_back(
    kafka_bootstrap, make_topics, topic_prefix
):
    topics = make_topics(partitions=2)
    assert topic_prefix + TRANSACTIONS in topics

    await _produce(kafka_bootstrap, topic_prefix + TRANSACTIONS, b"c-1", b'{"amount": 12}')

    assert await _read_partition(kafka_bootstrap, topic_prefix + TRANSACTIONS) == [
        b'{"amount": 12}'
    ]


def test_creating_the_topics_again_keeps_them(make_topics, topic_prefix):
    assert make_topics(partitions=1) == make_topics(partitions=1)


async def test_redis_answers_set_and_get(redis_url, redis_prefix):
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set(redis_prefix + "greeting", b"hello")
        assert await client.get(redis_prefix + "greeting") == b"hello"
    finally:
        await client.aclose()


def test_status_names_both_servers_as_up(stack):
    assert [(s.service, s.answering) for s in stack.status()] == [
        ("kafka", True),
        ("redis", True),
    ]


async def test_an_acknowledged_redis_write_survives_kill_9(stack, redis_prefix):
    client = aioredis.Redis.from_url(stack.redis_url)
    try:
        await client.set(redis_prefix + "state", b"v1")
        await client.hset(redis_prefix + "fences", mapping={"t:0": "42"})
    finally:
        await client.aclose()

    try:
        stack.kill_redis(hard=True)
    finally:
        stack.start_redis()

    client = aioredis.Redis.from_url(stack.redis_url)
    try:
        assert await client.get(redis_prefix + "state") == b"v1"
        assert await client.hgetall(redis_prefix + "fences") == {b"t:0": b"42"}
    finally:
        await client.aclose()


@pytest.mark.parametrize("hard", [False, True], ids=["clean-stop", "kill-9"])
async def test_a_produced_message_survives_a_broker_restart(stack, make_topics, topic_prefix, hard):
    make_topics(partitions=1)
    topic = topic_prefix + TRANSACTIONS
    await _produce(stack.bootstrap_servers, topic, b"c-7", b"before restart")

    try:
        stack.kill_kafka(hard=hard)
    finally:
        stack.start_kafka()

    assert await _read_partition(stack.bootstrap_servers, topic) == [b"before restart"]


def test_infra_up_redis_cluster_from_the_command_line_survives_kill_9_of_every_node(
    kafka_bootstrap, tmp_path
):

    first = _free_cluster_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,  # the session's broker: start no other
        "IMPULSE_STREAM_DATA_DIR": str(tmp_path),
        "REDIS_CLUSTER_PORT": str(first),
    }
    env.pop("REDIS_URL", None)

    def infra(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "impulse_stream.infra.cli", *args, "--name", "cl"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)

    url = f"redis+cluster://127.0.0.1:{first},127.0.0.1:{first + 1},127.0.0.1:{first + 2}"
    try:
        up = infra("up", "--redis-cluster", "--no-topics")
        assert up.returncode == 0, up.stderr
        assert f"REDIS_URL={url}" in up.stdout
        assert infra("status", "--redis-cluster").returncode == 0

        async def roundtrip(commit: bool) -> int:
            store = RedisStore(url, prefix="infra-test:")
            try:
                if commit:
                    assert await store.commit([write("c-aof")]) == set()
                return (await store.load(["c-aof"]))["c-aof"].version
            finally:
                await store.close()

        assert asyncio.run(roundtrip(commit=True)) == 1
        stack = Stack.from_env(env, name="cl", redis_cluster=True)
        stack.kill_redis(hard=True)
        assert infra("status", "--redis-cluster").returncode == 3
        stack.start_redis()  # rejoin from nodes.conf, replay the AOF, cluster_state ok
        assert asyncio.run(roundtrip(commit=False)) == 1
    finally:
        down = infra("down", "--redis-cluster", "--purge")
    assert down.returncode == 0 and "stopped redis" in down.stdout
