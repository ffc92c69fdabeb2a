"""The omnichannel report counts every event of its topics once, in Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from impulse_stream.contract import topics
from impulse_stream.core.events import Attribution, Opportunity, Texts
from impulse_stream.desk.report import REPORT_TOPICS, ReportAggregator, build_report
from impulse_stream.store.redis import RedisStore
from impulse_stream.store.report import ReportStore
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = "2026-11-23"


def _opportunity(n: int, status: str = "open", revision: int = 0) -> dict:
    return msgspec.to_builtins(
        Opportunity(
            opportunity_id=f"opp-{n}",
            revision=revision,
            customer_id=f"c-{n}",
            action_id="finish_credit_card_order",
            product="credit_card",
            kind="sales",
            priority=1.0,
            rank=1,
            status=status,  # type: ignore[arg-type]
            reasons=(),
            channels=("call_centre", "online_banking"),
            texts=Texts(instruction="i", argument="a", objections="o", info_url=""),
            valid_until=T + timedelta(hours=2),
            created_at=T,
            rules_version="v",
        )
    )


def _response(n: int, kind: str) -> dict:
    return {
        "event_id": f"resp-{n}",
        "opportunity_id": f"opp-{n}",
        "customer_id": f"c-{n}",
        "channel": "call_centre",
        "response": kind,
        "occurred_at": (T + timedelta(minutes=5)).isoformat(),
    }


def _order(n: int, status: str, channel: str, minutes: int) -> dict:
    return {
        "event_id": f"ord-{n}-{status}",
        "customer_id": f"c-{n}",
        "order_id": f"ord-{n}",
        "product": "credit_card",
        "channel": channel,
        "occurred_at": (T + timedelta(minutes=minutes)).isoformat(),
        "status": status,
        "step": 0,
        "total_steps": 4,
    }


async def _count_all(bootstrap, prefix, redis_url, redis_prefix, group, expected_messages) -> int:
    consumer = AIOKafkaConsumer(
        *(prefix + t for t in REPORT_TOPICS),
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    store = RedisStore(redis_url, prefix=redis_prefix)
    aggregator = ReportAggregator(consumer, store, ReportStore(store.redis, redis_prefix), prefix)
    await consumer.start()
    seen = 0
    try:
        deadline = time.monotonic() + 60
        while seen < expected_messages:
            assert time.monotonic() < deadline, f"read {seen} of {expected_messages} messages"
            batches = await consumer.getmany(timeout_ms=500)
            messages = [m for ms in batches.values() for m in ms]
            seen += len(messages)
            await aggregator.count(messages)
            await consumer.commit()
    finally:
        await consumer.stop()
        await store.close()
    return aggregator.counted


async def _report(redis_url, redis_prefix) -> dict:
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        report = ReportStore(store.redis, redis_prefix)
        return build_report(await report.counts(await report.days()))
    finally:
        await store.close()


def test_a_redelivered_or_replayed_event_is_counted_once(
    kafka_bootstrap, redis_url, topic_prefix, redis_prefix, make_topics
):
    make_topics(topic_prefix, 2)
    opportunities = [_opportunity(n) for n in range(4)] + [_opportunity(3, "expired", 1)]
    responses = [_response(0, "accepted"), _response(1, "declined"), _response(2, "no_time")]
    orders = [
        _order(0, "started", "online_banking", 0),
        _order(0, "completed", "call_centre", 9),
        _order(1, "started", "app", 1),
        _order(2, "started", "call_centre", 2),  # not an online process
    ]
    sale = msgspec.to_builtins(
        Attribution(
            attribution_id="attr-0",
            order_id="ord-0",
            customer_id="c-0",
            product="credit_card",
            closing_channel="call_centre",
            advisor_id="adv-0042",
            branch_id="br-017",
            opportunity_id="opp-0",
            credited_at=T + timedelta(minutes=9),
        )
    )
    batches = [
        (topics.OPPORTUNITIES, opportunities),
        (topics.RESPONSES, responses),
        (topics.ORDERS, orders),
        (topics.ATTRIBUTIONS, [sale]),
    ]
    # every message twice, as a producer retry would deliver it
    total = 0
    for topic, events in batches:
        total += asyncio.run(produce(kafka_bootstrap, topic_prefix + topic, events + events))

    args = (kafka_bootstrap, topic_prefix, redis_url, redis_prefix)
    assert asyncio.run(_count_all(*args, f"{topic_prefix}report-a", total)) == 12
    first = asyncio.run(_report(redis_url, redis_prefix))
    # a second group re-reads every topic from the start: nothing new is counted
    assert asyncio.run(_count_all(*args, f"{topic_prefix}report-b", total)) == 0
    assert asyncio.run(_report(redis_url, redis_prefix)) == first

    assert first["days"] == [DAY]
    calls = first["channels"]["call_centre"]
    assert (calls["opened"], calls["accepted"], calls["declined"], calls["no_time"]) == (4, 1, 1, 1)
    assert calls["expired"] == 1 and calls["conversion"] == round(1 / 3, 4)
    assert first["channels"]["online_banking"]["opened"] == 4
    assert first["sales_by_closing_channel"] == {"call_centre": 1}
    assert first["sales_by_advisor"] == {"adv-0042": 1}
    assert first["sales_by_branch"] == {"br-017": 1}
    (cards,) = first["online_processes"]
    assert (cards["started"], cards["completed"], cards["abandoned"]) == (2, 1, 1)
    assert cards["abandonment_rate"] == 0.5
