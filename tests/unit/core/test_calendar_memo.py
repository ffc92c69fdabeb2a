"""The calendar sweep's memo changes nothing: same outputs with and without it."""

from __future__ import annotations

import msgspec

from impulse_stream.core.engine import DecisionEngine

from .conftest import replay
from .test_worked_example import _history


class Forgetful(dict):  # type: ignore[type-arg]
    def __setitem__(self, key: object, value: object) -> None:
        return None


def test_outputs_are_identical_without_the_memo(engine: DecisionEngine) -> None:
    events = _history()
    remembered = replay(engine, events)
    fresh = DecisionEngine(engine.catalogue)
    fresh.calendar._next_days = Forgetful()
    forgotten = replay(fresh, events)
    assert msgspec.json.encode(remembered[1]) == msgspec.json.encode(forgotten[1])
    assert remembered[0] == forgotten[0]
