"""Progress bars (rich) with rate and ETA for the long runs, on stderr.

On a terminal they redraw in place; elsewhere (pipes, CI logs) they stay quiet,
and the command prints its one-line summary as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

STDERR = Console(stderr=True)


class Bar:
    """One task of a progress display: ``advance(steps, items)``; the rate is items/s."""

    def __init__(self, progress: Progress, description: str, total: float | None, unit: str):
        self.progress = progress
        self.items = 0
        self.unit = unit
        self.task = progress.add_task(description, total=total, items=0, unit=unit, rate="")

    def advance(self, steps: float = 1, items: int = 0) -> None:
        self.items += items
        elapsed = self.progress.tasks[self.task].elapsed or 0.0
        rate = f"{self.items / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""
        self.progress.update(self.task, advance=steps, items=self.items, rate=rate)


@contextmanager
def progress_bar(
    description: str, total: float | None, unit: str, console: Console | None = None
) -> Iterator[Bar]:
    """A bar over ``total`` steps (days, messages) counting ``unit`` items, on stderr."""
    console = console or STDERR
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[items]:,} {task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        yield Bar(progress, description, total, unit)
