"""One rule for the outbound counters: the Redis scripts on the real redis-server
(``DailyCapacity``, ``HouseholdContacts``) and the backtest's memory counters
(``datatools/outbound_memory.py``) give the same answer to every admit and release,
replays of a day included, and an ``OutboundSelector`` on either admits the same
contacts on the same channels."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from impulse_stream.core.catalogue import HouseholdCap
from impulse_stream.core.events import Channel, Opportunity, Texts
from impulse_stream.core.outbound import branch_limit
from impulse_stream.datatools.outbound_memory import (
    CountingSelector,
    MemoryCapacity,
    MemoryHouseholds,
)
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.outbound import DailyCapacity, HouseholdContacts, OutboundSelector

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 2)
CHANNELS: tuple[Channel, ...] = ("call_centre", "letter", "email", "sms")
LIMITS: dict[Channel, int] = {"call_centre": 3, "letter": 5, "sms": 2}  # e-mail: no limit
BRANCHES: dict[str, dict[Channel, int]] = {"*": {"call_centre": 2}, "br-1": {"letter": 1}}
TEXTS = Texts(instruction="Call about the card.", argument="a", objections="o",
              info_url="https://bank.example/")  # fmt: skip


def capacity_steps(seed: int, n: int) -> list[tuple[Channel, date, str, str | None]]:
    """Admits of 15 contacts over 3 days and 3 branches (or none), then the first day
    replayed: the same contacts again, in another order."""
    rng = random.Random(seed)
    steps = [
        (
            rng.choice(CHANNELS),
            DAY + timedelta(days=rng.randrange(3)),
            f"out-{rng.randrange(15)}",
            rng.choice((None, "br-1", "br-2")),
        )
        for _ in range(n)
    ]
    replay = [s for s in steps if s[1] == DAY]
    rng.shuffle(replay)
    return steps + replay


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_the_capacity_scripts_and_the_memory_counters_answer_every_admit_alike(
    redis_url, redis_prefix, seed
) -> None:  # type: ignore[no-untyped-def]
    client = redis_client(redis_url)
    try:
        prefix = f"{redis_prefix}{seed}:"
        live = DailyCapacity(client, LIMITS, prefix=prefix, branch_limits=BRANCHES)
        model = MemoryCapacity(LIMITS, prefix=prefix, branch_limits=BRANCHES)
        answers = []
        for channel, day, contact, branch in capacity_steps(seed, 200):
            a = await live.admit(channel, day, contact, branch)
            assert a == await model.admit(channel, day, contact, branch), (channel, day, contact)
            answers.append(a)
            for b in (None, "br-1", "br-2"):
                used = await live.used(channel, day, b)
                assert used == await model.used(channel, day, b)
                limit = LIMITS.get(channel) if b is None else branch_limit(BRANCHES, b, channel)
                assert limit is None or used <= limit
        assert answers.count(False) > 20 and answers.count(True) > 20  # limits reached, often
    finally:
        await client.aclose()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_household_scripts_and_the_memory_counters_answer_alike(
    redis_url, redis_prefix, seed
) -> None:  # type: ignore[no-untyped-def]
    client = redis_client(redis_url)
    try:
        cap = HouseholdCap(max_contacts=2, period_days=3)
        prefix = f"{redis_prefix}h{seed}:"
        live = HouseholdContacts(client, cap, prefix)
        model = MemoryHouseholds(cap, prefix)
        rng = random.Random(seed)
        refused = 0
        for _ in range(300):
            household = f"hh-{rng.randrange(3)}"
            day = DAY + timedelta(days=rng.randrange(7))
            contact = f"out-{rng.randrange(10)}"
            if rng.random() < 0.7:
                a = await live.admit(household, day, contact)
                assert a == await model.admit(household, day, contact)
                refused += not a
            else:  # a release, of a slot taken or not
                await live.release(household, day, contact)
                await model.release(household, day, contact)
            used = await live.used(household, day)
            assert used == await model.used(household, day) and 0 <= used <= 2
        assert refused > 10
    finally:
        await client.aclose()


def opportunity(n: int, rng: random.Random) -> Opportunity:
    created = datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=UTC)
    return Opportunity(
        opportunity_id=f"opp-{n:03d}",
        revision=0,
        customer_id=f"c-{n}",
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=round(rng.random(), 3),
        rank=1,
        status="open",
        reasons=(),
        channels=tuple(rng.sample(CHANNELS, rng.randrange(1, 3))),
        texts=TEXTS,
        valid_until=created + timedelta(days=rng.randrange(1, 5)),
        created_at=created + timedelta(days=rng.randrange(2)),
        rules_version="2026.11.1",
        branch_id=rng.choice((None, "br-1", "br-2")),
        household_id=rng.choice((None, "hh-1", "hh-2")),
    )


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_selector_on_the_memory_counters_admits_what_it_admits_on_redis(
    redis_url, redis_prefix, seed
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    opportunities = [opportunity(n, rng) for n in range(40)]
    cap = HouseholdCap(max_contacts=3, period_days=3)
    client = redis_client(redis_url)
    try:
        prefix = f"{redis_prefix}s{seed}:"
        live = OutboundSelector(
            DailyCapacity(client, LIMITS, prefix=prefix, branch_limits=BRANCHES),
            max_carry_days=2,
            households=HouseholdContacts(client, cap, prefix),
        )
        model = CountingSelector(
            MemoryCapacity(LIMITS, prefix=prefix, branch_limits=BRANCHES),
            max_carry_days=2,
            households=MemoryHouseholds(cap, prefix),
        )
        for o in opportunities:
            live.observe(o)
            model.observe(o)
        watermark = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=6)
        a = [x.contact for x in await live.advance_to(watermark)]
        b = [x.contact for x in await model.advance_to(watermark)]
    finally:
        await client.aclose()
    assert a == b and len(a) >= 10
    assert any(c.fallback for c in a)
    counted = [(day, ch, n) for day, per in model.volumes.items() for ch, n in per.items()]
    assert sum(n["admitted"] for _, _, n in counted) == len(a)
    assert sum(n["fallback"] for _, _, n in counted) == sum(c.fallback for c in a)
    assert sum(n["carried_over"] for _, _, n in counted) > 0
    assert sum(n["dropped"] for _, _, n in counted) > 0
    for _, ch, n in counted:
        assert ch not in LIMITS or n["admitted"] <= LIMITS[ch]
    assert len({c.opportunity_id for c in a}) == len(a)  # each opportunity goes out once
