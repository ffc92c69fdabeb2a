"""The agents that keep group memberships (``employers.members``, ``households.members``).

The core reports a membership when a customer's employer or household
changes; the worker re-keys it by group, so every membership of one group
lands on one partition and one worker at a time applies it to the group's
Redis hash (``store/groups.py``). :class:`MembershipFeed` is what both agents
share: decode a message (key = the group id), dead-letter what breaks the
contract (``deadletters.py``, the message's reason, topic, partition and
offset), and apply the rest through the worker's retry loop (``retry.py``:
Redis or Kafka being away is retried until they are back, the message is not
acknowledged before). What a membership does beyond the count is the
subclass's ``apply``: the employer clusters tell the members at the
catalogue's size, the households only keep their members.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from impulse_stream.core.events import EmployerMembership, HouseholdMembership
from impulse_stream.errors import DecodeFailure
from impulse_stream.store.groups import GroupMembers
from impulse_stream.streaming.deadletters import DeadLetters
from impulse_stream.streaming.messages import InboundMessage, Publisher, raw_topic
from impulse_stream.streaming.metrics import Metrics
from impulse_stream.streaming.retry import Retrying, RetryPolicy

if TYPE_CHECKING:
    import faust

M = TypeVar("M", EmployerMembership, HouseholdMembership)
Out = TypeVar("Out")


class MembershipFeed(Generic[M, Out]):
    """Applies the memberships of one internal topic to their groups in Redis."""

    topic: ClassVar[str]  # the logical topic read
    agent: ClassVar[str]  # the Faust agent's name

    def __init__(
        self,
        groups: GroupMembers,
        publisher: Publisher,
        topic_prefix: str = "",
        metrics: Metrics | None = None,
        wall_clock: Callable[[], float] = lambda: datetime.now(UTC).timestamp(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.groups = groups
        self.publisher = publisher
        self.topic_prefix = topic_prefix
        self.metrics = metrics if metrics is not None else Metrics()
        self.dead_letters = DeadLetters(topic_prefix, self.metrics, wall_clock)
        self.retrying = Retrying(RetryPolicy(sleep=sleep), self.metrics)

    def decode(self, key: bytes | None, value: bytes | None) -> M:
        raise NotImplementedError

    async def apply(self, membership: M) -> list[Out]:
        raise NotImplementedError

    async def on_message(
        self, key: bytes | None, value: bytes | None, partition: int = 0, offset: int = 0
    ) -> list[Out]:
        """One message of the topic; returns what ``apply`` returned (nothing if dead)."""
        try:
            membership = self.decode(key, value)
        except DecodeFailure as failure:
            message = InboundMessage(self.topic_prefix + self.topic, partition, offset, key, value)
            dead = self.dead_letters.letter(
                message, self.topic, failure.reason, str(failure), "decode"
            )
            await self.retrying(self.publisher.publish, [dead])
            return []
        return await self.retrying(self.apply, membership)

    def register(self, app: faust.App) -> Any:
        """The Faust agent on the topic (the worker's own partitions)."""
        source = raw_topic(app, self.topic_prefix + self.topic)

        async def consume(stream: Any) -> None:
            async for event in stream.events():
                m = event.message
                await self.on_message(m.key, m.value, m.partition, m.offset)

        return app.agent(source, name=self.agent)(consume)


__all__ = ["MembershipFeed"]
