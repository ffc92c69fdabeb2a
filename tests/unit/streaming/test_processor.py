"""The worker's batch path on the in-memory store: fences, outbox, dead letters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.errors import PublishFailed
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    RetryPolicy,
)
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, order_step, profile

ENGINE = DecisionEngine(load_catalogue())


def messages(topic: str, events: list, partition: int = 0, start: int = 0) -> list[InboundMessage]:
    out = []
    for i, e in enumerate(events):
        value = e if isinstance(e, bytes) else orjson.dumps(e)
        key = None if isinstance(e, bytes) else e["customer_id"].encode()
        out.append(InboundMessage(topic, partition, start + i, key, value))
    return out


def opportunities(publisher: CollectingPublisher) -> list[dict]:
    return [orjson.loads(m.value) for m in publisher.messages if m.topic == "opportunities"]


def run(coro):
    return asyncio.run(coro)


def abandoned_then_call() -> list[InboundMessage]:
    return (
        messages("customers.profile", [profile("c1")])
        + messages("orders.flow", abandoned_card_order("c1"))
        + messages("channel.contacts", [inbound_call("c1", T0 + timedelta(minutes=40))])
    )


def test_abandoned_card_order_becomes_one_opportunity():
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, MemoryStore(), pub)
    run(p.process(abandoned_then_call()))
    opps = opportunities(pub)
    assert [o["product"] for o in opps if o["status"] == "open"].count("credit_card") == 1
    card = next(o for o in opps if o["product"] == "credit_card")
    assert any(r["kind"] == "order_abandoned" for r in card["reasons"])
    headers = dict(next(m for m in pub.messages if m.topic == "opportunities").headers)
    assert headers["ce_specversion"] == b"1.0"


def test_a_redelivered_batch_is_applied_once():
    store, pub = MemoryStore(), CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    batch = abandoned_then_call()
    run(p.process(batch))
    published = len(pub.messages)
    run(p.process(batch))
    assert len(pub.messages) == published


class Crash(Exception):
    pass


class CrashingPublisher(CollectingPublisher):
    async def publish(self, messages):
        raise Crash


class CrashingLaterPublisher(CollectingPublisher):
    """Publishes until ``crash`` is set."""

    crash = False

    async def publish(self, messages):
        if self.crash:
            raise Crash
        await super().publish(messages)


def test_outputs_written_but_not_published_are_recovered_by_the_next_owner():
    store = MemoryStore()
    batch = abandoned_then_call()
    with pytest.raises(Crash):
        run(BatchProcessor(ENGINE, store, CrashingPublisher()).process(batch))
    reference = CollectingPublisher()
    run(BatchProcessor(ENGINE, MemoryStore(), reference).process(batch))

    pub = CollectingPublisher()
    successor = BatchProcessor(ENGINE, store, pub)
    run(successor.process(batch))  # the same batch again: offsets were never committed
    assert sorted(m.value for m in pub.messages) == sorted(m.value for m in reference.messages)
    assert store.pending_outbox.get(0, set()) <= set()


def test_a_shutdown_after_a_failed_publish_keeps_the_outbox_for_the_next_owner():
    # A worker stopped (SIGTERM) while its batch's publish was under way deletes, on
    # shutdown, the outbox entries it counts as delivered: those of a publish that never
    # returned must not be among them (seen in the rebalance fault test: outputs of the
    # stopped worker's last batch were in neither Kafka nor the outbox).
    store = MemoryStore()
    first_batch = messages("customers.profile", [profile("c1")])
    batch = messages("orders.flow", abandoned_card_order("c1")) + messages(
        "channel.contacts", [inbound_call("c1", T0 + timedelta(minutes=40))]
    )

    stopping = CrashingLaterPublisher()
    worker = BatchProcessor(ENGINE, store, stopping)
    run(worker.process(first_batch))
    stopping.crash = True
    with pytest.raises(Crash):
        run(worker.process(batch))
    run(worker.flush_delivered())  # the shutdown path

    reference = CollectingPublisher()
    model = BatchProcessor(ENGINE, MemoryStore(), reference)
    run(model.process(first_batch))
    run(model.process(batch))
    wanted = {m.value for m in reference.messages} - {m.value for m in stopping.messages}
    assert any(o.get("product") == "credit_card" for o in map(orjson.loads, wanted))

    pub = CollectingPublisher()
    run(BatchProcessor(ENGINE, store, pub).process(batch))  # the next owner, same offsets
    assert wanted <= {m.value for m in pub.messages}


def test_publish_failures_are_retried_until_kafka_takes_the_outputs():
    class Flaky(CollectingPublisher):
        failures = 3

        async def publish(self, messages):
            if self.failures:
                self.failures -= 1
                raise PublishFailed("broker restarting")
            await super().publish(messages)

    async def no_sleep(_):
        return None

    pub = Flaky()
    p = BatchProcessor(ENGINE, MemoryStore(), pub, retry=RetryPolicy(sleep=no_sleep))
    run(p.process(abandoned_then_call()))
    assert opportunities(pub)
    assert p.metrics.publish_errors._value.get() == 3


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00", "invalid_encoding"),
        (orjson.dumps({"customer_id": "c1"}), "schema_violation"),
    ],
)
def test_bad_events_become_dead_letters_and_the_next_event_is_processed(raw, reason):
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, MemoryStore(), pub)
    bad = InboundMessage("orders.flow", 0, 0, b"c1", raw)
    good = messages("orders.flow", [order_step("c1", "o1", "started", 0, T0)], start=1)
    run(p.process([bad, *good]))
    (dead,) = [m for m in pub.messages if m.topic == "impulse-stream.dlq"]
    headers = dict(dead.headers)
    assert headers["dlq_reason"] == reason.encode()
    assert headers["dlq_topic"] == b"orders.flow"
    assert headers["dlq_partition"] == b"0" and headers["dlq_offset"] == b"0"
    assert dead.value == raw
    assert p.store.customers["c1"].fences == {"2:0": 1}  # orders.flow is input topic 2


def test_a_zombie_write_is_refused_and_publishes_nothing_new():
    store = MemoryStore()
    owner = BatchProcessor(ENGINE, store, CollectingPublisher())
    first = messages("orders.flow", abandoned_card_order("c1"))
    later = messages(
        "orders.flow",
        [order_step("c1", "ord-c1", "completed", 4, T0 + timedelta(hours=1))],
        start=3,
    )

    class PausedZombieStore(MemoryStore):
        """Reads what the store held before the zombie was paused; writes to the real one."""

        def __init__(self):
            super().__init__()
            self.snapshot = None

        async def load(self, ids, delivered=()):
            if self.snapshot is None:
                return await store.load(ids)
            snap, self.snapshot = self.snapshot, None
            return {cid: snap[cid] for cid in ids}

        async def commit(self, writes, marks=None, expected=()):
            return await store.commit(writes, marks, expected)

        async def due_and_next(self, *a):
            return await store.due_and_next(*a)

        async def pending(self, partition):
            return []

    zombie_store = PausedZombieStore()
    zombie_pub = CollectingPublisher()
    zombie = BatchProcessor(ENGINE, zombie_store, zombie_pub)
    run(zombie.recover(0))
    zombie_store.snapshot = run(store.load(["c1"]))  # the zombie read c1 ... and froze
    run(owner.process(first + later))  # the new owner took over meanwhile
    run(zombie.process(first + later))  # the zombie wakes up and writes its stale batch
    assert zombie_pub.messages == []
    assert zombie.metrics.fenced_writes._value.get() == 1
    assert store.customers["c1"].fences == {"2:0": 3}


def test_a_successor_may_repeat_outputs_only_byte_for_byte():
    store = MemoryStore()
    owner_pub, successor_pub = CollectingPublisher(), CollectingPublisher()
    batch = abandoned_then_call()
    run(BatchProcessor(ENGINE, store, owner_pub).process(batch))
    run(BatchProcessor(ENGINE, store, successor_pub).process(batch))
    assert {m.value for m in successor_pub.messages} <= {m.value for m in owner_pub.messages}


def test_a_batch_costs_at_most_four_round_trips():
    store = MemoryStore()
    p = BatchProcessor(ENGINE, store, CollectingPublisher())
    run(p.process(messages("orders.flow", abandoned_card_order("warm-up", T0))))
    events = []
    for n in range(200):
        events += abandoned_card_order(f"c{n}", T0 + timedelta(seconds=n))
    batch = messages("orders.flow", events, start=3)
    store.round_trips = 0
    # checkpoint check, timers, customers, one fenced write that raises the checkpoint
    run(p.process(batch))
    assert store.round_trips <= 4
    assert store.round_trips / len(batch) <= 0.05


def test_responses_feed_the_next_days_acceptance_statistics():
    store, pub = MemoryStore(), CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    run(p.process(abandoned_then_call()))
    offer = next(o for o in opportunities(pub) if o["action_id"] == "finish_credit_card_order")
    answer = {
        "event_id": "r1",
        "opportunity_id": offer["opportunity_id"],
        "customer_id": "c1",
        "channel": "call_centre",
        "response": "accepted",
        "occurred_at": (T0 + timedelta(minutes=45)).isoformat(),
        "agent_id": "kdc-1",
    }
    run(p.process(messages("opportunities.responses", [answer])))
    closed = p.metrics.opportunities_closed
    assert closed.labels("finish_credit_card_order", "accepted")._value.get() == 1
    assert closed.labels("finish_credit_card_order", "declined")._value.get() == 0
    assert store.acceptance == {
        T0.date(): {("finish_credit_card_order", "retail", "call_centre"): (1, 0)}
    }
    tomorrow = p.engine_for(T0 + timedelta(days=1))
    assert tomorrow is p.engine_for(T0)  # not loaded yet: yesterday's snapshot
    run(p.learning.prepare({(T0 + timedelta(days=1)).date()}))
    learned = p.engine_for(T0 + timedelta(days=1)).statistics
    assert learned.counts("finish_credit_card_order", "retail", "call_centre") == (1, 0)


def test_an_action_held_back_by_the_policy_is_counted_per_rule():
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, MemoryStore(), pub)
    holder = profile("c1", products=["current_account", "credit_card"])
    run(p.process(messages("customers.profile", [holder]) + abandoned_then_call()[1:]))
    assert p.metrics.suppressions.labels("product_held")._value.get() >= 1


def test_a_profile_tombstone_erases_the_customer():
    store = MemoryStore()
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    run(p.process(abandoned_then_call()))
    assert "c1" in store.customers
    run(p.process([InboundMessage("customers.profile", 0, 1, b"c1", None)]))
    assert "c1" not in store.customers
    assert not [m for m in pub.messages if m.topic == "impulse-stream.dlq"]
    assert p.metrics.erasures._value.get() == 1


def salary(cid: str, at) -> dict:
    return {
        "event_id": f"sal-{cid}",
        "customer_id": cid,
        "account_id": f"acc-{cid}",
        "booked_at": at.isoformat(),
        "amount": "3100.00",
        "currency": "EUR",
        "direction": "credit",
        "counterparty": {"name": "ACME Maschinenbau GmbH"},
        "purpose": "Lohn/Gehalt",
        "category": "salary",
    }


def in_groups(cid: str) -> list[InboundMessage]:
    """A customer of household ``hh-9`` paid by ACME (their memberships, then a tombstone)."""
    return messages("customers.profile", [profile(cid, household_id="hh-9")]) + messages(
        "bank.transactions", [salary(cid, T0)], start=1
    )


def group_messages(pub: CollectingPublisher) -> list[tuple[str, dict]]:
    members = ("employers.members", "households.members")
    return [(m.topic, orjson.loads(m.value)) for m in pub.messages if m.topic in members]


def test_an_erased_customer_leaves_their_household_and_employer_after_their_memberships():
    store, pub = MemoryStore(), CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    tomb = InboundMessage("customers.profile", 0, 2, b"c1", None)
    run(p.process(in_groups("c1")))
    run(p.process([tomb]))
    found = [(topic, m["status"], m["customer_id"]) for topic, m in group_messages(pub)]
    assert sorted(found[:2]) == [
        ("employers.members", "joined", "c1"),
        ("households.members", "joined", "c1"),
    ]
    assert sorted(found[2:]) == [
        ("employers.members", "erased", "c1"),
        ("households.members", "erased", "c1"),
    ]
    erased = {m.topic: m for m in pub.messages[-2:]}
    assert erased["households.members"].key == b"hh-9"  # the group's partition
    joined_key = next(m.key for m in pub.messages if m.topic == "employers.members")
    assert erased["employers.members"].key == joined_key
    assert "c1" not in store.customers


class FailingOnErasure(CollectingPublisher):
    """Kafka goes away while the erased memberships are published (the worker dies)."""

    async def publish(self, messages):
        if any(b'"erased"' in (m.value or b"") for m in messages):
            raise Crash
        await super().publish(messages)


def test_a_crash_before_the_erased_memberships_are_published_keeps_the_state_for_the_retry():
    store = MemoryStore()
    run(BatchProcessor(ENGINE, store, CollectingPublisher()).process(in_groups("c1")))
    tomb = InboundMessage("customers.profile", 0, 2, b"c1", None)
    failing = BatchProcessor(ENGINE, store, FailingOnErasure())
    with pytest.raises(Crash):
        run(failing.process([tomb]))
    assert "c1" in store.customers  # not deleted before its groups were told
    pub = CollectingPublisher()
    run(BatchProcessor(ENGINE, store, pub).process([tomb]))  # the redelivered tombstone
    # the new owner may first publish the outbox again (the joined memberships): the
    # erased ones follow them, so the groups end without the customer
    statuses = [(t, m["status"]) for t, m in group_messages(pub)]
    assert sorted(statuses[-2:]) == [
        ("employers.members", "erased"),
        ("households.members", "erased"),
    ]
    assert all(status != "erased" for _, status in statuses[:-2])
    assert "c1" not in store.customers
    again = CollectingPublisher()
    run(BatchProcessor(ENGINE, store, again).process([tomb]))  # once erased: nothing more
    assert group_messages(again) == []


def test_a_tombstone_elsewhere_is_a_dead_letter():
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, MemoryStore(), pub)
    run(p.process([InboundMessage("orders.flow", 0, 0, b"c1", None)]))
    (dead,) = pub.messages
    assert dict(dead.headers)["dlq_reason"] == b"tombstone"


def test_a_quiet_tick_deletes_the_acknowledged_outbox_entries():
    store, pub = MemoryStore(), CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    run(p.process(abandoned_then_call()))
    assert pub.messages and store.pending_outbox.get(0)  # deleted with the next read
    run(p.tick())
    assert not store.pending_outbox.get(0)
    assert all(not rec.outbox for rec in store.customers.values())


def test_events_an_earlier_batch_held_stay_held_when_the_batch_releasing_them_fails():
    # The worker acknowledges an event once the processor no longer holds it. An order
    # step held by one batch and released by the next must be held again when that
    # next batch fails, or the worker would commit an event that was never decided.
    behind = {"channel.contacts"}
    store = MemoryStore()
    pub = CrashingLaterPublisher()
    p = BatchProcessor(ENGINE, store, pub, backlogged=lambda topic, partition: topic in behind)
    steps = messages("orders.flow", abandoned_card_order("c1"))
    run(p.process(steps))
    held = {(m.topic, m.partition, m.offset) for m in steps}
    assert held <= p.held()  # the contacts topic is behind: the clock waits for it
    behind.clear()
    pub.crash = True
    call = messages("channel.contacts", [inbound_call("c1", T0 + timedelta(hours=3))])
    with pytest.raises(Crash):
        run(p.process(call))
    assert held <= p.held()
    pub.crash = False
    run(p.process(call))  # the retry
    assert not held & p.held()
    assert any(o["product"] == "credit_card" for o in opportunities(pub))


class CountingDueStore(MemoryStore):
    """Counts the processor's timer reads."""

    def __init__(self):
        super().__init__()
        self.due_calls = 0

    async def due_and_next(self, partition, until_ms, limit):
        self.due_calls += 1
        return await super().due_and_next(partition, until_ms, limit)


def abandoned(publisher: CollectingPublisher, cid: str) -> list[dict]:
    return [
        o
        for o in opportunities(publisher)
        if o["customer_id"] == cid and any(r["kind"] == "order_abandoned" for r in o["reasons"])
    ]


def test_due_is_asked_only_once_the_clock_reaches_the_earliest_wake_up():
    store = CountingDueStore()
    p = BatchProcessor(ENGINE, store, CollectingPublisher())
    run(p.process(messages("orders.flow", abandoned_card_order("c1", T0))))  # due ~T0 + 33 min
    assert store.due_calls == 1  # nothing known yet: asked
    later = abandoned_card_order("c2", T0 + timedelta(minutes=10))
    run(p.process(messages("orders.flow", later, start=3)))
    assert store.due_calls == 1  # the clock (T0 + 13 min) is before c1's wake-up
    past = [order_step("c3", "ord-c3", "started", 0, T0 + timedelta(hours=2))]
    run(p.process(messages("orders.flow", past, start=6)))
    assert store.due_calls == 2


def test_a_wake_up_this_worker_wrote_fires_when_the_clock_passes_it():
    # The first batch's timer read finds no timers; c1's wake-up is written after it.
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, MemoryStore(), pub)
    run(p.process(messages("orders.flow", abandoned_card_order("c1", T0))))
    assert abandoned(pub, "c1") == []
    past = [order_step("c2", "ord-c2", "started", 0, T0 + timedelta(hours=2))]
    run(p.process(messages("orders.flow", past, start=3)))
    assert abandoned(pub, "c1") != []


def test_after_a_reassignment_the_earliest_wake_up_known_before_is_not_trusted():
    store = MemoryStore()
    pub = CollectingPublisher()
    p = BatchProcessor(ENGINE, store, pub)
    run(p.process(messages("orders.flow", abandoned_card_order("c1", T0))))  # knows T0 + 33 min
    p.on_revoked({0})
    # Meanwhile the partition's other owner stores an earlier wake-up: c2's, T0 + 31 min.
    other = BatchProcessor(ENGINE, store, CollectingPublisher())
    other.on_assigned({0})
    started = [order_step("c2", "ord-c2", "started", 0, T0 + timedelta(minutes=1))]
    run(other.process(messages("orders.flow", started, start=3)))
    assert abandoned(pub, "c2") == []
    other.on_revoked({0})
    p.on_assigned({0})
    now = [order_step("c3", "ord-c3", "started", 0, T0 + timedelta(minutes=32))]
    run(p.process(messages("orders.flow", now, start=4)))  # the clock passes c2's, not c1's
    assert abandoned(pub, "c2") != [] and abandoned(pub, "c1") == []
