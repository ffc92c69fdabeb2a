"""Fixtures shared by every test: a real Kafka broker and redis-server, isolated names.

The servers start on first use, once per session, through the same code as
``impulse-stream infra up`` (stack "test": Kafka 29092/29093, Redis 26379, data in
``var/test``, wiped at the start of the session). A test that asks for none of
``stack``, ``kafka_bootstrap``, ``redis_url`` or ``make_topics`` starts nothing;
one that asks only for ``redis_url`` starts only Redis.

With ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL`` set, those servers are used and
left running. If the test stack cannot start, the tests that need it fail with
the reason; nothing is skipped.

Isolation: each test gets its own ``topic_prefix`` ("t1a2b3c4d.") and
``redis_prefix`` ("t1a2b3c4d:"); ``make_topics`` creates the contract's topics
under a prefix and deletes them after the test.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from impulse_stream.contract.topics import DEFAULT_PARTITIONS, topic_specs
from impulse_stream.errors import ImpulseStreamError, InfraError
from impulse_stream.infra import Stack, create_topics
from impulse_stream.infra.admin import delete_topics
from impulse_stream.infra.processes import is_running, port_open
from impulse_stream.infra.settings import HOST, StackSettings

TEST_STACK = {
    "name": "test",
    "kafka_port": 29092,
    "kafka_controller_port": 29093,
    "redis_port": 26379,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _claim(stack: Stack) -> bool:
    """Mark ``stack`` as this session's; False when another live test session owns it."""
    owner = stack.settings.data_dir / "owner.pid"
    owner.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int(owner.read_text())
        if pid != os.getpid() and is_running(pid):
            return False
    owner.write_text(f"{os.getpid()}\n")
    return True


def _private_stack() -> Stack:
    """A stack of this session alone, when another session (a colleague's) holds "test"
    or something else listens on its ports."""
    return Stack.from_env(
        name=f"test-{os.getpid()}",
        kafka_port=_free_port(),
        kafka_controller_port=_free_port(),
        redis_port=_free_port(),
    )


class _TestStack:
    """The session's stack, each server started on first need; a failure is kept and re-raised."""

    def __init__(self) -> None:
        self.stack = Stack.from_env(**TEST_STACK)
        _reap_private_stacks_of_dead_sessions(self.stack.settings)
        self.private = not _claim(self.stack)
        if not self.private:
            self.stack.wipe()  # also ends servers a crashed session left behind
            if any(port_open(HOST, port) for port in _ports(self.stack)):
                self._release()
                self.private = True
        if self.private:
            self.stack = _private_stack()
            self.stack.wipe()
        self.failures: dict[str, str] = {}

    def require(self, service: str) -> Stack:
        if service not in self.failures:
            try:
                if service == "kafka":
                    self.stack.start_kafka()
                else:
                    self.stack.start_redis()
            except ImpulseStreamError as e:
                self.failures[service] = str(e)
            else:
                return self.stack
        pytest.fail(
            f"the test stack's {service} did not start: {self.failures[service]}", pytrace=False
        )

    def close(self) -> None:
        self.stack.down(purge=self.private)
        if not self.private:
            self._release()

    def _release(self) -> None:
        (self.stack.settings.data_dir / "owner.pid").unlink(missing_ok=True)


def _reap_private_stacks_of_dead_sessions(settings: StackSettings) -> None:
    """A session killed without teardown (``timeout pytest``) leaves its servers running."""
    for home in settings.data_root.glob("test-*"):
        pid = home.name.removeprefix("test-")
        if pid.isdigit() and not is_running(int(pid)):
            Stack(replace(settings, name=home.name, external_kafka="", external_redis="")).wipe()
            shutil.rmtree(home, ignore_errors=True)


def _ports(stack: Stack) -> list[int]:
    s = stack.settings
    ports = [] if s.external_redis else [s.redis_port]
    return ports + ([] if s.external_kafka else [s.kafka_port, s.kafka_controller_port])


@pytest.fixture(scope="session")
def _test_stack() -> Iterator[_TestStack]:
    try:
        test_stack = _TestStack()
    except ImpulseStreamError as e:
        pytest.fail(f"the test stack could not be prepared: {e}", pytrace=False)
    yield test_stack
    test_stack.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(_test_stack: _TestStack) -> str:
    """``host:port`` of the session's Kafka broker, started on first use."""
    return _test_stack.require("kafka").bootstrap_servers


@pytest.fixture(scope="session")
def redis_url(_test_stack: _TestStack) -> str:
    """``redis://…`` of the session's redis-server, started on first use."""
    return _test_stack.require("redis").redis_url


@pytest.fixture(scope="session")
def stack(_test_stack: _TestStack, kafka_bootstrap: str, redis_url: str) -> Stack:
    """The running session stack; fault tests use ``kill_kafka``/``start_kafka`` and friends."""
    return _test_stack.stack


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_cluster_port() -> int:
    """A first port for three cluster nodes: the three and their bus ports (+10000) free.

    Below Linux's ephemeral range (32768-60999), bus ports included: a client socket of
    a busy test session cannot take a node's port between the check and the start.
    """
    rng = random.Random(os.getpid())
    for _ in range(200):
        first = rng.randrange(21000, 22700)
        ports = [first + i + bus for i in range(3) for bus in (0, 10000)]
        if all(_bindable(p) and not port_open(HOST, p) for p in ports):
            return first
    raise InfraError("found no free ports for a local Redis Cluster")


def _reap_clusters_of_dead_sessions(settings: StackSettings) -> None:
    for home in settings.data_root.glob("cluster-*"):
        pid = home.name.removeprefix("cluster-")
        if pid.isdigit() and not is_running(int(pid)):
            for node in home.glob("redis-*"):
                port = node.name.removeprefix("redis-")
                if port.isdigit():
                    # One node's settings at a time: the pid files name their own ports.
                    Stack(
                        replace(
                            settings,
                            name=home.name,
                            redis_cluster=True,
                            redis_cluster_port=int(port),
                            external_redis="",
                        )
                    ).redis.nodes[0].stop(hard=True)  # type: ignore[union-attr]
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Stack | None]:
    """A Redis Cluster of three masters of this session alone, as a ``Stack`` whose
    ``kill_redis``/``start_redis`` kill and restart all three nodes (``None`` for a
    cluster from the environment). Started through the infra code (``Stack`` with
    ``redis_cluster=True``, as ``impulse-stream infra up --redis-cluster``); with
    ``REDIS_URL`` set to a ``redis+cluster://`` URL, that cluster is used instead.
    Fails when it cannot start.
    """
    if os.environ.get("REDIS_URL", "").startswith("redis+cluster://"):
        yield None
        return
    try:
        settings = StackSettings.from_env(external_redis="")
        _reap_clusters_of_dead_sessions(settings)
        cluster = Stack.from_env(
            name=f"cluster-{os.getpid()}",
            redis_cluster=True,
            redis_cluster_port=_free_cluster_port(),
            external_redis="",
        )
        cluster.wipe()
        cluster.start_redis()
    except ImpulseStreamError as e:
        pytest.fail(f"the test Redis Cluster did not start: {e}", pytrace=False)
    yield cluster
    cluster.down(purge=True)


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: Stack | None) -> str:
    """``redis+cluster://…`` of the session's Redis Cluster (see ``redis_cluster``)."""
    return redis_cluster.redis_url if redis_cluster else os.environ["REDIS_URL"]


@pytest.fixture
def topic_prefix() -> str:
    """A prefix of this test's own, for topic names and consumer groups: ``t1a2b3c4d.``."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def redis_prefix() -> str:
    """A prefix of this test's own for Redis keys: ``t1a2b3c4d:``."""
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def make_topics(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Callable[..., list[str]]]:
    """``make_topics(prefix=topic_prefix, partitions=6) -> [topic names]``.

    Creates the contract's topics under ``prefix`` (existing ones are kept), waits until
    every partition has a leader, and deletes them when the test ends. A plain call:
    works in sync and async tests alike.
    """
    created: list[str] = []

    def make(prefix: str | None = None, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
        specs = topic_specs(partitions, prefix=topic_prefix if prefix is None else prefix)
        create_topics(kafka_bootstrap, specs)
        names = [s.name for s in specs]
        created.extend(n for n in names if n not in created)
        return names

    yield make
    # Keeps a long session's broker small; a broker a fault test left down is no error here.
    with contextlib.suppress(InfraError):
        delete_topics(kafka_bootstrap, created)
