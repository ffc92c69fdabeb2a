"""The outbound selector on the real redis-server: a household's contacts are capped per
period, a branch's call-centre capacity per day, both shared and idempotent under replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from impulse_stream.core.catalogue import HouseholdCap
from impulse_stream.core.events import Opportunity, Texts
from impulse_stream.core.outbound import household_period
from impulse_stream.streaming.outbound import DailyCapacity, HouseholdContacts, OutboundSelector

pytestmark = pytest.mark.integration

# The first day of a 3-day household period, so the period's days are DAY .. DAY + 2.
DAY = household_period(date(2026, 11, 23), 3)
TEXTS = Texts(instruction="Call about the card.", argument="a", objections="o",
              info_url="https://bank.example/")  # fmt: skip


def opportunity(
    n: int,
    priority: float,
    channels: tuple[str, ...],
    *,
    household: str | None = None,
    branch: str | None = None,
) -> Opportunity:
    created = datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=UTC)
    return Opportunity(
        opportunity_id=f"opp-{n:03d}",
        revision=0,
        customer_id=f"c-{n}",
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=priority,
        rank=1,
        status="open",
        reasons=(),
        channels=channels,  # type: ignore[arg-type]
        texts=TEXTS,
        valid_until=created + timedelta(days=14),
        created_at=created,
        rules_version="2026.11.1",
        branch_id=branch,
        household_id=household,
    )


@pytest.fixture
async def client(redis_url):  # type: ignore[no-untyped-def]
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


def household_selector(client, prefix: str) -> OutboundSelector:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(client, {"call_centre": 100}, prefix=prefix)
    households = HouseholdContacts(client, HouseholdCap(max_contacts=2, period_days=3), prefix)
    selector = OutboundSelector(capacity, households=households)
    for n, priority in enumerate([50.0, 90.0, 70.0]):
        selector.observe(opportunity(n, priority, ("call_centre",), household="hh-1"))
    selector.observe(opportunity(9, 10.0, ("call_centre",), household="hh-2"))
    return selector


async def test_a_household_of_three_with_cap_two_gets_two_contacts_and_the_third_next_period(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    selector = household_selector(client, redis_prefix)
    first = await selector.select(DAY)
    assert [(a.contact.opportunity_id, a.contact.household_id) for a in first] == [
        ("opp-001", "hh-1"), ("opp-002", "hh-1"), ("opp-009", "hh-2"),
    ]  # fmt: skip
    assert selector.households is not None
    assert await selector.households.used("hh-1", DAY) == 2
    assert await selector.households.used("hh-2", DAY) == 1
    # The rest of the period: the third member waits; the next period admits it.
    assert await selector.select(DAY + timedelta(days=1)) == []
    assert await selector.select(DAY + timedelta(days=2)) == []
    later = await selector.select(DAY + timedelta(days=3))
    assert [(a.contact.opportunity_id, a.contact.day, a.contact.carried_over) for a in later] == [
        ("opp-000", DAY + timedelta(days=3), 3)
    ]
    assert await selector.households.used("hh-1", DAY + timedelta(days=3)) == 1


async def test_replaying_the_day_admits_the_same_household_contacts_and_counts_nothing_twice(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    original = await household_selector(client, redis_prefix).select(DAY)
    replayed = await household_selector(client, redis_prefix).select(DAY)
    assert [a.contact for a in replayed] == [a.contact for a in original]
    households = household_selector(client, redis_prefix).households
    assert households is not None and await households.used("hh-1", DAY) == 2


async def test_a_household_slot_is_given_back_when_no_channel_has_capacity(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(client, {"call_centre": 1}, prefix=redis_prefix)
    households = HouseholdContacts(client, HouseholdCap(2, 3), redis_prefix)
    selector = OutboundSelector(capacity, households=households)
    selector.observe(opportunity(1, 90.0, ("call_centre",), household="hh-1"))
    selector.observe(opportunity(2, 80.0, ("call_centre",), household="hh-1"))
    admitted = await selector.select(DAY)
    assert [a.contact.opportunity_id for a in admitted] == ["opp-001"]
    assert await households.used("hh-1", DAY) == 1  # opp-002 found no call-centre slot


def branch_selector(client, prefix: str) -> OutboundSelector:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(
        client,
        {"call_centre": 100, "letter": 100},
        prefix=prefix,
        branch_limits={"br-x": {"call_centre": 1}},
    )
    selector = OutboundSelector(capacity)
    selector.observe(opportunity(1, 90.0, ("call_centre", "letter"), branch="br-x"))
    selector.observe(opportunity(2, 80.0, ("call_centre", "letter"), branch="br-x"))
    selector.observe(opportunity(3, 70.0, ("call_centre",), branch="br-x"))
    selector.observe(opportunity(4, 60.0, ("call_centre",), branch="br-y"))
    selector.observe(opportunity(5, 50.0, ("call_centre",), branch="br-y"))
    return selector


async def test_a_branch_with_capacity_one_admits_one_call_a_day_and_another_branch_is_unaffected(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    selector = branch_selector(client, redis_prefix)
    first = await selector.select(DAY)
    assert [(a.contact.opportunity_id, a.contact.channel, a.contact.fallback,
             a.contact.branch_id) for a in first] == [
        ("opp-001", "call_centre", False, "br-x"),
        ("opp-002", "letter", True, "br-x"),
        ("opp-004", "call_centre", False, "br-y"),
        ("opp-005", "call_centre", False, "br-y"),
    ]  # fmt: skip
    capacity = selector.capacity
    assert await capacity.used("call_centre", DAY, "br-x") == 1
    assert await capacity.used("call_centre", DAY) == 3
    second = await selector.select(DAY + timedelta(days=1))
    assert [(a.contact.opportunity_id, a.contact.channel, a.contact.carried_over)
            for a in second] == [("opp-003", "call_centre", 1)]  # fmt: skip
    replayed = await branch_selector(client, redis_prefix).select(DAY)
    assert [a.contact for a in replayed] == [a.contact for a in first]
    assert await capacity.used("call_centre", DAY, "br-x") == 1


async def test_a_branch_slot_is_given_back_when_the_channels_own_capacity_is_used_up(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(
        client, {"call_centre": 1}, prefix=redis_prefix, branch_limits={"br-x": {"call_centre": 5}}
    )
    selector = OutboundSelector(capacity)
    selector.observe(opportunity(1, 90.0, ("call_centre",), branch="br-y"))
    selector.observe(opportunity(2, 80.0, ("call_centre",), branch="br-x"))
    admitted = await selector.select(DAY)
    assert [a.contact.opportunity_id for a in admitted] == ["opp-001"]
    assert await capacity.used("call_centre", DAY, "br-x") == 0
