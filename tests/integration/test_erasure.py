"""Right to erasure on the real stack: a tombstone on customers.profile leaves no trace in Redis.

docs/data-protection.md describes what is erased where; this checks the Redis part
end to end: state, fences, outbox entries, timer and outbox indexes, the fields of the
customer's household and employer hashes, and that the acceptance statistics hold no
customer id.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from impulse_stream.contract import topics
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, order_step, profile

pytestmark = pytest.mark.integration

GONE = "c-erase-4711"
KEPT = "c-keep-4712"
HOUSEHOLD = "hh-erase-1"


def salary(cid: str) -> dict:
    """A salary of ACME: both customers are in its employer cluster."""
    return {
        "event_id": f"sal-{cid}",
        "customer_id": cid,
        "account_id": f"acc-{cid}",
        "booked_at": (T0 - timedelta(days=2)).isoformat(),
        "amount": "3100.00",
        "currency": "EUR",
        "direction": "credit",
        "counterparty": {"name": "ACME Maschinenbau GmbH"},
        "purpose": "Lohn/Gehalt",
        "category": "salary",
    }


async def redis_dump(url: str, prefix: str) -> dict[bytes, object]:
    """Every key under ``prefix`` with its content (hash, set or sorted-set members)."""
    client = aioredis.Redis.from_url(url)
    out: dict[bytes, object] = {}
    try:
        async for key in client.scan_iter(match=prefix + "*"):
            kind = (await client.type(key)).decode()
            if kind == "hash":
                out[key] = await client.hgetall(key)
            elif kind == "set":
                out[key] = await client.smembers(key)
            elif kind == "zset":
                out[key] = await client.zrange(key, 0, -1)
            else:
                out[key] = await client.get(key)
    finally:
        await client.aclose()
    return out


async def tombstone(bootstrap: str, topic: str, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, None, key=key.encode())
    finally:
        await producer.stop()


def test_a_profile_tombstone_erases_every_redis_copy_of_the_customer(
    workers, redis_url, redis_prefix
):
    w = workers.start()

    def send(topic: str, events: list) -> None:
        asyncio.run(produce(workers.bootstrap, workers.prefix + topic, events))

    for cid in (GONE, KEPT):
        send(topics.PROFILES, [profile(cid, household_id=HOUSEHOLD)])
        send(topics.TRANSACTIONS, [salary(cid)])
        send(topics.ORDERS, abandoned_card_order(cid))
        send(topics.CONTACTS, [inbound_call(cid, T0 + timedelta(minutes=40))])
    # an open order keeps a timer for the erased customer until the erasure
    send(topics.ORDERS, [order_step(GONE, "o-late", "started", 0, T0 + timedelta(minutes=41))])
    offers = asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + topics.OPPORTUNITIES,
            until=lambda r: {x.key for x in r} >= {GONE.encode(), KEPT.encode()},
        )
    )
    offer = next(r.json() for r in offers if r.key == GONE.encode())
    response = {
        "event_id": "resp-4711",
        "opportunity_id": offer["opportunity_id"],
        "customer_id": GONE,
        "channel": "call_centre",
        "response": "declined",
        "occurred_at": (T0 + timedelta(minutes=42)).isoformat(),
    }
    send(topics.RESPONSES, [response])
    acceptance = redis_prefix + "{acceptance}:"
    household = f"{redis_prefix}household:{{{HOUSEHOLD}}}".encode()
    employer = None
    deadline = time.monotonic() + 30
    while True:
        before = asyncio.run(redis_dump(redis_url, redis_prefix))
        employers = [k for k in before if k.startswith(f"{redis_prefix}employer:".encode())]
        groups = [before.get(household, {}), *(before[k] for k in employers)]
        if (
            any(k.startswith(acceptance.encode()) for k in before)
            and len(employers) == 1
            and all(f"m:{GONE}".encode() in g and f"m:{KEPT}".encode() in g for g in groups)
        ):
            employer = employers[0]
            break
        assert time.monotonic() < deadline, "the response or the memberships missing after 30 s"
        time.sleep(0.25)
    assert any(GONE.encode() in repr(k).encode() + repr(v).encode() for k, v in before.items())
    assert w.get(f"/customers/{GONE}")[0] == 200

    asyncio.run(tombstone(workers.bootstrap, workers.prefix + topics.PROFILES, GONE))
    deadline = time.monotonic() + 30
    while w.get(f"/customers/{GONE}")[0] != 404:
        assert time.monotonic() < deadline, "the customer was not erased in 30 s"
        time.sleep(0.25)

    # the groups forget the customer when their agents apply the erased memberships
    deadline = time.monotonic() + 30
    while GONE.encode() in repr(after := asyncio.run(redis_dump(redis_url, redis_prefix))).encode():
        if time.monotonic() > deadline:
            break  # the assertions below name what is left
        time.sleep(0.25)
    for key, content in after.items():
        assert GONE.encode() not in key, key
        assert GONE.encode() not in repr(content).encode(), (key, content)
    assert any(KEPT.encode() in key for key in after), "the other customer must stay"
    for group in (household, employer):
        assert after[group][b"m:" + KEPT.encode()] == before[group][b"m:" + KEPT.encode()]
        assert after[group][b"count"] == b"1", group
    # the statistics are counts per action, segment and channel: they stay, with no id
    assert any(key.startswith(acceptance.encode()) for key in after)
    assert w.get(f"/customers/{KEPT}")[0] == 200
