"""Talking to a broker with a real Kafka client: readiness, topic creation and deletion.

Each operation has an ``async`` form and a blocking one. The blocking form runs the
client on a loop of its own in a helper thread, so it works from plain code (the
CLI, a pytest fixture) and from inside a running event loop alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from impulse_stream.contract.topics import TopicSpec
from impulse_stream.errors import InfraError
from impulse_stream.infra.processes import port_open
from impulse_stream.security import KafkaSecurity

T = TypeVar("T")

_TOPIC_ALREADY_EXISTS = 36


def run_blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``make()`` to completion from synchronous code.

    Always on a loop of its own in a helper thread: this works inside a running loop,
    and it leaves the caller thread's current event loop as it was (``asyncio.run``
    would reset it, which surprises the test runner's and Faust's loops).
    """

    def run() -> T:
        async def main() -> T:
            return await make()

        return asyncio.run(main())

    with ThreadPoolExecutor(1, thread_name_prefix="impulse-stream-infra") as pool:
        return pool.submit(run).result()


@dataclass(frozen=True)
class KafkaHealth:
    """What one metadata request said about the cluster."""

    brokers: int
    topics: int
    leaderless_partitions: int

    @property
    def ready(self) -> bool:
        """A broker answers and every partition (``__consumer_offsets`` too) has a leader."""
        return self.brokers > 0 and self.leaderless_partitions == 0


async def probe_kafka_async(
    bootstrap: str, timeout: float = 5.0, security: KafkaSecurity | None = None
) -> KafkaHealth:
    """One metadata round trip; raises ``KafkaError`` or ``OSError`` when nobody answers."""
    admin = _admin(bootstrap, timeout, security)
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        topics = await asyncio.wait_for(admin.describe_topics(), timeout)
    finally:
        await admin.close()
    return KafkaHealth(
        brokers=len(cluster["brokers"]),
        topics=len(topics),
        leaderless_partitions=sum(_leaderless(t) for t in topics),
    )


def probe_kafka(
    bootstrap: str, timeout: float = 5.0, security: KafkaSecurity | None = None
) -> KafkaHealth | None:
    """The cluster's health, or None when no broker answers within ``timeout``."""
    # A plain connect first: the client would log an error for every refused connection.
    if not any(port_open(host, int(port)) for host, port in _hostports(bootstrap)):
        return None
    try:
        return run_blocking(lambda: probe_kafka_async(bootstrap, timeout, security))
    except (KafkaError, OSError, TimeoutError):
        return None


async def create_topics_async(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    timeout: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the topics that do not exist yet and wait until each has leaders.

    Returns the names of the topics that were created (existing ones are left as they are).
    """
    specs = list(specs)
    admin = _admin(bootstrap, timeout, security)
    try:
        await admin.start()
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, 1, topic_configs=dict(s.config)) for s in specs],
            timeout_ms=int(timeout * 1000),
        )
        created, failures = [], []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != _TOPIC_ALREADY_EXISTS:
                failures.append(f"{topic}: error {code} {rest[0] if rest else ''}".rstrip())
        if failures:
            raise InfraError("could not create topics: " + "; ".join(failures))
        await _wait_for_leaders(admin, [s.name for s in specs], timeout)
    except KafkaError as e:
        raise InfraError(f"could not create topics on {bootstrap}: {e}") from e
    finally:
        await admin.close()
    return created


def create_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    timeout: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Blocking :func:`create_topics_async`: idempotent, existing topics are fine."""
    specs = list(specs)
    return run_blocking(lambda: create_topics_async(bootstrap, specs, timeout, security))


async def delete_topics_async(
    bootstrap: str,
    names: Iterable[str],
    timeout: float = 10.0,
    security: KafkaSecurity | None = None,
) -> None:
    names = list(names)
    if not names:
        return
    admin = _admin(bootstrap, timeout, security)
    try:
        await admin.start()
        await admin.delete_topics(names, timeout_ms=int(timeout * 1000))
    except KafkaError as e:
        raise InfraError(f"could not delete topics on {bootstrap}: {e}") from e
    finally:
        await admin.close()


def delete_topics(
    bootstrap: str,
    names: Iterable[str],
    timeout: float = 10.0,
    security: KafkaSecurity | None = None,
) -> None:
    names = list(names)
    run_blocking(lambda: delete_topics_async(bootstrap, names, timeout, security))


def _hostports(bootstrap: str) -> list[tuple[str, str]]:
    pairs = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        pairs.append((host.strip("[]"), port))
    return pairs


def _admin(
    bootstrap: str, timeout: float, security: KafkaSecurity | None = None
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="impulse-stream-infra",
        request_timeout_ms=max(1000, int(timeout * 1000)),
        **(security or KafkaSecurity()).aiokafka_kwargs(),
    )


def _leaderless(topic: dict[str, Any]) -> int:
    if topic["error_code"] != 0:
        return max(1, len(topic["partitions"]))
    return sum(1 for p in topic["partitions"] if p["error_code"] != 0 or p["leader"] < 0)


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topics = await admin.describe_topics(names)
        if len(topics) == len(names) and not any(_leaderless(t) for t in topics):
            return
        if time.monotonic() > deadline:
            waiting = sorted(t["topic"] for t in topics if _leaderless(t))
            raise InfraError(f"topics have no leader after {timeout:.0f}s: {waiting}")
        await asyncio.sleep(0.1)
