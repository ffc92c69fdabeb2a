"""Households on the real redis-server and broker: members kept once per customer, replays
and late memberships change nothing, a mover leaves, bad messages are dead-lettered, and the
customer 360 shows the other members."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from impulse_stream.contract import codec, topics
from impulse_stream.contract.deadletter import parse_dead_letter_headers
from impulse_stream.core.events import HouseholdMembership
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.households import HouseholdFeed, household_members
from impulse_stream.streaming.messages import CollectingPublisher
from tests.support.kafka import produce
from tests.support.openapi_check import check_response

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def membership(customer: str, household: str = "hh-1", status: str = "joined", days: int = 0):
    return HouseholdMembership(
        membership_id=f"hhm-{customer}-{household}-{status}-{days}",
        household_id=household,
        customer_id=customer,
        status=status,  # type: ignore[arg-type]
        since=T0 + timedelta(days=days),
    )


@pytest.fixture
async def feed(redis_url, redis_prefix):
    client = redis_client(redis_url)
    yield HouseholdFeed(household_members(client, prefix=redis_prefix), CollectingPublisher(), "t.")
    await client.aclose()


async def send(feed: HouseholdFeed, *memberships: HouseholdMembership) -> None:
    for n, m in enumerate(memberships):
        await feed.on_message(m.household_id.encode(), codec.encode(m), 0, n)


async def test_the_household_keeps_each_member_once_and_a_replay_changes_nothing(feed) -> None:
    everyone = [membership(c) for c in ("c-1", "c-2", "c-3")]
    await send(feed, *everyone)
    await send(feed, *everyone, *everyone)
    assert await feed.groups.customers("hh-1") == ("c-1", "c-2", "c-3")
    assert await feed.groups.members("hh-1") == 3
    assert feed.metrics.household_memberships.labels("stale")._value.get() == 6


async def test_a_mover_leaves_the_old_household_and_an_older_joined_does_not_bring_them_back(
    feed,
) -> None:
    await send(feed, membership("c-1"), membership("c-2"))
    await send(feed, membership("c-1", status="left", days=3), membership("c-1", "hh-2", days=3))
    assert await feed.groups.customers("hh-1") == ("c-2",)
    assert await feed.groups.customers("hh-2") == ("c-1",)
    await send(feed, membership("c-1"))  # the old joined, redelivered after the move
    assert await feed.groups.customers("hh-1") == ("c-2",)
    assert await feed.groups.members("hh-1") == 1


async def test_a_household_membership_that_breaks_the_contract_is_dead_lettered(feed) -> None:
    good = membership("c-1")
    await feed.on_message(b"hh-other", codec.encode(good), 3, 11)
    await feed.on_message(b"hh-1", b'{"household_id": 1}', 3, 12)
    await feed.on_message(b"hh-1", b"not json", 3, 13)
    publisher = feed.publisher
    assert isinstance(publisher, CollectingPublisher)
    dead = [m for m in publisher.messages if m.topic == "t." + topics.DEAD_LETTERS]
    reasons = [parse_dead_letter_headers(list(m.headers)) for m in dead]
    assert [(r.reason, r.topic, r.partition, r.offset) for r in reasons] == [
        ("key_mismatch", "t." + topics.HOUSEHOLD_MEMBERS, 3, 11),
        ("schema_violation", "t." + topics.HOUSEHOLD_MEMBERS, 3, 12),
        ("invalid_json", "t." + topics.HOUSEHOLD_MEMBERS, 3, 13),
    ]
    assert [m.value for m in dead] == [codec.encode(good), b'{"household_id": 1}', b"not json"]
    assert await feed.groups.customers("hh-1") == ()


def profile(customer: str, household: str | None, when: datetime, **extra: object) -> dict:
    return {
        "customer_id": customer,
        "updated_at": when.isoformat(),
        "household_id": household,
        "consents": {"phone": True, "email": True, "letter": True, "online_banking": True},
        "products": ["current_account"],
        **extra,
    }


def wait_for(w, path: str, ok, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = w.get(path)
        if status == 200 and ok(orjson.loads(body)):
            return orjson.loads(body)
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {status} {body[:500]!r}")
        time.sleep(0.5)


def test_the_360_view_shows_the_other_members_of_the_household_and_drops_a_mover(workers):
    w = workers.start()
    now = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    t = now - timedelta(days=2)
    profiles = [
        profile("hh-a", "hh-77", t, advisor_id="adv-1", segment="private", branch_id="br-1"),
        profile("hh-b", "hh-77", t, advisor_id="adv-2", segment="young"),
        profile("hh-c", "hh-77", t),
        profile("hh-d", "hh-other", t),
    ]
    # hh-b signs a membership: the new product opens opportunities (new_purchase).
    signed = profile(
        "hh-b",
        "hh-77",
        t + timedelta(hours=1),
        advisor_id="adv-2",
        segment="young",
        products=["current_account", "membership"],
    )
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.PROFILES, profiles))
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.PROFILES, [signed]))
    path = "/customers/hh-a?at=" + now.isoformat().replace("+", "%2B")

    def members(view: dict) -> list[str]:
        return [m["customer_id"] for m in (view["household"] or {}).get("members", [])]

    view = wait_for(w, path, lambda v: members(v) == ["hh-b", "hh-c"])
    status, body = w.get(path)
    check_response("/customers/{customer_id}", status, body)
    assert view["household"]["household_id"] == "hh-77"
    b, c = view["household"]["members"]
    assert (b["segment"], b["advisor_id"], c["segment"], c["advisor_id"]) == (
        "young", "adv-2", "retail", None,
    )  # fmt: skip
    # hh-b's open opportunities: the count and the top one, as hh-b's own view ranks them.
    b = wait_for(w, path, lambda v: v["household"]["members"][0]["open_opportunities"] > 0)[
        "household"
    ]["members"][0]
    own = wait_for(w, path.replace("hh-a", "hh-b"), lambda v: bool(v["open_opportunities"]))
    assert b["open_opportunities"] == len(own["open_opportunities"])
    top = own["open_opportunities"][0]
    assert (b["top_opportunity"]["opportunity_id"], b["top_opportunity"]["action_id"]) == (
        top["opportunity_id"], top["action_id"],
    )  # fmt: skip
    assert c["open_opportunities"] == 0 and c["top_opportunity"] is None
    moved = profile("hh-c", "hh-other", now - timedelta(days=1))
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.PROFILES, [moved]))
    wait_for(w, path, lambda v: members(v) == ["hh-b"])
    other = wait_for(
        w,
        "/customers/hh-d?at=" + now.isoformat().replace("+", "%2B"),
        lambda v: [m["customer_id"] for m in v["household"]["members"]] == ["hh-c"],
    )
    assert other["household"]["household_id"] == "hh-other"
