"""The batch path's ports: the plain messages it reads and writes, and the publisher.

The batch path knows nothing about Faust or aiokafka: the agent hands it
:class:`InboundMessage` batches, a :class:`Publisher` sends
:class:`OutboundMessage` lists to Kafka and returns once every one is
acknowledged (``transport.py`` for the worker, :class:`CollectingPublisher`
for the reference model and the data tools). :func:`raw_topic` is how every
agent declares the Kafka topics it reads: bytes in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import faust

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class OutboundMessage:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


class Publisher(Protocol):
    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Send all messages and return once Kafka acknowledged every one."""


class CollectingPublisher:
    """Publisher that keeps messages in a list (the reference model, unit tests)."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        self.messages.extend(messages)


def raw_topic(app: faust.App, *names: str) -> Any:
    """The Faust topic (one or several names) of raw bytes: no key or value codec, the
    contract's decoders read the bytes."""
    return app.topic(
        *names,
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer="raw",
    )
