"""Employer clusters on the real redis-server: counted once per customer, replays and late
memberships change nothing, members are told once, bad messages are dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impulse_stream.contract import codec, topics
from impulse_stream.contract.deadletter import parse_dead_letter_headers
from impulse_stream.core.events import EmployerCluster, EmployerMembership
from impulse_stream.errors import PublishFailed
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.employers import EmployerFeed, employer_clusters
from impulse_stream.streaming.messages import CollectingPublisher

pytestmark = pytest.mark.integration

ACME = "emp-00000000000000a1"
OTHER = "emp-00000000000000b2"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def membership(customer: str, employer: str = ACME, status: str = "joined", days: int = 0):
    return EmployerMembership(
        membership_id=f"mem-{customer}-{employer}-{status}-{days}",
        employer_id=employer,
        customer_id=customer,
        status=status,  # type: ignore[arg-type]
        since=T0 + timedelta(days=days),
        employer_name="ACME Maschinenbau GmbH" if employer == ACME else "",
    )


@pytest.fixture
async def feed(redis_url, redis_prefix):
    client = redis_client(redis_url)
    publisher = CollectingPublisher()
    yield EmployerFeed(employer_clusters(client, 3, prefix=redis_prefix), publisher, "t.")
    await client.aclose()


async def send(feed: EmployerFeed, *memberships: EmployerMembership) -> list[EmployerCluster]:
    told: list[EmployerCluster] = []
    for n, m in enumerate(memberships):
        told += await feed.on_message(m.employer_id.encode(), codec.encode(m), 0, n)
    return told


def notified(feed: EmployerFeed) -> list[str]:
    publisher = feed.publisher
    assert isinstance(publisher, CollectingPublisher)
    return sorted(
        m.key.decode()
        for m in publisher.messages
        if m.key is not None and m.topic == "t." + topics.EMPLOYER_CLUSTERS
    )


async def test_the_cluster_tells_every_member_once_it_reaches_the_size(feed) -> None:
    assert await send(feed, membership("c-1"), membership("c-2")) == []
    told = await send(feed, membership("c-3"))
    assert sorted(n.customer_id for n in told) == ["c-1", "c-2", "c-3"]
    assert {(n.employer_id, n.members, n.employer_name) for n in told} == {
        (ACME, 3, "ACME Maschinenbau GmbH")
    }
    assert all(n.occurred_at == T0 for n in told)
    later = await send(feed, membership("c-4", days=30))
    assert [(n.customer_id, n.members) for n in later] == [("c-4", 4)]
    assert notified(feed) == ["c-1", "c-2", "c-3", "c-4"]
    assert await feed.clusters.members(ACME) == 4


async def test_a_replay_of_every_membership_counts_nothing_twice_and_tells_nobody_again(
    feed,
) -> None:
    everyone = [membership(f"c-{n}") for n in range(1, 5)]
    await send(feed, *everyone)
    assert await send(feed, *everyone, *everyone) == []
    assert await feed.clusters.members(ACME) == 4
    assert notified(feed) == ["c-1", "c-2", "c-3", "c-4"]


async def test_a_customer_who_changes_employer_leaves_the_old_cluster(feed) -> None:
    await send(feed, membership("c-1"), membership("c-2"))
    await send(feed, membership("c-1", status="left", days=31))
    await send(feed, membership("c-1", OTHER, days=31))
    assert await feed.clusters.members(ACME) == 1
    assert await feed.clusters.members(OTHER) == 1
    # The older joined message, redelivered after the move, does not bring the customer back.
    await send(feed, membership("c-1"))
    assert await feed.clusters.members(ACME) == 1
    told = await send(feed, membership("c-3"), membership("c-4"))
    assert sorted(n.customer_id for n in told) == ["c-2", "c-3", "c-4"]  # c-1 is elsewhere
    assert await feed.clusters.members(ACME) == 3
    assert notified(feed) == ["c-2", "c-3", "c-4"]


async def test_a_cluster_that_shrank_below_the_size_tells_the_new_members_when_back(
    feed,
) -> None:
    await send(feed, membership("c-1"), membership("c-2"), membership("c-3"))
    await send(feed, membership("c-3", status="left", days=31))
    assert await send(feed, membership("c-4", days=32)) != []  # back at 3: c-4 is told
    assert notified(feed) == ["c-1", "c-2", "c-3", "c-4"]
    await send(feed, membership("c-3", days=40))  # rejoins: it was told already
    assert notified(feed) == ["c-1", "c-2", "c-3", "c-4"]


async def test_a_failed_publish_tells_the_members_on_the_retry_and_marks_them_after_it(
    redis_url, redis_prefix
) -> None:
    class FailingOnce(CollectingPublisher):
        failed = False

        async def publish(self, messages) -> None:  # type: ignore[no-untyped-def]
            if not self.failed:
                self.failed = True
                raise PublishFailed("broker away")
            await super().publish(messages)

    client = redis_client(redis_url)
    try:
        pause: list[float] = []

        async def sleep(seconds: float) -> None:
            pause.append(seconds)

        feed = EmployerFeed(
            employer_clusters(client, 2, prefix=redis_prefix), FailingOnce(), "t.", sleep=sleep
        )
        await send(feed, membership("c-1"))
        told = await send(feed, membership("c-2"))
        assert sorted(n.customer_id for n in told) == ["c-1", "c-2"] and pause == [0.05]
        assert notified(feed) == ["c-1", "c-2"]
        assert await send(feed, membership("c-2")) == []
    finally:
        await client.aclose()


async def test_a_membership_that_breaks_the_contract_is_dead_lettered(feed) -> None:
    good = membership("c-1")
    assert await feed.on_message(b"emp-00000000000000ff", codec.encode(good), 4, 17) == []
    assert await feed.on_message(ACME.encode(), b'{"employer_id": 1}', 4, 18) == []
    publisher = feed.publisher
    dead = [m for m in publisher.messages if m.topic == "t." + topics.DEAD_LETTERS]
    reasons = [parse_dead_letter_headers(list(m.headers)) for m in dead]
    assert [(r.reason, r.topic, r.partition, r.offset) for r in reasons] == [
        ("key_mismatch", "t." + topics.EMPLOYER_MEMBERS, 4, 17),
        ("schema_violation", "t." + topics.EMPLOYER_MEMBERS, 4, 18),
    ]
    assert await feed.clusters.members(ACME) == 0
