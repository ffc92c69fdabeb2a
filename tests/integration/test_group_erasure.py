"""Erased memberships on the real redis-server and on a real Redis Cluster: the group script
deletes every field naming the erased customer, counts a member out (clearing ``open``
below the size) and changes nothing the second time; the agents apply them from the topic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impulse_stream.contract import codec
from impulse_stream.core.events import EmployerMembership, HouseholdMembership
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.employers import EmployerFeed, employer_clusters
from impulse_stream.streaming.households import HouseholdFeed, household_members
from impulse_stream.streaming.messages import CollectingPublisher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
ACME = "emp-00000000000000a1"


@pytest.fixture(params=["server", "cluster"])
async def client(request):
    url = request.getfixturevalue("redis_url" if request.param == "server" else "redis_cluster_url")
    c = redis_client(url)
    yield c
    await c.aclose()


def fields(content: dict) -> set[str]:
    return {k.decode() for k in content}


async def test_an_erased_member_leaves_no_field_and_the_cluster_below_its_size_reopens(
    client, redis_prefix
) -> None:
    groups = employer_clusters(client, 3, prefix=redis_prefix)
    for n, c in enumerate(("c-1", "c-2", "c-3")):
        told = await groups.apply(ACME, c, T0 + timedelta(days=n), joined=True)
        await groups.mark_told(ACME, told.tell, told.full_scan)
    key = groups.key(ACME)
    assert {"m:c-2", "n:c-2", "open"} <= fields(await client.hgetall(key))

    erased = await groups.erase(ACME, "c-2")

    assert (erased.applied, erased.members) == (True, 2)
    left = fields(await client.hgetall(key))
    assert not [f for f in left if "c-2" in f], left
    assert "open" not in left  # below the size: the next member at three tells again
    assert await groups.customers(ACME) == ("c-1", "c-3")
    again = await groups.erase(ACME, "c-2")  # a redelivered erasure
    assert (again.applied, again.members) == (False, 2)
    # the group at its size again tells the members not told yet: the newcomer only
    back = await groups.apply(ACME, "c-4", T0 + timedelta(days=9), joined=True)
    assert (back.members, back.full_scan, back.tell) == (3, True, ("c-4",))


async def test_erasing_a_customer_who_left_deletes_the_leave_marker_and_counts_nothing(
    client, redis_prefix
) -> None:
    groups = household_members(client, prefix=redis_prefix)
    await groups.apply("hh-1", "c-1", T0, joined=True)
    await groups.apply("hh-1", "c-2", T0, joined=True)
    await groups.apply("hh-1", "c-2", T0 + timedelta(days=1), joined=False)
    assert "m:c-2" in fields(await client.hgetall(groups.key("hh-1")))  # the leave marker

    erased = await groups.erase("hh-1", "c-2")

    assert (erased.applied, erased.members) == (True, 1)
    assert fields(await client.hgetall(groups.key("hh-1"))) == {"m:c-1", "count"}
    # a later membership of the same id is a new customer's: it joins as one
    rejoined = await groups.apply("hh-1", "c-2", T0, joined=True)
    assert (rejoined.applied, rejoined.members) == (True, 2)


async def test_the_agents_apply_erased_memberships_from_the_topic(client, redis_prefix) -> None:
    published = CollectingPublisher()
    employers = EmployerFeed(employer_clusters(client, 2, prefix=redis_prefix), published, "t.")
    households = HouseholdFeed(household_members(client, prefix=redis_prefix), published, "t.")
    for n, c in enumerate(("c-1", "c-2")):
        joined = EmployerMembership(
            membership_id=f"mem-{c}", employer_id=ACME, customer_id=c, status="joined", since=T0
        )
        await employers.on_message(ACME.encode(), codec.encode(joined), 0, n)
        home = HouseholdMembership(
            membership_id=f"hhm-{c}", household_id="hh-1", customer_id=c, status="joined", since=T0
        )
        await households.on_message(b"hh-1", codec.encode(home), 0, n)
    gone_employer = EmployerMembership(
        membership_id="mem-gone", employer_id=ACME, customer_id="c-2", status="erased", since=T0
    )
    gone_home = HouseholdMembership(
        membership_id="hhm-gone", household_id="hh-1", customer_id="c-2", status="erased", since=T0
    )

    await employers.on_message(ACME.encode(), codec.encode(gone_employer), 0, 2)
    await households.on_message(b"hh-1", codec.encode(gone_home), 0, 2)

    for groups, group in ((employers.groups, ACME), (households.groups, "hh-1")):
        content = fields(await client.hgetall(groups.key(group)))
        assert not [f for f in content if "c-2" in f], content
        assert await groups.customers(group) == ("c-1",)
    assert employers.metrics.employer_memberships.labels("erased")._value.get() == 1
    assert households.metrics.household_memberships.labels("erased")._value.get() == 1
    assert not [m for m in published.messages if m.topic == "t.impulse-stream.dlq"]
