"""Dead letters: a message the worker cannot use, byte for byte, with why and where.

The original key and value go to the dead-letter topic with the headers of
``contract/deadletter.py`` (reason, detail, topic, partition, offset, stage,
time); the ``dead_letters`` metric counts them by reason and input topic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from impulse_stream.contract import topics as contract_topics
from impulse_stream.contract.deadletter import dead_letter_headers
from impulse_stream.streaming.messages import InboundMessage, OutboundMessage
from impulse_stream.streaming.metrics import Metrics


class DeadLetters:
    """Turns a failed input message into its dead letter."""

    def __init__(self, topic_prefix: str, metrics: Metrics, wall_clock: Callable[[], float]):
        self.topic = topic_prefix + contract_topics.DEAD_LETTERS
        self.metrics = metrics
        self.wall_clock = wall_clock

    def letter(
        self, message: InboundMessage, logical: str, reason: str, detail: str, stage: str
    ) -> OutboundMessage:
        self.metrics.dead_letters.labels(reason, logical).inc()
        headers = dead_letter_headers(
            reason=reason,
            detail=detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            stage=stage,
            failed_at=datetime.fromtimestamp(self.wall_clock(), UTC),
        )
        return OutboundMessage(self.topic, message.key, message.value, tuple(headers))
