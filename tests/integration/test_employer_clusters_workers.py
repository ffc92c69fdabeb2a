"""Employer clusters across two real workers: customers of one employer on partitions owned
by different workers reach the cluster size, every member gets exactly one
``salary_project_member`` impulse, and restarted workers that read everything again count
nothing twice."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE
from impulse_stream.contract import codec, topics
from impulse_stream.core.employers import salary_payer
from impulse_stream.core.events import Counterparty, Transaction
from impulse_stream.store.redis import redis_client
from impulse_stream.streaming.employers import employer_clusters
from tests.support.kafka import produce, read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACME, STADTWERKE, BAECKEREI = "ACME Maschinenbau GmbH", "Stadtwerke Musterstadt", "Bäckerei Korn"
# Customers of ACME on partitions 3, 4, 2 and 0 (two workers own three partitions each, so
# four distinct partitions always span both workers), one more on partition 5 later;
# two customers of the bakery, a cluster below the size.
ACME_FIRST = ["c-emp-0", "c-emp-1", "c-emp-3", "c-emp-4"]
ACME_LATER = "c-emp-6"
BAKERY = ["c-emp-2", "c-emp-5"]
MOVER = "c-emp-3"  # moves from ACME to the Stadtwerke after the restart


def salary(customer: str, payer: str, booked: datetime) -> dict:
    tx = Transaction(
        event_id=f"sal-{customer}-{booked:%Y%m%d}",
        customer_id=customer,
        account_id=f"acc-{customer}",
        booked_at=booked,
        amount=Decimal("3100.00"),
        currency="EUR",
        direction="credit",
        counterparty=Counterparty(name=payer),
        purpose="Lohn/Gehalt",
        category="salary",
    )
    return orjson.loads(codec.encode(tx))


def employer(payer: str) -> str:
    found = salary_payer(
        Transaction(
            event_id="x", customer_id="x", account_id="x", booked_at=datetime.now(UTC),
            amount=Decimal(1), currency="EUR", direction="credit",
            counterparty=Counterparty(name=payer), category="salary",
        )
    )  # fmt: skip
    assert found is not None
    return found.employer_id


def assigned(log: Path) -> set[int]:
    found = re.findall(r"assigned \d+ input partitions: \[([0-9, ]*)\]", log.read_text())
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


def wait_split(workers, timeout: float = 60.0) -> tuple[set[int], set[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        a, b = (assigned(w.log_path) for w in workers)
        if a and b and not a & b and a | b == set(range(6)):
            return a, b
        time.sleep(0.5)
    raise AssertionError(f"partitions not split over two workers: {a} / {b}")


def per_member(impulses: list[dict]) -> dict[str, set[str]]:
    """Impulse ids per customer: a redelivered message (an outbox published again after
    kill -9, same bytes) is the same impulse; a second impulse would have another id."""
    found: dict[str, set[str]] = {}
    for i in impulses:
        found.setdefault(i["customer_id"], set()).add(i["impulse_id"])
    return found


def project_impulses(bootstrap: str, prefix: str, until) -> list[dict]:
    records = asyncio.run(
        read_all(
            bootstrap,
            prefix + topics.IMPULSES,
            until=lambda rs: until([r.json() for r in rs if r.json()["kind"] == KIND]),
            timeout=120,
            settle=3.0,
        )
    )
    return [r.json() for r in records if r.json()["kind"] == KIND]


KIND = "salary_project_member"


async def members(redis_url: str, redis_prefix: str, payer: str) -> int:
    client = redis_client(redis_url)
    try:
        return await employer_clusters(client, 3, prefix=redis_prefix).members(employer(payer))
    finally:
        await client.aclose()


def test_two_workers_tell_each_member_of_a_salary_project_once_and_a_restart_counts_nothing_twice(
    workers, redis_url, redis_prefix, tmp_path: Path
) -> None:
    partition = DefaultPartitioner()
    on = {
        c: partition(c.encode(), list(range(6)), list(range(6)))
        for c in [*ACME_FIRST, ACME_LATER, *BAKERY]
    }
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    assert "params: {cluster_size: 25}" in text
    catalogue = tmp_path / "bank.yaml"
    catalogue.write_text(text.replace("params: {cluster_size: 25}", "params: {cluster_size: 3}"))
    env = {"IMPULSE_STREAM_CATALOGUE": str(catalogue)}
    w1, w2 = workers.start("w1", **env), workers.start("w2", **env)
    first, second = wait_split([w1, w2])
    acme_partitions = {on[c] for c in ACME_FIRST}
    assert acme_partitions & first and acme_partitions & second  # spread over both workers

    month = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    events = [salary(c, ACME, month) for c in ACME_FIRST] + [
        salary(c, BAECKEREI, month) for c in BAKERY
    ]
    asyncio.run(produce(workers.bootstrap, workers.prefix + topics.TRANSACTIONS, events))
    told = project_impulses(
        workers.bootstrap, workers.prefix, lambda found: len(per_member(found)) >= 4
    )
    assert sorted(i["customer_id"] for i in told) == sorted(ACME_FIRST)  # once each
    assert {e["name"]: e["value"] for e in told[0]["evidence"]}["employer"] == ACME
    assert asyncio.run(members(redis_url, redis_prefix, ACME)) == 4
    assert asyncio.run(members(redis_url, redis_prefix, BAECKEREI)) == 2

    # Restart both in a new consumer group: they read every topic again from the start.
    w1.kill()
    assert w2.stop() == 0
    again = {**env, "IMPULSE_STREAM_APP_ID": f"{workers.prefix}impulse-stream-again"}
    w3, w4 = workers.start("w3", **again), workers.start("w4", **again)
    wait_split([w3, w4])
    later = month + timedelta(days=2)
    asyncio.run(
        produce(
            workers.bootstrap,
            workers.prefix + topics.TRANSACTIONS,
            [salary(ACME_LATER, ACME, later), salary(MOVER, STADTWERKE, later)],
        )
    )
    told = project_impulses(
        workers.bootstrap,
        workers.prefix,
        lambda found: ACME_LATER in {i["customer_id"] for i in found},
    )
    ids = per_member(told)
    assert sorted(ids) == sorted([*ACME_FIRST, ACME_LATER])
    assert all(len(found) == 1 for found in ids.values()), ids
    bodies: dict[str, set[bytes]] = {}
    for i in told:
        bodies.setdefault(i["impulse_id"], set()).add(orjson.dumps(i))
    assert all(len(b) == 1 for b in bodies.values())  # a repeat is the same message
    assert asyncio.run(members(redis_url, redis_prefix, ACME)) == 4  # the mover left, one joined
    assert asyncio.run(members(redis_url, redis_prefix, STADTWERKE)) == 1
    assert asyncio.run(members(redis_url, redis_prefix, BAECKEREI)) == 2
