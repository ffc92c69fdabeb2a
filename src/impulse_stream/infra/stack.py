"""One named local stack: a Kafka broker and a redis-server, or existing servers from the env.

    stack = Stack.from_env(name="demo")
    stack.up()                       # installs what is missing, starts, waits until both serve
    stack.create_topics()            # the contract's topics, idempotent
    stack.bootstrap_servers, stack.redis_url
    stack.kill_kafka(hard=True); stack.start_kafka()   # fault tests
    stack.down()

When ``KAFKA_BOOTSTRAP_SERVERS`` (or ``REDIS_URL``) is set, that server is used
as it is: ``up`` only checks that it answers, ``down`` leaves it alone.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from impulse_stream.contract.topics import topic_specs
from impulse_stream.errors import InfraError
from impulse_stream.infra.admin import create_topics, probe_kafka
from impulse_stream.infra.kafka_broker import KafkaBroker
from impulse_stream.infra.processes import file_lock
from impulse_stream.infra.redis_cluster import LocalRedisCluster
from impulse_stream.infra.redis_server import RedisServer, redis_ping
from impulse_stream.infra.settings import StackSettings
from impulse_stream.redis_address import is_cluster_url, parse_cluster_url


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``infra status``."""

    service: str  # "kafka" or "redis"
    address: str
    managed: bool  # started by this stack (False: an existing server from the env)
    pid: int | None
    answering: bool
    home: Path | None

    def describe(self) -> str:
        state = "up" if self.answering else ("starting or stuck" if self.pid else "down")
        where = f"pid {self.pid}" if self.pid else ("external" if not self.managed else "-")
        return f"{self.service:<6} {state:<17} {self.address:<28} {where}"


class Stack:
    """A Kafka broker and a Redis server that tests, the demo and users share one API for."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.kafka = None if settings.external_kafka else KafkaBroker(settings)
        self.redis: RedisServer | LocalRedisCluster | None = None
        if not settings.external_redis:
            self.redis = (
                LocalRedisCluster(settings) if settings.redis_cluster else RedisServer(settings)
            )
        # Seconds the last start of each service took (absent when it was already running).
        self.timings: dict[str, float] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Stack:
        return cls(StackSettings.from_env(env, **overrides))

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.bootstrap_servers

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url

    def up(self, *, fresh: bool = False) -> Stack:
        """Start what this stack manages and wait until both servers serve.

        ``fresh`` stops this stack's servers and deletes their data first.
        """
        if fresh:
            self.wipe()
        with self._lock():
            self._start_redis()
            self._start_kafka()
        return self

    def wipe(self) -> None:
        """Kill this stack's servers and delete their data (servers from the env are untouched)."""
        with self._lock():
            self._stop_managed(hard=True)
            homes = [self.kafka.home] if self.kafka is not None else []
            if isinstance(self.redis, LocalRedisCluster):
                homes += self.redis.homes
            elif self.redis is not None:
                homes.append(self.redis.home)
            for home in homes:
                shutil.rmtree(home, ignore_errors=True)

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop the servers this stack started (and, with ``purge``, delete their data).

        Returns the services it stopped; existing servers from the env are never touched.
        """
        if not self.settings.data_dir.exists():
            return []
        with self._lock():
            stopped = self._stop_managed(hard=False)
            if purge:
                shutil.rmtree(self.settings.data_dir, ignore_errors=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        kafka_health = probe_kafka(
            self.bootstrap_servers, timeout=3.0, security=self.settings.kafka_security
        )
        return [
            ServiceStatus(
                "kafka",
                self.bootstrap_servers,
                self.kafka is not None,
                self.kafka.pid() if self.kafka else None,
                kafka_health is not None and kafka_health.brokers > 0,
                self.kafka.home if self.kafka else None,
            ),
            ServiceStatus(
                "redis",
                self.redis_url,
                self.redis is not None,
                self.redis.pid() if self.redis else None,
                self._redis_answers(),
                self.redis.homes[0].parent
                if isinstance(self.redis, LocalRedisCluster)
                else (self.redis.home if self.redis else None),
            ),
        ]

    def create_topics(self, prefix: str = "", partitions: int | None = None) -> list[str]:
        """Create the contract's topics (``prefix`` + name); existing ones are kept.

        Returns every topic name of the contract, created now or before.
        """
        specs = topic_specs(partitions or self.settings.partitions, prefix=prefix)
        create_topics(self.bootstrap_servers, specs, security=self.settings.kafka_security)
        return [s.name for s in specs]

    # Fault injection: tests stop and restart the servers mid-stream on the same data.

    def kill_kafka(self, hard: bool = True) -> None:
        """SIGKILL the broker (``hard=False``: shut it down cleanly) and wait until it is gone."""
        with self._lock():
            self._managed_kafka().stop(hard=hard)

    def start_kafka(self) -> None:
        """Start the broker again on its data and wait until every partition has a leader."""
        with self._lock():
            self._start_kafka()

    def kill_redis(self, hard: bool = True) -> None:
        with self._lock():
            self._managed_redis().stop(hard=hard)

    def start_redis(self) -> None:
        with self._lock():
            self._start_redis()

    def _start_kafka(self) -> None:
        if self.kafka is None:
            health = probe_kafka(
                self.bootstrap_servers, timeout=10.0, security=self.settings.kafka_security
            )
            if health is None:
                raise InfraError(
                    f"no Kafka broker answers on KAFKA_BOOTSTRAP_SERVERS={self.bootstrap_servers}; "
                    "start it or unset the variable to run a local one"
                )
            return
        was_running = self.kafka.pid() is not None
        started = time.monotonic()
        self.kafka.start()
        if not was_running:
            self.timings["kafka"] = time.monotonic() - started

    def _redis_answers(self, timeout: float = 1.0) -> bool:
        if isinstance(self.redis, LocalRedisCluster):
            return self.redis.answering()
        connection = self._redis_kwargs()
        if is_cluster_url(self.redis_url):
            address = parse_cluster_url(self.redis_url)
            if address.username is not None:
                connection["username"] = address.username
            if address.password is not None:
                connection["password"] = address.password
            return any(
                redis_ping(f"redis://{h}:{p}", timeout=timeout, **connection)
                for h, p in address.nodes
            )
        return redis_ping(self.redis_url, timeout=timeout, **connection)

    def _start_redis(self) -> None:
        if self.redis is None:
            if not self._redis_answers(timeout=5.0):
                raise InfraError(
                    f"no Redis answers on REDIS_URL={self.redis_url}; "
                    "start it or unset the variable to run a local one"
                )
            return
        was_running = self.redis.pid() is not None
        started = time.monotonic()
        self.redis.start()
        if not was_running:
            self.timings["redis"] = time.monotonic() - started

    def _redis_kwargs(self) -> dict[str, object]:
        return self.settings.redis_security.redis_kwargs(self.redis_url)

    def _stop_managed(self, *, hard: bool) -> list[str]:
        stopped = []
        if self.kafka is not None and self.kafka.stop(hard=hard):
            stopped.append("kafka")
        if self.redis is not None and self.redis.stop(hard=hard):
            stopped.append("redis")
        return stopped

    def _managed_kafka(self) -> KafkaBroker:
        if self.kafka is None:
            raise InfraError(
                f"Kafka at {self.bootstrap_servers} comes from KAFKA_BOOTSTRAP_SERVERS; "
                "this stack cannot stop or restart it"
            )
        return self.kafka

    def _managed_redis(self) -> RedisServer | LocalRedisCluster:
        if self.redis is None:
            raise InfraError(
                f"Redis at {self.redis_url} comes from REDIS_URL; "
                "this stack cannot stop or restart it"
            )
        return self.redis

    def _lock(self) -> AbstractContextManager[None]:
        return file_lock(self.settings.data_dir / ".lock")
