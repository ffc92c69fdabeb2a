"""The outbound selector admits the day's contacts within a daily capacity shared in Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from impulse_stream.core.events import Opportunity, Texts
from impulse_stream.streaming.outbound import DailyCapacity, OutboundSelector

DAY = date(2026, 11, 23)
TEXTS = Texts(instruction="Call about the card.", argument="a", objections="o",
              info_url="https://bank.example/")  # fmt: skip


def opportunity(n: int, priority: float, channels: tuple[str, ...], revision: int = 0,
                status: str = "open") -> Opportunity:  # fmt: skip
    created = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    return Opportunity(
        opportunity_id=f"opp-{n:03d}",
        revision=revision,
        customer_id=f"c-{n}",
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=priority,
        rank=1,
        status=status,  # type: ignore[arg-type]
        reasons=(),
        channels=channels,  # type: ignore[arg-type]
        texts=TEXTS,
        valid_until=created + timedelta(days=7),
        created_at=created,
        rules_version="2026.11.1",
    )


@pytest.fixture
async def client(redis_url):  # type: ignore[no-untyped-def]
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_the_n_plus_first_call_waits_for_the_next_day(client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(client, {"call_centre": 3}, prefix=redis_prefix)
    selector = OutboundSelector(capacity)
    for n, priority in enumerate([50.0, 90.0, 70.0, 10.0]):
        selector.observe(opportunity(n, priority, ("call_centre",)))
    first = await selector.select(DAY)
    assert [a.contact.opportunity_id for a in first] == ["opp-001", "opp-002", "opp-000"]
    assert await capacity.used("call_centre", DAY) == 3
    assert list(selector.pending) == ["opp-003"]
    second = await selector.select(DAY + timedelta(days=1))
    assert [(a.contact.opportunity_id, a.contact.day, a.contact.carried_over)
            for a in second] == [("opp-003", DAY + timedelta(days=1), 1)]  # fmt: skip
    ttl = await client.ttl(capacity.key("call_centre", DAY))
    assert 0 < ttl <= 3 * 86400


async def test_the_n_plus_first_goes_to_its_fallback_channel_with_the_texts(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    capacity = DailyCapacity(client, {"call_centre": 2, "letter": 10}, prefix=redis_prefix)
    selector = OutboundSelector(capacity)
    for n in range(3):
        selector.observe(opportunity(n, 60.0 - n, ("call_centre", "letter")))
    admitted = await selector.select(DAY)
    assert [(a.contact.opportunity_id, a.contact.channel, a.contact.fallback)
            for a in admitted] == [("opp-000", "call_centre", False),
                                    ("opp-001", "call_centre", False),
                                    ("opp-002", "letter", True)]  # fmt: skip
    assert admitted[2].contact.texts.instruction == "Call about the card."
    recorded = admitted[2].recorded
    assert (recorded.kind, recorded.channel, recorded.action_id) == (
        "letter_sent", "letter", "finish_credit_card_order",
    )  # fmt: skip
    assert recorded.event_id == admitted[2].contact.contact_id


async def test_two_workers_share_the_counter_and_a_replay_counts_nothing_twice(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    limits = {"call_centre": 3}
    a = OutboundSelector(DailyCapacity(client, limits, prefix=redis_prefix))
    b = OutboundSelector(DailyCapacity(client, limits, prefix=redis_prefix))
    for n in range(2):
        a.observe(opportunity(n, 80.0, ("call_centre",)))
        b.observe(opportunity(10 + n, 80.0, ("call_centre",)))
    got = [x.contact.opportunity_id for x in await a.select(DAY)]
    got += [x.contact.opportunity_id for x in await b.select(DAY)]
    assert got == ["opp-000", "opp-001", "opp-010"]
    assert list(b.pending) == ["opp-011"]
    # A restarted worker replays the day: the same contacts, the counter unchanged.
    replay = OutboundSelector(DailyCapacity(client, limits, prefix=redis_prefix))
    for n in range(2):
        replay.observe(opportunity(n, 80.0, ("call_centre",)))
    again = [x.contact.opportunity_id for x in await replay.select(DAY)]
    assert again == ["opp-000", "opp-001"]
    assert await a.capacity.used("call_centre", DAY) == 3


async def test_withdrawn_and_snoozed_opportunities_are_not_called(client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    selector = OutboundSelector(DailyCapacity(client, {"call_centre": 5}, prefix=redis_prefix))
    selector.observe(opportunity(1, 50.0, ("call_centre",)))
    selector.observe(opportunity(1, 50.0, ("call_centre",), revision=1, status="withdrawn"))
    selector.observe(opportunity(2, 40.0, ("online_banking", "app")))  # no outbound channel
    import msgspec

    snoozed = msgspec.structs.replace(
        opportunity(3, 30.0, ("call_centre",)), snoozed_until=datetime(2026, 11, 25, tzinfo=UTC)
    )
    selector.observe(snoozed)
    assert await selector.select(DAY) == []
    assert list(selector.pending) == ["opp-003"]  # waits for the end of the snooze
    woken = await selector.select(date(2026, 11, 25))
    assert [(x.contact.opportunity_id, x.contact.carried_over) for x in woken] == [("opp-003", 0)]
