"""One counting rule for employer clusters: the Redis script on the real redis-server and
the in-memory model the backtest counts with (``core/cluster_count.py``) give the same
answer to every membership; and a backtest of a generated month tells the same members as
the batch path beside the Redis-backed employer agent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.cluster_count import ClusterCounts
from impulse_stream.core.events import EmployerMembership
from impulse_stream.datatools.backtest import MemoryClusters, run_messages
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_recordings
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.employers import EmployerFeed, employer_clusters
from impulse_stream.streaming.messages import CollectingPublisher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
EMPLOYERS = ("emp-00000000000000a1", "emp-00000000000000b2")


def random_memberships(seed: int, n: int, erased: float = 0.0) -> list[EmployerMembership]:
    """Joins, leaves, moves, replays and late messages of 12 customers in random order;
    with ``erased``, that share of erasures (a later join of the id is a new customer)."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        customer = f"c-{rng.randrange(12)}"
        draw = rng.random()
        status = "erased" if draw < erased else "joined" if draw < 0.7 else "left"
        out.append(
            EmployerMembership(
                membership_id=f"mem-{seed}-{k}",
                employer_id=rng.choice(EMPLOYERS),
                customer_id=customer,
                status=status,  # type: ignore[arg-type]
                since=T0 + timedelta(days=rng.randrange(20), hours=rng.randrange(3)),
            )
        )
    return out


@pytest.mark.parametrize(("seed", "erased"), [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0), (5, 0.1)])
async def test_the_redis_script_and_the_memory_model_answer_every_membership_alike(
    redis_url, redis_prefix, seed, erased
) -> None:  # type: ignore[no-untyped-def]
    client = redis_client(redis_url)
    try:
        live = employer_clusters(client, 4, prefix=f"{redis_prefix}{seed}:")
        model = ClusterCounts(4)
        rng = random.Random(seed)
        told = 0
        memberships = random_memberships(seed, 300, erased)
        assert (erased > 0) == any(m.status == "erased" for m in memberships)
        for m in memberships:
            if m.status == "erased":
                a = await live.erase(m.employer_id, m.customer_id)
            else:
                a = await live.apply(m.employer_id, m.customer_id, m.since, m.status == "joined")
            b = model.count(m)
            assert (a.applied, a.members, a.full_scan, a.tell) == (
                b.applied, b.members, b.full_scan, b.tell,
            ), m  # fmt: skip
            told += len(a.tell)
            if rng.random() < 0.9:  # else the agent crashed before marking them told
                await live.mark_told(m.employer_id, a.tell, a.full_scan)
                model.mark_told(m.employer_id, b.tell, b.full_scan)
        for e in EMPLOYERS:
            assert await live.members(e) == model.members(e)
        assert told > 10  # the sequences reach the cluster size, often
    finally:
        await client.aclose()


async def test_a_backtest_tells_the_same_salary_project_members_as_the_redis_backed_agent(
    redis_url, redis_prefix, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    write_files(GenerateSpec(250, 20, 3), tmp_path, 6)
    messages = list(read_recordings([tmp_path]))
    catalogue = load_catalogue()
    memory = MemoryClusters.of(catalogue)
    assert memory is not None and memory.counts.cluster_size == 25
    offline = await run_messages(catalogue, messages, agent=memory)
    client = redis_client(redis_url)
    try:
        clusters = employer_clusters(client, 25, prefix=f"{redis_prefix}bt:")
        feed = EmployerFeed(clusters, CollectingPublisher())
        live = await run_messages(catalogue, messages, agent=feed)
    finally:
        await client.aclose()
    impulses = [orjson.loads(m.value) for m in offline.messages
                if m.topic == topics.IMPULSES and m.value]  # fmt: skip
    assert sum(1 for i in impulses if i["kind"] == "salary_project_member") >= 25
    assert live.messages == offline.messages  # every impulse and opportunity, byte for byte
