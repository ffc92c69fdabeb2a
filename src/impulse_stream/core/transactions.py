"""Transactions into aggregates, and the detectors that read bookings."""

from __future__ import annotations

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.events import Transaction
from impulse_stream.core.run import DecisionRun


class TransactionDetectors:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def on_transaction(self, run: DecisionRun, tx: Transaction) -> None:
        return None
