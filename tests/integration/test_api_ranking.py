"""The 360 API ranks as the worker does: learned statistics, channels best first,
actions that fit the call, the channel's slots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import orjson
import pytest

from impulse_stream.store.redis import RedisStore
from tests.support.kafka import produce, read_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
LOAN = "finish_instalment_loan_application"
SAVINGS = "finish_savings_plan_order"


def _events(customer: str) -> list[tuple[str, dict]]:
    def order(n: int, product: str) -> tuple[str, dict]:
        return "orders.flow", {
            "event_id": f"{customer}-o{n}",
            "customer_id": customer,
            "order_id": f"{customer}-ord-{n}",
            "product": product,
            "channel": "online_banking",
            "occurred_at": (NOW - timedelta(minutes=45 - n)).isoformat(),
            "status": "started",
            "step": 1,
            "total_steps": 4,
        }

    consents = {"phone": True, "email": True, "letter": True, "online_banking": True}
    return [
        (
            "customers.profile",
            {
                "customer_id": customer,
                "updated_at": (NOW - timedelta(days=30)).isoformat(),
                "segment": "retail",
                "advisor_id": "adv-1",
                "consents": consents,
                "products": ["current_account"],
            },
        ),
        (
            "ebanking.clicks",
            {
                "event_id": f"{customer}-login",
                "customer_id": customer,
                "session_id": "s1",
                "occurred_at": (NOW - timedelta(minutes=50)).isoformat(),
                "kind": "login",
            },
        ),
        order(0, "savings_plan"),
        order(1, "instalment_loan"),
        order(2, "credit_card"),
        (
            "channel.contacts",
            {
                "event_id": f"{customer}-call",
                "customer_id": customer,
                "channel": "call_centre",
                "kind": "inbound_call",
                "occurred_at": NOW.isoformat(),
            },
        ),
    ]


def _actions(worker, customer: str, query: str) -> list[dict]:
    status, body = worker.get(f"/customers/{customer}/next-best-actions?{query}")
    assert status == 200, body
    return orjson.loads(body)["actions"]


def test_next_best_actions_rank_with_the_workers_learning_the_call_time_and_the_slots(
    workers, redis_url, redis_prefix
):
    worker = workers.start(IMPULSE_STREAM_REDIS_PREFIX=redis_prefix)
    customer = "c-rank"
    for topic, event in _events(customer):
        asyncio.run(produce(workers.bootstrap, workers.prefix + topic, [event]))
    asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + "opportunities",
            until=lambda rs: {LOAN, SAVINGS} <= {r.json()["action_id"] for r in rs},
        )
    )
    today, tomorrow = quote(NOW.isoformat()), quote((NOW + timedelta(days=1)).isoformat())

    # 40 declines of the loan offer in online banking today (as the worker counts them)
    store = RedisStore(redis_url, prefix=redis_prefix)

    async def decline() -> None:
        await store.add_acceptance(NOW.date(), {(LOAN, "retail", "online_banking"): (0, 40)})
        await store.close()

    asyncio.run(decline())

    def ranked(at: str) -> list[str]:
        return [
            a["action_id"]
            for a in _actions(worker, customer, f"channel=online_banking&limit=3&at={at}")
        ]

    # today decides with the days before (the worker's snapshot): the loan is still first
    before = ranked(today)
    assert before[0] == LOAN and before.index(LOAN) < before.index(SAVINGS)
    # from tomorrow on the worker ranks the savings offer above the loan, and so does the API
    after = ranked(tomorrow)
    assert after[0] != LOAN and after.index(SAVINGS) < after.index(LOAN)
    learned = _actions(worker, customer, f"channel=online_banking&at={tomorrow}")

    # the catalogue gives online banking two teaser slots and the call centre three
    assert len(learned) == 2
    desk = _actions(worker, customer, f"channel=call_centre&at={today}")
    assert len(desk) == 3 and sum(a["handling_minutes"] for a in desk) > 4
    assert len(_actions(worker, customer, f"channel=online_banking&limit=3&at={today}")) == 3

    # four minutes left in the call: only what fits
    short = _actions(worker, customer, f"channel=call_centre&minutes=4&at={today}")
    assert short and sum(a["handling_minutes"] for a in short) <= 4
    assert LOAN not in {a["action_id"] for a in short}
    assert worker.get(f"/customers/{customer}/next-best-actions?minutes=soon")[0] == 400

    # channels: eligible, best first (the customer uses online banking most)
    assert all(a["channels"][0] == "online_banking" for a in desk)
