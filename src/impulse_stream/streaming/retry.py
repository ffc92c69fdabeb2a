"""Retrying Redis and Kafka: the worker waits and tries again, it never gives up.

The batch path, the employer clusters and the households (``memberships.py``)
retry through the same loop. A store error also marks the batch *interrupted*:
the store may have come back without its data, so the batch path checks its
checkpoints again before it writes anything it read before the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from impulse_stream.errors import PublishFailed, StoreUnavailable
from impulse_stream.store.base import CustomerStore
from impulse_stream.streaming.metrics import Metrics

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class RetryPolicy:
    """How long the worker waits before it retries Redis or Kafka (never gives up)."""

    first_delay: float = 0.05
    max_delay: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class Retrying:
    """Calls a store or publisher method until it succeeds, with exponential backoff."""

    def __init__(
        self, policy: RetryPolicy, metrics: Metrics, store: CustomerStore | None = None
    ) -> None:
        self.policy = policy
        self.metrics = metrics
        self.store = store  # its calls are timed (redis_rtt); None: nothing is timed
        self.stopping = False  # set on shutdown: a pending retry ends the batch
        self.interrupted = False  # a store error since the flag was last cleared

    async def __call__(
        self, call: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        delay = self.policy.first_delay
        while True:
            started = time.perf_counter()
            try:
                result = await call(*args, **kwargs)
            except StoreUnavailable as exc:
                self.interrupted = True  # the store may have come back without its data
                self.metrics.store_errors.inc()
                log.warning("state store unavailable, retrying in %.2fs: %s", delay, exc)
            except PublishFailed as exc:
                self.metrics.publish_errors.inc()
                log.warning("kafka publish failed, retrying in %.2fs: %s", delay, exc)
            else:
                if self.store is not None and getattr(call, "__self__", None) is self.store:
                    self.metrics.redis_rtt.observe(time.perf_counter() - started)
                return result
            if self.stopping:
                raise asyncio.CancelledError("worker stopping")
            await self.policy.sleep(delay)
            delay = min(delay * 2, self.policy.max_delay)
