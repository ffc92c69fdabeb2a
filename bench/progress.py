"""How every consumer in the benchmark is timed, the same way for all of them.

The clock starts when the first batch has been handed over (its events are
not counted) and stops when the last expected event is done, so start-up,
group join and partition assignment are left out for every contender:

    rate = (expected - first batch) / (done - first batch handed over)

The same two moments also read the process's CPU time (user + system, all
threads). CPU per event does not depend on what else runs on the machine, so
it stays comparable between runs where the wall-clock rate does not.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson


@dataclass
class DrainClock:
    expect: int
    count: int = 0
    first_at: float | None = None
    first_count: int = 0
    done_at: float | None = None
    first_cpu: float | None = None  # CPU seconds of the measured process at first_at
    done_cpu: float | None = None

    @property
    def done(self) -> bool:
        return self.count >= self.expect

    def advance(self, n: int, now: float | None = None, cpu: float | None = None) -> None:
        """``n`` more events are done (a batch).

        ``now`` is the wall-clock time and ``cpu`` the measured process's CPU
        seconds; both default to this process's own.
        """
        if n <= 0:
            return
        now = time.time() if now is None else now
        cpu = time.process_time() if cpu is None else cpu
        self.count += n
        if self.first_at is None:
            self.first_at, self.first_count, self.first_cpu = now, self.count, cpu
        if self.done and self.done_at is None:
            self.done_at, self.done_cpu = now, cpu

    def rate(self) -> float | None:
        if self.first_at is None or self.done_at is None or self.done_at <= self.first_at:
            return None
        return (self.count - self.first_count) / (self.done_at - self.first_at)

    def cpu_per_event(self) -> float | None:
        """CPU seconds the process spent per event between the two moments."""
        if self.first_cpu is None or self.done_cpu is None or self.count <= self.first_count:
            return None
        return (self.done_cpu - self.first_cpu) / (self.count - self.first_count)

    def write(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> DrainClock:
        return cls(**orjson.loads(path.read_bytes()))
