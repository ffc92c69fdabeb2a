"""Fixtures for tests that run real workers against the shared Kafka + Redis stack."""

from __future__ import annotations

import pytest

from tests.support.worker_process import WorkerProcess


@pytest.fixture
def workers(kafka_bootstrap, redis_url, topic_prefix, redis_prefix, make_topics, tmp_path):
    """Start workers with ``workers.start(name)``; all are killed at the end of the test."""
    make_topics(topic_prefix, 6)
    started: list[WorkerProcess] = []

    class Workers:
        prefix = topic_prefix
        bootstrap = kafka_bootstrap

        def start(self, name: str = "w1", ready: bool = True, **env: str) -> WorkerProcess:
            w = WorkerProcess(
                kafka_bootstrap, redis_url, topic_prefix, redis_prefix, tmp_path, name, **env
            ).start()
            started.append(w)
            if ready:
                w.wait_ready()
            return w

    yield Workers()
    for w in started:
        if w.alive:
            w.kill()
