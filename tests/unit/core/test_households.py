"""Households in the core: the profile's household kept in the state, the memberships it
reports (joined, left, moved, late profiles) and the household and branch on opportunities."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text
from impulse_stream.core.catalogue import ANY_BRANCH, HouseholdCap
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import CustomerProfile, HouseholdMembership
from impulse_stream.core.households import erasure as household_erasure
from impulse_stream.core.outbound import branch_limit, household_period
from impulse_stream.errors import CatalogueError

from .conftest import CUSTOMER, T0, at, opportunities, order, profile


def in_household(household: str | None, days: float = 0) -> CustomerProfile:
    return msgspec.structs.replace(profile(T0 + timedelta(days=days)), household_id=household)


def memberships(engine: DecisionEngine, events) -> tuple[object, list[HouseholdMembership]]:
    state, found = None, []
    for event in events:
        decision = engine.apply(state, event, event.occurred_at)
        state = decision.state
        found += [m for m in decision.memberships if isinstance(m, HouseholdMembership)]
    return state, found


def test_a_profile_with_a_household_joins_it_once(engine) -> None:
    state, found = memberships(engine, [in_household("hh-1"), in_household("hh-1", days=1)])
    assert [(m.household_id, m.customer_id, m.status, m.since) for m in found] == [
        ("hh-1", CUSTOMER, "joined", T0)
    ]
    assert state.household == "hh-1"


def test_a_mover_leaves_the_old_household_and_joins_the_new_one_at_the_same_time(engine) -> None:
    _, found = memberships(engine, [in_household("hh-1"), in_household("hh-2", days=3)])
    assert [(m.household_id, m.status, m.since) for m in found] == [
        ("hh-1", "joined", T0),
        ("hh-1", "left", T0 + timedelta(days=3)),
        ("hh-2", "joined", T0 + timedelta(days=3)),
    ]


def test_a_profile_without_a_household_leaves_it(engine) -> None:
    state, found = memberships(engine, [in_household("hh-1"), in_household(None, days=1)])
    assert [(m.household_id, m.status) for m in found] == [("hh-1", "joined"), ("hh-1", "left")]
    assert state.household is None


def test_an_older_profile_arriving_late_does_not_move_the_customer_back(engine) -> None:
    state, found = memberships(engine, [in_household("hh-1", days=5), in_household("hh-2", days=2)])
    assert [(m.household_id, m.status) for m in found] == [("hh-1", "joined")]
    assert state.household == "hh-1"


def test_the_same_profiles_give_the_same_membership_ids(engine) -> None:
    events = [in_household("hh-1"), in_household("hh-2", days=3)]
    _, first = memberships(engine, events)
    _, second = memberships(engine, events)
    assert [m.membership_id for m in first] == [m.membership_id for m in second]
    assert len({m.membership_id for m in first}) == 3


def test_opportunities_carry_the_household_and_branch_and_keep_their_ids(engine) -> None:
    events = [profile(), order("started", at(0)), order("step_completed", at(1), step=2)]
    plain = _opened(engine, events)
    with_household = _opened(engine, [in_household("hh-1", days=-30), *events[1:]])
    assert plain and [o.opportunity_id for o in plain] == [o.opportunity_id for o in with_household]
    assert {(o.household_id, o.branch_id) for o in with_household} == {("hh-1", "br-3")}
    assert {o.household_id for o in plain} == {None}


def _opened(engine: DecisionEngine, events) -> list:
    state, out = None, []
    for event in events:
        decision = engine.apply(state, event, event.occurred_at)
        state = decision.state
        out += opportunities(decision.outputs)
    decision = engine.advance(state, at(120))
    return out + opportunities(decision.outputs)


def test_household_periods_are_the_same_blocks_of_days_for_everyone() -> None:
    start = household_period(date(2026, 11, 23), 7)
    assert (date(2026, 11, 23) - start).days < 7
    days = [start + timedelta(days=n) for n in range(7)]
    assert {household_period(d, 7) for d in days} == {start}
    assert household_period(start + timedelta(days=7), 7) == start + timedelta(days=7)
    assert household_period(date(2026, 11, 23), 1) == date(2026, 11, 23)


def test_a_branch_limit_is_the_branchs_own_else_the_default_else_none() -> None:
    limits = {"br-x": {"call_centre": 1}, ANY_BRANCH: {"call_centre": 40, "letter": 9}}
    assert branch_limit(limits, "br-x", "call_centre") == 1
    assert branch_limit(limits, "br-x", "letter") == 9
    assert branch_limit(limits, "br-y", "call_centre") == 40
    assert branch_limit(limits, "br-y", "sms") is None
    assert branch_limit(limits, None, "call_centre") is None
    assert branch_limit({}, "br-x", "call_centre") is None


HOUSEHOLD_LINE = "  household_cap: {max_contacts: 6, period_days: 30}\n"


def policy_catalogue(lines: str):
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    assert HOUSEHOLD_LINE in text
    return parse_catalogue_text(text.replace(HOUSEHOLD_LINE, lines), "bank.yaml")


def test_the_catalogue_reads_the_household_cap_and_the_branch_capacity() -> None:
    cat = policy_catalogue(
        "  household_cap: {max_contacts: 2, period_days: 7}\n"
        '  branch_capacity: {"*": {call_centre: 40}, br-x: {call_centre: 1, letter: 5}}\n'
    )
    assert cat.policy.household_cap == HouseholdCap(2, 7)
    assert dict(cat.policy.branch_capacity["br-x"]) == {"call_centre": 1, "letter": 5}
    assert dict(cat.policy.branch_capacity[ANY_BRANCH]) == {"call_centre": 40}
    default = parse_catalogue_text(DEFAULT_CATALOGUE.read_text(encoding="utf-8"), "default")
    assert default.policy.household_cap == HouseholdCap(6, 30)
    assert dict(default.policy.branch_capacity) == {}


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        ("  household_cap: {max_contacts: 2}\n", "household_cap"),
        ("  household_cap: {max_contacts: -1, period_days: 7}\n", "max_contacts"),
        ("  household_cap: {max_contacts: 2, period_days: 0}\n", "period_days"),
        ("  branch_capacity: {br-x: {advisor: 3}}\n", "branch_capacity"),
        ("  branch_capacity: {br-x: {call_centre: -1}}\n", "branch_capacity"),
        ("  branch_capacity: {br x: {call_centre: 1}}\n", "branch_capacity"),
        ("  branch_capacity: {br-x: {}}\n", "branch_capacity"),
    ],
)
def test_a_bad_household_cap_or_branch_capacity_is_refused_with_its_path(
    lines: str, where: str
) -> None:
    with pytest.raises(CatalogueError) as caught:
        policy_catalogue(lines)
    assert where in str(caught.value)


def test_the_erasure_of_a_customer_names_their_current_household(engine) -> None:
    state, _ = memberships(engine, [in_household("hh-1"), in_household("hh-2", days=3)])
    erased = household_erasure(CUSTOMER, state)
    assert erased is not None
    assert (erased.household_id, erased.customer_id, erased.status, erased.since) == (
        "hh-2",
        CUSTOMER,
        "erased",
        T0 + timedelta(days=3),
    )
    # the same state gives the same bytes: a redelivered tombstone publishes it again
    assert msgspec.json.encode(household_erasure(CUSTOMER, state)) == msgspec.json.encode(erased)


def test_a_customer_without_a_household_has_none_to_erase_from(engine) -> None:
    state, _ = memberships(engine, [in_household("hh-1"), in_household(None, days=1)])
    assert household_erasure(CUSTOMER, state) is None
