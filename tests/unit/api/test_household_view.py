"""The household part of the customer 360: the other members whose state names the
household, by customer id, at most MAX_HOUSEHOLD_MEMBERS, with their top opportunity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from impulse_stream.api.customer_view import MAX_HOUSEHOLD_MEMBERS, household_view
from impulse_stream.core.state import CustomerState, OpportunityState, Profile, new_state

T = datetime(2026, 11, 23, tzinfo=UTC)


def member(cid: str, household: str | None = "hh-1", *opps: tuple[str, float]) -> CustomerState:
    state = msgspec.structs.replace(
        new_state(cid),
        household=household,
        profile=Profile(known=True, advisor_id="adv-" + cid, segment="private"),
        opportunities=tuple(
            OpportunityState(oid, "act-" + oid, T, T + timedelta(days=7), (), p, 1, 1)
            for oid, p in opps
        ),
    )
    return state


def test_no_household_gives_none() -> None:
    assert household_view(member("c-1", None), [member("c-2")]) is None


def test_the_other_members_are_listed_by_id_with_the_top_opportunity() -> None:
    me = member("c-1")
    others = [member("c-3"), member("c-2", "hh-1", ("o-1", 10.0), ("o-2", 30.0)), me]
    view = household_view(me, others)
    assert view is not None and view["household_id"] == "hh-1"
    assert [m["customer_id"] for m in view["members"]] == ["c-2", "c-3"]
    two, three = view["members"]
    assert (two["open_opportunities"], two["top_opportunity"]["opportunity_id"]) == (2, "o-2")
    assert (two["advisor_id"], two["segment"]) == ("adv-c-2", "private")
    assert (three["open_opportunities"], three["top_opportunity"]) == (0, None)


def test_a_member_whose_state_names_another_household_is_left_out() -> None:
    view = household_view(member("c-1"), [member("c-2", "hh-9"), member("c-3")])
    assert view is not None and [m["customer_id"] for m in view["members"]] == ["c-3"]


def test_at_most_the_maximum_of_members_are_listed() -> None:
    many = [member(f"c-{n:03d}") for n in range(MAX_HOUSEHOLD_MEMBERS + 5)]
    view = household_view(member("c-999"), many)
    assert view is not None and len(view["members"]) == MAX_HOUSEHOLD_MEMBERS
    assert view["members"][0]["customer_id"] == "c-000"
