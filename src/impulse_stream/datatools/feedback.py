"""An agent beside the backtest's batch path, and the loop that feeds it.

Live, the employer agent and the outbound selector read what the worker
publishes and answer on topics the worker reads again. A backtest has no
Kafka: after each batch, every message of the ``listens`` topic the batch path
published goes to the agent, and its answers go back into the batch path at
once, each on its customer's partition (the partition the customer's events
came on), numbered per partition like a topic's offsets. Answers that publish
more messages are fed the same way until none is left.
"""

from __future__ import annotations

from collections.abc import Sequence

from impulse_stream.contract import codec
from impulse_stream.core.events import ChannelContact, EmployerCluster
from impulse_stream.streaming.messages import CollectingPublisher, OutboundMessage
from impulse_stream.streaming.processor import BatchProcessor, InboundMessage

Answer = EmployerCluster | ChannelContact  # the records the backtest's agents answer with


class Feedback:
    """Feeds one agent: ``listens`` is the topic it reads, ``answers`` the one it writes."""

    listens: str
    answers: str

    def __init__(self, processor: BatchProcessor, publisher: CollectingPublisher) -> None:
        self.processor = processor
        self.publisher = publisher
        self.seen = 0  # the publisher's messages looked at so far
        self.partitions: dict[bytes, int] = {}  # customer -> partition
        self.offsets: dict[int, int] = {}  # next answer offset per partition

    def heard(self, batch: Sequence[InboundMessage]) -> None:
        for m in batch:
            if m.key is not None:
                self.partitions.setdefault(m.key, m.partition)

    async def after_batch(self) -> None:
        topic = self.processor.prefix + self.listens
        while self.seen < len(self.publisher.messages):
            new = self.publisher.messages[self.seen :]
            self.seen = len(self.publisher.messages)
            answers: list[InboundMessage] = []
            for m in new:
                if m.topic == topic and m.value is not None:
                    answers += [self._inbound(a) for a in await self.answer(m)]
            if answers:
                await self.processor.process(answers)

    async def answer(self, message: OutboundMessage) -> Sequence[Answer]:
        """What the agent answers to one message of ``listens``."""
        raise NotImplementedError

    def _inbound(self, answer: Answer) -> InboundMessage:
        key = answer.customer_id.encode()
        partition = self.partitions.get(key, 0)
        offset = self.offsets.get(partition, 0)
        self.offsets[partition] = offset + 1
        topic = self.processor.prefix + self.answers
        return InboundMessage(topic, partition, offset, key, codec.encode(answer))
