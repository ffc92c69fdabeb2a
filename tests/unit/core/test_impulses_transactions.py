"""Impulses read from bookings: one positive and one negative case each."""

from __future__ import annotations

from datetime import timedelta

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import InputEvent

from .conftest import T0, booking, impulse_kinds, profile, replay


def _salaries(*amounts: str) -> list[InputEvent]:
    months = range(12 - len(amounts), 12)
    return [
        booking(T0.replace(month=m, day=1, hour=6), a, category="salary", name="Acme GmbH")
        for m, a in zip(months, amounts, strict=True)
    ]


def _run(engine: DecisionEngine, events: list[InputEvent], **kw: object) -> list[str]:
    _, outputs = replay(engine, [profile(T0 - timedelta(days=400), **kw), *events])  # type: ignore[arg-type]
    return impulse_kinds(outputs)


def test_salary_up_13_percent_over_the_three_month_average_is_an_impulse(
    engine: DecisionEngine,
) -> None:
    assert "salary_increase" in _run(engine, _salaries("3000", "3000", "3000", "3400"))


def test_salary_up_5_percent_is_not(engine: DecisionEngine) -> None:
    assert "salary_increase" not in _run(engine, _salaries("3000", "3000", "3000", "3150"))


def test_salary_increase_needs_three_months_of_history(engine: DecisionEngine) -> None:
    assert "salary_increase" not in _run(engine, _salaries("3000", "3400"))


def test_first_salary_of_a_student(engine: DecisionEngine) -> None:
    kinds = _run(engine, _salaries("1200"), occupation="student")
    assert "first_salary" in kinds


def test_first_salary_not_for_an_older_employee_or_the_second_salary(
    engine: DecisionEngine,
) -> None:
    assert "first_salary" not in _run(engine, _salaries("3000"))
    assert _run(engine, _salaries("1200", "1200"), occupation="student").count("first_salary") == 1


def test_large_incoming_payment(engine: DecisionEngine) -> None:
    assert "large_incoming_payment" in _run(
        engine, [booking(T0, "25000", name="Notary Inheritance")]
    )
    assert "large_incoming_payment" not in _run(engine, [booking(T0, "800", name="Friend")])


def _balances(*values: str) -> list[InputEvent]:
    return [
        booking(T0 + timedelta(days=i), "10", "debit", balance=v, name="Shop")
        for i, v in enumerate(values)
    ]


def test_balance_well_above_usual(engine: DecisionEngine) -> None:
    assert "balance_above_usual" in _run(engine, _balances(*(["2000"] * 10), "15000"))


def test_balance_slightly_above_usual_is_not(engine: DecisionEngine) -> None:
    assert "balance_above_usual" not in _run(engine, _balances(*(["2000"] * 10), "2600"))


def test_recurring_overdraft_over_two_months(engine: DecisionEngine) -> None:
    days = [T0 - timedelta(days=d) for d in (50, 48, 45, 40, 20, 18, 15, 10)]
    events: list[InputEvent] = [
        booking(d, "50", "debit", balance="-300", name="Shop") for d in days
    ]
    assert "recurring_overdraft" in _run(engine, events)


def test_occasional_overdraft_is_not_recurring(engine: DecisionEngine) -> None:
    days = [T0 - timedelta(days=d) for d in (40, 10)]
    events: list[InputEvent] = [
        booking(d, "50", "debit", balance="-300", name="Shop") for d in days
    ]
    assert "recurring_overdraft" not in _run(engine, events)


def test_insurance_premium_to_a_competitor(engine: DecisionEngine) -> None:
    tx = booking(T0, "85", "debit", category="insurance_premium", name="ERGO Lebensversicherung AG")
    _, outputs = replay(engine, [profile(T0 - timedelta(days=10)), tx])
    impulse = next(o for o in outputs if getattr(o, "kind", "") == "competitor_payment")
    evidence = {e.name: e.value for e in impulse.evidence}  # type: ignore[union-attr]
    assert evidence["product"] == "life_insurance" and evidence["competitor"] == "Ergo"


def test_building_savings_recognised_by_iban_prefix(engine: DecisionEngine) -> None:
    tx = booking(T0, "100", "debit", category="building_savings", iban="DE12500105170648489890")
    assert "competitor_payment" in _run(engine, [tx])


def test_payment_to_a_non_competitor_or_another_category_is_not(engine: DecisionEngine) -> None:
    assert "competitor_payment" not in _run(
        engine, [booking(T0, "85", "debit", category="insurance_premium", name="Our Own Insurance")]
    )
    assert "competitor_payment" not in _run(
        engine, [booking(T0, "85", "debit", category="groceries", name="Allianz Arena Kiosk")]
    )


def test_missed_instalment_and_overdraft_past_limit_ask_for_a_friendly_contact(
    engine: DecisionEngine,
) -> None:
    missed = booking(T0, "250", "credit", category="returned_debit", name="Loan")
    past_limit = booking(
        T0 + timedelta(days=1), "90", "debit", balance="-2100", overdraft_limit="2000"
    )
    assert _run(engine, [missed, past_limit]).count("payment_difficulty") == 2


def test_overdraft_within_limit_is_no_payment_difficulty(engine: DecisionEngine) -> None:
    within = booking(T0, "90", "debit", balance="-1500", overdraft_limit="2000")
    assert "payment_difficulty" not in _run(engine, [within])


def test_balance_drained_is_a_sign_of_leaving(engine: DecisionEngine) -> None:
    events = [
        *_balances(*(["8000"] * 10)),
        booking(T0 + timedelta(days=11), "7900", "debit", balance="100"),
    ]
    assert "balance_drained" in _run(engine, events)


def test_an_ordinary_large_debit_is_not_draining(engine: DecisionEngine) -> None:
    events = [
        *_balances(*(["8000"] * 10)),
        booking(T0 + timedelta(days=11), "1500", "debit", balance="6500"),
    ]
    assert "balance_drained" not in _run(engine, events)


def test_card_used_abroad(engine: DecisionEngine) -> None:
    tx = booking(T0, "40", "debit", country="ES", card_id="card-1", name="Bar Madrid")
    assert "card_used_abroad" in _run(engine, [tx])


def test_card_used_at_home_is_not_abroad(engine: DecisionEngine) -> None:
    tx = booking(T0, "40", "debit", country="DE", card_id="card-1", name="Bäcker")
    assert "card_used_abroad" not in _run(engine, [tx])
