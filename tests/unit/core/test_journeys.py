"""Customer journeys driven through years of generated event time (pure core)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from impulse_stream.api.customer_view import customer_360
from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    Consents,
    Contract,
    InputEvent,
    Opportunity,
    OutputRecord,
)
from impulse_stream.core.journeys import REASON_KIND, add_months
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import CatalogueError

from .conftest import booking, click, contact, profile, replay, response

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)
DATA = Path(__file__).parent / "data"


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def steps_of(outputs: list[OutputRecord]) -> list[tuple[date, str, tuple[str, ...]]]:
    """The contacts the journeys opened: day, action, channel."""
    return [
        (o.created_at.date(), o.action_id, o.channels)
        for o in outputs
        if isinstance(o, Opportunity) and o.revision == 0 and o.reasons[0].kind == REASON_KIND
    ]


def opened(outputs: list[OutputRecord], action: str) -> list[date]:
    return [
        o.created_at.date()
        for o in outputs
        if isinstance(o, Opportunity) and o.revision == 0 and o.action_id == action
    ]


def progress(state: CustomerState, journey: str):  # type: ignore[no-untyped-def]
    return next(p for p in state.journeys if p.journey == journey)


# --- young customers 16-27 ---------------------------------------------------------


def test_a_young_customer_gets_each_life_phase_once_from_16_to_27(engine: DecisionEngine) -> None:
    start = profile(day(2026, 1, 10), birth=date(2010, 3, 15), segment="young", consents=ALL)
    state, outputs = replay(engine, [start], until=day(2038, 1, 1))
    # The step's channel first, then its later outbound channels as fallbacks (the app is
    # not reachable: the customer never used it).
    assert steps_of(outputs) == [
        (date(2026, 3, 15), "youth_first_account", ("letter", "email")),
        (date(2030, 3, 15), "end_of_education_check", ("email", "letter")),
        (date(2032, 3, 15), "first_salary_savings", ("email", "letter")),
        (date(2036, 3, 15), "young_package_ends", ("email", "letter")),
    ]
    # At 18 the coming-of-age impulse already opened the young-adult offer: the journey's
    # step counts it instead of contacting the customer a second time.
    assert opened(outputs, "young_adult_start") == [date(2028, 3, 15)]
    done = progress(state, "young_customers")
    assert (done.status, done.reason, done.contacts) == ("completed", "last_step", 5)


def test_a_digital_young_customer_hears_in_the_app_and_without_e_mail_consent_by_letter(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2029, 9, 1), birth=date(2010, 3, 15), segment="young",
                    consents=Consents(letter=True, online_banking=True))  # fmt: skip
    logins = [click(day(2030, 3, 1) + timedelta(days=7 * i), "login", channel="app")
              for i in range(4)]  # fmt: skip
    _, outputs = replay(engine, [start, *logins], until=day(2032, 6, 1))
    assert steps_of(outputs) == [
        (date(2030, 3, 15), "end_of_education_check", ("app",)),  # inbound: alone
        (date(2032, 3, 15), "first_salary_savings", ("letter",)),  # the app fell silent
    ]


def test_a_young_customer_who_declines_twice_leaves_the_journey(engine: DecisionEngine) -> None:
    start = profile(day(2026, 1, 10), birth=date(2010, 3, 15), segment="young", consents=ALL)
    state, outputs = replay(engine, [start], until=day(2026, 3, 16))
    first = next(
        o for o in outputs if isinstance(o, Opportunity) and o.reasons[0].kind == REASON_KIND
    )
    no = response(first.opportunity_id, "declined", day(2026, 3, 20), "letter")
    state, _ = replay(engine, [no], state=state, until=day(2030, 3, 16))
    second = progress(state, "young_customers").opportunity_id
    assert second is not None and second != first.opportunity_id
    assert progress(state, "young_customers").declines == 1
    state, outputs = replay(engine, [response(second, "declined", day(2030, 3, 20), "email")],
                            state=state, until=day(2038, 1, 1))  # fmt: skip
    left = progress(state, "young_customers")
    assert (left.status, left.reason, left.declines) == ("exited", "declined", 2)
    assert steps_of(outputs) == []


def test_a_young_customer_who_withdraws_every_consent_leaves_the_journey(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 1, 10), birth=date(2010, 3, 15), segment="young", consents=ALL)
    withdrawn = profile(day(2027, 1, 5), birth=date(2010, 3, 15), segment="young",
                        consents=Consents())  # fmt: skip
    state, outputs = replay(engine, [start, withdrawn], until=day(2038, 1, 1))
    assert [s[1] for s in steps_of(outputs)] == ["youth_first_account"]
    assert progress(state, "young_customers").reason == "consent_withdrawn"


# --- maturing life insurance ---------------------------------------------------------


LIFE = Contract(contract_id="li-1", product="life_insurance", matures_on=date(2030, 6, 1))


def test_a_life_insurance_maturing_in_2030_is_prepared_from_three_years_ahead(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 11, 1), birth=date(1975, 9, 20), contracts=(LIFE,), consents=ALL)
    state, outputs = replay(engine, [start], until=day(2030, 12, 1))
    assert steps_of(outputs) == [
        (date(2027, 6, 1), "maturity_reinvestment", ("letter",)),  # then advisor, app: inbound
        (date(2028, 6, 1), "maturity_reinvestment", ("advisor",)),
        # 2029-06-01: the product_maturing impulse opened the offer; the journey counts it.
        (date(2030, 3, 1), "maturity_reinvestment", ("call_centre", "letter")),
        (date(2030, 6, 1), "maturity_payout_notice", ("letter", "email")),
    ]
    assert opened(outputs, "maturity_reinvestment") == [
        date(2027, 6, 1), date(2028, 6, 1), date(2029, 6, 1), date(2030, 3, 1),
    ]  # fmt: skip
    assert progress(state, "maturing_life_insurance").contacts == 5


def test_a_letter_the_bank_just_sent_holds_the_journey_step_until_its_cooling_off_ends(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 11, 1), birth=date(1975, 9, 20), contracts=(LIFE,), consents=ALL)
    sent = contact(day(2027, 5, 27), "letter", "letter_sent", action_id="maturity_reinvestment")
    _, outputs = replay(engine, [start, sent], until=day(2027, 7, 1))
    # Cooling-off (14 days) from 27 May: the step due on 1 June is tried daily and goes
    # out on the first day the policy allows, 10 June.
    assert [s[:2] for s in steps_of(outputs)] == [(date(2027, 6, 10), "maturity_reinvestment")]


def test_buying_the_reinvestment_fund_ends_the_maturity_journey(engine: DecisionEngine) -> None:
    start = profile(day(2026, 11, 1), birth=date(1975, 9, 20), contracts=(LIFE,), consents=ALL)
    bought = profile(day(2028, 9, 1), birth=date(1975, 9, 20), contracts=(LIFE,), consents=ALL,
                     products=("current_account", "investment_fund"))  # fmt: skip
    state, outputs = replay(engine, [start, bought], until=day(2030, 12, 1))
    assert [s[0] for s in steps_of(outputs)] == [date(2027, 6, 1), date(2028, 6, 1)]
    assert progress(state, "maturing_life_insurance").reason == "bought"


# --- 57 without a life insurance ---------------------------------------------------------


def test_a_57_year_old_without_provision_gets_a_check_and_a_reminder(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2027, 1, 1), birth=date(1970, 5, 10), consents=ALL)
    state, outputs = replay(engine, [start], until=day(2028, 5, 1))
    # On the 57th birthday the retirement impulse opens the check (the journey counts it),
    # half a year later the journey sends the reminder by letter.
    assert opened(outputs, "retirement_provision_check") == [date(2027, 5, 10), date(2027, 11, 10)]
    assert steps_of(outputs) == [(date(2027, 11, 10), "retirement_provision_check", ("letter",))]
    assert progress(state, "provision_at_57").status == "completed"


def test_a_57_year_old_with_a_life_insurance_never_enters(engine: DecisionEngine) -> None:
    start = profile(day(2027, 1, 1), birth=date(1970, 5, 10), consents=ALL,
                    products=("current_account", "life_insurance"))  # fmt: skip
    state, outputs = replay(engine, [start], until=day(2028, 6, 1))
    assert not [p for p in state.journeys if p.journey == "provision_at_57"]
    assert opened(outputs, "retirement_provision_check") == []


# --- the C-customer pool ---------------------------------------------------------------


def test_the_c_customer_pool_gets_2_to_4_contacts_a_year_never_twice_on_one_channel(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 1, 1), birth=date(1985, 2, 2), advisor=None, consents=ALL)
    _state, outputs = replay(engine, [start], until=day(2029, 1, 1))
    contacts = [s for s in steps_of(outputs) if s[1] == "pool_financial_check"]
    for year in (2026, 2027, 2028):
        assert 2 <= sum(1 for d, _, _ in contacts if d.year == year) <= 4, year
    channels = [c[0] for _, _, c in contacts]
    assert all(a != b for a, b in pairwise(channels)), channels
    # The fallbacks never repeat the previous contact's channel either.
    assert all(a not in b for (_, _, (a, *_)), (_, _, b) in pairwise(contacts)), contacts
    assert contacts[0][0] == date(2026, 1, 31)
    assert all((b[0] - a[0]).days == 120 for a, b in pairwise(contacts))


def test_a_pool_customer_who_gets_an_advisor_leaves_the_pool(engine: DecisionEngine) -> None:
    start = profile(day(2026, 1, 1), birth=date(1985, 2, 2), advisor=None, consents=ALL)
    advised = profile(day(2026, 3, 1), birth=date(1985, 2, 2), advisor="adv-9", consents=ALL)
    state, outputs = replay(engine, [start, advised], until=day(2027, 1, 1))
    assert [s[0] for s in steps_of(outputs)] == [date(2026, 1, 31)]
    assert progress(state, "c_customer_pool").reason == "advisor_assigned"


# --- income A/B customers ----------------------------------------------------------------


def _salaries(months: range, amount: str, year: int = 2026) -> list[InputEvent]:
    return [booking(day(year, m, 1), amount, category="salary") for m in months]


def test_an_income_a_customer_whose_salary_rose_gets_the_appointment_the_digital_check_and_more(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2025, 12, 1), birth=date(1980, 1, 5), segment="income_a", consents=ALL)
    pay = [*_salaries(range(1, 4), "3000"), *_salaries(range(4, 13), "3600"),
           *_salaries(range(1, 4), "3600", year=2027)]  # fmt: skip
    state, outputs = replay(engine, [start, *pay], until=day(2027, 4, 1))
    journey = steps_of(outputs)
    # The increase on 1 April opened the reserve offer itself; the journey counted it.
    assert opened(outputs, "financial_reserve_offer")[0] == date(2026, 4, 1)
    p = progress(state, "income_growth")
    assert p.entered_day == date(2026, 4, 1).toordinal()
    assert journey == [
        (date(2026, 4, 1), "income_group_appointment", ("advisor",)),  # the advisor appointment
        (date(2026, 6, 15), "income_group_appointment", ("email",)),  # the digital check
        (date(2026, 9, 15), "retirement_provision_check", ("advisor",)),
        (date(2027, 3, 15), "membership_offer", ("letter", "call_centre")),
    ]


def test_a_customer_who_becomes_income_b_enters_the_income_journey_on_income_group_reached(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2025, 12, 1), birth=date(1980, 1, 5), consents=ALL)
    richer = profile(day(2026, 2, 10), birth=date(1980, 1, 5), segment="income_b", consents=ALL)
    logins = [click(day(2026, 3, 1) + timedelta(days=7 * i), "login", channel="app")
              for i in range(60)]  # fmt: skip
    state, outputs = replay(engine, [start, richer, *logins], until=day(2028, 6, 1))
    # The impulse opened the appointment on the advisor (the customer was not digital yet);
    # the journey's first step counts it, its later steps follow the customer's channels.
    appointment = next(
        o for o in outputs
        if isinstance(o, Opportunity) and o.action_id == "income_group_appointment"
        and o.reasons[0].kind == "income_group_reached"
    )  # fmt: skip
    assert (appointment.created_at.date(), appointment.channels[0]) == (
        date(2026, 2, 10),
        "advisor",
    )
    assert steps_of(outputs) == [
        (date(2026, 2, 24), "financial_reserve_offer", ("advisor",)),
        (date(2026, 4, 24), "income_group_appointment", ("online_banking",)),  # self-service
        (date(2026, 7, 24), "retirement_provision_check", ("call_centre", "letter")),
        (date(2027, 1, 24), "membership_offer", ("letter", "call_centre")),
    ]
    done = progress(state, "income_growth")
    assert (done.entered_day, done.status, done.contacts) == (
        date(2026, 2, 10).toordinal(), "completed", 5,
    )  # fmt: skip


def test_a_journey_entered_on_one_impulse_still_loads_from_a_single_kind() -> None:
    text = _with("      impulse: [salary_increase, income_group_reached]",
                 "      impulse: income_group_reached")  # fmt: skip
    journey = parse_catalogue_text(text, "journeys.yaml").journey("income_growth")
    assert journey is not None and journey.entry.impulses == ("income_group_reached",)


def test_a_retail_customer_whose_salary_rose_is_not_in_the_income_journey(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2025, 12, 1), birth=date(1980, 1, 5), consents=ALL)
    pay = [*_salaries(range(1, 4), "3000"), *_salaries(range(4, 8), "3600")]
    state, _ = replay(engine, [start, *pay], until=day(2026, 9, 1))
    assert not [p for p in state.journeys if p.journey == "income_growth"]


# --- format, state, views -------------------------------------------------------------------


def test_month_arithmetic_keeps_the_day_or_takes_the_month_end() -> None:
    assert add_months(date(2030, 6, 1), -36) == date(2027, 6, 1)
    assert add_months(date(2027, 3, 31), -1) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)


def _with(old: str, new: str) -> str:
    text = Path(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def test_a_step_without_when_is_refused_with_its_file_and_line() -> None:
    old = "      - {id: first_account, when: {at_age: 16}, action: youth_first_account,"
    text = _with(old, "      - {id: first_account, action: youth_first_account,")
    line = 1 + next(i for i, t in enumerate(text.splitlines()) if "id: first_account," in t)
    with pytest.raises(CatalogueError) as err:
        parse_catalogue_text(text, "journeys.yaml")
    assert str(err.value) == (
        f"journeys.yaml:{line}: $.journeys[0].steps[0]: 'when' is a required property"
    )


def test_a_step_on_a_channel_its_action_does_not_run_on_is_refused() -> None:
    old = "action: youth_first_account, channels: [letter, email, app]"
    text = _with(old, "action: youth_first_account, channels: [letter, atm]")
    with pytest.raises(CatalogueError, match=r"\$\.journeys\[0\]\.steps\[0\]\.channels\[1\]: "
                       "action 'youth_first_account' does not run on atm"):  # fmt: skip
        parse_catalogue_text(text, "journeys.yaml")


def test_a_journey_entered_on_an_unknown_impulse_is_refused() -> None:
    text = _with("      impulse: [salary_increase, income_group_reached]",
                 "      impulse: [salary_increase, lottery_win]")  # fmt: skip
    with pytest.raises(
        CatalogueError, match=r"journeys\[4\]\.entry\.impulse\[1\]: unknown impulse kind 'lottery"
    ):
        parse_catalogue_text(text, "journeys.yaml")


def test_journey_progress_is_bounded_and_survives_the_state_codec(engine: DecisionEngine) -> None:
    start = profile(day(2026, 1, 1), birth=date(2009, 5, 1), advisor=None, consents=ALL,
                    contracts=(LIFE,))  # fmt: skip
    state, _ = replay(engine, [start], until=day(2031, 1, 1))
    assert {p.journey for p in state.journeys} == {
        "young_customers", "c_customer_pool", "maturing_life_insurance",
    }  # fmt: skip
    assert len(state.journeys) <= len(engine.catalogue.journeys)
    assert decode_state(encode_state(state)) == state
    assert len(encode_state(state)) < 2048


def test_a_state_stored_before_journeys_existed_enters_them_at_its_next_advance(
    engine: DecisionEngine,
) -> None:
    stored = decode_state(
        bytes.fromhex((DATA / "worked_example_state.hex").read_text(encoding="utf-8"))
    )
    assert stored.journeys == () and stored.journeys_checked_day == 0
    assert stored.clock is not None
    later = engine.advance(stored, stored.clock + timedelta(hours=1)).state
    assert [p.journey for p in later.journeys] == ["provision_at_57"]  # aged 57, no provision


def test_a_changed_journey_version_ends_the_old_progress_and_starts_over(
    catalogue: Catalogue,
) -> None:
    engine = DecisionEngine(catalogue)
    start = profile(day(2026, 1, 10), birth=date(2010, 3, 15), segment="young", consents=ALL)
    state, _ = replay(engine, [start], until=day(2027, 1, 1))
    young = catalogue.journey("young_customers")
    assert young is not None
    bumped = dataclasses.replace(young, version=2)
    v2 = DecisionEngine(dataclasses.replace(
        catalogue, journeys=tuple(bumped if j.id == young.id else j for j in catalogue.journeys)
    ))  # fmt: skip
    state, outputs = replay(v2, [], state=state, until=day(2030, 4, 1))
    assert progress(state, "young_customers").version == 2
    assert [s[1] for s in steps_of(outputs)] == ["end_of_education_check"]


def test_the_360_view_shows_where_the_customer_stands_in_each_journey(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 11, 1), birth=date(1975, 9, 20), contracts=(LIFE,), consents=ALL)
    state, _ = replay(engine, [start], until=day(2028, 7, 1))
    view = customer_360(engine, state, day(2028, 7, 1))
    assert list(view["journeys"]) == [
        {
            "journey": "maturing_life_insurance",
            "version": 1,
            "status": "active",
            "entered_on": "2027-06-01",
            "next_step": "one_year",
            "due_on": "2029-06-01",
            "contacts": 2,
            "last_channel": "advisor",
            "last_contact_on": "2028-06-01",
            "declines": 0,
            "reason": None,
        }
    ]
