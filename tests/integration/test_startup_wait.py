"""A worker started before its Kafka broker and Redis waits for them, then does its work.

The servers here are a stack of the test's own (its own ports and data), so that
stopping them disturbs no other test.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from impulse_stream.contract.topics import topic_specs
from impulse_stream.infra.admin import create_topics
from impulse_stream.infra.kafka_broker import KafkaBroker
from impulse_stream.infra.redis_server import RedisServer
from impulse_stream.infra.settings import StackSettings
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, profile
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration


def problems_when_waiting(worker: WorkerProcess, timeout: float = 60.0) -> list[str]:
    """The ``/readyz`` problems once the waiting worker answers (red, 503)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.alive, worker.log_tail()
        try:
            status, body = worker.get("/readyz", timeout=1.0)
        except OSError:
            time.sleep(0.2)
            continue
        assert status == 503, body
        problems = orjson.loads(body)["problems"]
        if problems != ["starting"]:  # the first attempt has not ended yet
            return problems
        time.sleep(0.2)
    raise AssertionError(f"no /readyz answer in {timeout}s: {worker.log_tail()}")


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} in {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def stopped_servers(tmp_path):
    """A broker that has the contract's topics and a redis-server, both stopped."""
    settings = StackSettings.from_env(
        {},
        name="startup-wait",
        data_root=tmp_path / "var",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        kafka_heap="512m",
    )
    kafka, redis = KafkaBroker(settings), RedisServer(settings)
    try:
        kafka.start()
        create_topics(kafka.bootstrap_servers, topic_specs(6))
        kafka.stop()
        yield kafka, redis
    finally:
        kafka.stop(hard=True)
        redis.stop(hard=True)


def test_a_worker_started_before_kafka_and_redis_waits_red_then_turns_an_order_into_an_offer(
    stopped_servers, tmp_path
):
    kafka, redis = stopped_servers
    worker = WorkerProcess(kafka.bootstrap_servers, redis.url, "", "is:", tmp_path)
    worker.env["IMPULSE_STREAM_APP_ID"] = "impulse-stream"
    worker.start()
    try:
        problems = problems_when_waiting(worker)
        assert len(problems) == 2, problems
        assert problems[0].startswith(f"waiting for Kafka at {kafka.bootstrap_servers}: ")
        assert problems[1].startswith(f"waiting for Redis at {redis.url}: ")
        kafka.start()
        wait_for(
            lambda: [p for p in problems_when_waiting(worker) if "Kafka" in p] == [],
            what="Kafka seen by the waiting worker",
        )
        assert worker.get("/readyz")[0] == 503  # still waiting for Redis
        redis.start()
        worker.wait_ready(timeout=90)

        log = worker.log_path.read_text()
        assert f"waiting for Kafka at {kafka.bootstrap_servers}" in log
        assert "(attempt 1, next in" in log and "(attempt 2, next in" in log
        assert "Traceback" not in log

        asyncio.run(produce(kafka.bootstrap_servers, "customers.profile", [profile("c-7001")]))
        events = [*abandoned_card_order("c-7001"), inbound_call("c-7001", T0.replace(hour=10))]
        asyncio.run(produce(kafka.bootstrap_servers, "orders.flow", events[:-1]))
        asyncio.run(produce(kafka.bootstrap_servers, "channel.contacts", events[-1:]))
        records = asyncio.run(
            read_all(
                kafka.bootstrap_servers,
                "opportunities",
                until=lambda rs: any(r.json()["customer_id"] == "c-7001" for r in rs),
                timeout=90,
            )
        )
        offer = next(r.json() for r in records if r.json()["customer_id"] == "c-7001")
        assert offer["action_id"] == "finish_credit_card_order" and offer["status"] == "open"
    finally:
        worker.stop()
