"""The replay's event-time clock: the recording's ends release events as they are read."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.datatools.replay import BATCH, recorded_input_clock
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher, InboundMessage


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> list[InboundMessage]:
    out: Path = tmp_path_factory.mktemp("month")
    write_files(GenerateSpec(100, 30, 4), out, 6)
    return [m for _, m in read_timed_recordings(recording_files([out]))]


def _replay(
    messages: list[InboundMessage], clock: dict[str, Any]
) -> tuple[list[int], dict[tuple[str, str], list[bytes]]]:
    """Held events after each batch, and each customer's outputs per topic."""
    publisher = CollectingPublisher()
    processor = BatchProcessor(DecisionEngine(load_catalogue()), MemoryStore(), publisher, **clock)
    held: list[int] = []

    async def run() -> None:
        for start in range(0, len(messages), BATCH):
            await processor.process(messages[start : start + BATCH])
            held.append(processor.clock.held_count())
        await processor.flush()

    asyncio.run(run())
    outputs: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for m in publisher.messages:
        assert m.value is not None
        outputs[(m.topic, orjson.loads(m.value)["customer_id"])].append(m.value)
    return held, outputs


def test_a_replay_releases_events_as_it_reads_them_not_all_at_the_end(
    month: list[InboundMessage],
) -> None:
    """The recording has no ``employers.clusters`` record: that topic must not hold the
    clock until the end. It did: every event of the replay waited in memory and was
    decided in one go at the end, each event-time day with the learning snapshot of
    the replay's start (no responses learned), unlike the live worker. The outputs are
    now those of the batch path fed as a live worker that is caught up is fed."""
    assert len(month) > 4 * BATCH
    held, outputs = _replay(month, recorded_input_clock(month))
    # A topic holds the clock until it speaks or its recorded end is read; after that
    # the events are released batch by batch, and the last batch leaves none held.
    assert max(held) < len(month) / 2 and held[-1] == 0, held
    held_to_end, old = _replay(month, {"topic_idle_seconds": float("inf")})
    assert held_to_end[-1] == len(month), held_to_end  # the old clock: all held to the end
    _, live = _replay(month, {})  # every topic idle at once: each batch released
    assert outputs == live
    assert old != live
