"""Impulses from profile changes: standing orders cancelled, start and end of education,
income group A/B. A first profile never fires them: it says nothing about a change."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import CustomerProfile

from .conftest import T0, impulse_kinds, opportunities, profile


def changes(engine: DecisionEngine, *profiles: CustomerProfile) -> list[tuple[str, str]]:
    """(impulse kind, action ids opened) of the last profile of the sequence."""
    state = None
    decision = None
    for p in profiles:
        decision = engine.apply(state, p, p.updated_at)
        state = decision.state
    assert decision is not None
    kinds = impulse_kinds(decision.outputs)
    actions = sorted(o.action_id for o in opportunities(decision.outputs))
    return [(k, ",".join(actions)) for k in kinds]


def later(p: CustomerProfile, days: int = 30, **changes: object) -> CustomerProfile:
    return msgspec.structs.replace(p, updated_at=p.updated_at + timedelta(days=days), **changes)


def with_orders(n: int | None) -> CustomerProfile:
    return msgspec.structs.replace(profile(T0), standing_orders=n)


def test_two_standing_orders_cancelled_open_the_retention_dialog(engine: DecisionEngine) -> None:
    first = with_orders(5)
    assert changes(engine, first, later(first, standing_orders=3)) == [
        ("standing_orders_cancelled", "retention_dialog")
    ]


def test_one_cancelled_standing_order_or_new_ones_are_no_retention_sign(
    engine: DecisionEngine,
) -> None:
    first = with_orders(5)
    assert changes(engine, first, later(first, standing_orders=4)) == []
    assert changes(engine, first, later(first, standing_orders=8)) == []


def test_a_profile_without_the_count_or_a_first_profile_says_nothing_about_standing_orders(
    engine: DecisionEngine,
) -> None:
    assert changes(engine, with_orders(0)) == []
    unknown = with_orders(None)
    assert changes(engine, unknown, later(unknown, standing_orders=0)) == []
    assert changes(engine, with_orders(6), later(with_orders(6), standing_orders=None)) == []


def test_a_pupil_who_starts_studying_gets_the_education_start_package(
    engine: DecisionEngine,
) -> None:
    pupil = profile(T0, occupation="pupil")
    assert changes(engine, pupil, later(pupil, occupation="student")) == [
        ("education_started", "education_start_package")
    ]


def test_an_employee_who_starts_an_apprenticeship_starts_education_and_a_student_does_not_again(
    engine: DecisionEngine,
) -> None:
    employee = profile(T0, occupation="employee")
    kinds = [k for k, _ in changes(engine, employee, later(employee, occupation="apprentice"))]
    assert "education_started" in kinds
    student = profile(T0, occupation="student")
    assert changes(engine, student, later(student, occupation="trainee")) == []
    assert changes(engine, profile(T0, occupation="student")) == []  # a first profile


def test_a_student_who_becomes_an_employee_ends_education(engine: DecisionEngine) -> None:
    student = profile(T0, occupation="student")
    assert changes(engine, student, later(student, occupation="employee")) == [
        ("education_ended", "end_of_education_check")
    ]


def test_an_unknown_occupation_or_another_job_is_no_end_of_education(
    engine: DecisionEngine,
) -> None:
    student = profile(T0, occupation="student")
    assert changes(engine, student, later(student, occupation=None)) == []
    employee = profile(T0, occupation="employee")
    assert changes(engine, employee, later(employee, occupation="self_employed")) == []


def test_reaching_income_group_a_offers_the_advisor_appointment(engine: DecisionEngine) -> None:
    retail = profile(T0, segment="retail")
    assert changes(engine, retail, later(retail, segment="income_a")) == [
        ("income_group_reached", "income_group_appointment")
    ]


def test_moving_between_income_groups_or_a_first_profile_in_one_is_no_new_income_group(
    engine: DecisionEngine,
) -> None:
    b = profile(T0, segment="income_b")
    assert changes(engine, b, later(b, segment="income_a")) == []
    assert changes(engine, profile(T0, segment="income_a")) == []
    retail = profile(T0, segment="retail")
    assert changes(engine, retail, later(retail, segment="private")) == []
