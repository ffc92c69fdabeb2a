"""Date-based impulses found by the calendar sweep, and profile impulses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Card, Consents, Contract, InputEvent

from .conftest import T0, booking, impulse_kinds, profile, replay

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)


def _sweep(
    engine: DecisionEngine, start: datetime, days: int, *extra: InputEvent, **kw: object
) -> list[str]:
    _, outputs = replay(
        engine,
        [profile(start, **kw), *extra],
        until=start + timedelta(days=days),  # type: ignore[arg-type]
    )
    return impulse_kinds(outputs)


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, tzinfo=UTC)


def test_birthday_on_the_day(engine: DecisionEngine) -> None:
    kinds = _sweep(engine, _day(2026, 3, 1), 10, birth=date(1980, 3, 5))
    assert kinds.count("birthday") == 1


def test_no_birthday_outside_the_day(engine: DecisionEngine) -> None:
    assert "birthday" not in _sweep(engine, _day(2026, 3, 6), 20, birth=date(1980, 3, 5))


def test_leap_day_birthday_is_celebrated_on_28_february(engine: DecisionEngine) -> None:
    _, outputs = replay(
        engine, [profile(_day(2027, 2, 20), birth=date(2004, 2, 29))], until=_day(2027, 3, 2)
    )
    birthdays = [o for o in outputs if getattr(o, "kind", "") == "birthday"]
    assert [b.occurred_at.date() for b in birthdays] == [date(2027, 2, 28)]  # type: ignore[union-attr]


def test_turns_18(engine: DecisionEngine) -> None:
    assert "coming_of_age" in _sweep(engine, _day(2026, 5, 1), 30, birth=date(2008, 5, 10))


def test_not_18_yet_or_long_past(engine: DecisionEngine) -> None:
    assert "coming_of_age" not in _sweep(engine, _day(2026, 5, 1), 30, birth=date(2009, 5, 10))
    assert "coming_of_age" not in _sweep(engine, _day(2026, 5, 1), 30, birth=date(2000, 5, 10))


def test_retirement_approaching_at_57_without_life_insurance(engine: DecisionEngine) -> None:
    assert (
        _sweep(engine, _day(2026, 1, 1), 60, birth=date(1969, 1, 20)).count(
            "retirement_approaching"
        )
        == 1
    )


def test_no_retirement_impulse_with_life_insurance_or_at_50(engine: DecisionEngine) -> None:
    insured = _sweep(
        engine,
        _day(2026, 1, 1),
        60,
        birth=date(1969, 1, 20),
        products=("current_account", "life_insurance"),
    )
    assert "retirement_approaching" not in insured
    assert "retirement_approaching" not in _sweep(
        engine, _day(2026, 1, 1), 60, birth=date(1976, 1, 20)
    )


def test_life_insurance_maturing_within_12_months(engine: DecisionEngine) -> None:
    contract = Contract(contract_id="li-1", product="life_insurance", matures_on=date(2027, 3, 1))
    kinds = _sweep(engine, _day(2026, 2, 20), 20, contracts=(contract,))
    assert kinds.count("product_maturing") == 1


def test_contract_maturing_in_two_years_is_not_yet_an_impulse(engine: DecisionEngine) -> None:
    contract = Contract(contract_id="fd-1", product="fixed_deposit", matures_on=date(2028, 6, 1))
    assert "product_maturing" not in _sweep(engine, _day(2026, 2, 20), 20, contracts=(contract,))


def test_card_expiring_within_60_days(engine: DecisionEngine) -> None:
    card = Card(card_id="card-1", expires_on=date(2026, 4, 30))
    assert "card_expiring" in _sweep(engine, _day(2026, 2, 20), 20, cards=(card,))


def test_card_expiring_next_year_is_not(engine: DecisionEngine) -> None:
    card = Card(card_id="card-1", expires_on=date(2027, 4, 30))
    assert "card_expiring" not in _sweep(engine, _day(2026, 2, 20), 20, cards=(card,))


def test_missing_advertising_consent_asks_for_it_once(engine: DecisionEngine) -> None:
    kinds = _sweep(engine, _day(2026, 2, 1), 60, consents=Consents(phone=True))
    assert kinds.count("missing_consent") == 1


def test_complete_consent_is_no_impulse(engine: DecisionEngine) -> None:
    assert "missing_consent" not in _sweep(engine, _day(2026, 2, 1), 60, consents=ALL)


def test_salary_stopped_arriving_is_a_sign_of_leaving(engine: DecisionEngine) -> None:
    start = _day(2026, 1, 1)
    salaries = [
        booking(start.replace(month=m, day=2), "3000", category="salary") for m in (1, 2, 3)
    ]
    kinds = _sweep(engine, start, 150, *salaries)
    assert kinds.count("salary_stopped") == 1


def test_regular_salary_is_no_sign_of_leaving(engine: DecisionEngine) -> None:
    start = _day(2026, 1, 1)
    salaries = [
        booking(start.replace(month=m, day=2), "3000", category="salary") for m in range(1, 7)
    ]
    assert "salary_stopped" not in _sweep(engine, start, 160, *salaries)


@pytest.fixture(scope="module")
def pool_engine(catalogue: Catalogue) -> DecisionEngine:
    """The default catalogue with the pool detector on (the c_customer_pool journey replaces
    it there) and without journeys."""
    rule = dataclasses.replace(catalogue.detectors["c_pool_contact_due"], enabled=True)
    detectors = {**catalogue.detectors, "c_pool_contact_due": rule}
    return DecisionEngine(dataclasses.replace(catalogue, detectors=detectors, journeys=()))


def test_c_customer_pool_is_reached_2_to_4_times_a_year_on_changing_channels(
    pool_engine: DecisionEngine,
) -> None:
    engine = pool_engine
    start = _day(2026, 1, 1)
    _, outputs = replay(
        engine, [profile(start, advisor=None, consents=ALL)], until=start + timedelta(days=365)
    )
    pool = [o for o in outputs if getattr(o, "kind", "") == "c_pool_contact_due"]
    assert 2 <= len(pool) <= 4
    channels = [next(e.value for e in p.evidence if e.name == "channel") for p in pool]  # type: ignore[union-attr]
    assert all(a != b for a, b in pairwise(channels))


def test_customers_with_an_advisor_are_not_in_the_pool(pool_engine: DecisionEngine) -> None:
    assert "c_pool_contact_due" not in _sweep(pool_engine, _day(2026, 1, 1), 365, consents=ALL)


def test_next_wakeup_is_the_next_date_with_work_not_every_midnight(engine: DecisionEngine) -> None:
    state, _ = replay(engine, [profile(_day(2026, 3, 6), birth=date(1980, 3, 5), consents=ALL)])
    assert engine.next_wakeup(state) == datetime(2027, 3, 5, tzinfo=UTC)


def test_new_membership_on_the_profile_is_thanked(engine: DecisionEngine) -> None:
    before = profile(T0 - timedelta(days=5))
    after = profile(T0, products=("current_account", "membership"))
    _, outputs = replay(engine, [before, after])
    assert "new_purchase" in impulse_kinds(outputs)


def test_first_profile_is_not_a_purchase(engine: DecisionEngine) -> None:
    _, outputs = replay(engine, [profile(T0, products=("current_account", "membership"))])
    assert "new_purchase" not in impulse_kinds(outputs)


def test_card_blocked_is_a_service_impulse(engine: DecisionEngine) -> None:
    active = profile(T0 - timedelta(days=5), cards=(Card(card_id="card-1"),))
    blocked = profile(T0, cards=(Card(card_id="card-1", status="blocked"),))
    _, outputs = replay(engine, [active, blocked])
    assert "card_blocked" in impulse_kinds(outputs)
    _, outputs = replay(engine, [active, profile(T0, cards=(Card(card_id="card-1"),))])
    assert "card_blocked" not in impulse_kinds(outputs)


def test_a_birthday_between_two_events_weeks_apart_fires_whether_or_not_its_timer_ran(
    engine: DecisionEngine,
) -> None:
    """A worker whose batch carries the clock past a customer's wake-up applies the
    customer's next event before the timer: the event's ``apply`` must fire the
    calendar days in between at their own time, as the timer would have, or the
    outputs depend on where batches end (a birthday 16 days before the next event
    was skipped as an "old" calendar day)."""
    events = [
        profile(_day(2026, 3, 1), birth=date(1980, 3, 5)),
        booking(_day(2026, 3, 21), "10.00", "debit"),
    ]
    _, with_timers = replay(engine, events, until=_day(2026, 3, 22))
    state, no_timers = None, []
    for event in events:  # each event alone, no advance() in between (one big batch)
        decision = engine.apply(state, event, event.occurred_at)
        state, no_timers = decision.state, no_timers + list(decision.outputs)
    assert state is not None
    no_timers += list(engine.advance(state, _day(2026, 3, 22)).outputs)
    assert impulse_kinds(with_timers).count("birthday") == 1
    assert no_timers == with_timers
