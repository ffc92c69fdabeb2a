"""Transactions condensed into rolling aggregates (raw bookings are never kept).

- income per calendar month for the last ``income_months`` months (categories
  in ``aggregates.income_categories``), months with salary, last salary day;
- usual balance: exponentially smoothed ``balance_after`` (weight
  ``balance_smoothing`` for a new booking), the number of samples and the last
  balance;
- overdraft days: distinct days with a negative balance (the newest 31);
- recurring counterparties of debits: months seen and the last month (top 5).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from impulse_stream.core.catalogue import AggregateRules
from impulse_stream.core.dates import month_index, utc_day
from impulse_stream.core.events import Transaction
from impulse_stream.core.ids import short_key
from impulse_stream.core.state import (
    MAX_OVERDRAFT_DAYS,
    MAX_PAYEES,
    Aggregates,
    MonthIncome,
    RecurringPayee,
)

_SAMPLE_CAP = 1000
_MONTH_CAP = 999


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_EVEN))


def is_income(tx: Transaction, rules: AggregateRules) -> bool:
    return tx.direction == "credit" and tx.category in rules.income_categories


def payee_key(tx: Transaction) -> str | None:
    name = tx.counterparty.name.strip().lower()
    if name:
        return short_key("name", name)
    if tx.counterparty.iban:
        return short_key("iban", tx.counterparty.iban)
    return None


def update_aggregates(agg: Aggregates, tx: Transaction, rules: AggregateRules) -> Aggregates:
    month = month_index(tx.booked_at)
    income = agg.income
    salary_months = agg.salary_months
    last_salary = agg.last_salary_on
    if is_income(tx, rules):
        by_month = {m.month: m.cents for m in income}
        if month not in by_month:
            salary_months = min(_MONTH_CAP, salary_months + 1)
        by_month[month] = by_month.get(month, 0) + cents(tx.amount)
        kept = sorted(by_month.items())[-rules.income_months :]
        income = tuple(MonthIncome(m, c) for m, c in kept)
        day = utc_day(tx.booked_at)
        last_salary = day if last_salary is None or day > last_salary else last_salary
    usual, samples, last_balance = agg.usual_balance, agg.balance_samples, agg.last_balance
    overdraft = agg.overdraft_days
    if tx.balance_after is not None:
        balance = cents(tx.balance_after)
        last_balance = balance
        usual = (
            balance if usual is None else round(usual + rules.balance_smoothing * (balance - usual))
        )
        samples = min(_SAMPLE_CAP, samples + 1)
        if balance < 0:
            day_no = utc_day(tx.booked_at).toordinal()
            overdraft = tuple(sorted(set(overdraft) | {day_no}))[-MAX_OVERDRAFT_DAYS:]
    payees = agg.payees
    key = payee_key(tx) if tx.direction == "debit" else None
    if key is not None:
        found = next((p for p in payees if p.key == key), None)
        label = tx.counterparty.name.strip()[:24] or (tx.counterparty.iban or "")[:24]
        if found is None:
            entry = RecurringPayee(key, label, 1, month)
        elif month > found.last_month:
            entry = RecurringPayee(key, found.label, min(_MONTH_CAP, found.months + 1), month)
        else:
            entry = found
        others = [p for p in payees if p.key != key]
        ranked = sorted([*others, entry], key=lambda p: (-p.months, -p.last_month, p.key))
        payees = tuple(ranked[:MAX_PAYEES])
    return Aggregates(
        income=income,
        salary_months=salary_months,
        last_salary_on=last_salary,
        usual_balance=usual,
        balance_samples=samples,
        last_balance=last_balance,
        overdraft_days=overdraft,
        payees=payees,
    )


def income_of(agg: Aggregates, month: int) -> int | None:
    return next((m.cents for m in agg.income if m.month == month), None)
