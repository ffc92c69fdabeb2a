"""A booking (``bank.transactions``): update the aggregates, run the detectors
that read bookings, in a fixed order (so outputs are deterministic)."""

from __future__ import annotations

from impulse_stream.core.aggregates import update_aggregates
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.events import Transaction
from impulse_stream.core.impulses.balance_above_usual import BalanceAboveUsualDetector
from impulse_stream.core.impulses.balance_drained import BalanceDrainedDetector
from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.impulses.card_used_abroad import CardUsedAbroadDetector
from impulse_stream.core.impulses.competitor_payment import CompetitorPaymentDetector
from impulse_stream.core.impulses.first_salary import FirstSalaryDetector
from impulse_stream.core.impulses.large_incoming_payment import LargeIncomingPaymentDetector
from impulse_stream.core.impulses.payment_difficulty import PaymentDifficultyDetector
from impulse_stream.core.impulses.recurring_overdraft import RecurringOverdraftDetector
from impulse_stream.core.impulses.salary_increase import SalaryIncreaseDetector
from impulse_stream.core.run import DecisionRun


class TransactionDetectors:
    def __init__(self, catalogue: Catalogue) -> None:
        self.rules = catalogue.aggregates

        rule = catalogue.detector
        r = rule("salary_increase")
        self.salary_increase = SalaryIncreaseDetector(r) if r else None
        r = rule("first_salary")
        self.first_salary = FirstSalaryDetector(r) if r else None
        r = rule("large_incoming_payment")
        self.large_incoming = (
            LargeIncomingPaymentDetector(r, self.rules.income_categories) if r else None
        )
        r = rule("balance_above_usual")
        self.balance_above_usual = BalanceAboveUsualDetector(r) if r else None
        r = rule("recurring_overdraft")
        self.recurring_overdraft = RecurringOverdraftDetector(r) if r else None
        r = rule("competitor_payment")
        self.competitor_payment = CompetitorPaymentDetector(r) if r else None
        r = rule("payment_difficulty")
        self.payment_difficulty = PaymentDifficultyDetector(r) if r else None
        r = rule("balance_drained")
        self.balance_drained = BalanceDrainedDetector(r) if r else None
        r = rule("card_used_abroad")
        self.card_used_abroad = CardUsedAbroadDetector(r) if r else None

    def on_transaction(self, run: DecisionRun, tx: Transaction) -> None:
        state = run.state
        before = state.aggregates
        after = update_aggregates(before, tx, self.rules)
        run.update(aggregates=after)
        found: list[Detection | None] = []
        if self.payment_difficulty:
            found.append(self.payment_difficulty.detect(tx))
        if self.first_salary:
            found.append(self.first_salary.detect(state.profile, before, tx))
        if self.salary_increase:
            found.append(self.salary_increase.detect(before, after, tx))
        if self.large_incoming:
            found.append(self.large_incoming.detect(tx))
        if self.balance_above_usual:
            found.append(self.balance_above_usual.detect(before, after, tx))
        if self.balance_drained:
            found.append(self.balance_drained.detect(before, after, tx))
        if self.recurring_overdraft:
            found.append(self.recurring_overdraft.detect(after, tx))
        if self.competitor_payment:
            found.append(self.competitor_payment.detect(tx))
        if self.card_used_abroad:
            found.append(self.card_used_abroad.detect(state.profile.home_country, tx))
        for detection in found:
            if detection is not None:
                run.report(detection)
