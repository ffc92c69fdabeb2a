"""A synthetic but realistic bank: customers, their month, on the six input topics.

``generate(GenerateSpec(customers, days, seed, start))`` yields the events of
every day in event-time order; the same arguments give the same events, byte
for byte (one ``random.Random(seed)`` drawn in a fixed order, no clock, no
``hash()``).

What a customer does, and the impulse it is meant to cause:

- a profile at the start (birth date, advisor, segment, consents, products,
  contracts, cards) and a new one on every change: consent given or withdrawn
  (``missing_consent``), a card blocked (``card_blocked``), a product after a
  completed order or a membership signed in the branch (``new_purchase``);
  birth dates put some customers' 18th or 57th birthday into the period
  (``coming_of_age``, ``retirement_approaching``), contracts and cards fall due
  (``product_maturing``, ``card_expiring``), birthdays (``birthday``),
  customers without an advisor form the C pool (``c_pool_contact_due``);
- bookings: the salary or pension on the customer's pay day, a few with a raise
  (``salary_increase``), some stop arriving (``salary_stopped``), first salaries
  of students and apprentices (``first_salary``), rent, card payments (some
  abroad: ``card_used_abroad``), insurance premiums, loan instalments and
  building-society savings to competitors and to the bank's partners
  (``competitor_payment``), overdrafts (``recurring_overdraft``, past the limit:
  ``payment_difficulty``), returned debits (``payment_difficulty``), large
  credits (``large_incoming_payment``, ``balance_above_usual``) and accounts
  drained to another bank (``balance_drained``);
- online-banking and app sessions with page views, banner views and clicks
  (``offer_clicked_not_ordered``), order flows that stop at every step
  (``order_abandoned``), complete or are cancelled;
- contacts: inbound calls, outbound calls, advisor appointments, messages,
  e-mails, letters, banner impressions; the call centre's responses to the
  "finish your order" opportunity of an abandoned order (accepted, with an
  appointment, declined, not now, no time), followed by the completed order.

Detectors that compare with earlier months need history: the generator first
writes ``history_months`` calendar months before ``start`` with the regular
bookings only (salary, rent, premiums, instalments; and the daily card
payments of customers who run into the overdraft), so a 30-day run already
has the baseline months of ``salary_increase`` and the months of
``recurring_overdraft`` and ``salary_stopped``.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from impulse_stream.contract import topics as t
from impulse_stream.core.ids import stable_id
from impulse_stream.datatools.partitioner import partition_for
from impulse_stream.datatools.progress import Bar
from impulse_stream.datatools.recording import row_bytes, topic_file
from impulse_stream.errors import DataToolError, Interrupted
from impulse_stream.settings import Settings

Event = dict[str, Any]

HISTORY_MONTHS = 3
ORDER_PRODUCTS = ("credit_card", "current_account", "instalment_loan", "savings_plan")
FINISH_ACTION = {
    "credit_card": "finish_credit_card_order",
    "current_account": "finish_current_account_order",
    "instalment_loan": "finish_instalment_loan_application",
    "savings_plan": "finish_savings_plan_order",
}
BANNER_PRODUCTS = (*ORDER_PRODUCTS, "financial_reserve", "travel_insurance", "membership")
PAGES = ("overview", "transactions", "transfer", "cards", "savings", "loans", "profile")
EMPLOYERS = tuple(
    f"{name} {kind}"
    for name in (
        "Nordwerk",
        "Stadtwerke",
        "Heller",
        "Kranz",
        "Baumann",
        "Lindner",
        "Vogt",
        "Mainland",
        "Rheintal",
        "Alpen",
        "Hanse",
        "Sonnen",
        "Kessler",
        "Brandt",
    )
    for kind in ("GmbH", "AG", "KG", "Logistik GmbH", "Kliniken")
)
LANDLORDS = ("Wohnbau eG", "Hausverwaltung Meyer", "Stadtbau GmbH", "Immobilien Krause")
SHOPS = ("REWE", "EDEKA", "Aldi", "Lidl", "dm", "Tankstelle", "Amazon", "Apotheke", "Baeckerei")
ABROAD = (
    ("ES", "Mercadona"),
    ("IT", "Esselunga"),
    ("AT", "Billa"),
    ("FR", "Carrefour"),
    ("NL", "Albert Heijn"),
    ("US", "Walmart"),
    ("HR", "Konzum"),
)
# (category, counterparty, competitor?) - the detector knows the competitors' names.
PREMIUMS = (
    ("Allianz Lebensversicherungs-AG", True),
    ("ERGO Vorsorge", True),
    ("Generali Deutschland", True),
    ("R+V Versicherung", False),
)
LOANS = (
    ("Santander Consumer Bank", True),
    ("Creditplus Bank", True),
    ("Teambank easyCredit", False),
)
BUILDING = (
    ("Wuestenrot Bausparkasse", True),
    ("Schwaebisch Hall", True),
    ("LBS Bayern", True),
    ("Bausparkasse Mainz", False),
)
CALL_SUBJECTS = (
    "account transactions",
    "card limit",
    "standing order",
    "address change",
    "online banking access",
    "statement question",
)
SEGMENTS = (("retail", 0.72), ("private", 0.12), ("premium", 0.05), ("business", 0.05))


@dataclass(frozen=True)
class GenerateSpec:
    customers: int
    days: int
    seed: int
    start: date = date(2026, 11, 1)
    history_months: int = HISTORY_MONTHS

    @property
    def history_start(self) -> date:
        """The first of the month ``history_months`` before ``start`` (``start`` with 0)."""
        if self.history_months == 0:
            return self.start
        y, m = self.start.year, self.start.month - self.history_months
        while m < 1:
            y, m = y - 1, m + 12
        return date(y, m, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        return self.start + timedelta(days=self.days)

    def all_days(self) -> list[date]:
        n = (self.end - self.history_start).days
        return [self.history_start + timedelta(days=k) for k in range(n)]


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    c = abs(cents)
    return f"{sign}{c // 100}.{c % 100:02d}"


def _days_in_month(d: date) -> int:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _month_days(d: date) -> frozenset[int]:
    """The days of the month ``wanted`` for which ``d`` is the ``wanted``-th day, clamped
    to the month's last day (a pay day of 31 falls on 30 November)."""
    last = _days_in_month(d)
    return frozenset(range(d.day, 32)) if d.day == last else frozenset((d.day,))


def _birthday_in(rng: random.Random, age: int, first: date, span: int) -> date:
    """A birth date whose ``age``-th birthday falls in ``[first, first + span)``."""
    day = first + timedelta(days=rng.randrange(max(1, span)))
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 February
        return day.replace(year=day.year - age, day=28)


class Customer:
    """One customer's fixed traits and the little state the generator needs."""

    __slots__ = (
        "advisor",
        "balance",
        "birth",
        "branch",
        "building",
        "card_block_day",
        "card_id",
        "cards",
        "channel",
        "cid",
        "consent_day",
        "consents",
        "contracts",
        "digital",
        "drain_day",
        "employer",
        "income",
        "key",
        "large_day",
        "limit",
        "loan",
        "membership_day",
        "n",
        "occupation",
        "orders",
        "pay_day",
        "premium",
        "products",
        "prone",
        "raise_from",
        "rent",
        "rent_day",
        "returned_day",
        "salary",
        "salary_from",
        "salary_until",
        "segment",
        "seq",
        "trip",
    )

    def __init__(self, n: int, spec: GenerateSpec, rng: random.Random) -> None:
        r = rng.random
        start, days = spec.start, spec.days
        self.n = n
        self.cid = f"c{n:07d}"
        self.key = self.cid.encode()
        self.seq = 0
        self.orders = 0
        life = r()
        if life < 0.006:  # comes of age in the period (or just before it)
            self.birth = _birthday_in(rng, 18, start - timedelta(days=10), days + 10)
        elif life < 0.012:  # turns 57 in the period
            self.birth = _birthday_in(rng, 57, start, days)
        else:
            age = int(18 + (r() ** 1.3) * 68)
            self.birth = _birthday_in(rng, age, start - timedelta(days=365), 365)
        age = (start - self.birth).days // 365
        self.occupation: str | None = None
        if age < 19:
            self.occupation = "pupil"
        elif age < 27 and r() < 0.5:
            self.occupation = rng.choice(("student", "apprentice", "trainee"))
        elif age >= 67:
            self.occupation = "retired"
        if age < 27:
            self.segment = "young"
        else:
            x, self.segment = r(), "retail"
            for name, p in SEGMENTS:
                if x < p:
                    self.segment = name
                    break
                x -= p
        self.advisor = f"adv-{rng.randrange(1, 400):03d}" if r() < 0.6 else None
        self.branch = f"br-{rng.randrange(1, 60):02d}"
        self.consents = {
            "phone": r() < 0.78,
            "email": r() < 0.72,
            "letter": r() < 0.9,
            "online_banking": r() < 0.85,
        }
        products = {"current_account"}
        for product, p in (
            ("credit_card", 0.3),
            ("savings_plan", 0.25),
            ("membership", 0.45),
            ("financial_reserve", 0.15),
            ("instalment_loan", 0.08),
            ("private_pension", 0.12 if age > 40 else 0.03),
        ):
            if r() < p:
                products.add(product)
        self.contracts: list[dict[str, Any]] = []
        if r() < 0.22:
            product = "life_insurance" if r() < 0.6 else "fixed_deposit"
            products.add(product)
            soon = r() < 0.25  # matures within the next year: reinvestment planning
            ahead = rng.randrange(days + 1, 365) if soon else rng.randrange(400, 9000)
            self.contracts.append(
                {
                    "contract_id": f"k{n:07d}-1",
                    "product": product,
                    "matures_on": (start + timedelta(days=ahead)).isoformat(),
                }
            )
        self.products = products
        self.card_id = f"card-{n:07d}"
        expiring = r() < 0.04
        expiry = start + timedelta(
            days=rng.randrange(0, days + 60) if expiring else rng.randrange(200, 1500)
        )
        expiry = expiry.replace(day=_days_in_month(expiry))
        self.cards = [
            {"card_id": self.card_id, "status": "active", "expires_on": expiry.isoformat()}
        ]
        self.digital = r() < (0.85 if age < 40 else 0.6 if age < 65 else 0.3)
        self.channel = "app" if self.digital and r() < 0.45 else "online_banking"
        # Income: salary (or pension) on a pay day, a few with a raise, some stop.
        self.income: str | None = "pension" if age >= 67 else "salary"
        if age < 18 or r() < 0.06:
            self.income = None
        base = int(rng.lognormvariate(7.9, 0.45) * 100)  # ~2,700 EUR net
        self.salary = max(45_000, min(base, 1_500_000))
        self.pay_day = rng.choice((1, 15, 25, 27, 28, 30, 31))
        self.employer = (
            "Deutsche Rentenversicherung"
            if self.income == "pension"
            else (EMPLOYERS[min(len(EMPLOYERS) - 1, int(rng.paretovariate(1.2)) - 1)])
        )
        self.salary_from = spec.history_start
        self.salary_until = spec.end
        self.raise_from: date | None = None
        fate = r()
        if self.income == "salary":
            if fate < 0.04:
                self.raise_from = start  # raise of 10-25 % from this month
            elif fate < 0.055:  # salary stops: last one 30-38 days before the start
                self.salary_until = start - timedelta(days=rng.randrange(30, 39))
            elif fate < 0.07 and (age <= 27 or self.occupation in ("student", "apprentice")):
                self.salary_from = start  # first salary in the period
                self.salary = int(self.salary * 0.6)
        self.rent = int(self.salary * rng.uniform(0.25, 0.4)) if age >= 20 and r() < 0.7 else 0
        self.rent_day = rng.choice((1, 1, 2, 3))
        self.premium = self._payee(rng, PREMIUMS, 0.22, 3_000, 25_000)
        self.loan = self._payee(rng, LOANS, 0.09, 12_000, 60_000)
        self.building = self._payee(rng, BUILDING, 0.1, 5_000, 20_000)
        self.prone = self.income is not None and r() < 0.06
        self.limit = int(self.salary * 0.8) // 100 * 100 if self.prone else 0
        self.balance = (
            rng.randrange(-5_000, 40_000) if self.prone else int(self.salary * r() * 3) + 20_000
        )

        def some_day(p: float) -> date | None:
            return start + timedelta(days=rng.randrange(days)) if r() < p else None

        self.large_day = some_day(0.012)
        self.drain_day = some_day(0.005)
        self.returned_day = some_day(0.004)
        self.card_block_day = some_day(0.003)
        self.consent_day = some_day(0.01)
        self.membership_day = some_day(0.004) if "membership" not in products else None
        self.trip: tuple[date, date, str, str] | None = None
        if r() < 0.05:
            first = start + timedelta(days=rng.randrange(days))
            country, shop = rng.choice(ABROAD)
            self.trip = (first, first + timedelta(days=rng.randrange(3, 12)), country, shop)

    @staticmethod
    def _payee(
        rng: random.Random, payees: tuple[tuple[str, bool], ...], p: float, lo: int, hi: int
    ) -> tuple[str, int, int] | None:
        if rng.random() >= p:
            return None
        name, _ = rng.choice(payees)
        return name, rng.randrange(lo, hi), rng.randrange(1, 29)

    def event_id(self, kind: str) -> str:
        self.seq += 1
        return f"{kind}-{self.n:07d}-{self.seq:05d}"

    def profile(self, at: str) -> Event:
        return {
            "customer_id": self.cid,
            "updated_at": at,
            "birth_date": self.birth.isoformat(),
            "advisor_id": self.advisor,
            "branch_id": self.branch,
            "segment": self.segment,
            "consents": dict(self.consents),
            "products": sorted(self.products),
            "occupation": self.occupation,
            "home_country": "DE",
            "contracts": list(self.contracts),
            "cards": [dict(c) for c in self.cards],
        }


class _Day:
    """The events of one day, each with its millisecond timestamp and a sequence number
    (the tie-break that keeps the order reproducible)."""

    __slots__ = ("day", "due", "events", "midnight_ms", "prefix", "seq")

    def __init__(self, day: date) -> None:
        self.day = day
        self.due = _month_days(day)
        self.prefix = day.isoformat() + "T"
        self.midnight_ms = (
            int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
        )
        self.events: list[tuple[int, int, str, Customer, Event]] = []
        self.seq = 0

    def at(self, second: int) -> str:
        """RFC 3339 of a second of the day (UTC)."""
        h, rest = divmod(second, 3600)
        m, s = divmod(rest, 60)
        return f"{self.prefix}{h:02d}:{m:02d}:{s:02d}Z"

    def add(self, second: int, topic: str, customer: Customer, event: Event) -> None:
        self.seq += 1
        self.events.append((self.midnight_ms + second * 1000, self.seq, topic, customer, event))


class BankSimulation:
    """Customers and the day-by-day generation of their events."""

    def __init__(self, spec: GenerateSpec) -> None:
        if spec.customers < 1 or spec.days < 1:
            raise ValueError("customers and days must be at least 1")
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.customers = [Customer(n, spec, self.rng) for n in range(1, spec.customers + 1)]
        # History days only touch customers with a regular booking that day (or an overdraft).
        self.regular: dict[int, list[Customer]] = {w: [] for w in range(1, 32)}
        for c in self.customers:
            days = {c.pay_day, c.rent_day} | {p[2] for p in (c.premium, c.loan, c.building) if p}
            for w in sorted(days):
                self.regular[w].append(c)
        self.prone = [c for c in self.customers if c.prone]

    def _history_customers(self, d: _Day) -> list[Customer]:
        touched = {c.n: c for w in d.due for c in self.regular[w]}
        touched.update((c.n, c) for c in self.prone)
        return [touched[n] for n in sorted(touched)]

    def days(self) -> Iterator[tuple[date, list[tuple[int, str, str, Event]]]]:
        """``(day, [(timestamp_ms, topic, key, value), ...])`` in event-time order."""
        first, start = self.spec.history_start, self.spec.start
        for day in self.spec.all_days():
            d = _Day(day)
            in_period = day >= start
            customers = (
                self.customers if in_period or day == first else (self._history_customers(d))
            )
            for c in customers:
                if day == first:
                    d.add(c.n % 3600, t.PROFILES, c, c.profile(d.at(c.n % 3600)))
                self._bookings(d, c, in_period)
                if in_period:
                    self._digital(d, c)
                    self._contacts(d, c)
                    self._life(d, c)
            d.events.sort(key=lambda e: (e[0], e[1]))
            yield day, [(ms, topic, c.cid, ev) for ms, _, topic, c, ev in d.events]

    # --- bookings -----------------------------------------------------------------

    def _tx(
        self,
        d: _Day,
        c: Customer,
        second: int,
        cents: int,
        direction: str,
        category: str,
        name: str,
        purpose: str = "",
        **extra: Any,
    ) -> None:
        c.balance += cents if direction == "credit" else -cents
        event = {
            "event_id": c.event_id("tx"),
            "customer_id": c.cid,
            "account_id": f"acc-{c.n:07d}",
            "booked_at": d.at(second),
            "amount": money(cents),
            "currency": "EUR",
            "direction": direction,
            "counterparty": {"name": name},
            "purpose": purpose,
            "category": category,
            "balance_after": money(c.balance),
        }
        if c.limit:
            event["overdraft_limit"] = money(c.limit)
        event.update(extra)
        d.add(second, t.TRANSACTIONS, c, event)

    def _bookings(self, d: _Day, c: Customer, in_period: bool) -> None:
        rng, day = self.rng, d.day
        if c.income and c.pay_day in d.due and c.salary_from <= day < c.salary_until:
            amount = c.salary
            if c.raise_from is not None and day >= c.raise_from:
                amount = c.salary * (110 + c.n % 16) // 100
            purpose = "Rente" if c.income == "pension" else f"Gehalt {day.month:02d}/{day.year}"
            self._tx(d, c, 3 * 3600 + c.n % 1800, amount, "credit", c.income, c.employer, purpose)
        if c.rent and c.rent_day in d.due:
            self._tx(
                d,
                c,
                4 * 3600 + c.n % 900,
                c.rent,
                "debit",
                "rent",
                LANDLORDS[c.n % len(LANDLORDS)],
                "Miete",
            )
        for payee, category in (
            (c.premium, "insurance_premium"),
            (c.loan, "loan_instalment"),
            (c.building, "building_savings"),
        ):
            if payee is not None and payee[2] in d.due:
                self._tx(
                    d,
                    c,
                    5 * 3600 + c.n % 600,
                    payee[1],
                    "debit",
                    category,
                    payee[0],
                    f"Beitrag {day.month:02d}/{day.year}",
                )
        if not in_period and not c.prone:
            return
        # Card payments: about one a day; abroad on a trip.
        trip = c.trip if in_period and c.trip and c.trip[0] <= day <= c.trip[1] else None
        for _ in range(1 if rng.random() < 0.55 else 2 if rng.random() < 0.5 else 0):
            second = rng.randrange(8 * 3600, 21 * 3600)
            cents = int(rng.expovariate(1 / 3500)) + 150
            country, shop = (trip[2], trip[3]) if trip else ("DE", SHOPS[rng.randrange(len(SHOPS))])
            if c.prone and c.balance > -c.limit // 2 and self._before_pay_day(c, day) <= 6:
                cents = max(cents, c.balance + rng.randrange(2_000, 30_000))  # into the overdraft
            if c.prone and c.balance > -c.limit and rng.random() < 0.005:
                cents = c.balance + c.limit + rng.randrange(500, 5_000)  # past the limit
            elif cents > c.balance + c.limit:
                continue  # declined: the payment would exceed the overdraft limit
            self._tx(
                d,
                c,
                second,
                cents,
                "debit",
                "card_payment",
                shop,
                card_id=c.card_id,
                country=country,
            )
        if not in_period:
            return
        if day == c.large_day:
            cents = rng.randrange(1_000_000, 6_000_000)
            self._tx(
                d,
                c,
                rng.randrange(9 * 3600, 17 * 3600),
                cents,
                "credit",
                "transfer",
                rng.choice(("Notariat Berger", "Erbengemeinschaft", "Autohaus Sommer")),
                "Auszahlung",
            )
        if day == c.drain_day and c.balance > 150_000:
            cents = c.balance - rng.randrange(0, 5_000)
            self._tx(
                d,
                c,
                rng.randrange(9 * 3600, 17 * 3600),
                cents,
                "debit",
                "transfer",
                "Neue Direktbank AG",
                "Kontouebertrag",
            )
        if day == c.returned_day:
            self._tx(
                d,
                c,
                6 * 3600,
                rng.randrange(2_000, 40_000),
                "credit",
                "returned_debit",
                c.loan[0] if c.loan else "Stadtwerke",
                "Ruecklastschrift mangels Deckung",
            )

    @staticmethod
    def _before_pay_day(c: Customer, day: date) -> int:
        pay = min(c.pay_day, _days_in_month(day))
        return (pay - day.day) % _days_in_month(day)

    # --- online banking and orders -------------------------------------------------

    def _digital(self, d: _Day, c: Customer) -> None:
        rng = self.rng
        if not c.digital or rng.random() >= 0.22:
            return
        second = rng.randrange(6 * 3600, 23 * 3600)
        session = f"s-{c.n:07d}-{c.seq + 1:05d}"
        channel = c.channel

        def click(kind: str, page: str, product: str | None = None) -> None:
            nonlocal second
            event: Event = {
                "event_id": c.event_id("clk"),
                "customer_id": c.cid,
                "session_id": session,
                "occurred_at": d.at(second),
                "kind": kind,
                "page": page,
                "channel": channel,
            }
            if product is not None:
                event["product"] = product
            d.add(second, t.CLICKS, c, event)
            second = min(second + rng.randrange(5, 90), 86_399)

        click("login", "login")
        for _ in range(rng.randrange(1, 4)):
            click("page_view", PAGES[rng.randrange(len(PAGES))])
        if rng.random() < 0.35:
            product = BANNER_PRODUCTS[rng.randrange(len(BANNER_PRODUCTS))]
            click("banner_view", "overview", product)
            d.add(
                second,
                t.CONTACTS,
                c,
                {
                    "event_id": c.event_id("con"),
                    "customer_id": c.cid,
                    "channel": channel,
                    "kind": "banner_shown",
                    "occurred_at": d.at(second),
                    "subject": product,
                },
            )
            if product not in c.products and rng.random() < 0.2:
                click("banner_click", "offer", product)
                if product in ORDER_PRODUCTS and rng.random() < 0.5:
                    self._order(d, c, product, second)
        elif rng.random() < 0.05:
            product = ORDER_PRODUCTS[rng.randrange(len(ORDER_PRODUCTS))]
            if product not in c.products:
                self._order(d, c, product, second)

    def _order(self, d: _Day, c: Customer, product: str, second: int) -> None:
        rng = self.rng
        c.orders += 1
        order_id = f"o-{c.n:07d}-{c.orders:03d}"
        total = rng.randrange(3, 6)
        channel = c.channel

        def step(status: str, n: int) -> None:
            nonlocal second
            d.add(
                second,
                t.ORDERS,
                c,
                {
                    "event_id": c.event_id("ord"),
                    "customer_id": c.cid,
                    "order_id": order_id,
                    "product": product,
                    "channel": channel,
                    "occurred_at": d.at(second),
                    "status": status,
                    "step": n,
                    "total_steps": total,
                },
            )
            second = min(second + rng.randrange(30, 400), 86_399)

        step("started", 0)
        x = rng.random()
        if x < 0.45:  # abandoned: stops after any step, 0 .. total - 1
            stop = rng.randrange(total)
            for n in range(1, stop + 1):
                step("step_completed", n)
            if rng.random() < 0.4:
                self._call_back(d, c, order_id, product, second + 1800 + rng.randrange(600, 7200))
        elif x < 0.52:
            step("step_completed", 1)
            step("cancelled", 1)
        else:
            for n in range(1, total):
                step("step_completed", n)
            step("completed", total)
            self._bought(d, c, product, second + 60)

    def _call_back(self, d: _Day, c: Customer, order_id: str, product: str, second: int) -> None:
        """The customer calls the call centre; the agent answers the abandoned-order offer."""
        if second >= 86_000:
            return
        rng = self.rng
        agent = f"kdc-{rng.randrange(1, 120):03d}"
        d.add(
            second,
            t.CONTACTS,
            c,
            {
                "event_id": c.event_id("con"),
                "customer_id": c.cid,
                "channel": "call_centre",
                "kind": "inbound_call",
                "occurred_at": d.at(second),
                "agent_id": agent,
                "subject": CALL_SUBJECTS[rng.randrange(len(CALL_SUBJECTS))],
            },
        )
        impulse = stable_id("imp", c.cid, "order_abandoned", f"order:{order_id}")
        opportunity = stable_id("opp", c.cid, FINISH_ACTION[product], impulse)
        x = rng.random()
        response = (
            "accepted"
            if x < 0.35
            else "declined"
            if x < 0.7
            else ("not_now" if x < 0.9 else "no_time")
        )
        second += rng.randrange(60, 300)
        event: Event = {
            "event_id": c.event_id("rsp"),
            "opportunity_id": opportunity,
            "customer_id": c.cid,
            "channel": "call_centre",
            "response": response,
            "occurred_at": d.at(second),
            "agent_id": agent,
        }
        if response == "accepted" and rng.random() < 0.4:
            event["appointment_at"] = (d.day + timedelta(days=rng.randrange(1, 10))).isoformat() + (
                f"T{rng.randrange(9, 17):02d}:00:00Z"
            )
        d.add(second, t.RESPONSES, c, event)
        if response == "accepted" and "appointment_at" not in event:
            second += rng.randrange(120, 600)
            d.add(
                second,
                t.ORDERS,
                c,
                {
                    "event_id": c.event_id("ord"),
                    "customer_id": c.cid,
                    "order_id": order_id,
                    "product": product,
                    "channel": "call_centre",
                    "occurred_at": d.at(second),
                    "status": "completed",
                    "step": 1,
                    "total_steps": 1,
                    "agent_id": agent,
                },
            )
            self._bought(d, c, product, second + 60)

    def _bought(self, d: _Day, c: Customer, product: str, second: int) -> None:
        if product in c.products:
            return
        c.products.add(product)
        second = min(second, 86_399)
        d.add(second, t.PROFILES, c, c.profile(d.at(second)))

    # --- contacts and life events --------------------------------------------------

    def _contacts(self, d: _Day, c: Customer) -> None:
        rng = self.rng
        x = rng.random()
        if x >= 0.03:
            return
        second = rng.randrange(8 * 3600, 19 * 3600)
        if x < 0.009:
            channel, kind = "call_centre", "inbound_call"
        elif x < 0.012:
            channel, kind = "call_centre", "outbound_call"
        elif x < 0.015:
            channel, kind = ("advisor" if c.advisor else "branch"), "appointment"
        elif x < 0.021:
            channel, kind = c.channel, "message"
        elif x < 0.027:
            channel, kind = "email", "email_sent"
        else:
            channel, kind = "letter", "letter_sent"
        event: Event = {
            "event_id": c.event_id("con"),
            "customer_id": c.cid,
            "channel": channel,
            "kind": kind,
            "occurred_at": d.at(second),
        }
        if channel in ("call_centre", "advisor", "branch"):
            event["agent_id"] = (
                c.advisor
                if channel == "advisor" and c.advisor
                else (f"kdc-{rng.randrange(1, 120):03d}")
            )
            event["subject"] = CALL_SUBJECTS[rng.randrange(len(CALL_SUBJECTS))]
        d.add(second, t.CONTACTS, c, event)

    def _life(self, d: _Day, c: Customer) -> None:
        """Profile changes: consents, a blocked card and its replacement, a membership."""
        day, rng = d.day, self.rng
        changed = False
        if day == c.consent_day:
            missing = [k for k, v in c.consents.items() if not v]
            name = missing[0] if missing else "email"
            c.consents[name] = bool(missing)  # give a missing one, else withdraw e-mail
            changed = True
        if day == c.card_block_day:
            c.cards[0]["status"] = "blocked"
            c.card_id += "-r"
            c.cards.append(
                {
                    "card_id": c.card_id,
                    "status": "active",
                    "expires_on": date(day.year + 4, day.month, 1).isoformat(),
                }
            )
            changed = True
        if day == c.membership_day:
            c.products.add("membership")
            changed = True
        if changed:
            second = rng.randrange(8 * 3600, 18 * 3600)
            d.add(second, t.PROFILES, c, c.profile(d.at(second)))


# --- where the events go ------------------------------------------------------------


@dataclass
class GenerateStats:
    """Counts of a run: per topic, per day and topic, per customer (for docs/generate.md)."""

    per_topic: dict[str, int]
    per_day: dict[str, dict[str, int]]
    per_customer: list[int]
    categories: dict[str, int]
    order_outcomes: dict[str, int]
    responses: dict[str, int]

    @classmethod
    def empty(cls, customers: int) -> GenerateStats:
        return cls({topic: 0 for topic in t.INPUT_TOPICS}, {}, [0] * customers, {}, {}, {})

    def add_day(self, day: date, events: list[tuple[int, str, str, Event]]) -> None:
        counts = dict.fromkeys(t.INPUT_TOPICS, 0)
        per_customer = self.per_customer
        for _, topic, key, value in events:
            counts[topic] += 1
            per_customer[int(key[1:]) - 1] += 1
            if topic == t.TRANSACTIONS:
                self.categories[value["category"]] = self.categories.get(value["category"], 0) + 1
            elif topic == t.ORDERS and value["status"] != "step_completed":
                self.order_outcomes[value["status"]] = (
                    self.order_outcomes.get(value["status"], 0) + 1
                )
            elif topic == t.RESPONSES:
                self.responses[value["response"]] = self.responses.get(value["response"], 0) + 1
        for topic, n in counts.items():
            self.per_topic[topic] += n
        self.per_day[day.isoformat()] = counts

    def manifest(self, spec: GenerateSpec, partitions: int) -> dict[str, Any]:
        ranked = sorted(self.per_customer)

        def pct(q: float) -> int:
            return ranked[min(len(ranked) - 1, int(q * len(ranked)))]

        return {
            "customers": spec.customers,
            "days": spec.days,
            "seed": spec.seed,
            "start": spec.start.isoformat(),
            "history_start": spec.history_start.isoformat(),
            "partitions": partitions,
            "events": sum(self.per_topic.values()),
            "per_topic": self.per_topic,
            "events_per_customer": {
                "p10": pct(0.1),
                "p50": pct(0.5),
                "p90": pct(0.9),
                "p99": pct(0.99),
                "max": ranked[-1],
            },
            "transaction_categories": dict(sorted(self.categories.items())),
            "order_outcomes": dict(sorted(self.order_outcomes.items())),
            "responses": dict(sorted(self.responses.items())),
            "per_day": self.per_day,
        }


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The events are acyclic dicts freed by reference counting; the cycle collector
    would only walk the 100,000 customers again and again (it halves the run time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def write_files(
    spec: GenerateSpec, out: Path, partitions: int, bar: Bar | None = None
) -> GenerateStats:
    """Write one JSON Lines file per input topic into ``out`` (and ``manifest.json``).

    Rows are ``{topic, partition, offset, timestamp, key, value}``; the partition is
    Kafka's default partitioner's for the key, offsets count per topic-partition.
    Ctrl-C closes the files after the last whole day and raises :class:`Interrupted`.
    """
    out.mkdir(parents=True, exist_ok=True)
    stats = GenerateStats.empty(spec.customers)
    offsets: dict[tuple[str, int], int] = {}
    partition_of: dict[str, int] = {}
    files = {topic: topic_file(out, topic).open("wb") for topic in t.INPUT_TOPICS}
    marks = dict.fromkeys(t.INPUT_TOPICS, 0)
    done: date | None = None
    try:
        with _without_cycle_collection():
            for day, events in BankSimulation(spec).days():
                for ms, topic, key, value in events:
                    p = partition_of.get(key)
                    if p is None:
                        p = partition_of[key] = partition_for(key.encode(), partitions)
                    offset = offsets.get((topic, p), 0)
                    offsets[topic, p] = offset + 1
                    # Written at once: orjson's bytes keep a few KiB of spare room each.
                    files[topic].write(row_bytes(topic, p, offset, ms, key, value) + b"\n")
                marks = {topic: f.tell() for topic, f in files.items()}
                done = day
                stats.add_day(day, events)
                if bar is not None:
                    bar.advance(1, len(events))
    except KeyboardInterrupt:
        for topic, f in files.items():  # drop a half-written day
            f.truncate(marks[topic])
        raise Interrupted(
            _stopped(done, stats, f"the files in {out} hold every event up to")
        ) from None
    finally:
        for f in files.values():
            f.close()
    (out / "manifest.json").write_bytes(
        orjson.dumps(stats.manifest(spec, partitions), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return stats


def _stopped(done: date | None, stats: GenerateStats, where: str) -> str:
    if done is None:
        return "stopped during the first day; no events were written"
    return (
        f"stopped after {done.isoformat()}: {where} the end of that day "
        f"({sum(stats.per_topic.values()):,} events)"
    )


async def _check_retention(spec: GenerateSpec, settings: Settings) -> None:
    """Refuse when the topics would delete the oldest events at once: Kafka's retention
    counts from the record timestamp, which is the event time."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, settings.topic_prefix + n)
                for n in t.INPUT_TOPICS
            ]
        )
    finally:
        await admin.close()
    oldest = datetime(
        spec.history_start.year, spec.history_start.month, spec.history_start.day, tzinfo=UTC
    )
    age_ms = (datetime.now(UTC) - oldest).total_seconds() * 1000
    for response in responses:
        for _, _, _, name, entries in response.resources:
            retention = next((int(e[1]) for e in entries if e[0] == "retention.ms"), -1)
            if 0 <= retention < age_ms:
                raise DataToolError(
                    f"topic {name!r} keeps {retention / 3_600_000:,.0f} h (retention.ms) but the "
                    f"events start {oldest.date()}, {age_ms / 86_400_000:,.0f} days ago: Kafka "
                    "would delete them; set retention.ms=-1 on the input topics for a replay, "
                    "or generate recent days (--start, --history-months 0)"
                )


def produce_to_kafka(
    spec: GenerateSpec, settings: Settings, bar: Bar | None = None
) -> GenerateStats:
    """Send the events straight to the input topics (``acks=all``, idempotent), each with
    its event time as the record timestamp and Kafka's default partition for its key."""
    return asyncio.run(_produce(spec, settings, bar))


async def _produce(spec: GenerateSpec, settings: Settings, bar: Bar | None) -> GenerateStats:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    stats = GenerateStats.empty(spec.customers)
    done: date | None = None
    try:
        await producer.start()
        cluster = await producer.client.fetch_all_metadata()
        partitions: dict[str, int] = {}
        for topic in t.INPUT_TOPICS:
            found = cluster.partitions_for_topic(settings.topic_prefix + topic)
            if not found:
                raise DataToolError(
                    f"topic {settings.topic_prefix + topic!r} does not exist at "
                    f"{settings.kafka_bootstrap_servers}; run `impulse-stream infra up` first"
                )
            partitions[topic] = len(found)
        await _check_retention(spec, settings)
        with _without_cycle_collection():
            for day, events in BankSimulation(spec).days():
                for ms, topic, key, value in events:
                    k = key.encode()
                    await producer.send(
                        settings.topic_prefix + topic,
                        orjson.dumps(value),
                        key=k,
                        partition=partition_for(k, partitions[topic]),
                        timestamp_ms=ms,
                    )
                await producer.flush()
                stats.add_day(day, events)
                done = day
                if bar is not None:
                    bar.advance(1, len(events))
    except KafkaError as exc:
        raise DataToolError(
            f"Kafka at {settings.kafka_bootstrap_servers} refused the events: {exc}"
        ) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise Interrupted(_stopped(done, stats, "Kafka holds every event up to")) from None
    finally:
        await producer.stop()
    return stats
