"""Fingerprint of the decision core's behaviour: one hash per workload.

Runs the domain's worked example (unit and demo versions), random customer
stories shaped like the property tests' and the order streams of
``tests/support/scenarios.py`` through ``DecisionEngine`` and hashes every
output record, every state (its msgpack layout) and the channel queries. A
refactoring of ``core/`` that must not change behaviour leaves every line of
the output unchanged:

    .venv/bin/python scripts/core_fingerprint.py > before.txt
    # ... change core/ ...
    .venv/bin/python scripts/core_fingerprint.py | diff before.txt -

Run from the repository root (it imports the test builders). The venv runs
the compiled core: after changing a core source, ``make venv`` rebuilds it
before the second run, or the old build answers.
"""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import scenarios
from tests.unit.core import test_properties
from tests.unit.core.conftest import at, booking, click, profile, replay, response
from tests.unit.core.test_worked_example import _history

from impulse_stream import worked_example
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.cockpit import customer_view
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    CHANNELS,
    Card,
    ChannelContact,
    Click,
    Consents,
    Contract,
    CustomerProfile,
    InputEvent,
    OpportunityResponse,
    OrderStep,
    Transaction,
)
from impulse_stream.core.state import CONSENT_BITS, CustomerState

TYPES: dict[str, type[Any]] = {
    topics.TRANSACTIONS: Transaction,
    topics.CLICKS: Click,
    topics.ORDERS: OrderStep,
    topics.PROFILES: CustomerProfile,
    topics.CONTACTS: ChannelContact,
    topics.RESPONSES: OpportunityResponse,
}


class Digest:
    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.items = 0

    def add(self, value: object) -> None:
        if isinstance(value, CustomerState):
            # The state's msgpack layout, not the stored blob: a faster compressor
            # changes the bytes in Redis, never the state.
            self.h.update(msgspec.msgpack.encode(value))
        else:
            self.h.update(msgspec.json.encode(value))
        self.h.update(b"\x00")
        self.items += 1

    def line(self, name: str) -> str:
        return f"{name}: {self.h.hexdigest()} ({self.items} items)"


def queries(d: Digest, engine: DecisionEngine, state: CustomerState, now: datetime) -> None:
    for channel in CHANNELS:
        d.add(engine.next_best_actions(state, channel, now, limit=5))
    d.add(engine.bundle_predictions(state, now))
    d.add(engine.next_wakeup(state))
    d.add(customer_view(engine, state, "call_centre", now))


def unit_worked_example(engine: DecisionEngine) -> str:
    d = Digest()
    state, outputs = replay(engine, _history())
    d.add(outputs)
    d.add(state)
    queries(d, engine, state, at(41))
    desk = engine.next_best_actions(state, "call_centre", at(41))
    for o in desk:
        dec = engine.apply(state, response(o.opportunity_id, "shown", at(42)), at(42))
        state = dec.state
        d.add(dec.outputs)
    dec = engine.apply(state, response(desk[0].opportunity_id, "accepted", at(43)), at(43))
    d.add(dec.outputs)
    d.add(dec.observations)
    dec = engine.apply(
        dec.state,
        response(desk[1].opportunity_id, "accepted", at(44), appointment_at=at(0, days=7)),
        at(44),
    )
    state = dec.state
    d.add(dec.outputs)
    for days in (1, 2, 8, 40):
        dec = engine.advance(state, at(0, days=days))
        state = dec.state
        d.add(dec.outputs)
        d.add(state)
        queries(d, engine, state, at(0, days=days))
    return d.line("unit worked example")


def _decoded(topic: str, event: dict[str, Any]) -> InputEvent:
    value: InputEvent = msgspec.json.decode(orjson.dumps(event), type=TYPES[topic])
    return value


def demo_worked_example(engine: DecisionEngine) -> str:
    d = Digest()
    now = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    events = [_decoded(t, e) for t, e in worked_example.events("c-demo", now)]
    state, outputs = replay(engine, events, until=now + timedelta(days=3))
    d.add(outputs)
    d.add(state)
    queries(d, engine, state, now + timedelta(days=3))
    return d.line("demo worked example")


def order_streams(engine: DecisionEngine) -> str:
    """Many customers on one partition: one watermark, timers via next_wakeup."""
    d = Digest()
    states: dict[str, CustomerState] = {}
    watermark: datetime | None = None
    raw = list(scenarios.order_stream(240))
    raw += [scenarios.profile(f"c7-{n:05d}") for n in range(0, 240, 7)]
    for n in range(5):
        cid = f"wk-{n}"
        raw += [scenarios.profile(cid), *scenarios.abandoned_card_order(cid)]
        raw.append(scenarios.inbound_call(cid, scenarios.T0 + timedelta(minutes=40 + n)))
    events: list[InputEvent] = []
    for e in raw:
        if "order_id" in e:
            events.append(_decoded(topics.ORDERS, e))
        elif "kind" in e:
            events.append(_decoded(topics.CONTACTS, e))
        else:
            events.append(_decoded(topics.PROFILES, e))
    events.sort(key=lambda e: e.occurred_at)
    for event in events:
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        for cid in sorted(states):
            wake = engine.next_wakeup(states[cid])
            if wake is not None and wake <= watermark:
                dec = engine.advance(states[cid], watermark)
                states[cid] = dec.state
                d.add(dec.outputs)
        dec = engine.apply(states.get(event.customer_id), event, watermark)
        states[event.customer_id] = dec.state
        d.add(dec.outputs)
    assert watermark is not None
    end = watermark + timedelta(days=10)
    for cid in sorted(states):
        dec = engine.advance(states[cid], end)
        d.add(dec.outputs)
        d.add(dec.state)
    return d.line("order streams")


def customer_years(engine: DecisionEngine) -> str:
    """A year of salaries, balances, card use and master data for varied customers:
    every calendar detector, the C-customer pool and the salary stopping."""
    d = Digest()
    t0 = at(0)
    for n in range(24):
        events: list[InputEvent] = [
            profile(
                t0 - timedelta(days=30),
                birth=date(1950 + 3 * n, 1 + n % 12, 1 + (7 * n) % 28),
                advisor=None if n % 3 == 0 else "adv-7",
                segment=("retail", "young", "private")[n % 3],
                consents=Consents(phone=n % 2 == 0, email=n % 4 < 2, online_banking=n % 5 > 0),
                occupation="student" if n % 7 == 0 else "employee",
                contracts=(
                    Contract(
                        contract_id="li",
                        product="life_insurance",
                        matures_on=date(2027, 1 + n % 12, 15),
                    ),
                ),
                cards=(Card(card_id="k1", expires_on=date(2027, 1 + (n + 3) % 12, 28)),),
            )
        ]
        months = 3 + n % 9
        for m in range(months):
            amount = str(3000 + (400 if m == months - 1 and n % 2 else 0))
            events.append(
                booking(
                    t0 + timedelta(days=30 * m),
                    amount,
                    category="salary",
                    name="Acme GmbH",
                    balance=str(2000 + 900 * m),
                )
            )
            events.append(
                booking(
                    t0 + timedelta(days=30 * m + 3),
                    str(50 + n),
                    "debit",
                    category="card_payment",
                    balance=str(-100 * (n % 4)),
                    country="ES" if m % 4 == 1 else None,
                    card_id="k1",
                )
            )
        if n % 5 == 0:
            events.append(click(t0 + timedelta(days=5), "banner_click", product="savings_plan"))
            events.append(
                profile(
                    t0 + timedelta(days=50),
                    products=("current_account", "membership"),
                    cards=(Card(card_id="k1", status="blocked"),),
                )
            )
        state, outputs = replay(engine, events, until=t0 + timedelta(days=400))
        d.add(outputs)
        d.add(state)
        queries(d, engine, state, t0 + timedelta(days=400))
    return d.line("customer years")


def _profile_step(rng: random.Random) -> dict[str, object]:
    return {
        "type": "profile",
        "consents": Consents(**{c: rng.random() < 0.5 for c in CONSENT_BITS}),
        "products": rng.sample(test_properties.PRODUCTS, rng.randint(0, 3)),
        "advisor": rng.choice([None, "adv-1"]),
        "birth": date(1950, 1, 1) + timedelta(days=rng.randint(0, 21914)),
        "segment": rng.choice(["retail", "young", "private"]),
        "card_blocked": rng.random() < 0.5,
    }


def _step(rng: random.Random) -> dict[str, object]:
    kind = rng.choice(
        ["profile", "order", "order", "booking", "booking", "click", "contact", "show", "show"]
    )
    if kind == "profile":
        return _profile_step(rng)
    if kind == "order":
        return {
            "type": "order",
            "order": rng.choice(["o1", "o2", "o3", "o4", "o5", "o6"]),
            "product": rng.choice(test_properties.PRODUCTS[:4]),
            "status": rng.choice(
                ["started", "started", "step_completed", "completed", "cancelled"]
            ),
            "step": rng.randint(0, 4),
            "channel": rng.choice(["online_banking", "app", "call_centre"]),
        }
    if kind == "booking":
        categories = ["salary", "transfer", "insurance_premium", "loan_instalment"]
        return {
            "type": "booking",
            "amount": rng.randint(1, 30000),
            "direction": rng.choice(["credit", "debit"]),
            "category": rng.choice([*categories, "returned_debit", "groceries"]),
            "name": rng.choice(["Acme GmbH", "Allianz AG", "Shop", "LBS Bausparkasse", ""]),
            "balance": rng.randint(-3000, 40000),
            "country": rng.choice([None, "DE", "ES"]),
        }
    if kind == "click":
        return {
            "type": "click",
            "kind": rng.choice(["login", "banner_click", "page_view"]),
            "product": rng.choice([None, *test_properties.PRODUCTS[:3]]),
        }
    if kind == "contact":
        return {
            "type": "contact",
            "channel": rng.choice(list(CHANNELS)),
            "kind": rng.choice(["inbound_call", "appointment", "message", "email_sent"]),
        }
    return {
        "type": "show",
        "channel": rng.choice(test_properties.SHOW_CHANNELS),
        "answer": rng.choice(["shown", "accepted", "declined", "not_now", "no_time", "shown"]),
    }


def random_story(rng: random.Random) -> Any:
    """A story shaped like the property tests' (their Hypothesis strategies draw
    from the constants in the source, so they cannot give the same stories
    before and after a change)."""
    deltas = [1, 5, 20, 45, 180, 60 * 8, 60 * 24, 60 * 24 * 3, 60 * 24 * 10]
    steps = [
        (rng.choice(deltas), rng.random() < 0.5, _step(rng)) for _ in range(rng.randint(1, 35))
    ]
    return _profile_step(rng), steps


def property_stories(engine: DecisionEngine, examples: int) -> str:
    d = Digest()
    rng = random.Random(20261123)
    for _ in range(examples):
        run = test_properties.simulate(engine, random_story(rng))
        for state, outputs in run.decisions:
            d.add(outputs)
            d.add(state)
        for when, channel, offer, _ in run.offers:
            d.add([when, channel, offer])
    return d.line(f"property stories x{examples}")


def main() -> int:
    engine = DecisionEngine(load_catalogue())
    print(unit_worked_example(engine))
    print(demo_worked_example(engine))
    print(order_streams(engine))
    print(customer_years(engine))
    print(property_stories(engine, int(sys.argv[1]) if len(sys.argv) > 1 else 400))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
