"""The first slice through the real stack: orders.flow in, opportunities out."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import orjson
import pytest

from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, order_step, profile

pytestmark = pytest.mark.integration

CARD = "finish_credit_card_order"


def send(workers, topic, events, **kw):
    return asyncio.run(produce(workers.bootstrap, workers.prefix + topic, events, **kw))


def read(workers, topic, until, timeout=60.0):
    return asyncio.run(
        read_all(workers.bootstrap, workers.prefix + topic, until=until, timeout=timeout)
    )


def card_offers(records):
    return [r.json() for r in records if r.json()["action_id"] == CARD]


def test_abandoned_card_order_gives_one_opportunity_and_completion_withdraws_it(workers):
    w = workers.start()
    send(workers, "customers.profile", [profile("c-1001")])
    send(workers, "orders.flow", abandoned_card_order("c-1001"))
    send(workers, "channel.contacts", [inbound_call("c-1001", T0 + timedelta(minutes=40))])
    records = read(workers, "opportunities", lambda r: len(card_offers(r)) >= 1)
    (offer,) = card_offers(records)
    assert offer["status"] == "open" and offer["product"] == "credit_card"
    assert offer["texts"]["instruction"]
    assert any(r["kind"] == "order_abandoned" for r in offer["reasons"])
    headers = next(r.headers for r in records if r.json()["action_id"] == CARD)
    assert headers["ce_id"] == f"{offer['opportunity_id']}:0".encode()

    send(
        workers,
        "orders.flow",
        [
            order_step(
                "c-1001",
                "ord-c-1001",
                "completed",
                4,
                T0 + timedelta(minutes=50),
                channel="call_centre",
            )
        ],
    )
    records = read(workers, "opportunities", lambda r: len(card_offers(r)) >= 2)
    withdrawn = [o for o in card_offers(records) if o["revision"] == 1]
    assert [o["status"] for o in withdrawn] == ["withdrawn"]
    assert withdrawn[0]["opportunity_id"] == offer["opportunity_id"]
    (credit,) = [r.json() for r in read(workers, "attributions", lambda r: len(r) >= 1)]
    assert credit["closing_channel"] == "call_centre" and credit["advisor_id"] == "adv-7"
    assert credit["opportunity_id"] == offer["opportunity_id"]
    assert w.alive


def test_garbage_lands_on_the_dead_letter_topic_and_the_next_event_is_processed(workers):
    w = workers.start()
    send(workers, "orders.flow", [b"{not json"], key=lambda e: b"c-2002")
    send(workers, "orders.flow", [order_step("c-2002", "o-2", "started", 0, T0)])
    (dead,) = read(workers, "impulse-stream.dlq", lambda r: len(r) >= 1)
    assert dead.value == b"{not json"
    assert dead.headers["dlq_reason"] == b"invalid_json"
    assert dead.headers["dlq_topic"] == (workers.prefix + "orders.flow").encode()
    assert int(dead.headers["dlq_offset"]) == 0
    # The valid event waits for its partition's clock: the other topics, empty since the
    # start, are read to their end and stop holding it at once.
    deadline = time.monotonic() + 15
    while (status := w.get("/customers/c-2002", timeout=5)[0]) == 404:
        assert time.monotonic() < deadline, "the valid event was not applied"
        time.sleep(0.3)
    status, body = w.get("/customers/c-2002", timeout=5)
    assert status == 200
    assert orjson.loads(body)["running_processes"][0]["ref"] == "o-2"
    status, metrics = w.get("/metrics")
    assert (
        b'impulse_stream_dead_letters_total{reason="invalid_json",topic="orders.flow"} 1.0'
        in metrics
    )
    assert w.alive


def abandoned_then_called(cid, at):
    """An abandoned order and, an hour later, a call: the customer's partition clock passes
    the deadline (each partition keeps its own event-time clock)."""
    return [*abandoned_card_order(cid, at), inbound_call(cid, at + timedelta(hours=1))]


def test_restart_loses_no_opportunity_and_repeats_none_with_another_id(workers):
    w = workers.start()
    for n in range(3):
        events = abandoned_then_called(f"c-30{n}", T0 + timedelta(minutes=n))
        send(workers, "orders.flow", events[:-1])
        send(workers, "channel.contacts", events[-1:])
    first = read(workers, "opportunities", lambda r: len(card_offers(r)) >= 3)
    assert w.stop() == 0  # SIGTERM: finish the batch, commit, leave the group
    w2 = workers.start("w2")
    events = abandoned_then_called("c-310", T0 + timedelta(hours=2))
    send(workers, "orders.flow", events[:-1])
    send(workers, "channel.contacts", events[-1:])
    records = read(workers, "opportunities", lambda r: len(card_offers(r)) >= 4, timeout=90)
    by_id: dict[str, set[bytes]] = {}
    for r in records:
        by_id.setdefault(r.headers["ce_id"].decode(), set()).add(r.value)
    assert all(len(v) == 1 for v in by_id.values())
    customers = sorted(o["customer_id"] for o in card_offers(records))
    assert customers == ["c-300", "c-301", "c-302", "c-310"]
    assert {r.headers["ce_id"] for r in first} <= {r.headers["ce_id"] for r in records}
    assert w2.alive
