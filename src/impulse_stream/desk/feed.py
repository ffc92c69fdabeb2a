"""The live feed: new opportunities of the open customer, pushed to the desktop.

One consumer per desk process reads the ``opportunities`` topic from its end
(no consumer group: every desk sees every partition) and hands each message
to the desktops that have that customer open; the page receives them as
server-sent events and refreshes its actions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

QUEUE_SIZE = 100


class OpportunityFeed:
    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self._listeners: dict[bytes, set[asyncio.Queue[bytes]]] = defaultdict(set)

    @contextlib.contextmanager
    def listen(self, customer_id: str) -> Iterator[asyncio.Queue[bytes]]:
        """A queue of the customer's opportunity messages (JSON) while the block runs."""
        key = customer_id.encode()
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._listeners[key].add(queue)
        try:
            yield queue
        finally:
            self._listeners[key].discard(queue)
            if not self._listeners[key]:
                del self._listeners[key]

    def publish(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or not value:
            return
        for queue in self._listeners.get(key, ()):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled page misses updates
                queue.put_nowait(value)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for m in messages:
                    self.publish(m.key, m.value)
