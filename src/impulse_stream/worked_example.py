"""The worked example of the domain (DOMAIN.md), written once.

A retail customer clicks a credit-card banner, starts the order online, stops
at step 2 and calls the call centre minutes later; the agent sees the
abandoned order on top, the customer accepts, the sale is credited.

* :func:`events` - the input events of that day for any customer and moment,
  as the demo sends them, the API, desk and wheel tests replay them and the
  golden state of the codec tests is built from them;
* :func:`published_records` - the same story as the records of every topic
  (customer ``c-1001`` on 23 November 2026), the examples of the JSON Schemas,
  the AsyncAPI document and docs/topics.md (``scripts/gen_schemas.py``);
* :func:`undecodable_messages` - two messages the codec refuses, the examples
  of the dead-letter topic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec

from impulse_stream.contract import topics
from impulse_stream.core.events import (
    Attribution,
    Card,
    ChannelContact,
    Click,
    Consents,
    Contract,
    Counterparty,
    CustomerProfile,
    Evidence,
    Impulse,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    OutboundContact,
    Reason,
    Record,
    Texts,
    Transaction,
)
from impulse_stream.core.outbound import contact_id

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
CUSTOMER = "c-1001"


def _iso(t: datetime) -> str:
    return t.isoformat()


def events(customer: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The events of the worked example as (topic, event), in the order they happen.

    The customer turned 57 a few days ago, holds no life insurance and got a
    raise this month: the bundle predicts a financial reserve and retirement
    provision below the abandoned card order.
    """
    order = f"ord-{customer}"
    start = now - timedelta(minutes=40)

    def step(status: str, n: int, at: datetime, channel: str = "online_banking") -> dict[str, Any]:
        return {
            "event_id": f"{order}-{status}-{n}",
            "customer_id": customer,
            "order_id": order,
            "product": "credit_card",
            "channel": channel,
            "occurred_at": _iso(at),
            "status": status,
            "step": n,
            "total_steps": 4,
        }

    def contact(kind: str, channel: str, at: datetime, agent: str | None = None) -> dict[str, Any]:
        return {
            "event_id": f"{customer}-{kind}-{int(at.timestamp())}",
            "customer_id": customer,
            "channel": channel,
            "kind": kind,
            "occurred_at": _iso(at),
            "agent_id": agent,
        }

    def salary(months_back: int, amount: str) -> tuple[str, dict[str, Any]]:
        year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
        booked = datetime(year, month + 1, 1, 0, 5, tzinfo=UTC)
        return (
            topics.TRANSACTIONS,
            {
                "event_id": f"{customer}-salary-{year}-{month + 1}",
                "customer_id": customer,
                "account_id": f"acc-{customer}",
                "booked_at": _iso(booked),
                "amount": amount,
                "currency": "EUR",
                "direction": "credit",
                "counterparty": {"name": "Acme GmbH", "iban": "DE44500105175407324931"},
                "purpose": "Salary",
                "category": "salary",
                "balance_after": "5200.00",
            },
        )

    birth = now.date().replace(year=now.year - 57) - timedelta(days=10)
    return [
        (
            topics.PROFILES,
            {
                "customer_id": customer,
                "updated_at": _iso(now - timedelta(days=120)),
                "birth_date": birth.isoformat(),
                "advisor_id": "adv-0042",
                "branch_id": "br-017",
                "segment": "retail",
                "consents": {"phone": True, "email": True, "letter": False, "online_banking": True},
                "products": ["current_account", "debit_card"],
            },
        ),
        salary(3, "3000.00"),
        salary(2, "3000.00"),
        salary(1, "3000.00"),
        salary(0, "3400.00"),
        (topics.CONTACTS, contact("appointment", "advisor", now - timedelta(days=92), "adv-0042")),
        (
            topics.CONTACTS,
            contact("inbound_call", "call_centre", now - timedelta(days=16), "kdc-07"),
        ),
        (topics.CONTACTS, contact("message", "online_banking", now - timedelta(days=3))),
        (
            topics.CLICKS,
            {
                "event_id": f"{customer}-click-1",
                "customer_id": customer,
                "session_id": f"s-{customer}",
                "occurred_at": _iso(start - timedelta(minutes=1)),
                "kind": "banner_click",
                "page": "/overview",
                "product": "credit_card",
            },
        ),
        (topics.ORDERS, step("started", 0, start)),
        (topics.ORDERS, step("step_completed", 1, start + timedelta(minutes=2))),
        (topics.ORDERS, step("step_completed", 2, start + timedelta(minutes=5))),
        (topics.CONTACTS, contact("inbound_call", "call_centre", now, "kdc-12")),
    ]


def published_records() -> dict[str, list[Record]]:
    """The domain's worked example: card order abandoned at step 2, call, acceptance, sale."""
    texts = Texts(
        instruction="The customer started a credit-card order online and stopped. Ask whether "
        "you may finish it together now; the data entered so far is kept.",
        argument="Worldwide acceptance, free cash withdrawals abroad and purchase insurance "
        "included.",
        objections='"Too expensive": the first year is free and the fee is waived from 3,000 '
        'EUR yearly turnover. "No time": offer a link to continue later where the order stopped.',
        info_url="https://bank.example/cards/credit-card",
    )
    evidence = (
        Evidence(name="order_id", value="ord-cc-7781"),
        Evidence(name="product", value="credit_card"),
        Evidence(name="step", value="2"),
        Evidence(name="total_steps", value="4"),
        Evidence(name="channel", value="online_banking"),
    )
    abandoned_at = datetime(2026, 11, 23, 10, 29, 40, tzinfo=UTC)
    impulse = Impulse(
        impulse_id="imp-8ff50b9bd6c56f3bf6b5",
        customer_id=CUSTOMER,
        kind="order_abandoned",
        category="sales",
        occurred_at=abandoned_at,
        detected_at=abandoned_at,
        source_event_id="of-20261123-001202",
        evidence=evidence,
        rules_version="2026.11.1",
    )
    opened = Opportunity(
        opportunity_id="opp-e9be7817276e4f0674f4",
        revision=0,
        customer_id=CUSTOMER,
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=96.48,
        rank=1,
        status="open",
        reasons=(
            Reason(
                impulse_id=impulse.impulse_id,
                kind="order_abandoned",
                occurred_at=abandoned_at,
                evidence=evidence,
            ),
        ),
        channels=("call_centre", "online_banking", "app", "email", "branch"),
        texts=texts,
        valid_until=abandoned_at + timedelta(days=7),
        created_at=abandoned_at,
        rules_version="2026.11.1",
        explanation="Impulses: order_abandoned at 2026-11-23T10:29:40+00:00 (order_id=ord-cc-7781, "
        "product=credit_card, step=2, total_steps=4, channel=online_banking). Priority 96.48 = "
        "propensity 0.80 (bundle credit_card: base 0.02; order_abandoned:credit_card 0.80) x "
        "learned lift 1.00 x value 120 x any channel 1.00 x recency 1.00 x segment retail 1.00. "
        "Routed to: call_centre, online_banking, app, email, branch.",
        handling_minutes=4.0,
        advisor_id="adv-7",
        branch_id="br-3",
        household_id="hh-4410",
    )
    accepted = msgspec.structs.replace(
        opened,
        revision=1,
        status="withdrawn",
        explanation="withdrawn: accepted",
        closed_reason="accepted",
    )
    return {
        topics.TRANSACTIONS: [
            Transaction(
                event_id="bk-20261123-88412",
                customer_id=CUSTOMER,
                account_id="acc-DE-0012",
                booked_at=datetime(2026, 11, 23, 6, 0, tzinfo=CET),
                amount=Decimal("3250.00"),
                currency="EUR",
                direction="credit",
                counterparty=Counterparty(name="Musterfirma GmbH", iban="DE89370400440532013000"),
                purpose="Salary November 2026",
                category="salary",
                balance_after=Decimal("4890.12"),
            ),
            Transaction(
                event_id="bk-20261123-90317",
                customer_id=CUSTOMER,
                account_id="acc-DE-0012",
                booked_at=datetime(2026, 11, 23, 9, 14, 5, tzinfo=CET),
                amount=Decimal("64.90"),
                currency="EUR",
                direction="debit",
                counterparty=Counterparty(name="Ristorante Da Gino"),
                purpose="Card payment",
                category="card_payment",
                balance_after=Decimal("4825.22"),
                country="IT",
                card_id="card-5521",
                overdraft_limit=Decimal("1500.00"),
            ),
        ],
        topics.CLICKS: [
            Click(
                event_id="ck-20261123-000417",
                customer_id=CUSTOMER,
                session_id="s-7f3a9c",
                occurred_at=datetime(2026, 11, 23, 10, 58, 12, tzinfo=CET),
                kind="banner_click",
                page="/banking/overview",
                product="credit_card",
            )
        ],
        topics.ORDERS: [
            OrderStep(
                event_id="of-20261123-001201",
                customer_id=CUSTOMER,
                order_id="ord-cc-7781",
                product="credit_card",
                channel="online_banking",
                occurred_at=datetime(2026, 11, 23, 10, 59, 40, tzinfo=CET),
                status="started",
                step=1,
                total_steps=4,
            ),
            OrderStep(
                event_id="of-20261123-001202",
                customer_id=CUSTOMER,
                order_id="ord-cc-7781",
                product="credit_card",
                channel="online_banking",
                occurred_at=datetime(2026, 11, 23, 11, 5, 3, tzinfo=CET),
                status="step_completed",
                step=2,
                total_steps=4,
            ),
            OrderStep(
                event_id="of-20261123-001377",
                customer_id=CUSTOMER,
                order_id="ord-cc-7781",
                product="credit_card",
                channel="call_centre",
                occurred_at=datetime(2026, 11, 23, 11, 46, 30, tzinfo=CET),
                status="completed",
                step=4,
                total_steps=4,
                agent_id="agent-42",
            ),
        ],
        topics.PROFILES: [
            CustomerProfile(
                customer_id=CUSTOMER,
                updated_at=datetime(2026, 10, 24, 9, 12, tzinfo=CEST),
                birth_date=date(1975, 6, 1),
                advisor_id="adv-7",
                branch_id="br-3",
                segment="retail",
                consents=Consents(phone=True, email=True, letter=True, online_banking=True),
                products=("current_account", "life_insurance"),
                household_id="hh-4410",
                occupation="employee",
                home_country="DE",
                contracts=(
                    Contract(
                        contract_id="li-88231",
                        product="life_insurance",
                        matures_on=date(2027, 10, 1),
                    ),
                ),
                cards=(Card(card_id="card-5521", status="active", expires_on=date(2028, 3, 31)),),
            )
        ],
        topics.CONTACTS: [
            ChannelContact(
                event_id="kdc-20261123-5530",
                customer_id=CUSTOMER,
                channel="call_centre",
                kind="inbound_call",
                occurred_at=datetime(2026, 11, 23, 11, 38, tzinfo=CET),
                agent_id="agent-42",
                subject="Question about account transactions",
            )
        ],
        topics.RESPONSES: [
            OpportunityResponse(
                event_id="rs-20261123-0091",
                opportunity_id=opened.opportunity_id,
                customer_id=CUSTOMER,
                channel="call_centre",
                response="accepted",
                occurred_at=datetime(2026, 11, 23, 11, 41, tzinfo=CET),
                agent_id="agent-42",
            ),
            OpportunityResponse(
                event_id="rs-20261123-0092",
                opportunity_id="opp-5c0d2a4e9b7f13a8e6d1",
                customer_id=CUSTOMER,
                channel="call_centre",
                response="accepted",
                occurred_at=datetime(2026, 11, 23, 11, 43, tzinfo=CET),
                agent_id="agent-42",
                appointment_at=datetime(2026, 11, 30, 16, 0, tzinfo=CET),
            ),
        ],
        topics.IMPULSES: [impulse],
        topics.OPPORTUNITIES: [opened, accepted],
        topics.OUTBOUND: [
            OutboundContact(
                contact_id=contact_id(opened.opportunity_id, date(2026, 11, 24)),
                opportunity_id=opened.opportunity_id,
                customer_id=CUSTOMER,
                action_id=opened.action_id,
                product=opened.product,
                kind=opened.kind,
                channel="call_centre",
                day=date(2026, 11, 24),
                priority=opened.priority,
                texts=opened.texts,
                advisor_id=opened.advisor_id,
                rules_version=opened.rules_version,
                branch_id=opened.branch_id,
                household_id=opened.household_id,
            )
        ],
        topics.ATTRIBUTIONS: [
            Attribution(
                attribution_id="att-439ab1165fd7dc7a4999",
                order_id="ord-cc-7781",
                customer_id=CUSTOMER,
                product="credit_card",
                closing_channel="call_centre",
                advisor_id="adv-7",
                branch_id="br-3",
                opportunity_id=opened.opportunity_id,
                credited_at=datetime(2026, 11, 23, 10, 46, 30, tzinfo=UTC),
                agent_id="agent-42",
            )
        ],
    }


def undecodable_messages() -> list[tuple[str, int, int, bytes, bytes]]:
    """(topic, partition, offset, key, value) of two messages the codec refuses."""
    bad_status = (
        b'{"event_id":"of-20261123-001203","customer_id":"c-1001","order_id":"ord-cc-7781",'
        b'"product":"credit_card","channel":"online_banking",'
        b'"occurred_at":"2026-11-23T11:07:00+01:00","status":"aborted","step":2,"total_steps":4}'
    )
    return [
        (topics.ORDERS, 3, 18234, CUSTOMER.encode(), bad_status),
        (topics.CLICKS, 1, 99120, b"c-1002", b'{"event_id": "ck-1", '),
    ]
