"""Fixtures for tests that run real workers against the shared Kafka + Redis stack."""

from __future__ import annotations

import pytest

from tests.support.worker_process import WorkerProcess


class Workers:
    """Start workers with ``workers.start(name)``; all are killed at the end of the test."""

    def __init__(self, kafka_bootstrap, redis_url, topic_prefix, redis_prefix, tmp_path) -> None:
        self.prefix = topic_prefix
        self.bootstrap = kafka_bootstrap
        self.redis_url = redis_url
        self.redis_prefix = redis_prefix
        self.tmp_path = tmp_path
        self.started: list[WorkerProcess] = []

    def start(self, name: str = "w1", ready: bool = True, **env: str) -> WorkerProcess:
        w = WorkerProcess(
            self.bootstrap,
            self.redis_url,
            self.prefix,
            self.redis_prefix,
            self.tmp_path,
            name,
            **env,
        ).start()
        self.started.append(w)
        if ready:
            w.wait_ready()
        return w

    def kill_all(self) -> None:
        for w in self.started:
            if w.alive:
                w.kill()


@pytest.fixture
def workers(kafka_bootstrap, redis_url, topic_prefix, redis_prefix, make_topics, tmp_path):
    """Workers on the session's redis-server."""
    make_topics(topic_prefix, 6)
    started = Workers(kafka_bootstrap, redis_url, topic_prefix, redis_prefix, tmp_path)
    yield started
    started.kill_all()


@pytest.fixture
def cluster_workers(
    kafka_bootstrap, redis_cluster_url, topic_prefix, redis_prefix, make_topics, tmp_path
):
    """Workers whose state store is the session's Redis Cluster (``REDIS_URL=redis+cluster://``)."""
    make_topics(topic_prefix, 6)
    started = Workers(kafka_bootstrap, redis_cluster_url, topic_prefix, redis_prefix, tmp_path)
    yield started
    started.kill_all()
