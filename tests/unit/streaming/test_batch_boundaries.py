"""The batch path's outputs do not depend on where batches end."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher, InboundMessage


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> list[InboundMessage]:
    out: Path = tmp_path_factory.mktemp("month")
    write_files(GenerateSpec(120, 30, 3), out, 6)
    return [m for _, m in read_timed_recordings(recording_files([out]))]


def _per_customer(messages: list[InboundMessage], size: int) -> dict[tuple[str, str], list[bytes]]:
    """Each customer's outputs per topic, in order, with batches of ``size`` records."""
    publisher = CollectingPublisher()
    processor = BatchProcessor(DecisionEngine(load_catalogue()), MemoryStore(), publisher)

    async def run() -> None:
        for start in range(0, len(messages), size):
            await processor.process(messages[start : start + size])

    asyncio.run(run())
    outputs: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for m in publisher.messages:
        assert m.value is not None
        outputs[(m.topic, orjson.loads(m.value)["customer_id"])].append(m.value)
    return outputs


def test_a_generated_month_gives_every_customer_the_same_outputs_in_batches_of_any_size(
    month: list[InboundMessage],
) -> None:
    """Batches of 50 fire the customers' timers between their events; batches of 5,000
    carry the clock weeks past a wake-up before the customer's next event is applied.
    Both must give each customer the same impulses, opportunities and memberships (the
    calendar days in between fire at their own time, never skipped as too old)."""
    small, large = _per_customer(month, 50), _per_customer(month, 5000)
    assert sum(len(v) for v in small.values()) > 500
    assert any(t.endswith("impulses") for t, _ in small)
    assert small == large
