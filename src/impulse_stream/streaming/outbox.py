"""The outbox: outputs written with the state, published, then deleted.

A customer's outputs are written in the same fenced write as the state
(``CustomerWrite.outbox``), published after the write, and deleted from the
store with the *next* read once Kafka acknowledged them. Whoever owns a
partition next publishes what is still there before processing (same bytes,
same ids): a crash between the write and the publish loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from impulse_stream.store.base import CustomerStore, Delivered, StoredCustomer
from impulse_stream.streaming.messages import OutboundMessage, Publisher
from impulse_stream.streaming.metrics import Metrics
from impulse_stream.streaming.retry import Retrying

_OUTBOX = msgspec.msgpack.Encoder()
_OUTBOX_DECODER = msgspec.msgpack.Decoder(list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]])


def encode_outbox(messages: Sequence[OutboundMessage]) -> bytes:
    return _OUTBOX.encode(
        [(m.topic, m.key or b"", m.value or b"", list(m.headers)) for m in messages]
    )


def decode_outbox(blob: bytes) -> list[OutboundMessage]:
    return [
        OutboundMessage(topic, key or None, value, tuple(headers))
        for topic, key, value, headers in _OUTBOX_DECODER.decode(blob)
    ]


class Outbox:
    """Publishing, redelivery after a change of owner, and deletion once acknowledged."""

    def __init__(
        self, store: CustomerStore, publisher: Publisher, retrying: Retrying, metrics: Metrics
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.retrying = retrying
        self.metrics = metrics
        self.delivered: list[Delivered] = []  # acknowledged, deleted with the next read

    async def publish(
        self, messages: list[OutboundMessage], written: Sequence[Delivered] = ()
    ) -> None:
        """Publish ``messages``; once Kafka acknowledged them, the outbox entries
        ``written`` with them are deleted with the next read. Queued before the
        acknowledgement, a shutdown (which deletes what is queued) or a failed
        publish would delete entries whose messages never reached Kafka."""
        if messages:
            await self.retrying(self.publisher.publish, messages)
        self.delivered.extend(written)

    async def redeliver(self, partition: int) -> int:
        """Publish the entries a previous owner wrote but may not have delivered."""
        customers = await self.retrying(self.store.pending, partition)
        count = 0
        if customers:
            loaded = await self.retrying(self.store.outboxes, customers)
            messages: list[OutboundMessage] = []
            delivered: list[Delivered] = []
            for cid, entries in loaded.items():
                for outbox_id, blob in sorted(entries.items(), key=lambda e: int(e[0])):
                    messages.extend(decode_outbox(blob))
                    delivered.append(Delivered(cid, partition, outbox_id))
                    count += 1
            await self.publish(messages)
            await self.retrying(self.store.mark_delivered, delivered)
            self.metrics.outbox_redelivered.inc(count)
        return count

    async def load(self, customer_ids: list[str]) -> dict[str, StoredCustomer]:
        """Read the customers; the acknowledged entries are deleted in the same round trip."""
        delivered, self.delivered = self.delivered, []
        try:
            return await self.retrying(self.store.load, customer_ids, delivered)
        except BaseException:
            self.delivered = delivered + self.delivered
            raise

    async def flush_delivered(self) -> None:
        """Delete acknowledged outbox entries now (on shutdown and revocation)."""
        delivered, self.delivered = self.delivered, []
        if delivered:
            await self.retrying(self.store.mark_delivered, delivered)

    def forget(self, customer_ids: Sequence[str]) -> None:
        """Erased customers: nothing of theirs is left to delete."""
        erased = set(customer_ids)
        self.delivered = [d for d in self.delivered if d.customer_id not in erased]
