"""Builders for the domain's events, so that tests read like the domain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    Card,
    ChannelContact,
    Click,
    Consents,
    Contract,
    Counterparty,
    CustomerProfile,
    InputEvent,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    OutputRecord,
    Transaction,
)
from impulse_stream.core.state import CustomerState

CUSTOMER = "c-1001"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_ids = count(1)


def at(minutes: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, days=days)


def _eid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def engine(catalogue: Catalogue) -> DecisionEngine:
    return DecisionEngine(catalogue)


def profile(
    when: datetime = T0 - timedelta(days=30),
    *,
    customer: str = CUSTOMER,
    birth: date | None = date(1975, 6, 1),
    advisor: str | None = "adv-7",
    branch: str | None = "br-3",
    segment: str = "retail",
    consents: Consents | None = None,
    products: tuple[str, ...] = ("current_account",),
    occupation: str | None = "employee",
    contracts: tuple[Contract, ...] = (),
    cards: tuple[Card, ...] = (),
) -> CustomerProfile:
    return CustomerProfile(
        customer_id=customer,
        updated_at=when,
        birth_date=birth,
        advisor_id=advisor,
        branch_id=branch,
        segment=segment,
        consents=consents
        if consents is not None
        else Consents(phone=True, email=True, letter=True, online_banking=True),
        products=products,
        occupation=occupation,
        contracts=contracts,
        cards=cards,
    )


def order(
    status: str,
    when: datetime,
    *,
    order_id: str = "ord-1",
    product: str = "credit_card",
    step: int = 0,
    total: int = 4,
    channel: str = "online_banking",
    agent: str | None = None,
    customer: str = CUSTOMER,
) -> OrderStep:
    return OrderStep(
        event_id=_eid("os"),
        customer_id=customer,
        order_id=order_id,
        product=product,
        channel=channel,  # type: ignore[arg-type]
        occurred_at=when,
        status=status,  # type: ignore[arg-type]
        step=step,
        total_steps=total,
        agent_id=agent,
    )


def click(
    when: datetime,
    kind: str = "banner_click",
    product: str | None = None,
    channel: str = "online_banking",
) -> Click:
    return Click(
        event_id=_eid("ck"),
        customer_id=CUSTOMER,
        session_id="s-1",
        occurred_at=when,
        kind=kind,  # type: ignore[arg-type]
        product=product,
        channel=channel,  # type: ignore[arg-type]
    )


def booking(
    when: datetime,
    amount: str,
    direction: str = "credit",
    *,
    category: str = "transfer",
    name: str = "",
    iban: str | None = None,
    balance: str | None = None,
    country: str | None = None,
    card_id: str | None = None,
    overdraft_limit: str | None = None,
) -> Transaction:
    return Transaction(
        event_id=_eid("tx"),
        customer_id=CUSTOMER,
        account_id="acc-1",
        booked_at=when,
        amount=Decimal(amount),
        currency="EUR",
        direction=direction,  # type: ignore[arg-type]
        counterparty=Counterparty(name=name, iban=iban),
        category=category,
        balance_after=Decimal(balance) if balance is not None else None,
        country=country,
        card_id=card_id,
        overdraft_limit=Decimal(overdraft_limit) if overdraft_limit is not None else None,
    )


def contact(
    when: datetime, channel: str, kind: str, subject: str = "", action_id: str | None = None
) -> ChannelContact:
    return ChannelContact(
        event_id=_eid("ct"),
        customer_id=CUSTOMER,
        channel=channel,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        occurred_at=when,
        subject=subject,
        action_id=action_id,
    )


def response(
    opportunity_id: str,
    kind: str,
    when: datetime,
    channel: str = "call_centre",
    *,
    agent: str | None = "agent-42",
    appointment_at: datetime | None = None,
) -> OpportunityResponse:
    return OpportunityResponse(
        event_id=_eid("rs"),
        opportunity_id=opportunity_id,
        customer_id=CUSTOMER,
        channel=channel,  # type: ignore[arg-type]
        response=kind,  # type: ignore[arg-type]
        occurred_at=when,
        agent_id=agent,
        appointment_at=appointment_at,
    )


def replay(
    engine: DecisionEngine,
    events: list[InputEvent],
    state: CustomerState | None = None,
    until: datetime | None = None,
) -> tuple[CustomerState, list[OutputRecord]]:
    """Feed events in time order like the runtime: the watermark is the largest
    event time so far, and timers fire ``advance`` at ``next_wakeup`` in between."""
    outputs: list[OutputRecord] = []
    watermark = state.clock if state is not None else None
    ordered = sorted(events, key=lambda e: e.occurred_at)
    for event in [*ordered, None]:
        horizon = until if event is None else event.occurred_at
        while state is not None and horizon is not None:
            wakeup = engine.next_wakeup(state)
            if wakeup is None or wakeup > horizon:
                break
            decision = engine.advance(state, wakeup)
            state, watermark = decision.state, wakeup
            outputs += decision.outputs
        if event is None:
            break
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        decision = engine.apply(state, event, watermark)
        state = decision.state
        outputs += decision.outputs
    assert state is not None
    return state, outputs


def impulse_kinds(outputs: list[OutputRecord] | tuple[OutputRecord, ...]) -> list[str]:
    from impulse_stream.core.events import Impulse

    return [o.kind for o in outputs if isinstance(o, Impulse)]


def opportunities(outputs: list[OutputRecord] | tuple[OutputRecord, ...]) -> list[Opportunity]:
    from impulse_stream.core.events import Opportunity

    return [o for o in outputs if isinstance(o, Opportunity)]
