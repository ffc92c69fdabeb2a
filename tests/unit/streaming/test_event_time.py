"""Event time you can trust: any merge of the topics gives byte-identical outputs.

Each input topic is read in its own order; the topics' records may arrive in
any interleaving (a backfill delivers one topic far ahead of another). The
partition's clock is the minimum over the topics, events are applied in
event-time order once the clock reaches them, so the outputs and the states
are the same, byte for byte, for every merge and every batching.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import BatchProcessor, CollectingPublisher, InboundMessage
from tests.support.scenarios import T0, inbound_call, iso, order_step, profile

ENGINE = DecisionEngine(load_catalogue())
WALL = (T0 + timedelta(days=40)).timestamp()


def click(cid: str, at: datetime, product: str = "credit_card") -> dict:
    return {
        "event_id": f"clk-{cid}-{int(at.timestamp())}",
        "customer_id": cid,
        "session_id": f"s-{cid}",
        "occurred_at": iso(at),
        "kind": "banner_click",
        "page": "cards",
        "product": product,
    }


def salary(cid: str, at: datetime, amount: str) -> dict:
    return {
        "event_id": f"sal-{cid}-{at.date()}",
        "customer_id": cid,
        "account_id": f"acc-{cid}",
        "booked_at": iso(at),
        "amount": amount,
        "currency": "EUR",
        "direction": "credit",
        "category": "salary",
        "counterparty": {"name": "Employer GmbH", "iban": "DE02120300000000202051"},
        "purpose": "Gehalt",
        "balance_after": "4200.00",
    }


def accepted(cid: str, opportunity_id: str, at: datetime) -> dict:
    return {
        "event_id": f"rsp-{cid}-{int(at.timestamp())}",
        "opportunity_id": opportunity_id,
        "customer_id": cid,
        "channel": "call_centre",
        "response": "accepted",
        "occurred_at": iso(at),
        "agent_id": "kdc-12",
    }


def month(customers: int = 6) -> dict[str, list[dict]]:
    """A month of several customers on the six topics, each topic in event-time order."""
    by_topic: dict[str, list[dict]] = {t: [] for t in topics.INPUT_TOPICS}
    for n in range(customers):
        cid = f"m-{n}"
        start = T0 - timedelta(days=20) + timedelta(hours=5 * n)
        by_topic[topics.PROFILES].append(profile(cid, at=start))
        for month_no in range(2):
            pay = start + timedelta(days=1 + 14 * month_no, hours=1)
            by_topic[topics.TRANSACTIONS].append(
                salary(cid, pay, "3250.00" if month_no == 0 else "3900.00")
            )
        t = start + timedelta(days=3)
        by_topic[topics.CLICKS].append(click(cid, t))
        order = f"o-{cid}"
        steps = [order_step(cid, order, "started", 0, t + timedelta(minutes=1))]
        steps.append(order_step(cid, order, "step_completed", 1, t + timedelta(minutes=3)))
        steps.append(order_step(cid, order, "step_completed", 2, t + timedelta(minutes=7)))
        if n % 3 == 0:
            steps.append(order_step(cid, order, "completed", 4, t + timedelta(minutes=9)))
        by_topic[topics.ORDERS] += steps
        by_topic[topics.CONTACTS].append(inbound_call(cid, t + timedelta(minutes=50)))
    for topic, events in by_topic.items():
        key = (
            "updated_at"
            if topic == topics.PROFILES
            else ("booked_at" if topic == topics.TRANSACTIONS else "occurred_at")
        )
        events.sort(key=lambda e, key=key: e[key])
    return by_topic


MONTH = month()


def messages_of(order: list[str]) -> list[InboundMessage]:
    """The month's records in the arrival order ``order`` (a topic name per record)."""
    position = {t: 0 for t in MONTH}
    out = []
    for topic in order:
        event = MONTH[topic][position[topic]]
        out.append(
            InboundMessage(
                topic, 0, position[topic], event["customer_id"].encode(), orjson.dumps(event)
            )
        )
        position[topic] += 1
    return out


async def run(
    messages: list[InboundMessage], batch: int, backfill: bool = False
) -> tuple[dict, dict]:
    """Outputs and states; ``backfill``: every record was written before any was read
    (the highwaters say so), and nothing but the caught-up topics releases the events."""
    store, publisher = MemoryStore(), CollectingPublisher()
    p = BatchProcessor(
        ENGINE,
        store,
        publisher,
        wall_clock=lambda: WALL,
        topic_idle_seconds=float("inf"),
        highwater=(lambda topic, partition: len(MONTH.get(topic, ()))) if backfill else _unknown,
    )
    for i in range(0, len(messages), batch):
        await p.process(messages[i : i + batch])
    if backfill:
        assert p.held() == set()  # the last batch read every topic to its end
    await p.flush()
    outputs = {(m.topic, dict(m.headers)["ce_id"]): m.value for m in publisher.messages}
    states = {cid: rec.state for cid, rec in store.customers.items()}
    return outputs, states


def _unknown(topic: str, partition: int) -> None:
    return None


ALL = [t for t, events in MONTH.items() for _ in events]
REFERENCE = asyncio.run(run(messages_of(sorted(ALL, key=list(MONTH).index)), 10_000))


@st.composite
def merges(draw: st.DrawFn) -> list[str]:
    """Any interleaving that keeps each topic's own order; sometimes one topic first."""
    if draw(st.booleans()):
        ahead = draw(st.sampled_from(list(MONTH)))
        rest = [t for t in ALL if t != ahead]
        return [ahead] * len(MONTH[ahead]) + draw(st.permutations(rest))
    return draw(st.permutations(ALL))


@settings(max_examples=60, deadline=None)
@given(order=merges(), batch=st.integers(min_value=1, max_value=40))
def test_any_merge_of_the_topics_gives_byte_identical_outputs_and_states(order, batch):
    outputs, states = asyncio.run(run(messages_of(order), batch))
    assert outputs == REFERENCE[0]
    assert states == REFERENCE[1]


@settings(max_examples=40, deadline=None)
@given(order=merges(), batch=st.integers(min_value=1, max_value=40))
def test_a_backfill_read_to_its_end_gives_the_same_outputs_without_waiting_for_idle_topics(
    order, batch
):
    outputs, states = asyncio.run(run(messages_of(order), batch, backfill=True))
    assert outputs == REFERENCE[0]
    assert states == REFERENCE[1]


def test_the_month_exercises_clicks_orders_calls_and_sales():
    outputs, _ = REFERENCE
    kinds = {orjson.loads(v).get("kind") for (t, _), v in outputs.items() if t == "impulses"}
    assert {"order_abandoned", "new_purchase"} <= kinds
    assert any(t == "attributions" for t, _ in outputs)
    assert any(t == "opportunities" for t, _ in outputs)


def test_a_click_then_an_order_is_never_clicked_but_not_ordered_whatever_arrives_first():
    clicks_first = [topics.CLICKS] * len(MONTH[topics.CLICKS]) + [
        t for t in ALL if t != topics.CLICKS
    ]
    outputs, _ = asyncio.run(run(messages_of(clicks_first), 5))
    kinds = [orjson.loads(v).get("kind") for (t, _), v in outputs.items() if t == "impulses"]
    assert "offer_clicked_not_ordered" not in kinds
    assert outputs == REFERENCE[0]


def test_the_abandonment_evidence_is_the_last_step_before_the_deadline():
    orders_last = [t for t in ALL if t != topics.ORDERS] + [topics.ORDERS] * len(
        MONTH[topics.ORDERS]
    )
    outputs, _ = asyncio.run(run(messages_of(orders_last), 7))
    abandoned = [
        orjson.loads(v)
        for (t, _), v in outputs.items()
        if t == "impulses" and b"order_abandoned" in v
    ]
    assert abandoned
    for impulse in abandoned:
        assert dict((e["name"], e["value"]) for e in impulse["evidence"])["step"] == "2"
