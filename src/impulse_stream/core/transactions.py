"""A booking (``bank.transactions``): update the aggregates and the employer (a
salary's payer), then run the detectors that listen to bookings (registry order,
so outputs are deterministic)."""

from __future__ import annotations

from impulse_stream.core.aggregates import update_aggregates
from impulse_stream.core.catalogue import AggregateRules
from impulse_stream.core.detection import Detectors
from impulse_stream.core.employers import on_salary
from impulse_stream.core.events import Transaction
from impulse_stream.core.run import DecisionRun


def on_transaction(
    run: DecisionRun, tx: Transaction, aggregates: AggregateRules, detectors: Detectors
) -> None:
    before = run.state
    run.update(aggregates=update_aggregates(before.aggregates, tx, aggregates))
    on_salary(run, tx)
    detectors.on_event(run, tx, before)
