"""A Faust transport whose consumer hands messages to the agents faster.

Faust's ``Consumer._drain_messages`` awaits, for every single message,
``wait_first(callback(message), suspend_flow.wait())``: it creates two tasks
and a wait set per message so that a rebalance can interrupt a delivery that
blocks on a full stream buffer. Measured with ``make bench`` (docs/bench.md):
this consumer cuts a do-nothing ``take_events`` agent's CPU per message by
about 40 % (85 -> 49 us), but its throughput only by 3-9 %: the rest of Faust's
per-message path and the hand-off from its consumer thread bound it.

This consumer awaits ``callback(message)`` directly while the flow runs and
the buffer of the message's topic has room, so the callback cannot block; it
falls back to Faust's interruptible ``wait_first`` otherwise. Everything else
(offset bookkeeping, gaps, commit cadence, stop handling) is Faust's logic
unchanged. ``bench/`` measures both side by side.

Selected with the broker URL scheme ``impulse://`` (registered below);
``IMPULSE_STREAM_FAST_DRAIN=0`` keeps Faust's own consumer (``kafka://``).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service


class FastDrainConsumer(faust_aiokafka.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - hot loop
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        has_room = _buffer_room(self.app)
        yield_every = 100
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        since_yield += 1
                        if since_yield > yield_every:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if not suspended() and has_room(message.topic):
                                await callback(message)
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


def _buffer_room(app: Any) -> Any:
    """``has_room(topic)``: every channel subscribed to ``topic`` can take a message now."""

    index = app.topics._topic_name_index

    def has_room(topic: str) -> bool:
        channels = index.get(topic)
        if not channels:
            return False  # unknown: take Faust's interruptible path
        for channel in channels:
            queue = channel.queue
            if queue.maxsize and queue.qsize() >= queue.maxsize - 1:
                return False
        return True

    return has_room


class Transport(faust_aiokafka.Transport):
    Consumer = FastDrainConsumer


drivers.TRANSPORTS.aliases["impulse"] = "impulse_stream.streaming.transport:Transport"
