"""The calendar sweep: date-based impulses, at most once per customer and day."""

from __future__ import annotations

from datetime import date

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState


class CalendarSweep:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def next_day(self, state: CustomerState, after: date) -> date | None:
        return None

    def sweep(self, run: DecisionRun, day: date) -> None:
        return None
