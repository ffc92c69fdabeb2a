"""The child processes of a command under test (Linux /proc): the forked runs of
``replay --workers`` and ``backtest --workers``."""

from __future__ import annotations

import time
from pathlib import Path


def children_of(pid: int, count: int, timeout: float) -> list[int]:
    """The first ``count`` child processes of ``pid`` once it has them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            text = ""
        found = [int(c) for c in text.split()]
        if len(found) >= count:
            return found[:count]
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not start {count} children in {timeout}s")


def alive(pid: int) -> bool:
    """Running (a zombie not yet reaped by its parent counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"
