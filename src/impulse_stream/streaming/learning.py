"""Learning from responses: per event-time day, one snapshot of the acceptance statistics.

Each event-time day decides with the statistics of all responses of earlier
days, read from the store when the worker first meets that day; the
responses of a batch are added to their day's counts in the store.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.learning import AcceptanceObservation, AcceptanceStatistics
from impulse_stream.store.base import CustomerStore
from impulse_stream.streaming.retry import Retrying

ENGINE_DAYS = 4  # event-time days whose statistics snapshot stays cached


class LearningSnapshots:
    """The per-day engines (the catalogue's engine with that day's statistics)."""

    def __init__(self, engine: DecisionEngine, store: CustomerStore, retrying: Retrying) -> None:
        self.engine = engine
        self.store = store
        self.retrying = retrying
        self.engines: dict[date, DecisionEngine] = {}

    def engine_for(self, moment: datetime) -> DecisionEngine:
        """The engine with the acceptance statistics of the days before ``moment``'s day."""
        day = moment.astimezone(UTC).date()
        engine = self.engines.get(day)
        if engine is not None:
            return engine
        earlier = [d for d in self.engines if d < day]
        return self.engines[max(earlier)] if earlier else self.engine

    async def prepare(self, days: set[date]) -> None:
        """Read the snapshots of ``days`` not cached yet (one round trip each)."""
        for day in sorted(days - set(self.engines)):
            counts = await self.retrying(self.store.acceptance_before, day)
            self.engines[day] = self.engine.with_statistics(AcceptanceStatistics(counts))
        while len(self.engines) > ENGINE_DAYS:
            del self.engines[min(self.engines)]

    async def learn(self, observations: list[AcceptanceObservation]) -> None:
        """Add the batch's responses to their day's counts."""
        by_day: dict[date, dict[tuple[str, str, str], tuple[int, int]]] = defaultdict(dict)
        for o in observations:
            counts = by_day[o.at.astimezone(UTC).date()]
            key = (o.action_id, o.segment, o.channel)
            a, d = counts.get(key, (0, 0))
            counts[key] = (a + o.accepted, d + (not o.accepted))
        for day, counts in sorted(by_day.items()):
            await self.retrying(self.store.add_acceptance, day, counts)
