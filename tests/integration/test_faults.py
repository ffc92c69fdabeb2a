"""Fault tests: a real worker under kill -9, restarts of Redis and Kafka, rebalances
and a paused zombie. After each, the whole output must equal the reference model's:
no opportunity id missing, none with two contents, Redis state equal to the model's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from impulse_stream.contract import topics
from tests.support.kafka import produce, read_all
from tests.support.scenarios import order_stream
from tests.support.verify import (
    actual_outputs,
    compare,
    expected_outputs,
    redis_states,
    state_differences,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# About 2,800 order events over 6 partitions; `make soak` runs the same faults on 50,000.
CUSTOMERS = int(os.environ.get("IMPULSE_STREAM_SOAK_CUSTOMERS", "1200"))


def stream(seed: int) -> list[dict]:
    return list(order_stream(CUSTOMERS, seed=seed))


def send_chunks(workers, events, chunks: int, between=None) -> None:
    """Produce in chunks; ``between(i)`` runs after chunk ``i`` (to inject the fault)."""
    size = -(-len(events) // chunks)
    for i in range(chunks):
        asyncio.run(
            produce(
                workers.bootstrap, workers.prefix + topics.ORDERS, events[i * size : (i + 1) * size]
            )
        )
        if between is not None:
            between(i)


def outputs_so_far(workers) -> int:
    return len(
        asyncio.run(
            read_all(
                workers.bootstrap, workers.prefix + topics.OPPORTUNITIES, settle=0.1, timeout=30
            )
        )
    )


def wait_for_outputs(workers, at_least: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while outputs_so_far(workers) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} outputs in {timeout}s"
        time.sleep(0.5)


def verify(workers, redis_url, redis_prefix, count: int) -> None:
    expected = asyncio.run(
        expected_outputs(workers.bootstrap, workers.prefix, topics.ORDERS, count)
    )
    assert expected.inputs == count
    got = asyncio.run(actual_outputs(workers.bootstrap, workers.prefix, expected))
    report = compare(expected, got)
    assert report.ok, (
        f"missing {report.missing[:5]} ({len(report.missing)}), extra {report.extra[:5]}, "
        f"conflicting {report.conflicting[:5]}, different {report.different[:5]}"
    )
    states = asyncio.run(redis_states(redis_url, redis_prefix, sorted(expected.states)))
    assert states == expected.states, state_differences(states, expected.states)


def test_kill_9_in_the_middle_of_the_stream(workers, redis_url, redis_prefix):
    events = stream(1)
    w = workers.start()

    def fault(i: int) -> None:
        if i == 3:
            wait_for_outputs(workers, 20)
            w.kill()
            workers.start("w2")

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_redis_restart_with_aof(workers, stack, redis_url, redis_prefix):
    events = stream(2)
    workers.start()

    def fault(i: int) -> None:
        if i == 3:
            wait_for_outputs(workers, 20)
            stack.kill_redis(hard=True)
            time.sleep(2)
            stack.start_redis()

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_kafka_broker_restart(workers, stack, redis_url, redis_prefix):
    events = stream(3)
    workers.start()

    def fault(i: int) -> None:
        if i == 3:
            wait_for_outputs(workers, 20)
            stack.kill_kafka(hard=False)
            time.sleep(2)
            stack.start_kafka()

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_rebalance_from_one_to_two_workers_and_back(workers, redis_url, redis_prefix):
    events = stream(4)
    workers.start("w1")
    joined = {}

    def fault(i: int) -> None:
        if i == 2:
            joined["w2"] = workers.start("w2")
        if i == 5:
            assert joined["w2"].stop() == 0

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_rebalance_on_fausts_own_consumer_and_take_events_loses_and_repeats_nothing(
    workers, redis_url, redis_prefix
):
    # IMPULSE_STREAM_FAST_DRAIN=0: Faust's consumer and stream instead of the batch hand-off.
    events = stream(11)
    workers.start("w1", IMPULSE_STREAM_FAST_DRAIN="0")
    joined = {}

    def fault(i: int) -> None:
        if i == 2:
            joined["w2"] = workers.start("w2", IMPULSE_STREAM_FAST_DRAIN="0")
        if i == 5:
            assert joined["w2"].stop() == 0

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_zombie_paused_past_its_session_then_resumed(workers, redis_url, redis_prefix):
    events = stream(5)
    w1 = workers.start("w1")
    workers.start("w2")

    def fault(i: int) -> None:
        if i == 2:
            w1.signal(signal.SIGSTOP)
            time.sleep(9)  # past the 6 s session timeout: w2 takes all partitions
        if i == 5:
            w1.signal(signal.SIGCONT)

    send_chunks(workers, events, 8, fault)
    verify(workers, redis_url, redis_prefix, len(events))


def test_kill_9_in_the_middle_of_the_stream_on_a_redis_cluster(
    cluster_workers, redis_cluster_url, redis_prefix
):
    events = stream(6)
    w = cluster_workers.start()

    def fault(i: int) -> None:
        if i == 3:
            wait_for_outputs(cluster_workers, 20)
            w.kill()
            cluster_workers.start("w2")

    send_chunks(cluster_workers, events, 8, fault)
    verify(cluster_workers, redis_cluster_url, redis_prefix, len(events))


def test_one_cluster_master_killed_and_restarted_with_aof(
    cluster_workers, redis_cluster, redis_cluster_url, redis_prefix
):
    assert redis_cluster is not None, "this test kills a node: it needs the local cluster"
    events = stream(7)
    w = cluster_workers.start()
    master = redis_cluster.redis.nodes[1]

    def fault(i: int) -> None:
        if i == 3:
            wait_for_outputs(cluster_workers, 20)
            master.stop(hard=True)  # a third of the slots are down: writes to them fail
        if i == 4:  # the worker meets the dead node with this chunk
            time.sleep(4)
            redis_cluster.start_redis()  # replays its AOF, rejoins, cluster_state ok

    send_chunks(cluster_workers, events, 8, fault)
    verify(cluster_workers, redis_cluster_url, redis_prefix, len(events))
    status, metrics = w.get("/metrics")
    errors = [
        float(line.split()[-1])
        for line in metrics.decode().splitlines()
        if line.startswith("impulse_stream_store_errors_total")
    ]
    assert status == 200 and errors and errors[0] > 0, "the worker never met the dead node"
