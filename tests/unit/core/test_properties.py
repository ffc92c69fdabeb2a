"""Invariants over random event sequences (hypothesis).

A small simulator plays the runtime (watermark, timers via ``next_wakeup``) and
the channels (they show what ``next_best_actions`` returns and send responses),
and keeps its own log of what was shown, so the checks do not trust the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impulse_stream.core.codec import encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    CHANNELS,
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

from .conftest import CUSTOMER, T0

PRODUCTS = ["credit_card", "savings_plan", "instalment_loan", "current_account", "membership"]
SHOW_CHANNELS = ["call_centre", "online_banking", "app", "email", "advisor"]
MAX_STATE_BYTES = 6144

# --- the random "story" of one customer ------------------------------------------

consents = st.builds(
    Consents,
    phone=st.booleans(),
    email=st.booleans(),
    letter=st.booleans(),
    online_banking=st.booleans(),
)
profiles = st.fixed_dictionaries(
    {
        "type": st.just("profile"),
        "consents": consents,
        "products": st.lists(st.sampled_from(PRODUCTS), max_size=3, unique=True),
        "advisor": st.sampled_from([None, "adv-1"]),
        "birth": st.dates(date(1950, 1, 1), date(2009, 12, 31)),
        "segment": st.sampled_from(["retail", "young", "private"]),
        "card_blocked": st.booleans(),
    }
)
orders = st.fixed_dictionaries(
    {
        "type": st.just("order"),
        "order": st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6"]),
        "product": st.sampled_from(PRODUCTS[:4]),
        "status": st.sampled_from(
            ["started", "started", "step_completed", "completed", "cancelled"]
        ),
        "step": st.integers(0, 4),
        "channel": st.sampled_from(["online_banking", "app", "call_centre"]),
    }
)
bookings = st.fixed_dictionaries(
    {
        "type": st.just("booking"),
        "amount": st.integers(1, 30000),
        "direction": st.sampled_from(["credit", "debit"]),
        "category": st.sampled_from(
            [
                "salary",
                "transfer",
                "insurance_premium",
                "loan_instalment",
                "returned_debit",
                "groceries",
            ]
        ),
        "name": st.sampled_from(["Acme GmbH", "Allianz AG", "Shop", "LBS Bausparkasse", ""]),
        "balance": st.integers(-3000, 40000),
        "country": st.sampled_from([None, "DE", "ES"]),
    }
)
clicks = st.fixed_dictionaries(
    {
        "type": st.just("click"),
        "kind": st.sampled_from(["login", "banner_click", "page_view"]),
        "product": st.sampled_from([None, *PRODUCTS[:3]]),
    }
)
contacts = st.fixed_dictionaries(
    {
        "type": st.just("contact"),
        "channel": st.sampled_from(list(CHANNELS)),
        "kind": st.sampled_from(["inbound_call", "appointment", "message", "email_sent"]),
    }
)
shows = st.fixed_dictionaries(
    {
        "type": st.just("show"),
        "channel": st.sampled_from(SHOW_CHANNELS),
        "answer": st.sampled_from(["shown", "accepted", "declined", "not_now", "no_time", "shown"]),
    }
)
steps = st.tuples(
    st.sampled_from([1, 5, 20, 45, 180, 60 * 8, 60 * 24, 60 * 24 * 3, 60 * 24 * 10]),
    st.booleans(),  # late: the event happened earlier than the watermark
    st.one_of(profiles, orders, orders, bookings, bookings, clicks, contacts, shows, shows),
)
stories = st.tuples(profiles, st.lists(steps, min_size=1, max_size=35))


# --- the simulator -----------------------------------------------------------------


@dataclass
class Run:
    outputs: list[OutputRecord] = field(default_factory=list)
    shown: list[tuple[datetime, str, str, str]] = field(
        default_factory=list
    )  # at, channel, action, kind
    answered: list[tuple[datetime, str, str]] = field(default_factory=list)  # at, action, response
    offers: list[tuple[datetime, str, Opportunity, CustomerState]] = field(default_factory=list)
    states: list[CustomerState] = field(default_factory=list)
    decisions: list[tuple[CustomerState, tuple[OutputRecord, ...]]] = field(default_factory=list)


def _event(step: dict[str, object], when: datetime, n: int) -> InputEvent:
    kind = step["type"]
    eid = f"e{n}"
    if kind == "profile":
        blocked = bool(step["card_blocked"])
        return CustomerProfile(
            customer_id=CUSTOMER,
            updated_at=when,
            birth_date=step["birth"],  # type: ignore[arg-type]
            advisor_id=step["advisor"],  # type: ignore[arg-type]
            segment=step["segment"],  # type: ignore[arg-type]
            consents=step["consents"],  # type: ignore[arg-type]
            products=tuple(step["products"]),  # type: ignore[arg-type]
            contracts=(
                Contract(contract_id="li", product="life_insurance", matures_on=date(2027, 1, 1)),
            ),
            cards=(
                Card(
                    card_id="k1",
                    status="blocked" if blocked else "active",
                    expires_on=date(2027, 1, 31),
                ),
            ),
        )
    if kind == "order":
        return OrderStep(
            event_id=eid,
            customer_id=CUSTOMER,
            order_id=step["order"],
            product=step["product"],  # type: ignore[arg-type]
            channel=step["channel"],
            occurred_at=when,
            status=step["status"],
            step=step["step"],
            total_steps=4,  # type: ignore[arg-type]
        )
    if kind == "booking":
        return Transaction(
            event_id=eid,
            customer_id=CUSTOMER,
            account_id="a1",
            booked_at=when,
            amount=Decimal(step["amount"]),
            currency="EUR",
            direction=step["direction"],  # type: ignore[arg-type]
            counterparty=Counterparty(name=step["name"]),
            category=step["category"],  # type: ignore[arg-type]
            balance_after=Decimal(step["balance"]),
            country=step["country"],
            card_id="k1",  # type: ignore[arg-type]
            overdraft_limit=Decimal(2000),
        )
    if kind == "click":
        return Click(
            event_id=eid,
            customer_id=CUSTOMER,
            session_id="s",
            occurred_at=when,
            kind=step["kind"],
            product=step["product"],  # type: ignore[arg-type]
        )
    return ChannelContact(
        event_id=eid,
        customer_id=CUSTOMER,
        channel=step["channel"],
        kind=step["kind"],
        occurred_at=when,  # type: ignore[arg-type]
    )


def simulate(
    engine: DecisionEngine,
    story: tuple[dict[str, object], list[tuple[int, bool, dict[str, object]]]],
) -> Run:
    first, rest = story
    run = Run()
    now = T0
    state: CustomerState | None = None

    def record(decision_state: CustomerState, outputs: tuple[OutputRecord, ...]) -> CustomerState:
        run.outputs.extend(outputs)
        run.states.append(decision_state)
        run.decisions.append((decision_state, outputs))
        return decision_state

    d = engine.apply(None, _event(first, now, 0), now)
    state = record(d.state, d.outputs)
    for n, (delta, late, step) in enumerate(rest, start=1):
        target = now + timedelta(minutes=delta)
        while (wakeup := engine.next_wakeup(state)) is not None and wakeup <= target:
            d = engine.advance(state, wakeup)
            now = max(now, wakeup)
            state = record(d.state, d.outputs)
        now = target
        if step["type"] == "show":
            channel = str(step["channel"])
            offers = engine.next_best_actions(state, channel, now)  # type: ignore[arg-type]
            for i, offer in enumerate(offers):
                run.offers.append((now, channel, offer, state))
                answer = str(step["answer"]) if i == 0 else "shown"
                run.shown.append((now, channel, offer.action_id, offer.kind))
                run.answered.append((now, offer.action_id, answer))
                r = OpportunityResponse(
                    event_id=f"r{n}-{i}",
                    opportunity_id=offer.opportunity_id,
                    customer_id=CUSTOMER,
                    channel=channel,
                    response=answer,
                    occurred_at=now,  # type: ignore[arg-type]
                )
                d = engine.apply(state, r, now)
                state = record(d.state, d.outputs)
            continue
        when = now - timedelta(minutes=delta * 0.7) if late else now
        d = engine.apply(state, _event(step, when, n), now)
        state = record(d.state, d.outputs)
    return run


SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@SETTINGS
@given(stories)
def test_same_events_give_the_same_outputs_byte_for_byte(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    a, b = simulate(engine, story), simulate(engine, story)
    assert msgspec.json.encode(a.outputs) == msgspec.json.encode(b.outputs)
    assert [encode_state(s) for s in a.states] == [encode_state(s) for s in b.states]
    # And with a fresh engine from the same catalogue.
    c = simulate(DecisionEngine(engine.catalogue), story)
    assert msgspec.json.encode(c.outputs) == msgspec.json.encode(a.outputs)


@SETTINGS
@given(stories)
def test_no_sales_opportunity_on_a_channel_without_consent(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    run = simulate(engine, story)
    needed = engine.catalogue.policy.consent_for_channel
    for state, outputs in run.decisions:
        latest: dict[str, Opportunity] = {}
        for o in outputs:
            if isinstance(o, Opportunity):
                latest[o.opportunity_id] = o
        for o in latest.values():
            if o.kind == "sales" and o.status == "open":
                for channel in o.channels:
                    consent = needed.get(channel)
                    assert consent is None or state.profile.has_consent(consent), (channel, o)
    for _, channel, offer, state in run.offers:
        consent = needed.get(channel)  # type: ignore[call-overload]
        if offer.kind == "sales" and consent is not None:
            assert state.profile.has_consent(consent)


@SETTINGS
@given(stories)
def test_no_repeat_within_the_cooling_off_period(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    run = simulate(engine, story)
    cooling = timedelta(days=engine.catalogue.policy.cooling_off_days)
    for at, _, offer, _ in run.offers:
        for prior_at, action, response in run.answered:
            if action == offer.action_id and response in ("shown", "accepted", "declined"):
                assert not (at - cooling < prior_at < at), (offer.action_id, prior_at, at)


@SETTINGS
@given(stories)
def test_no_sales_offer_for_a_held_product(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    run = simulate(engine, story)
    for _, _, offer, state in run.offers:
        if offer.kind == "sales":
            assert offer.product not in state.profile.products
    for state, outputs in run.decisions:
        opened = [
            o
            for o in outputs
            if isinstance(o, Opportunity) and o.status == "open" and o.revision == 0
        ]
        for o in opened:
            if o.kind == "sales":
                assert o.product not in state.profile.products or any(
                    isinstance(x, Opportunity)
                    and x.opportunity_id == o.opportunity_id
                    and x.status != "open"
                    for x in outputs
                )


@SETTINGS
@given(stories)
def test_frequency_caps_are_never_exceeded(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    run = simulate(engine, story)
    for cap in engine.catalogue.policy.frequency_caps:
        period = timedelta(days=cap.period_days)
        sales = [(at, a) for at, c, a, k in run.shown if c == cap.channel and k == "sales"]
        for at, _ in sales:
            window = {a for t, a in sales if at - period < t <= at}
            assert len(window) <= cap.max_offers


@SETTINGS
@given(stories)
def test_state_size_stays_bounded(engine: DecisionEngine, story) -> None:  # type: ignore[no-untyped-def]
    run = simulate(engine, story)
    for state in run.states:
        assert len(encode_state(state)) <= MAX_STATE_BYTES
        assert (
            len(state.contacts) <= 12
            and len(state.opportunities) <= 8
            and len(state.impulses) <= 10
        )
