"""The engine as the worker ranks with it: the catalogue plus what responses taught.

The worker decides each event-time day with the acceptance statistics of
every earlier day (``CustomerStore.acceptance_before(day)``, see
``streaming/processor.py``). Readers of the state (the 360 API, the agent
desktop) rank with the same snapshot, so that a screen never shows an order
the worker no longer believes in.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.learning import AcceptanceStatistics
from impulse_stream.store.base import CustomerStore

# Late responses may still add to earlier days; a reader re-reads the snapshot this often.
REFRESH_SECONDS = 30.0
_DAYS_KEPT = 4


class LearnedEngine:
    """``await learned.on(moment)``: the base engine with the statistics before ``moment``'s day."""

    def __init__(
        self, engine: DecisionEngine, store: CustomerStore, refresh: float = REFRESH_SECONDS
    ) -> None:
        self.base = engine
        self.store = store
        self.refresh = refresh
        self._engines: dict[date, tuple[float, DecisionEngine]] = {}

    async def on(self, moment: datetime) -> DecisionEngine:
        """Raises ``StoreUnavailable`` when the statistics cannot be read."""
        day = moment.astimezone(UTC).date()
        cached = self._engines.get(day)
        if cached is not None and time.monotonic() - cached[0] < self.refresh:
            return cached[1]
        counts = await self.store.acceptance_before(day)
        engine = self.base.with_statistics(AcceptanceStatistics(counts))
        self._engines[day] = (time.monotonic(), engine)
        while len(self._engines) > _DAYS_KEPT:
            del self._engines[min(self._engines)]
        return engine
