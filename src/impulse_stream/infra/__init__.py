"""Local infrastructure run by the project itself: a Kafka broker (KRaft, jars from Maven
Central) and a redis-server (Debian), as plain processes on loopback.

``Stack`` is the one entry point for the CLI, the demo and the tests; see docs/infra.md.
"""

from impulse_stream.infra.admin import create_topics, create_topics_async, probe_kafka
from impulse_stream.infra.install import ensure_kafka_jars, ensure_redis_server
from impulse_stream.infra.settings import StackSettings
from impulse_stream.infra.stack import ServiceStatus, Stack

__all__ = [
    "ServiceStatus",
    "Stack",
    "StackSettings",
    "create_topics",
    "create_topics_async",
    "ensure_kafka_jars",
    "ensure_redis_server",
    "probe_kafka",
]
