"""The benchmark's input: a month of a retail bank's events for many customers.

Each customer has a profile, six bookings (salary, rent, card payments, one of
them abroad, a transfer) and an online card order that is completed, cancelled
or abandoned at step 2 (a third each; the abandonment deadline fires while the
stream is processed, so the timer path and the outbox are exercised too).
Events of different customers interleave in event time, so a customer is read
and written several times during a run, as in production.

The values are JSON as the contract defines them (``core/events.py``), about
330 bytes on average; keys are the customer id. Same ``seed``, same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from impulse_stream.contract import topics

T0 = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=30)
EVENTS_PER_CUSTOMER = 10  # profile + 6 bookings + 3 order steps

_MERCHANTS = (
    ("REWE Markt GmbH", "groceries", "DE"),
    ("Aral Tankstelle 4711", "fuel", "DE"),
    ("Deutsche Bahn Fernverkehr AG", "travel", "DE"),
    ("Lidl Dienstleistung GmbH", "groceries", "DE"),
    ("dm-drogerie markt GmbH", "drugstore", "DE"),
)
_ABROAD = (
    ("Hotel Miramar Palma", "travel", "ES"),
    ("Trattoria Da Mario Verona", "restaurants", "IT"),
)
ABROAD_SHARE = 0.03  # of card payments: a holiday now and then
_EMPLOYERS = ("Acme Maschinenbau GmbH", "Stadtwerke Musterstadt", "Klinikum Nord gGmbH")
_LANDLORDS = ("Wohnbau Musterstadt eG", "Hausverwaltung Schmidt & Partner")
_PRODUCTS = ("credit_card", "instalment_loan", "savings_account")


@dataclass(frozen=True)
class Message:
    topic: str  # logical name; the runner adds the prefix
    key: bytes
    value: bytes
    at: datetime


@dataclass
class Workload:
    """Events by logical topic, each topic in event-time order."""

    by_topic: dict[str, list[Message]] = field(default_factory=dict)
    customers: int = 0

    @property
    def events(self) -> int:
        return sum(len(m) for m in self.by_topic.values())

    @property
    def bytes(self) -> int:
        return sum(len(m.value) for ms in self.by_topic.values() for m in ms)

    def mean_size(self) -> float:
        return self.bytes / self.events if self.events else 0.0


def build_workload(events: int, seed: int = 7) -> Workload:
    """Exactly ``events`` events, ``ceil(events / 10)`` customers."""
    rng = random.Random(seed)
    workload = Workload()
    made = 0
    n = 0
    while made < events:
        for message in _customer_events(n, rng):
            if made == events:
                break
            workload.by_topic.setdefault(message.topic, []).append(message)
            made += 1
        n += 1
    workload.customers = n
    for messages in workload.by_topic.values():
        messages.sort(key=lambda m: m.at)
    return workload


def _customer_events(n: int, rng: random.Random) -> Iterator[Message]:
    cid = f"c{n:07d}"
    key = cid.encode()
    iban = f"DE{rng.randrange(10**19, 10**20)}"
    card = f"card-{cid}-1"
    offset = rng.uniform(0, SPAN.total_seconds())

    def at(days: float) -> datetime:
        """``days`` after the customer's own start, wrapped into the month."""
        return T0 + timedelta(seconds=(offset + days * 86400) % SPAN.total_seconds())

    # The master record as of the eve of the month: the partition clocks start there, so the
    # run is a month of live traffic (an older updated_at would make the replay sweep every
    # calendar day since then: a year of birthdays in a month's drain).
    profile_at = T0 - timedelta(hours=rng.uniform(1, 72))
    yield _msg(topics.PROFILES, key, _profile(cid, profile_at, card, rng), profile_at)

    balance = float(rng.randrange(800, 9000))
    bookings: list[tuple[datetime, dict[str, Any]]] = []

    def book(
        when: datetime,
        amount: float,
        direction: str,
        category: str,
        name: str,
        purpose: str,
        card_payment: tuple[str, str] | None = None,
    ) -> None:
        nonlocal balance
        balance += amount if direction == "credit" else -amount
        k = len(bookings)
        event = _booking(cid, k, iban, when, amount, direction, category, name, purpose, balance)
        if card_payment is not None:
            event["card_id"], event["country"] = card_payment
        bookings.append((when, event))

    salary_at = T0 + timedelta(days=rng.randrange(0, 3), hours=6)
    book(
        salary_at,
        rng.choice((2450, 3100, 3800, 5200)),
        "credit",
        "salary",
        rng.choice(_EMPLOYERS),
        f"Lohn/Gehalt {salary_at:%m/%Y}",
    )
    rent_at = salary_at + timedelta(days=1, hours=2)
    book(rent_at, rng.choice((690, 840, 1150)), "debit", "rent", rng.choice(_LANDLORDS),
         f"Miete {rent_at:%m/%Y} Whg. 3 OG links")  # fmt: skip
    for _ in range(3):
        abroad = rng.random() < ABROAD_SHARE
        name, category, country = rng.choice(_ABROAD if abroad else _MERCHANTS)
        book(at(rng.uniform(0, 20)), round(rng.uniform(8, 240), 2), "debit", category, name,
             f"Kartenzahlung {name[:18]}", (card, country))  # fmt: skip
    book(at(rng.uniform(0, 25)), 50, "debit", "transfer", "Sparplan ETF Depot",
         "Dauerauftrag Sparplan")  # fmt: skip
    for when, booking in bookings:
        yield _msg(topics.TRANSACTIONS, key, booking, when)

    order = f"ord-{cid}-1"
    product = _PRODUCTS[n % len(_PRODUCTS)]
    t = at(rng.uniform(0, 28))
    outcome = n % 3
    steps = [("started", 0, t), ("step_completed", 1, t + timedelta(minutes=2))]
    if outcome == 0:
        steps.append(("completed", 4, t + timedelta(minutes=9)))
    elif outcome == 1:
        steps.append(("cancelled", 1, t + timedelta(minutes=5)))
    else:
        steps.append(("step_completed", 2, t + timedelta(minutes=4)))  # then nothing: abandoned
    for status, step, when in steps:
        yield _msg(topics.ORDERS, key, _order_step(cid, order, product, status, step, when), when)


def _msg(topic: str, key: bytes, value: dict[str, Any], at: datetime) -> Message:
    return Message(topic, key, orjson.dumps(value), at)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _profile(cid: str, at: datetime, card: str, rng: random.Random) -> dict[str, Any]:
    phone = rng.random() < 0.8
    return {
        "customer_id": cid,
        "updated_at": _iso(at),
        "birth_date": f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-"
        f"{rng.randrange(1, 29):02d}",
        "advisor_id": f"adv-{rng.randrange(1, 400)}",
        "branch_id": f"br-{rng.randrange(1, 60)}",
        "segment": rng.choice(("retail", "retail", "private")),
        "consents": {"phone": phone, "email": True, "letter": True, "online_banking": True},
        "products": ["current_account", "debit_card"] + (["savings_account"] if phone else []),
        "occupation": rng.choice(("employee", "employee", "civil_servant", "self_employed")),
        "home_country": "DE",
        "cards": [{"card_id": card, "status": "active", "expires_on": "2028-09-30"}],
    }


def _booking(
    cid: str,
    k: int,
    iban: str,
    at: datetime,
    amount: float,
    direction: str,
    category: str,
    name: str,
    purpose: str,
    balance: float,
) -> dict[str, Any]:
    return {
        "event_id": f"tx-{cid}-{k}",
        "customer_id": cid,
        "account_id": iban,
        "booked_at": _iso(at),
        "amount": f"{amount:.2f}",
        "currency": "EUR",
        "direction": direction,
        "counterparty": {"name": name},
        "purpose": purpose,
        "category": category,
        "balance_after": f"{balance:.2f}",
    }


def _order_step(
    cid: str, order: str, product: str, status: str, step: int, at: datetime
) -> dict[str, Any]:
    return {
        "event_id": f"{order}-{step}-{status}",
        "customer_id": cid,
        "order_id": order,
        "product": product,
        "channel": "online_banking",
        "occurred_at": _iso(at),
        "status": status,
        "step": step,
        "total_steps": 4,
        "session_id": f"sess-{cid}-{at:%d%H%M}",
    }
